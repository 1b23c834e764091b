"""With the database gone, callers get a fault they can retry, and /healthz says so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import Credentials
from tests.e2e.conftest import start_gunicorn
from tests.e2e.test_soap_reservations import auth_xml, envelope, fault_of

pytestmark = pytest.mark.e2e


def test_unreachable_database(tmp_path: Path) -> None:
    # Port 9 (discard) on loopback: nothing listens, connections are refused.
    process, url, _ = start_gunicorn(
        "postgresql://postgres@127.0.0.1:9/nowhere",
        tmp_path,
        {"TUOTEMPO_AUTO_MIGRATE": "false"},
        ready_path="/",
    )
    try:
        health = requests.get(f"{url}/healthz", timeout=10)
        assert health.status_code == 503 and health.json()["database"] is False
        who = Credentials("tt_any", "his", "whatever-password")
        response = requests.post(
            f"{url}/soap",
            data=envelope("getReservations", auth_xml(who)).encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=30,
        )
        code, message, detail = fault_of(response)
        assert (
            code.endswith("Server.DatabaseUnavailable") and detail == "Server.DatabaseUnavailable"
        )
        assert "retry" in message
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
