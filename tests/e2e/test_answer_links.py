"""Answer links through a real gunicorn: the token of a link never reaches the
access log, whether the server runs from gunicorn.conf.py or ``tuotempo-soap serve``."""

from __future__ import annotations

import os
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


def _assert_clean(log: str, token: str) -> None:
    assert token not in log and token[:20] not in log
    assert '"GET /answer/<token> HTTP/1.1" 404' in log
    assert '"POST /answer/<token> HTTP/1.1"' in log
    assert '"GET /healthz?t=- HTTP/1.1" 200' in log
    assert '"GET /soap?wsdl HTTP/1.1" 200' in log  # the route and its flags stay readable


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


def test_serve_logs_the_route_not_the_token(tmp_path: Path) -> None:
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
            [sys.executable, "-m", "tuotempo_soap.cli", "serve", "--port", str(port)],
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
    _assert_clean(output.read_text(), token)
