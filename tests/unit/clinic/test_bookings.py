"""Writes: a lost booking answer is reconciled, never blindly repeated; cancelling is
retried and a refused retry is checked."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from tuotempo_soap.clinic import (
    Availability,
    ClinicEndpoint,
    ClinicProtocolError,
    ClinicTimeoutError,
    ClinicUnavailableError,
    PatientData,
    ZeepClinicClient,
)
from tuotempo_soap.clinic.answers import appointment as read_appointment
from tuotempo_soap.clinic.client import matching_booking
from tuotempo_soap.domain.clinic import Appointment

SLOT = Availability(
    resource_lid="C1-DR1",
    activity_lid="VISIT",
    date=dt.date(2027, 2, 24),
    start=dt.time(9, 0),
    availability_lid="C1-DR1-20270224-0900",
    center_lid="C1",
)
PATIENT = PatientData(user_tid="TT-1", mobile_phone="+34600111222")
APP_TID = "TT-APP-1"

Step = dict[str, Any] | BaseException


@dataclass
class FakeService:
    """zeep's ServiceProxy, answering from a script per operation."""

    script: dict[str, list[Step]] = field(default_factory=lambda: defaultdict(list))
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __getitem__(self, operation: str) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            self.calls.append((operation, params))
            steps = self.script[operation]
            if not steps:
                raise AssertionError(f"unexpected call of {operation}")
            step = steps.pop(0)
            if isinstance(step, BaseException):
                raise step
            return step

        return call

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


def appointment_row(**overrides: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "APP_LID": "A1",
        "STATUS": "Confirmed",
        "APP_DATE": "24/02/2027",
        "APP_START_TIME": "09:00",
        "USER_LID": "P1",
        "USER_TID": "TT-1",
        "ACTIVITY_LID": "VISIT",
        "RESOURCE_LID": "C1-DR1",
        "APP_TID": APP_TID,
    }
    row.update(overrides)
    return row


def appointments(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"APPOINTMENT": list(rows)}


OK = {"ADD_RESULT": "OK", "APP_LID": "A2", "USER_LID": "P1"}
TAKEN = {"ADD_RESULT": "ERROR", "ERROR_MESSAGE": "The slot is already taken"}
TIMEOUT = requests.ReadTimeout("read timed out")


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/clinic", reason))  # type: ignore[arg-type]


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(service: FakeService, sleeps: list[float]) -> ZeepClinicClient:
    endpoint = ClinicEndpoint("http://clinic.test/clinic?wsdl", timeout_seconds=2.0, read_retries=1)
    return ZeepClinicClient(
        service, endpoint, address="http://clinic.test/clinic", sleep=sleeps.append
    )


def test_a_refusal_is_an_answer_not_an_error(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TAKEN]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert (result.ok, result.error_message) == (False, "The slot is already taken")
    assert service.count("getAppointments") == 0


def test_a_lost_answer_is_found_by_app_tid_and_not_booked_again(
    client: ZeepClinicClient, service: FakeService, sleeps: list[float]
) -> None:
    service.script["addAppointment"] = [TIMEOUT]
    service.script["getAppointments"] = [
        appointments(appointment_row(APP_LID="A0", APP_TID="TT-APP-other"), appointment_row())
    ]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert (result.ok, result.app_lid, result.user_lid, result.reconciled) == (
        True,
        "A1",
        "P1",
        True,
    )
    assert service.count("addAppointment") == 1
    assert sleeps == []
    _, query = service.calls[-1]
    assert query["USER_TID"] == "TT-1"
    assert query["USER_LID"] is None
    assert (query["START_DATE"], query["END_DATE"]) == ("24/02/2027", "24/02/2027")
    assert (query["RESOURCE_LID"], query["CENTER_LID"]) == ("C1-DR1", "C1")


def test_the_clinic_gets_time_to_commit_before_we_ask_again(
    client: ZeepClinicClient, service: FakeService, sleeps: list[float]
) -> None:
    service.script["addAppointment"] = [TIMEOUT]
    service.script["getAppointments"] = [appointments(), appointments(appointment_row())]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert result.reconciled
    assert service.count("addAppointment") == 1
    assert sleeps == [2.0]  # the endpoint's timeout


def test_not_found_is_booked_once_more(client: ZeepClinicClient, service: FakeService) -> None:
    service.script["addAppointment"] = [TIMEOUT, OK]
    service.script["getAppointments"] = [appointments(), appointments()]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert (result.ok, result.app_lid, result.reconciled) == (True, "A2", False)
    assert service.count("addAppointment") == 2


def test_a_second_attempt_refused_because_the_first_landed_returns_the_first(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT, TAKEN]
    service.script["getAppointments"] = [
        appointments(),
        appointments(),
        appointments(appointment_row()),
    ]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert (result.ok, result.app_lid, result.reconciled) == (True, "A1", True)


def test_a_second_attempt_refused_for_another_reason_is_the_refusal(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT, TAKEN]
    service.script["getAppointments"] = [appointments(), appointments(), appointments()]
    result = client.add_appointment(SLOT, PATIENT, APP_TID)
    assert (result.ok, result.error_message) == (False, "The slot is already taken")


def test_two_lost_answers_and_no_booking_found_is_an_unknown_state(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT, TIMEOUT]
    service.script["getAppointments"] = [appointments(), appointments(), appointments()]
    with pytest.raises(ClinicUnavailableError, match="state is unknown"):
        client.add_appointment(SLOT, PATIENT, APP_TID)
    assert service.count("addAppointment") == 2


def test_two_lost_answers_then_found(client: ZeepClinicClient, service: FakeService) -> None:
    service.script["addAppointment"] = [TIMEOUT, TIMEOUT]
    service.script["getAppointments"] = [
        appointments(),
        appointments(),
        appointments(appointment_row()),
    ]
    assert client.add_appointment(SLOT, PATIENT, APP_TID).reconciled


def test_when_looking_fails_the_state_is_unknown(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT]
    service.script["getAppointments"] = [TIMEOUT, TIMEOUT]  # read_retries=1
    with pytest.raises(ClinicUnavailableError, match="state is unknown") as caught:
        client.add_appointment(SLOT, PATIENT, APP_TID)
    assert isinstance(caught.value.__cause__, ClinicTimeoutError)
    assert "+34600111222" not in str(caught.value)
    assert service.count("addAppointment") == 1


def test_when_looking_answers_garbage_the_state_is_unknown(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT]
    service.script["getAppointments"] = [appointments(appointment_row(STATUS="Pending"))]
    with pytest.raises(ClinicUnavailableError, match="state is unknown") as caught:
        client.add_appointment(SLOT, PATIENT, APP_TID)
    assert isinstance(caught.value.__cause__, ClinicProtocolError)


def test_a_request_that_never_left_is_not_reconciled(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [refused()]
    with pytest.raises(ClinicUnavailableError, match="could not connect") as caught:
        client.add_appointment(SLOT, PATIENT, APP_TID)
    assert not caught.value.request_sent
    assert service.count("getAppointments") == 0


def test_a_server_fault_on_booking_is_reconciled(
    client: ZeepClinicClient, service: FakeService
) -> None:
    import zeep.exceptions

    service.script["addAppointment"] = [zeep.exceptions.Fault("boom", code="soap11env:Server")]
    service.script["getAppointments"] = [appointments(appointment_row())]
    assert client.add_appointment(SLOT, PATIENT, APP_TID).reconciled


def test_an_unreadable_booking_answer_is_looked_for_not_repeated(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [{"NOTHING_WE_KNOW": "x"}]
    service.script["getAppointments"] = [appointments(appointment_row())]
    assert client.add_appointment(SLOT, PATIENT, APP_TID).reconciled
    service.script["addAppointment"] = [{"NOTHING_WE_KNOW": "x"}]
    service.script["getAppointments"] = [appointments()]
    with pytest.raises(ClinicProtocolError, match="ADD_RESULT"):
        client.add_appointment(SLOT, PATIENT, APP_TID)
    assert service.count("addAppointment") == 2


def test_the_clinic_id_is_preferred_for_looking(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["addAppointment"] = [TIMEOUT]
    service.script["getAppointments"] = [appointments(appointment_row())]
    client.add_appointment(SLOT, PatientData(user_lid="P1", user_tid="TT-1"), APP_TID)
    _, query = service.calls[-1]
    assert (query["USER_LID"], query["USER_TID"]) == ("P1", None)


def booked(**overrides: str | None) -> Appointment:
    return read_appointment(appointment_row(**overrides))


def test_matching_without_an_echoed_app_tid_needs_the_same_patient_and_slot() -> None:
    silent = booked(APP_TID=None)
    assert matching_booking([silent], SLOT, APP_TID, same_patient=True) is silent
    assert matching_booking([silent], SLOT, APP_TID, same_patient=False) is None
    for other in (
        booked(APP_TID=None, APP_START_TIME="09:20"),
        booked(APP_TID=None, RESOURCE_LID="C1-DR2"),
        booked(APP_TID=None, ACTIVITY_LID="ECO"),
        booked(APP_TID=None, STATUS="Cancelled"),
        booked(APP_TID="TT-APP-someone-else"),
    ):
        assert matching_booking([other], SLOT, APP_TID, same_patient=True) is None


def test_a_cancelled_booking_with_our_app_tid_is_not_ours_any_more() -> None:
    assert matching_booking([booked(STATUS="Canceled")], SLOT, APP_TID, same_patient=True) is None


# -- cancelling ------------------------------------------------------------------


def test_delete_retried_after_a_timeout_then_refused_is_checked_and_done(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["deleteAppointment"] = [
        TIMEOUT,
        {"DELETE_RESULT": "ERROR", "ERROR_MESSAGE": "No appointment A1"},
    ]
    service.script["checkAppointment"] = [{"RESULT": "NOT_FOUND"}]
    result = client.delete_appointment("A1")
    assert (result.ok, result.already_done, result.app_lid) == (True, True, "A1")


def test_cancel_refused_on_retry_but_cancelled_is_done(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["CancelAppointment"] = [TIMEOUT, {"RESULT": "ERROR", "APP_LID": "Already"}]
    service.script["checkAppointment"] = [
        {"RESULT": "OK", "APPOINTMENT": appointment_row(STATUS="CANCELLED")}
    ]
    result = client.cancel_appointment("A1", "P1")
    assert (result.ok, result.already_done) == (True, True)
    assert service.calls[0][1]["USER_LID"] == "P1"


def test_cancel_refused_on_retry_and_still_confirmed_is_the_refusal(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["CancelAppointment"] = [TIMEOUT, {"RESULT": "ERROR", "APP_LID": "Not yours"}]
    service.script["checkAppointment"] = [{"RESULT": "OK", "APPOINTMENT": appointment_row()}]
    result = client.cancel_appointment("A1", "P1")
    assert (result.ok, result.error_message, result.already_done) == (False, "Not yours", False)


def test_a_first_refusal_is_not_second_guessed(
    client: ZeepClinicClient, service: FakeService
) -> None:
    service.script["deleteAppointment"] = [
        {"DELETE_RESULT": "ERROR", "ERROR_MESSAGE": "No appointment A1"}
    ]
    result = client.delete_appointment("A1")
    assert (result.ok, result.error_message) == (False, "No appointment A1")
    assert service.count("checkAppointment") == 0


def test_delete_retries_are_bounded(client: ZeepClinicClient, service: FakeService) -> None:
    service.script["deleteAppointment"] = [TIMEOUT, TIMEOUT]
    with pytest.raises(ClinicTimeoutError):
        client.delete_appointment("A1")
    assert service.count("deleteAppointment") == 2


def test_an_operation_the_wsdl_lacks_is_a_protocol_error(client: ZeepClinicClient) -> None:
    class Empty:
        def __getitem__(self, operation: str) -> Callable[..., Any]:
            raise AttributeError(operation)

    bare = ZeepClinicClient(Empty(), client.endpoint, address=client.address)
    with pytest.raises(ClinicProtocolError, match="no operation getCenters"):
        bare.get_centers()
