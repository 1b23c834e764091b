from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tuotempo_soap.clinic import answers
from tuotempo_soap.clinic.answers import AnswerError
from tuotempo_soap.domain.clinic import (
    ClinicAppointmentStatus,
    PatientData,
    TestResultStatus,
    parse_appointment_status,
)
from tuotempo_soap.domain.formats import FormatError

SLOT = {
    "RESOURCE_LID": "C1-DR1",
    "ACTIVITY_LID": "VISIT",
    "AVA_DATE": "24/02/2027",
    "AVA_START_TIME": "09:00",
}

APPOINTMENT = {
    "APP_LID": "A1",
    "STATUS": "Confirmed",
    "APP_DATE": "24/02/2027",
    "APP_START_TIME": "09:00",
    "USER_LID": "P1",
    "ACTIVITY_LID": "VISIT",
    "RESOURCE_LID": "C1-DR1",
}


@pytest.mark.parametrize(
    "answer",
    [
        None,
        {},
        {"AVAILABILITIES": None},
        {"AVAILABILITIES": {"AVAILABILITY": None}},
        {"AVAILABILITIES": {"AVAILABILITY": []}},
        {"AVAILABILITY": []},
        {"AVAILABILITY": None},
        [],
    ],
)
def test_empty_results_are_an_empty_list_whatever_their_shape(answer: Any) -> None:
    assert answers.rows(answer, "AVAILABILITIES", "AVAILABILITY") == []


@pytest.mark.parametrize(
    "answer",
    [
        {"AVAILABILITIES": {"AVAILABILITY": [SLOT]}},  # the result as declared
        {"AVAILABILITY": [SLOT]},  # zeep unwrapped the one-child result
        [SLOT],  # ... and the array
        {"AVAILABILITIES": {"AVAILABILITY": [SLOT, None]}},
        SLOT,  # a single record where a clinic's WSDL declares no array
    ],
)
def test_rows_are_found_however_deep_zeep_left_them(answer: Any) -> None:
    assert answers.rows(answer, "AVAILABILITIES", "AVAILABILITY") == [SLOT]


def test_rows_that_are_not_records_are_an_answer_error() -> None:
    with pytest.raises(AnswerError):
        answers.rows({"AVAILABILITY": ["text"]}, "AVAILABILITIES", "AVAILABILITY")


@pytest.mark.parametrize(
    ("day", "start"),
    [
        ("24/02/2027", "09:00"),
        ("2027-02-24", "9:00"),
        ("24-02-2027", "09:00:00"),
        (dt.date(2027, 2, 24), dt.time(9, 0)),
        (dt.datetime(2027, 2, 24, 9, 0), dt.datetime(2027, 2, 24, 9, 0)),
    ],
)
def test_availability_dates_and_times_are_read_leniently(day: Any, start: Any) -> None:
    slot = answers.availability({**SLOT, "AVA_DATE": day, "AVA_START_TIME": start})
    assert slot.date == dt.date(2027, 2, 24)
    assert slot.start == dt.time(9, 0)


def test_availability_tolerates_missing_and_blank_optional_fields() -> None:
    slot = answers.availability({**SLOT, "AVA_END_TIME": "  ", "CENTER_LID": ""})
    assert slot.end is None
    assert slot.center_lid is None
    assert slot.insurance_lid is None
    assert slot.price is None
    assert slot.availability_lid is None


def test_availability_reads_every_field() -> None:
    slot = answers.availability(
        {
            **SLOT,
            "INSURANCE_LID": "PRIVATE",
            "AVA_END_TIME": "09:20",
            "AVAILABILITY_LID": "C1-DR1-20270224-0900",
            "ACTIVITY_PRICE": "60.00",
            "CENTER_LID": "C1",
        }
    )
    assert slot.end == dt.time(9, 20)
    assert slot.availability_lid == "C1-DR1-20270224-0900"
    assert (slot.insurance_lid, slot.price, slot.center_lid) == ("PRIVATE", "60.00", "C1")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({**SLOT, "RESOURCE_LID": None}, "RESOURCE_LID"),
        ({k: v for k, v in SLOT.items() if k != "AVA_DATE"}, "AVA_DATE"),
        ({**SLOT, "AVA_DATE": "31/02/2027"}, "AVA_DATE"),
        ({**SLOT, "AVA_START_TIME": "25:00"}, "AVA_START_TIME"),
    ],
)
def test_a_missing_or_unreadable_required_field_is_an_answer_error(
    row: dict[str, Any], field: str
) -> None:
    with pytest.raises(AnswerError, match=field):
        answers.availability(row)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Confirmed", ClinicAppointmentStatus.CONFIRMED),
        ("CONFIRMED", ClinicAppointmentStatus.CONFIRMED),
        (" confirmed ", ClinicAppointmentStatus.CONFIRMED),
        ("Cancelled", ClinicAppointmentStatus.CANCELLED),
        ("cancelled", ClinicAppointmentStatus.CANCELLED),
        ("Canceled", ClinicAppointmentStatus.CANCELLED),
        ("CANCELED", ClinicAppointmentStatus.CANCELLED),
    ],
)
def test_appointment_statuses_are_normalised(text: str, status: ClinicAppointmentStatus) -> None:
    assert parse_appointment_status(text) is status
    assert answers.appointment({**APPOINTMENT, "STATUS": text}).status is status


def test_an_unknown_status_is_an_error_not_a_guess() -> None:
    with pytest.raises(FormatError):
        parse_appointment_status("Pending")
    with pytest.raises(AnswerError, match="STATUS"):
        answers.appointment({**APPOINTMENT, "STATUS": "Pending"})


def test_appointment_reads_optional_fields_and_hides_patient_data_from_repr() -> None:
    appointment = answers.appointment(
        {
            **APPOINTMENT,
            "APP_DATE": "2027-02-24",
            "APP_END_TIME": "09:20",
            "USER_TID": "TT-1",
            "USER_MOBILE_PHONE": "+34600111222",
            "USER_EMAIL": "ana@example.org",
            "APP_TID": "TT-APP-1",
            "CENTER_LID": "C1",
        }
    )
    assert appointment.date == dt.date(2027, 2, 24)
    assert appointment.end == dt.time(9, 20)
    assert (appointment.user_tid, appointment.app_tid) == ("TT-1", "TT-APP-1")
    assert appointment.mobile_phone == "+34600111222"
    assert "+34600111222" not in repr(appointment)
    assert "ana@example.org" not in repr(appointment)
    assert appointment.location_name is None


def test_patient_data_keeps_personal_values_out_of_repr() -> None:
    patient = PatientData(
        user_tid="TT-1",
        first_name="Ana",
        mobile_phone="+34600111222",
        email="ana@example.org",
        id_number="12345678Z",
        date_of_birth=dt.date(1980, 5, 1),
    )
    shown = repr(patient)
    for secret in ("Ana", "+34600111222", "ana@example.org", "12345678Z", "1980"):
        assert secret not in shown
    assert set(patient.personal_values()) == {"Ana", "+34600111222", "ana@example.org", "12345678Z"}


def test_booking_results() -> None:
    ok = answers.booking_result({"ADD_RESULT": "OK", "APP_LID": "A1", "USER_LID": "P1"})
    assert (ok.ok, ok.app_lid, ok.user_lid, ok.error_message) == (True, "A1", "P1", None)
    refused = answers.booking_result({"ADD_RESULT": "ERROR", "ERROR_MESSAGE": "slot taken"})
    assert (refused.ok, refused.app_lid, refused.error_message) == (False, None, "slot taken")
    silent = answers.booking_result({"ADD_RESULT": "error"})
    assert not silent.ok
    assert silent.error_message
    with pytest.raises(AnswerError, match="ADD_RESULT"):
        answers.booking_result({"APP_LID": "A1"})


def test_cancel_result_carries_the_error_in_app_lid() -> None:
    done = answers.cancel_result({"RESULT": "OK", "DELETE_RESULT": "OK", "APP_LID": "A1"})
    assert (done.ok, done.app_lid) == (True, "A1")
    refused = answers.cancel_result({"RESULT": "ERROR", "APP_LID": "No appointment A9"})
    assert (refused.ok, refused.app_lid, refused.error_message) == (
        False,
        None,
        "No appointment A9",
    )
    only_delete = answers.cancel_result({"DELETE_RESULT": "OK", "APP_LID": "A1"})
    assert only_delete.ok


def test_delete_result() -> None:
    assert answers.delete_result({"DELETE_RESULT": "OK", "APP_LID": "A1"}).ok
    refused = answers.delete_result({"DELETE_RESULT": "ERROR", "ERROR_MESSAGE": "No appointment"})
    assert (refused.ok, refused.error_message) == (False, "No appointment")


def test_key_entity_duration_and_missing_optionals() -> None:
    entity = answers.key_entity(
        {
            "ACTIVITY_LID": "VISIT",
            "ACTIVITY_NAME": "First visit",
            "RESOURCE_LID": "C1-DR1",
            "RESOURCE_FIRST_NAME": "Ana",
            "ACTIVITY_DURATION": "20",
        }
    )
    assert entity.duration_minutes == 20
    assert entity.insurance_lid is None
    with pytest.raises(AnswerError, match="ACTIVITY_DURATION"):
        answers.key_entity(
            {
                "ACTIVITY_LID": "VISIT",
                "ACTIVITY_NAME": "First visit",
                "RESOURCE_LID": "C1-DR1",
                "RESOURCE_FIRST_NAME": "Ana",
                "ACTIVITY_DURATION": "twenty",
            }
        )


def test_test_result_content() -> None:
    valid = answers.download_content(
        {"DOWNLOAD_LID": "R1", "STATUS": "Valid", "DOWNLOAD_CONTENT": b"%PDF-1.4"}
    )
    assert (valid.status, valid.content) == (TestResultStatus.VALID, b"%PDF-1.4")
    cancelled = answers.download_content(
        {"DOWNLOAD_LID": "R3", "STATUS": "Cancelled", "ERROR_MESSAGE": "was cancelled"}
    )
    assert (cancelled.status, cancelled.content) == (TestResultStatus.CANCELLED, None)
    assert cancelled.error_message == "was cancelled"


def test_test_result_row() -> None:
    row = answers.download(
        {
            "DOWNLOAD_LID": "R1",
            "STATUS": "VALID",
            "DOWNLOAD_CODE": "BT-1",
            "DOWNLOAD_TYPE": "pdf",
            "USER_LID": "P1",
            "USER_MOBILE_PHONE": "",
        }
    )
    assert row.status is TestResultStatus.VALID
    assert row.mobile_phone is None
    assert row.filename is None


def test_check_outcome() -> None:
    outcome, row = answers.check_outcome({"RESULT": "Not Found"})
    assert outcome == "NOT_FOUND"
    with pytest.raises(AnswerError, match="APPOINTMENT"):
        answers.checked_appointment(row)
    _, found = answers.check_outcome({"RESULT": "OK", "APPOINTMENT": APPOINTMENT})
    assert answers.checked_appointment(found).app_lid == "A1"
