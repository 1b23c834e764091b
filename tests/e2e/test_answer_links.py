"""Answer links through a real gunicorn: the token of a link never reaches the
access log, whether the server runs from gunicorn.conf.py or ``tuotempo-soap serve``,
with JSON log lines (the default) or text ones (``serve --demo``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, _free_port, start_gunicorn
from tuotempo_soap.services.links import LinkSigner

pytestmark = pytest.mark.e2e

KEY = "e2e-key-for-answer-links"


def _visit(url: str, token: str) -> None:
    """A scanner, a patient and a curious reader: every way the token travels in."""
    assert requests.get(f"{url}/answer/{token}", timeout=10).status_code == 404  # unknown
    requests.post(f"{url}/answer/{token}", data={"form_token": "0" * 64}, timeout=10)
    requests.get(f"{url}/answer/{token}?again={token}", timeout=10)
    requests.get(f"{url}//answer/{token}", timeout=10)
    requests.get(f"{url}/healthz?t={token}", timeout=10)
    requests.get(f"{url}/healthz", headers={"Referer": f"{url}/answer/{token}"}, timeout=10)
    assert requests.get(f"{url}/soap?wsdl", timeout=10).status_code == 200


def _access_lines(log: str, log_format: str) -> list[str]:
    """The access log's request lines and statuses, ``GET /x HTTP/1.1 200``."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            assert log_format == "json", line
            record = json.loads(line)
            if record.get("logger") == "gunicorn.access":
                found.append(record["message"])
        else:
            match = re.search(r'"([A-Z]+ \S+ HTTP/1\.1)" (\d{3})', line)
            if match:
                assert log_format == "text", line
                found.append(f"{match[1]} {match[2]}")
    return found


def _assert_clean(log: str, token: str, log_format: str = "json") -> None:
    assert token not in log and token[:20] not in log
    lines = _access_lines(log, log_format)
    assert "GET /answer/<token> HTTP/1.1 404" in lines
    assert any(line.startswith("POST /answer/<token> HTTP/1.1 ") for line in lines)
    assert "GET /healthz?t=- HTTP/1.1 200" in lines
    assert "GET /soap?wsdl HTTP/1.1 200" in lines  # the route and its flags stay readable


def test_gunicorn_conf_logs_the_route_not_the_token(tmp_path: Path) -> None:
    token = LinkSigner(KEY).token(987654, "cancel")
    process, url, log = start_gunicorn(
        f"sqlite:///{tmp_path / 'links.db'}", tmp_path, {"TUOTEMPO_SECRET_KEY": KEY}
    )
    try:
        _visit(url, token)
    finally:
        process.terminate()
        process.wait(timeout=15)
    _assert_clean(log.read_text(), token)


@pytest.mark.parametrize(("options", "log_format"), [([], "json"), (["--demo"], "text")])
def test_serve_logs_the_route_not_the_token(
    tmp_path: Path, options: list[str], log_format: str
) -> None:
    token = LinkSigner(KEY).token(987655, "confirm")
    port = _free_port()
    env = {
        **os.environ,
        "TUOTEMPO_DATA_DIR": str(tmp_path / "data"),
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "TUOTEMPO_SECRET_KEY": KEY,
    }
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tuotempo_soap.cli", "serve", "--port", str(port), *options],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, output.read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        _visit(url, token)
    finally:
        process.terminate()
        process.wait(timeout=15)
    _assert_clean(output.read_text(), token, log_format)
