"""The example envelopes and the zeep example work as shipped (with real credentials)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.conftest import Credentials
from tests.e2e.conftest import ROOT, Server

pytestmark = pytest.mark.e2e
EXAMPLES = ROOT / "examples"


def with_credentials(path: str, who: Credentials) -> bytes:
    text = (EXAMPLES / path).read_text()
    for tag, placeholder, value in (
        ("INSTANCE", "tt_demo", who.instance),
        ("USERNAME", "demo", who.username),
        ("PASSWORD", "change-me", who.password),
    ):
        text = text.replace(f"<t:{tag}>{placeholder}</t:{tag}>", f"<t:{tag}>{value}</t:{tag}>")
    return text.encode()


def test_example_envelopes(server: Server) -> None:
    who = server.new_instance()
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    update = with_credentials("envelopes/updateReservations.xml", who)
    answer = requests.post(server.soap_url, data=update, headers=headers, timeout=30)
    assert answer.status_code == 200 and "<tns:RESULT>OK</tns:RESULT>" in answer.text
    assert answer.text.count("<tns:ACTION>CREATED</tns:ACTION>") == 2
    read = with_credentials("envelopes/getReservations.xml", who)
    answer = requests.post(server.soap_url, data=read, headers=headers, timeout=30)
    assert answer.status_code == 200
    assert "<tns:COUNT>2</tns:COUNT>" in answer.text
    assert "<tns:USER_MOBILE_PHONE>+393331234567</tns:USER_MOBILE_PHONE>" in answer.text
    assert "<tns:APP_START_TIME>10:00</tns:APP_START_TIME>" in answer.text


def test_python_example(server: Server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    who = server.new_instance()
    command = [
        sys.executable,
        str(EXAMPLES / "python_client/his_sync.py"),
        server.wsdl_url,
        who.instance,
        who.username,
        who.password,
    ]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "push: OK" in first.stdout and "CREATED" in first.stdout
    assert first.stdout.count("changed:") == 1
    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "UNCHANGED" in second.stdout and "changed:" not in second.stdout
