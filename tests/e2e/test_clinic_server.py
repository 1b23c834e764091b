"""The reference clinic server, run as a vendor would run it and driven with zeep.

One server (a real subprocess on 127.0.0.1, its own SQLite file, "today" pinned
to Monday 22/02/2027) serves the whole module. Tests keep out of each other's
way by booking on different doctors and days; the desk side is reached through
a second ``ClinicBackend`` on the same file, as the clinic's own software would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.exceptions import Fault, TransportError

from examples.clinic_server.backend import BookingError, ClinicBackend
from examples.clinic_server.options import ServerOptions
from tests.e2e.conftest import ROOT, _free_port

pytestmark = pytest.mark.e2e

TODAY = date(2027, 2, 22)  # a Monday
USERNAME, PASSWORD = "platform", "clinic-secret"
AUTH = {"USERNAME": USERNAME, "PASSWORD": PASSWORD}


@dataclass
class Clinic:
    url: str
    client: zeep.Client
    desk: ClinicBackend  # the same database, opened by the test process

    def call(self, operation: str, **params: Any) -> Any:
        params.setdefault("AUTH", AUTH)
        return getattr(self.client.service, operation)(**params)

    def control(self, **changes: Any) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/_control", json=changes, timeout=10)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def new_client(self, timeout: float | None = None) -> zeep.Client:
        transport = zeep.Transport(operation_timeout=timeout) if timeout else None
        return zeep.Client(f"{self.url}/clinic?wsdl", transport=transport)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    workdir = tmp_path_factory.mktemp("clinic")
    db_path = workdir / "clinic.db"
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_ENABLE_CONTROL": "1",
        "CLINIC_TODAY": TODAY.isoformat(),
        "CLINIC_USERNAME": USERNAME,
        "CLINIC_PASSWORD": PASSWORD,
    }
    log = workdir / "clinic.log"
    command = [sys.executable, "-m", "examples.clinic_server", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", str(db_path)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, url, log)
        desk = ClinicBackend(db_path, ServerOptions(today=TODAY))
        yield Clinic(url=url, client=zeep.Client(f"{url}/clinic?wsdl"), desk=desk)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the clinic exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the clinic did not answer in 30 s: {log.read_text()[-2000:]}")


def items(result: Any, member: str) -> list[Any]:
    """The rows of an array answer; zeep unwraps single-child results, and an empty
    array (``<APPOINTMENTS/>``) comes back as None."""
    if result is None:
        return []
    for wrapper in ("AVAILABILITIES", "APPOINTMENTS", "CENTERS", "ENTITIES", "TEST_RESULTS"):
        if wrapper in getattr(result, "__values__", {}):
            result = result[wrapper]
            if result is None:
                return []
    return list(result[member] or [])


def search(clinic: Clinic, **params: Any) -> list[Any]:
    params.setdefault("ACTIVITY_LID", "VISIT")
    params.setdefault("AVA_RESULTS_NUMBER", 50)
    return items(clinic.call("searchAvailabilities", **params), "AVAILABILITY")


def book(clinic: Clinic, slot: Any, **params: Any) -> Any:
    return clinic.call(
        "addAppointment",
        ACTIVITY_LID=slot.ACTIVITY_LID,
        APP_DATE=slot.AVA_DATE,
        APP_START_TIME=slot.AVA_START_TIME,
        AVAILABILITY_LID=slot.AVAILABILITY_LID,
        **params,
    )


def appointments(clinic: Clinic, operation: str = "getAppointments", **params: Any) -> list[Any]:
    return items(clinic.call(operation, **params), "APPOINTMENT")


def test_wsdl_points_at_the_address_used(clinic: Clinic) -> None:
    wsdl = requests.get(f"{clinic.url}/clinic?wsdl", timeout=10).text
    assert f'location="{clinic.url}/clinic"' in wsdl


def test_search_honours_every_filter(clinic: Clinic) -> None:
    slots = search(clinic, AVA_RESULTS_NUMBER=7)
    assert len(slots) == 7
    keys = [(datetime.strptime(s.AVA_DATE, "%d/%m/%Y").date(), s.AVA_START_TIME) for s in slots]
    assert keys == sorted(keys) and keys[0][0] >= TODAY
    assert all(s.ACTIVITY_LID == "VISIT" and s.ACTIVITY_PRICE == "60.00" for s in slots)

    c2 = search(clinic, CENTER_LID="C2")
    assert c2 and {s.CENTER_LID for s in c2} == {"C2"}
    assert {s.RESOURCE_LID for s in search(clinic, RESOURCE_LID="C2-DR2")} == {"C2-DR2"}

    eco = search(clinic, ACTIVITY_LID="ECO", CENTER_LID="C3", AVA_START_DAY="24/02/2027")
    assert {s.RESOURCE_LID for s in eco} == {"C3-DR1"}  # DR2 doctors do no scans
    first = eco[0]
    assert (first.AVA_DATE, first.AVA_START_TIME, first.AVA_END_TIME) == (
        "24/02/2027",
        "09:00",
        "09:30",
    )

    assert search(clinic, ACTIVITY_LID="ECO", INSURANCE_LID="MEDIPLUS") == []
    mediplus = search(clinic, INSURANCE_LID="MEDIPLUS")
    assert mediplus and {s.RESOURCE_LID for s in mediplus} <= {"C1-DR1", "C2-DR1", "C3-DR1"}
    assert {(s.INSURANCE_LID, s.ACTIVITY_PRICE) for s in mediplus} == {("MEDIPLUS", "25.00")}

    windowed = search(clinic, AVA_MIN_TIME="10:00", AVA_MAX_TIME="10:40")
    assert windowed and all("10:00" <= s.AVA_START_TIME <= "10:40" for s in windowed)

    one_day = search(
        clinic,
        RESOURCE_LID="C3-DR1",
        AVA_START_DAY="24/02/2027",
        AVA_END_DAY="24/02/2027",
        AVA_START_TIME="10:00",
        AVA_END_TIME="11:00",
    )
    assert [s.AVA_START_TIME for s in one_day] == ["10:00", "10:20", "10:40", "11:00"]
    assert one_day[0].AVAILABILITY_LID == "C3-DR1-20270224-1000"

    # R_WORKING_DAY 6 (Saturday) only for C1-DR1, 10:00-12:00.
    saturday = search(clinic, AVA_START_DAY="27/02/2027", AVA_END_DAY="27/02/2027")
    assert {s.RESOURCE_LID for s in saturday} == {"C1-DR1"}
    starts = ["10:00", "10:20", "10:40", "11:00", "11:20", "11:40"]
    assert [s.AVA_START_TIME for s in saturday] == starts

    assert search(clinic, AVA_START_DAY="01/01/2027", AVA_END_DAY="31/01/2027") == []  # past
    assert search(clinic, ACTIVITY_LID="NOPE") == []


def test_booking_removes_the_slot_and_a_second_booking_is_refused(clinic: Clinic) -> None:
    day = {"RESOURCE_LID": "C1-DR1", "AVA_START_DAY": "23/02/2027", "AVA_END_DAY": "23/02/2027"}
    slot = search(clinic, **day)[0]
    first = book(
        clinic,
        slot,
        USER_FIRST_NAME="Nora",
        USER_SECOND_NAME="Blanco",
        USER_MOBILE_PHONE="+34611222333",
        USER_EMAIL="nora@example.org",
        USER_ID_NUMBER="11111111H",
        INSURANCE_LID="MEDIPLUS",
        APP_TID="TT-APP-1",
    )
    assert first.ADD_RESULT == "OK" and first.APP_LID and first.USER_LID.startswith("P")
    stored = clinic.desk.patient(first.USER_LID)
    assert stored is not None
    assert (stored["first_name"], stored["mobile_phone"], stored["email"]) == (
        "Nora",
        "+34611222333",
        "nora@example.org",
    )

    left = {s.AVAILABILITY_LID for s in search(clinic, **day)}
    assert slot.AVAILABILITY_LID not in left
    # A 30-minute scan starting there would overlap the booking: gone as well.
    scans = search(clinic, **{**day, "ACTIVITY_LID": "ECO"})
    assert slot.AVAILABILITY_LID not in {s.AVAILABILITY_LID for s in scans}

    again = book(clinic, slot, USER_MOBILE_PHONE="+34699999999")
    assert again.ADD_RESULT == "ERROR" and again.APP_LID is None
    assert "already taken" in again.ERROR_MESSAGE

    second = book(clinic, search(clinic, **day)[0], USER_LID=first.USER_LID)
    assert second.ADD_RESULT == "OK" and second.USER_LID == first.USER_LID

    checked = clinic.call("checkAppointment", APP_LID=first.APP_LID)
    assert checked.RESULT == "OK"
    shown = checked.APPOINTMENT
    assert (shown.STATUS, shown.APP_DATE, shown.APP_START_TIME) == (
        "Confirmed",
        slot.AVA_DATE,
        slot.AVA_START_TIME,
    )
    assert (shown.APP_TID, shown.USER_INSURANCE_LID, shown.CENTER_LID) == (
        "TT-APP-1",
        "MEDIPLUS",
        "C1",
    )
    assert (shown.ACTIVITY_NAME, shown.RESOURCE_FIRST_NAME, shown.LOCATION_LID) == (
        "First visit",
        "Ana",
        "C1-L1",
    )

    deleted = clinic.call("deleteAppointment", APP_LID=first.APP_LID)
    assert (deleted.DELETE_RESULT, deleted.APP_LID) == ("OK", first.APP_LID)
    assert slot.AVAILABILITY_LID in {s.AVAILABILITY_LID for s in search(clinic, **day)}
    assert clinic.call("checkAppointment", APP_LID=first.APP_LID).APPOINTMENT.STATUS == "Cancelled"
    assert clinic.call("deleteAppointment", APP_LID=first.APP_LID).DELETE_RESULT == "OK"

    unknown = clinic.call("deleteAppointment", APP_LID="A999999")
    assert unknown.DELETE_RESULT == "ERROR" and "A999999" in unknown.ERROR_MESSAGE
    assert clinic.call("checkAppointment", APP_LID="A999999").RESULT == "NOT_FOUND"

    mismatch = clinic.call(
        "addAppointment",
        ACTIVITY_LID="VISIT",
        APP_DATE="23/02/2027",
        APP_START_TIME="12:00",
        AVAILABILITY_LID=slot.AVAILABILITY_LID,
    )
    assert mismatch.ADD_RESULT == "ERROR" and "not the slot" in mismatch.ERROR_MESSAGE


def test_patients_by_user_tid_and_unknown_user_lid(clinic: Clinic) -> None:
    day = {"RESOURCE_LID": "C1-DR2", "AVA_START_DAY": "23/02/2027", "AVA_END_DAY": "23/02/2027"}
    first = book(clinic, search(clinic, **day)[0], USER_TID="TT-7777", USER_MOBILE_PHONE="+3460")
    second = book(clinic, search(clinic, **day)[0], USER_TID="TT-7777")
    assert first.ADD_RESULT == second.ADD_RESULT == "OK"
    assert first.USER_LID == second.USER_LID
    mine = appointments(clinic, USER_TID="TT-7777")
    assert {a.APP_LID for a in mine} == {first.APP_LID, second.APP_LID}
    assert {a.USER_TID for a in mine} == {"TT-7777"}

    # B.2.2: a USER_LID the clinic no longer knows is treated as a new patient.
    stray = book(clinic, search(clinic, **day)[0], USER_LID="P999999")
    assert stray.ADD_RESULT == "OK" and stray.USER_LID not in ("P999999", first.USER_LID)
    assert appointments(clinic, USER_LID="P999999") == []


def test_delta_reads_return_only_what_changed(clinic: Clinic) -> None:
    before = datetime.now(UTC)
    slots = search(clinic, CENTER_LID="C2", AVA_START_DAY="24/02/2027", AVA_END_DAY="24/02/2027")
    web = book(clinic, slots[0], CENTER_LID="C2")
    assert web.ADD_RESULT == "OK"
    desk = clinic.desk.book_at_desk(
        resource_lid="C2-DR2",
        activity_lid="FOLLOWUP",
        day=date(2027, 2, 24),
        start="17:05",  # off the grid: the desk books whatever the doctor agrees to
        mobile_phone="+34622000111",
    )
    changed = appointments(clinic, LAST_REQUEST_TIMESTAMP=before, CENTER_LID="C2")
    assert {a.APP_LID for a in changed} == {web.APP_LID, desk}

    after_booking = datetime.now(UTC)
    refused = clinic.call("CancelAppointment", APP_LID=web.APP_LID, USER_LID="P000001")
    assert (refused.RESULT, refused.DELETE_RESULT) == ("ERROR", "ERROR")
    assert "P000001" in refused.APP_LID  # A.4.2: the message travels in APP_LID
    cancelled = clinic.call("CancelAppointment", APP_LID=web.APP_LID, USER_LID=web.USER_LID)
    assert (cancelled.RESULT, cancelled.APP_LID) == ("OK", web.APP_LID)

    delta = appointments(clinic, "SearchAppointments", LAST_REQUEST_TIMESTAMP=after_booking)
    assert [(a.APP_LID, a.STATUS) for a in delta] == [(web.APP_LID, "Cancelled")]
    naive_utc = after_booking.replace(tzinfo=None)  # read as UTC
    delta = appointments(clinic, "SearchAppointments", LAST_REQUEST_TIMESTAMP=naive_utc)
    assert [a.APP_LID for a in delta] == [web.APP_LID]
    assert appointments(clinic, LAST_REQUEST_TIMESTAMP=datetime.now(UTC)) == []

    clinic.desk.cancel_at_desk(desk)
    delta = appointments(clinic, LAST_REQUEST_TIMESTAMP=after_booking, RESOURCE_LID="C2-DR2")
    assert [(a.APP_LID, a.STATUS) for a in delta] == [(desk, "Cancelled")]
    with pytest.raises(BookingError):
        clinic.desk.cancel_at_desk("A999999")

    ranged = appointments(
        clinic, "SearchAppointments", START_DATE="24/02/2027", END_DATE="24/02/2027"
    )
    assert {web.APP_LID, desk} <= {a.APP_LID for a in ranged}
    assert all(a.APP_DATE == "24/02/2027" for a in ranged)
    assert appointments(clinic, START_DATE="01/03/2027", CENTER_LID="C2") == []


def test_desk_bookings_block_web_bookings(clinic: Clinic) -> None:
    day = {"RESOURCE_LID": "C3-DR1", "AVA_START_DAY": "25/02/2027", "AVA_END_DAY": "25/02/2027"}
    slot = search(clinic, **day)[0]
    app_lid = clinic.desk.book_at_desk(
        resource_lid="C3-DR1",
        activity_lid="VISIT",
        day=date(2027, 2, 25),
        start=slot.AVA_START_TIME,
    )
    assert slot.AVAILABILITY_LID not in {s.AVAILABILITY_LID for s in search(clinic, **day)}
    taken = book(clinic, slot)
    assert taken.ADD_RESULT == "ERROR" and "taken" in taken.ERROR_MESSAGE
    with pytest.raises(BookingError):
        clinic.desk.book_at_desk(
            resource_lid="C3-DR1",
            activity_lid="ECO",
            day=date(2027, 2, 25),
            start=slot.AVA_START_TIME,
        )
    clinic.desk.cancel_at_desk(app_lid)
    assert slot.AVAILABILITY_LID in {s.AVAILABILITY_LID for s in search(clinic, **day)}


def test_one_slot_booked_concurrently_is_booked_once(clinic: Clinic) -> None:
    day = {"RESOURCE_LID": "C1-DR1", "AVA_START_DAY": "26/02/2027", "AVA_END_DAY": "26/02/2027"}
    slot = search(clinic, **day)[0]
    clients = [clinic.new_client() for _ in range(6)]

    def attempt(client: zeep.Client) -> str:
        answer = client.service.addAppointment(
            AUTH=AUTH,
            ACTIVITY_LID="VISIT",
            APP_DATE=slot.AVA_DATE,
            APP_START_TIME=slot.AVA_START_TIME,
            AVAILABILITY_LID=slot.AVAILABILITY_LID,
        )
        return str(answer.ADD_RESULT)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        results = list(pool.map(attempt, clients, timeout=60))
    assert sorted(results) == ["ERROR"] * (len(clients) - 1) + ["OK"]


def test_centers_and_key_entities(clinic: Clinic) -> None:
    centers = items(clinic.call("getCenters"), "CENTER")
    assert [c.CENTER_LID for c in centers] == ["C1", "C2", "C3"]
    assert all(c.CENTER_NAME and c.ADDRESS and c.PHONE for c in centers)

    everything = items(clinic.call("KeyEntities"), "ENTITY")
    c1 = items(clinic.call("KeyEntities", CENTER_LID="C1"), "ENTITY")
    assert len(everything) == 21 and len(c1) == 7
    assert {e.RESOURCE_LID for e in c1} == {"C1-DR1", "C1-DR2"}
    relations = {(e.RESOURCE_LID, e.ACTIVITY_LID, e.INSURANCE_LID) for e in c1}
    assert ("C1-DR1", "ECO", "PRIVATE") in relations
    assert ("C1-DR1", "ECO", "MEDIPLUS") not in relations
    assert ("C1-DR2", "VISIT", "MEDIPLUS") not in relations
    visit = next(e for e in c1 if (e.RESOURCE_LID, e.ACTIVITY_LID) == ("C1-DR1", "VISIT"))
    assert (visit.ACTIVITY_DURATION, visit.ACTIVITY_GROUP_LID, visit.LOCATION_LID) == (
        "20",
        "CONS",
        "C1-L1",
    )


def test_test_results(clinic: Clinic) -> None:
    listed = items(clinic.call("getTestResultsList", USER_LID="P000001"), "TEST_RESULT")
    assert {(r.DOWNLOAD_LID, r.STATUS) for r in listed} == {
        ("R0001", "Valid"),
        ("R0002", "Valid"),
        ("R0003", "Cancelled"),
    }
    assert all(r.USER_TID == "TT-1001" and r.DOWNLOAD_TYPE == "pdf" for r in listed)
    by_tid = items(clinic.call("getTestResultsList", USER_TID="TT-1001"), "TEST_RESULT")
    assert len(by_tid) == 3
    recent = items(
        clinic.call("getTestResultsList", USER_LID="P000001", RESULT_START_DATE="15/02/2027"),
        "TEST_RESULT",
    )
    assert {r.DOWNLOAD_LID for r in recent} == {"R0001", "R0003"}  # 2 and 5 days old
    assert items(clinic.call("getTestResultsList", USER_LID="P000002"), "TEST_RESULT") == []

    content = clinic.call("getTestResultContent", DOWNLOAD_LID="R0001")
    assert content.STATUS == "Valid" and content.DOWNLOAD_CONTENT.startswith(b"%PDF-1.4")
    cancelled = clinic.call("getTestResultContent", DOWNLOAD_LID="R0003")
    assert cancelled.STATUS == "Cancelled" and cancelled.DOWNLOAD_CONTENT is None
    unknown = clinic.call("getTestResultContent", DOWNLOAD_LID="R9999")
    assert unknown.STATUS == "Cancelled" and "R9999" in unknown.ERROR_MESSAGE


def _fault_code(fault: Fault) -> str:
    detail = fault.detail
    assert detail is not None, "the fault has no typed detail"
    ns = {"t": "http://tuotempo-soap.org/clinic/v1"}
    return str(detail.findtext("t:ClinicFault/t:CODE", namespaces=ns))


def test_credentials_are_checked(clinic: Clinic) -> None:
    with pytest.raises(Fault) as wrong:
        clinic.call("getCenters", AUTH={"USERNAME": USERNAME, "PASSWORD": "guess"})
    assert wrong.value.code.endswith("Client.AuthenticationFailed")
    assert _fault_code(wrong.value) == "Client.AuthenticationFailed"
    with pytest.raises(Fault) as missing:
        clinic.call("checkAppointment", AUTH=None, APP_LID="A000001")
    assert _fault_code(missing.value) == "Client.AuthenticationFailed"


def test_malformed_input_is_a_fault(clinic: Clinic) -> None:
    with pytest.raises(Fault) as bad_date:
        clinic.call(
            "addAppointment",
            ACTIVITY_LID="VISIT",
            APP_DATE="31/02/2027",
            APP_START_TIME="09:00",
            AVAILABILITY_LID="C1-DR1-20270231-0900",
        )
    assert _fault_code(bad_date.value) == "Client.ValidationError"
    assert "APP_DATE" in bad_date.value.message


def test_control_makes_the_clinic_slow_or_failing_then_healthy(clinic: Clinic) -> None:
    refused = requests.post(f"{clinic.url}/_control", json={"fail_operations": ["nope"]}, timeout=5)
    assert refused.status_code == 400 and "nope" in refused.json()["error"]
    assert requests.post(f"{clinic.url}/_control", data=b"{", timeout=5).status_code == 400
    try:
        state = clinic.control(delay_seconds=1.0, delay_operations=["getCenters"])
        assert state["delay_operations"] == ["getCenters"] and state["password"] == "***"
        started = time.monotonic()
        clinic.call("getCenters")
        assert time.monotonic() - started >= 1.0
        started = time.monotonic()
        clinic.call("checkAppointment", APP_LID="A999999")  # not delayed
        assert time.monotonic() - started < 1.0
        impatient = clinic.new_client(timeout=0.3)
        with pytest.raises(requests.exceptions.Timeout):
            impatient.service.getCenters(AUTH=AUTH)

        clinic.control(delay_seconds=0, fail_operations=["getCenters"])
        with pytest.raises(Fault) as unavailable:
            clinic.call("getCenters")
        assert _fault_code(unavailable.value) == "Server.Unavailable"
        assert clinic.call("checkAppointment", APP_LID="A999999").RESULT == "NOT_FOUND"

        clinic.control(fail_operations=[], fail_http_500=True)
        with pytest.raises(TransportError) as broken:
            clinic.call("getCenters")
        assert broken.value.status_code == 500 and not broken.value.content
        assert requests.get(f"{clinic.url}/clinic?wsdl", timeout=5).status_code == 200

        clinic.control(username=None, password=None, fail_http_500=False)
        assert items(clinic.call("getCenters", AUTH=None), "CENTER")
    finally:
        state = clinic.control(reset=True)
    assert state["delay_seconds"] == 0 and not state["fail_http_500"]
    assert state["username"] == USERNAME
    assert len(items(clinic.call("getCenters"), "CENTER")) == 3
    assert requests.get(f"{clinic.url}/_control", timeout=5).json() == state
