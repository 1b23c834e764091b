"""``examples/curl/run.sh`` as shipped, against a real gunicorn: every operation
and every fault a request can provoke, posted with curl from the envelope files.

The script judges the answers itself (exit 0 when all are the documented ones);
this test holds it to an independent list, then reads the saved answers (the
typed ``ServiceFault`` detail of each fault, the items of each operation) and
the database after them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from tests.e2e.conftest import ROOT, Server
from tuotempo_soap.services import instances
from tuotempo_soap.store.repositories import ReservationRepository

pytestmark = pytest.mark.e2e
SCRIPT = ROOT / "examples" / "curl" / "run.sh"
NS = {"t": "http://tuotempo-soap.org/v1", "soap": "http://schemas.xmlsoap.org/soap/envelope/"}

OPERATIONS = [
    ("updateReservations", "200", "PARTIAL"),
    ("getReservations", "200", "OK"),
    ("updateReservations-cancel", "200", "OK"),
    ("getReservations-delta", "200", "OK"),
    ("updateMessages", "200", "PARTIAL"),
    ("searchMessages", "200", "OK"),
]
# case: (HTTP status, CODE, FIELD)
FAULTS = {
    "Client.AuthenticationFailed": ("500", "Client.AuthenticationFailed", None),
    "Client.ValidationError": ("500", "Client.ValidationError", "START_DATE"),
    "Client.MalformedXML": ("500", "Client.MalformedXML", None),
    "Client.MalformedXML-DOCTYPE": ("500", "Client.MalformedXML", None),
    "Client.InvalidEnvelope": ("500", "Client.InvalidEnvelope", None),
    "Client.ResourceNotFound": ("500", "Client.ResourceNotFound", None),
    "VersionMismatch": ("500", "VersionMismatch", None),
    "Client.SOAPActionMismatch": ("500", "Client.SOAPActionMismatch", "SOAPAction"),
    "Client.UnsupportedMediaType": ("415", "Client.UnsupportedMediaType", "Content-Type"),
    "Client.RequestNotAllowed": ("405", "Client.RequestNotAllowed", None),
    "Client.BatchTooLarge": ("500", "Client.BatchTooLarge", "RESERVATIONS"),
    "Client.RequestTooLarge": ("500", "Client.RequestTooLarge", None),
    "Client.TooManyAttempts": ("500", "Client.TooManyAttempts", "AUTH"),
}


@pytest.fixture(scope="session")
def curl() -> str:
    executable = shutil.which("curl")
    if executable is None:
        pytest.skip("curl is not on PATH: apt-get install -y curl")
    return str(executable)


def texts(answer: etree._Element, path: str) -> list[str]:
    return [str(node.text) for node in answer.iterfind(path, NS)]


def test_curl_examples_as_shipped(curl: str, server: Server, tmp_path: Path) -> None:
    who = server.new_instance()
    answers = tmp_path / "answers"
    done = subprocess.run(
        ["sh", str(SCRIPT), server.soap_url, who.instance, who.username, who.password, answers],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    expected = [[case, status, outcome, "ok"] for case, status, outcome in OPERATIONS] + [
        [case, status, f"soap:{code}", "ok"] for case, (status, code, _) in FAULTS.items()
    ]
    assert sorted(line.split("\t") for line in done.stdout.splitlines()) == sorted(expected)

    def answer(case: str) -> etree._Element:
        return etree.parse(answers / f"{case}.xml").getroot()

    for case, (_, code, field) in FAULTS.items():
        fault = answer(case).find("soap:Body/soap:Fault", NS)
        assert fault is not None, case
        assert fault.findtext("detail/t:ServiceFault/t:CODE", namespaces=NS) == code, case
        assert fault.findtext("detail/t:ServiceFault/t:FIELD", namespaces=NS) == field, case
        assert fault.findtext("faultstring"), case

    update = answer("updateReservations")
    assert texts(update, ".//t:ITEM/t:APP_LID") == ["CURL-1001", "CURL-1002", "CURL-1003"]
    assert texts(update, ".//t:ITEM/t:ERROR_CODE") == ["INVALID_DATE"]
    assert texts(update, ".//t:ITEM/t:ERROR_FIELD") == ["APP_DATE"]
    read = answer("getReservations")
    assert texts(read, ".//t:COUNT") == ["2"]
    assert texts(read, ".//t:RESERVATION/t:USER_MOBILE_PHONE") == ["+34612345678", "+34622334455"]
    assert texts(read, ".//t:RESERVATION/t:NOTES") == ["Revisión anual"]
    # The delta read from the kept cursor: only the cancelled appointment.
    delta = answer("getReservations-delta")
    assert texts(delta, ".//t:COUNT") == ["1"]
    assert texts(delta, ".//t:RESERVATION/t:APP_LID") == ["CURL-1002"]
    assert texts(delta, ".//t:RESERVATION/t:STATUS") == ["CANCELLED by USER"]
    queued = answer("updateMessages")
    assert texts(queued, ".//t:ITEM/t:ACTION") == ["QUEUED"]
    assert texts(queued, ".//t:ITEM/t:ERROR_CODE") == ["INVALID_RECIPIENT"]
    found = answer("searchMessages")
    assert texts(found, ".//t:MESSAGE/t:LEGACY_ID") == ["CURL-SMS-1"]
    assert texts(found, ".//t:MESSAGE/t:TO") == ["+34612345678"]

    # The refused batch stored nothing; the good items of the others are there.
    instance = instances.get_instance(server.store, who.instance)
    with server.store.unit_of_work() as connection:
        repo = ReservationRepository(connection)
        assert repo.count(instance.id) == 2
        stored = repo.by_app_lids(instance.id, ["CURL-1001", "CURL-1002"])
    assert stored["CURL-1001"].notes == "Revisión anual"
    assert stored["CURL-1002"].status == "CANCELLED by USER"
