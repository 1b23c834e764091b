"""The clinic client against the reference clinic server, run for real.

One server (a subprocess on 127.0.0.1, its own SQLite file, credentials on,
``/_control`` on, "today" pinned to a Monday) serves the module; every test
resets its options afterwards. Tests book on different centers so they keep
out of each other's way. Hostile WSDLs come from a tiny local ``http.server``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ROOT, _free_port
from tuotempo_soap.clinic import (
    ClinicAppointmentStatus,
    ClinicAuthenticationError,
    ClinicClientFactory,
    ClinicEndpoint,
    ClinicProtocolError,
    ClinicUnavailableError,
    PatientData,
    TestResultStatus,
    ZeepClinicClient,
)
from tuotempo_soap.soap.wsdl import CLINIC_LOCATION_PLACEHOLDER

pytestmark = pytest.mark.e2e

TODAY = dt.date(2030, 1, 7)  # a Monday
USERNAME, PASSWORD = "platform", "clinic-secret"


@dataclass
class Clinic:
    url: str
    log: Path
    factory: ClinicClientFactory = field(default_factory=ClinicClientFactory)

    @property
    def wsdl_url(self) -> str:
        return f"{self.url}/clinic?wsdl"

    def control(self, **changes: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/_control", json=changes, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def client(self, **options: Any) -> ZeepClinicClient:
        settings: dict[str, Any] = {
            "username": USERNAME,
            "password": PASSWORD,
            "retry_backoff_seconds": 0.05,
            **options,
        }
        return self.factory.build(
            ClinicEndpoint(settings.pop("wsdl_url", self.wsdl_url), **settings)
        )


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    workdir = tmp_path_factory.mktemp("clinic-client")
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_ENABLE_CONTROL": "1",
        "CLINIC_TODAY": TODAY.isoformat(),
        "CLINIC_USERNAME": USERNAME,
        "CLINIC_PASSWORD": PASSWORD,
    }
    log = workdir / "clinic.log"
    command = [sys.executable, "-m", "examples.clinic_server", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--db", str(workdir / "clinic.db")]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the clinic exited: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the clinic did not answer in 30 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        served = Clinic(url=url, log=log)
        yield served
        served.factory.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(autouse=True)
def healthy_clinic(clinic: Clinic) -> Iterator[None]:
    yield
    clinic.control(reset=True)


class Documents:
    """A tiny local web server for WSDLs of our making; remembers what was asked."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requested: list[str] = []
        documents = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                documents.requested.append(self.path)
                body = documents.files.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def documents() -> Iterator[Documents]:
    served = Documents()
    yield served
    served.close()


def published_wsdl() -> bytes:
    """The committed contract, its address the placeholder no clinic listens on."""
    return (ROOT / "wsdl" / "clinic.wsdl").read_bytes()


def test_every_operation(clinic: Clinic) -> None:
    client = clinic.client(center_lid="C1")

    centers = client.get_centers()
    assert {center.center_lid for center in centers} == {"C1", "C2", "C3"}
    assert all(center.name for center in centers)

    entities = client.key_entities()
    assert entities
    assert any(e.activity_lid == "ECO" and e.duration_minutes == 30 for e in entities)
    assert {e.resource_lid for e in entities} <= {"C1-DR1", "C1-DR2"}

    slots = client.search_availabilities("VISIT", start_day=TODAY, max_results=3)
    assert len(slots) == 3
    first = slots[0]
    assert first.date >= TODAY and first.center_lid == "C1"
    assert first.end is not None
    assert first.availability_lid

    booking = client.add_appointment(first, PatientData(user_tid="TT-1001"), "TT-APP-every-1")
    assert booking.ok and booking.app_lid and not booking.reconciled
    assert booking.user_lid == "P000001"  # the seeded patient with our id TT-1001

    checked = client.check_appointment(booking.app_lid)
    assert checked is not None
    assert checked.status is ClinicAppointmentStatus.CONFIRMED
    assert (checked.date, checked.start, checked.resource_lid) == (
        first.date,
        first.start,
        first.resource_lid,
    )
    assert checked.app_tid == "TT-APP-every-1"

    by_tid = client.get_appointments(user_tid="TT-1001", start_date=first.date, end_date=first.date)
    assert booking.app_lid in {a.app_lid for a in by_tid}
    by_lid = client.search_appointments(user_lid="P000001", start_date=first.date)
    assert booking.app_lid in {a.app_lid for a in by_lid}
    assert client.get_appointments(user_tid="TT-nobody") == []

    deleted = client.delete_appointment(booking.app_lid)
    assert deleted.ok
    again = client.check_appointment(booking.app_lid)
    assert again is not None and again.status is ClinicAppointmentStatus.CANCELLED
    assert client.check_appointment("A999999") is None
    unknown = client.delete_appointment("A999999")
    assert not unknown.ok and unknown.error_message

    newcomer = PatientData(
        user_tid="TT-E2E-NEW",
        first_name="Lucia",
        second_name="Gomez",
        gender="F",
        date_of_birth=dt.date(1990, 3, 4),
        mobile_phone="+34600111222",
        email="lucia@example.org",
        id_number="12345678Z",
    )
    second = client.add_appointment(slots[1], newcomer, "TT-APP-every-2")
    assert second.ok and second.user_lid and second.user_lid != "P000001"
    not_theirs = client.cancel_appointment(second.app_lid or "", "P000002")
    assert not not_theirs.ok and not_theirs.error_message
    cancelled = client.cancel_appointment(second.app_lid or "", second.user_lid or "")
    assert cancelled.ok
    assert client.cancel_appointment(second.app_lid or "", second.user_lid or "").ok

    anywhere = clinic.client()  # the patient's results are in more than one center
    results = anywhere.get_test_results_list(user_tid="TT-1001")
    assert len(results) == 3
    statuses = sorted(result.status for result in results)
    assert statuses.count(TestResultStatus.CANCELLED) == 1
    for result in results:
        content = anywhere.get_test_result_content(result.download_lid)
        assert content.download_lid == result.download_lid
        if result.status is TestResultStatus.VALID:
            assert content.content
        else:
            assert content.content is None and content.error_message
    assert anywhere.get_test_results_list(user_tid="TT-nobody") == []


def test_a_slot_booked_twice_is_refused(clinic: Clinic) -> None:
    client = clinic.client(center_lid="C2")
    slot = client.search_availabilities("VISIT", start_day=TODAY, max_results=1)[0]
    first = client.add_appointment(slot, PatientData(user_tid="TT-1001"), "TT-APP-double-1")
    assert first.ok
    second = client.add_appointment(slot, PatientData(user_tid="TT-E2E-2"), "TT-APP-double-2")
    assert not second.ok
    assert second.app_lid is None
    assert second.error_message and "already taken" in second.error_message
    on_slot = client.get_appointments(
        start_date=slot.date, end_date=slot.date, resource_lid=slot.resource_lid
    )
    assert [a.app_lid for a in on_slot if a.start == slot.start] == [first.app_lid]


def test_a_timeout_while_booking_is_reconciled_without_booking_twice(clinic: Clinic) -> None:
    delay = 1.5
    client = clinic.client(center_lid="C3", timeout_seconds=1.0)
    slot = client.search_availabilities("VISIT", start_day=TODAY, max_results=1)[0]
    # The clinic sleeps, then books: our answer is lost, the booking is not.
    clinic.control(delay_seconds=delay, delay_operations=["addAppointment"])
    patient = PatientData(user_tid="TT-E2E-SLOW", mobile_phone="+34600999888")

    result = client.add_appointment(slot, patient, "TT-APP-slow")

    assert result.ok and result.reconciled
    # Let whatever may still be running at the clinic finish before counting.
    time.sleep(delay + 0.5)
    clinic.control(reset=True)
    on_slot = [
        appointment
        for appointment in client.get_appointments(
            start_date=slot.date, end_date=slot.date, resource_lid=slot.resource_lid
        )
        if appointment.start == slot.start
        and appointment.status is ClinicAppointmentStatus.CONFIRMED
    ]
    assert len(on_slot) == 1
    assert on_slot[0].app_lid == result.app_lid
    assert on_slot[0].app_tid == "TT-APP-slow"
    assert on_slot[0].user_lid == result.user_lid


def test_a_clinic_answering_http_500_is_unavailable_after_bounded_retries(
    clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    client = clinic.client(read_retries=2)  # the WSDL is read before the outage
    clinic.control(fail_http_500=True)
    caplog.set_level(logging.INFO, logger="tuotempo_soap.clinic")
    started = time.monotonic()
    with pytest.raises(ClinicUnavailableError) as caught:
        client.get_centers()
    assert caught.value.status_code == 500
    assert caught.value.operation == "getCenters"
    assert "127.0.0.1" in str(caught.value)
    calls = [r for r in caplog.records if "operation=getCenters outcome=" in r.getMessage()]
    assert len(calls) == 3
    assert time.monotonic() - started < 10


def test_an_injected_outage_is_unavailable(clinic: Clinic) -> None:
    client = clinic.client(read_retries=1)
    clinic.control(fail_operations=["KeyEntities"])
    with pytest.raises(ClinicUnavailableError) as caught:
        client.key_entities()
    assert caught.value.fault_code == "Server.Unavailable"
    assert client.get_centers()  # only that operation is down


def test_booking_during_an_outage_reports_an_unknown_state_and_books_nothing(
    clinic: Clinic,
) -> None:
    client = clinic.client(center_lid="C2", timeout_seconds=1.0, read_retries=1)
    slot = client.search_availabilities("FOLLOWUP", start_day=TODAY, max_results=1)[0]
    clinic.control(fail_operations=["addAppointment"])
    with pytest.raises(ClinicUnavailableError, match="state is unknown"):
        client.add_appointment(slot, PatientData(user_tid="TT-E2E-OUT"), "TT-APP-out")
    clinic.control(reset=True)
    mine = client.get_appointments(user_tid="TT-E2E-OUT")
    assert mine == []


def test_credentials_are_sent_and_checked(clinic: Clinic) -> None:
    assert clinic.client().get_centers()
    with pytest.raises(ClinicAuthenticationError) as caught:
        clinic.client(password="wrong").get_centers()
    assert caught.value.fault_code == "Client.AuthenticationFailed"
    with pytest.raises(ClinicAuthenticationError):
        clinic.client(username=None, password=None).key_entities()


def test_the_endpoint_override_reaches_the_clinic(clinic: Clinic, documents: Documents) -> None:
    documents.files["/clinic.wsdl"] = published_wsdl()
    client = clinic.client(
        wsdl_url=f"{documents.url}/clinic.wsdl", endpoint_url=f"{clinic.url}/clinic"
    )
    assert client.address == f"{clinic.url}/clinic"
    assert client.get_centers()
    # The file as published names no real server: a clinic that serves it
    # unchanged sends us nowhere (.invalid never resolves), never to ourselves.
    without = clinic.client(wsdl_url=f"{documents.url}/clinic.wsdl")
    assert without.address == CLINIC_LOCATION_PLACEHOLDER


def test_a_wsdl_with_a_doctype_and_external_entity_is_refused(
    clinic: Clinic, documents: Documents
) -> None:
    contract = published_wsdl().split(b"?>", 1)[1]
    documents.files["/dtd.wsdl"] = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE wsdl:definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + contract.replace(b"<xs:documentation>", b"<xs:documentation>&xxe;", 1)
    )
    with pytest.raises(ClinicProtocolError, match="DTD") as caught:
        clinic.client(wsdl_url=f"{documents.url}/dtd.wsdl", endpoint_url=f"{clinic.url}/clinic")
    assert caught.value.operation == "WSDL"


def test_a_wsdl_importing_a_remote_schema_is_refused(clinic: Clinic, documents: Documents) -> None:
    documents.files["/evil.xsd"] = (
        b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:evil"/>'
    )
    documents.files["/import.wsdl"] = published_wsdl().replace(
        b'elementFormDefault="qualified">',
        b'elementFormDefault="qualified"><xs:import namespace="urn:evil" schemaLocation="'
        + f'{documents.url}/evil.xsd"/>'.encode(),
        1,
    )
    with pytest.raises(ClinicProtocolError, match="ExternalReferenceForbidden"):
        clinic.client(wsdl_url=f"{documents.url}/import.wsdl")
    assert documents.requested == ["/import.wsdl"]
