"""A database that accepts connections and never answers, behind a real
gunicorn: every request is answered within the connect timeout, /healthz
within 2 s, and a flood larger than all the server's threads does not keep
it from answering; started with migrations on, the server stops at once
saying why."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.blackhole import Blackhole, answered_within
from tests.e2e.conftest import ROOT, start_gunicorn
from tests.e2e.test_soap_reservations import envelope, fault_of

pytestmark = pytest.mark.e2e

SECRET_ENV = "TUOTEMPO_TEST_GW_RECEIPT_SECRET"
SECRET = "receipt-secret-for-tests"
# The default connect timeout is 3 s; the margin is for a loaded 2-core machine.
DB_BOUND = 8.0
FLOOD = 40  # more requests at once than the 2 x 16 threads of gunicorn.conf.py
GET_RESERVATIONS = envelope(
    "getReservations",
    "<t:AUTH><t:INSTANCE>tt_any</t:INSTANCE><t:USERNAME>his</t:USERNAME>"
    "<t:PASSWORD>whatever-password</t:PASSWORD></t:AUTH>",
).encode()


def soap_call(url: str) -> tuple[str | None, float]:
    started = time.monotonic()
    response = requests.post(
        f"{url}/soap",
        data=GET_RESERVATIONS,
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=60,
    )
    return fault_of(response)[2], time.monotonic() - started


def health(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(f"{url}/healthz", timeout=30)
    return response, time.monotonic() - started


@pytest.fixture(scope="module")
def stuck_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("stuck")
    senders = workdir / "senders.json"
    senders.write_text(
        json.dumps(
            {
                "providers": {
                    "gw": {
                        "type": "http",
                        "url": "https://gw.example/send",
                        "receipts": {"secret_env": SECRET_ENV, "auth": "shared-secret"},
                    }
                },
                "routes": {"*": {"*": "gw"}},
            }
        )
    )
    extra = {
        "TUOTEMPO_AUTO_MIGRATE": "false",
        "TUOTEMPO_SENDERS_FILE": str(senders),
        SECRET_ENV: SECRET,
    }
    with Blackhole() as hole:
        process, url, _ = start_gunicorn(hole.database_url, workdir, extra, ready_path="/")
        try:
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_health_answers_503_within_two_seconds(stuck_server: str) -> None:
    for _ in range(3):
        response, elapsed = health(stuck_server)
        assert elapsed < 2.0
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": False}


def test_soap_and_receipts_are_answered_within_the_timeout(stuck_server: str) -> None:
    (code, _), _ = answered_within(DB_BOUND, lambda: soap_call(stuck_server))
    assert code == "Server.DatabaseUnavailable"
    response, _ = answered_within(
        DB_BOUND,
        lambda: requests.post(
            f"{stuck_server}/receipts/gw",
            json={"id": "gw-1", "status": "DELIVRD"},
            headers={"X-Receipt-Secret": SECRET},
            timeout=60,
        ),
    )
    assert response.status_code == 503 and response.headers["Content-Type"] == "application/json"
    assert response.json()["result"] == "error"


def test_a_flood_larger_than_all_threads_leaves_health_answering(stuck_server: str) -> None:
    with ThreadPoolExecutor(max_workers=FLOOD) as pool:
        # The first flood meets workers that may not have seen the outage yet:
        # threads wait out the connect timeout, a few rounds at most.
        first = [f.result() for f in [pool.submit(soap_call, stuck_server) for _ in range(FLOOD)]]
        assert {code for code, _ in first} == {"Server.DatabaseUnavailable"}
        assert max(elapsed for _, elapsed in first) < 3 * DB_BOUND
        # Now every worker knows: the next flood is refused at once, apart from
        # one reconnection trial per worker and second, and health checks
        # sent in the middle of it are answered within 2 s.
        flood = [pool.submit(soap_call, stuck_server) for _ in range(FLOOD)]
        checks = []
        for _ in range(3):
            checks.append(health(stuck_server))
            time.sleep(0.2)
        second = [f.result() for f in flood]
    assert {code for code, _ in second} == {"Server.DatabaseUnavailable"}
    assert statistics.median(elapsed for _, elapsed in second) < 1.0
    for response, elapsed in checks:
        assert response.status_code == 503 and elapsed < 2.0


def test_starting_with_migrations_fails_fast_and_says_why(tmp_path: Path) -> None:
    with Blackhole() as hole:
        env = {
            **os.environ,
            "TUOTEMPO_DATABASE_URL": hole.database_url,
            "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
            "TUOTEMPO_AUTO_MIGRATE": "true",
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        command += ["--bind", "127.0.0.1:0", "tuotempo_soap.wsgi:application"]
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        elapsed = time.monotonic() - started
    assert done.returncode != 0 and elapsed < 20
    last = (done.stdout + done.stderr).strip().splitlines()[-1]
    assert last.startswith("tuotempo-soap cannot start: The database at postgresql://")
    assert f"127.0.0.1:{hole.port}" in last and "TUOTEMPO_AUTO_MIGRATE=0" in last
    assert "Traceback" not in done.stderr
