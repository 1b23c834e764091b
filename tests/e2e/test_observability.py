"""Metrics and logs through a real gunicorn (gunicorn.conf.py, two workers).

- The counters of /metrics add up across the workers, whichever of them serves
  the scrape, and stay when a worker is replaced (its files are folded into the
  archive by the master's child_exit hook).
- Every log line (gunicorn's, the access log's, the application's) is one JSON
  object; the lines of a request share its id, which an internal error's fault
  quotes as the reference; and none holds the phone numbers (in any spelling),
  e-mail addresses or names the requests carried.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text as sql

from tests.conftest import Credentials, make_instance
from tests.e2e.conftest import start_gunicorn, stop_process
from tests.fuzz_envelopes import Patient, _render, valid_requests
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store

pytestmark = pytest.mark.e2e
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML = {"Content-Type": "text/xml; charset=utf-8"}
ROUNDS, PER_ROUND = 10, 24  # at most 240 requests to see both workers answer


def _get_reservations(who: Credentials) -> bytes:
    auth = "".join(f"<t:{k}>{v}</t:{k}>" for k, v in who.auth().items())
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:t="http://tuotempo-soap.org/v1"><s:Body>'
        f"<t:getReservations><t:AUTH>{auth}</t:AUTH></t:getReservations></s:Body></s:Envelope>"
    ).encode()


def _json_lines(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text(errors="replace").splitlines()
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"line {number} of the server log is not JSON: {line[:300]!r}")
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def _access(records: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("logger") == "gunicorn.access" and r.get("path") == path]


def _counted(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tuotempo_soap_requests_total" and sample.labels == {
                "operation": "getReservations",
                "fault": "",
            }:
                return sample.value
    return 0.0


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[str, Path, Store, Path]]:
    database_url = f"sqlite:///{tmp_path / 'tuotempo.db'}"
    files = tmp_path / "metrics"
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(files),
        # Concurrent first sign-ins (eight threads) check the password instead
        # of being told Server.Busy.
        "TUOTEMPO_AUTH_MAX_CONCURRENT_HASHES": "8",
        "TUOTEMPO_AUTH_HASH_WAIT_SECONDS": "30",
    }
    process, url, log = start_gunicorn(database_url, tmp_path, env)
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        yield url, log, store, files
    finally:
        stop_process(process)
        store.dispose()


def test_counters_add_up_across_workers_and_outlive_a_worker(
    gunicorn: tuple[str, Path, Store, Path],
) -> None:
    url, log, store, files = gunicorn
    who = make_instance(store)
    body = _get_reservations(who)

    def call(_: int) -> int:
        # A connection each, so the kernel hands them to either worker.
        headers = {**XML, "Connection": "close"}
        return requests.post(f"{url}/soap", data=body, headers=headers, timeout=30).status_code

    sent = 0
    workers: set[int] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(ROUNDS):
            assert set(pool.map(call, range(PER_ROUND))) == {200}
            sent += PER_ROUND
            workers = {r["pid"] for r in _access(_json_lines(log), "/soap")}
            if len(workers) >= 2:
                break
    assert len(workers) == 2, f"one worker answered all {sent} requests"
    # Each scrape is served by one worker or the other; each counts everything.
    assert {_counted(url) for _ in range(6)} == {sent}

    # A worker replaced (as max_requests does): its counts stay, its files go.
    gone = min(workers)
    os.kill(gone, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while (files / f"counter_{gone}.db").exists():
        assert time.monotonic() < deadline, sorted(p.name for p in files.iterdir())
        time.sleep(0.2)
    assert (files / "counter_archive.db").exists()
    assert {_counted(url) for _ in range(6)} == {sent}


def _soap(url: str, body: str | bytes, **headers: str) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f"{url}/soap", data=data, headers={**XML, **headers}, timeout=30)


def _fault_string(response: requests.Response) -> str:
    root = etree.fromstring(response.content)
    return root.findtext(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault/faultstring") or ""


def test_log_lines_are_json_share_the_request_id_and_hold_no_patient_data(
    gunicorn: tuple[str, Path, Store, Path],
) -> None:
    url, log, store, _ = gunicorn
    who = make_instance(store)
    patient = Patient.invent(seed=1010)
    valid = valid_requests(who.auth(), patient)
    # Patient data in every operation: a reservation, a message, two searches.
    for operation in ("updateReservations", "updateMessages", "searchMessages"):
        answer = _soap(url, _render(operation, who.auth(), valid[operation]))
        assert answer.status_code == 200, answer.text[:300]
    # A client fault on a request full of it: an unknown CHANNEL beside the phone.
    refused = _soap(
        url,
        _render("searchMessages", who.auth(), {"TO": patient.phones[1], "CHANNEL": "PIGEON"}),
    )
    assert refused.status_code == 500 and "Client.ValidationError" in refused.text
    client_fault_id = refused.headers["X-Request-ID"]
    # An internal error: a stored date the database hands back unreadable (and
    # the error's message would quote it: a phone number).
    with store.unit_of_work(write=True) as connection:
        # Raw SQL: SQLAlchemy's Date type would refuse to write it.
        connection.execute(
            sql("UPDATE reservations SET app_date = :value"),
            {"value": patient.phones[0].replace(" ", "")},
        )
    broken = _soap(url, _get_reservations(who), **{"X-Request-ID": "e2e-trace-0001"})
    assert broken.status_code == 500
    assert broken.headers["X-Request-ID"] == "e2e-trace-0001"
    assert _fault_string(broken) == "Internal error; quote reference e2e-trace-0001 to support"
    generated = _soap(url, _get_reservations(who))
    reference = generated.headers["X-Request-ID"]
    assert f"quote reference {reference} to support" in _fault_string(generated)
    assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
    # gunicorn writes an access line after its answer (and any worker may be
    # last): wait, bounded, until each request checked below has its line.
    expected = {"e2e-trace-0001", reference, client_fault_id}
    deadline = time.monotonic() + 10
    records = _json_lines(log)
    while time.monotonic() < deadline:
        logged = {r.get("request_id") for r in _access(records, "/soap")}
        if expected <= logged:
            break
        time.sleep(0.05)
        records = _json_lines(log)
    assert {"gunicorn.error", "gunicorn.access", "tuotempo_soap.soap.faults"} <= {
        r["logger"] for r in records
    }
    for request_id in ("e2e-trace-0001", reference):
        mine = [r for r in records if r.get("request_id") == request_id]
        (access,) = [r for r in mine if r["logger"] == "gunicorn.access"]
        assert access["status"] == 500 and access["path"] == "/soap"
        assert access["fault"] == "Server.InternalError"
        assert access["operation"] == "getReservations" and access["instance"] == who.instance
        assert access["duration_ms"] > 0 and access["method"] == "POST"
        errors = [r for r in mine if r["logger"] == "tuotempo_soap.soap.faults"]
        assert any(
            r["message"].startswith(f"unexpected error in getReservations (reference {request_id})")
            for r in errors
        ), errors
        assert all(r["instance"] == who.instance for r in mine)
    (client_access,) = [
        r for r in _access(records, "/soap") if r.get("request_id") == client_fault_id
    ]
    assert client_access["fault"] == "Client.ValidationError"
    assert client_access["operation"] == "searchMessages"

    text = log.read_text(errors="replace")
    leaked = sorted(needle for needle in patient.needles() if needle.lower() in text.lower())
    assert leaked == [], f"patient data in the log: {leaked}"
    # Phone numbers in any spelling: the digits with every separator taken out.
    squeezed = re.sub(r"[\s\-./()+\\]", "", text)
    for phone in patient.phones:
        national = re.sub(r"\D", "", phone)[-9:]
        assert national not in squeezed, f"{phone} in the log"
    assert who.password not in text
