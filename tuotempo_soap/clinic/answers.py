"""Reading clinics' answers into domain values, leniently.

zeep hands back its own objects, shaped by each clinic's WSDL: a result with one
child is unwrapped, an empty array comes back as ``None``, an empty list or not
at all. Everything here first turns the answer into plain dicts and lists, then
reads fields by name: optional fields may be missing or empty, dates may be
``dd/mm/yyyy``, ``yyyy-mm-dd`` or already typed. A required field that is missing
or unreadable raises ``AnswerError``, which the client reports as a protocol error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from zeep.helpers import serialize_object

from ..domain.clinic import (
    Appointment,
    Availability,
    BookingResult,
    Center,
    DeleteResult,
    KeyEntity,
    TestResult,
    TestResultContent,
    TestResultStatus,
    parse_appointment_status,
    parse_test_result_status,
)
from ..domain.formats import FormatError, parse_date, parse_time

Row = dict[str, Any]
T = TypeVar("T")

# How deep a result may be wrapped before its rows: result, array wrapper, member.
_MAX_UNWRAP = 4


class AnswerError(ValueError):
    """An answer we cannot read. Names the field, never a patient value."""


def plain(answer: Any) -> Any:
    """zeep objects as dicts and lists, all the way down."""
    return serialize_object(answer, dict)


def rows(answer: Any, wrapper: str, member: str) -> list[Row]:
    """The rows of a list answer: ``[]`` whether the array is empty, missing or None.

    ``wrapper`` is the result's field holding the array (``AVAILABILITIES``),
    ``member`` the array's repeated element (``AVAILABILITY``).
    """
    value = plain(answer)
    for _ in range(_MAX_UNWRAP):
        if value is None:
            return []
        if isinstance(value, list):
            break
        if not isinstance(value, dict):
            raise AnswerError(f"{wrapper}: expected a list, got {type(value).__name__}")
        if wrapper in value:
            value = value[wrapper]
        elif member in value:
            value = value[member]
        else:
            # One row where a clinic's WSDL declares a single element, not an array.
            return [value] if value else []
    if not isinstance(value, list):
        raise AnswerError(f"{wrapper}: nested deeper than any clinic contract")
    found: list[Row] = []
    for item in value:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise AnswerError(f"{member}: expected a record, got {type(item).__name__}")
        found.append(item)
    return found


def record(answer: Any, name: str) -> Row:
    """A single-record answer as a dict."""
    value = plain(answer)
    if not isinstance(value, dict):
        raise AnswerError(f"{name}: expected a record, got {type(value).__name__}")
    return value


def text(row: Row, name: str) -> str | None:
    """An optional text field: missing, None and blank all read as None."""
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    result = str(value).strip()
    return result or None


def required(row: Row, name: str) -> str:
    value = text(row, name)
    if value is None:
        raise AnswerError(f"{name} is missing")
    return value


def _read(row: Row, name: str, reader: Callable[[Any], T]) -> T | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return reader(value)
    except FormatError as exc:
        raise AnswerError(f"{name}: {exc}") from None


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return parse_date(str(value))


def _as_time(value: Any) -> dt.time:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    return parse_time(str(value))


def date_field(row: Row, name: str) -> dt.date | None:
    return _read(row, name, _as_date)


def time_field(row: Row, name: str) -> dt.time | None:
    return _read(row, name, _as_time)


def required_date(row: Row, name: str) -> dt.date:
    value = date_field(row, name)
    if value is None:
        raise AnswerError(f"{name} is missing")
    return value


def required_time(row: Row, name: str) -> dt.time:
    value = time_field(row, name)
    if value is None:
        raise AnswerError(f"{name} is missing")
    return value


def int_field(row: Row, name: str) -> int | None:
    raw = text(row, name)
    if raw is None:
        return None
    try:
        return int(float(raw.replace(",", ".")))
    except ValueError:
        raise AnswerError(f"{name}: '{raw[:20]}' is not a number") from None


def is_ok(value: str | None) -> bool:
    return (value or "").strip().upper() == "OK"


def availability(row: Row) -> Availability:
    return Availability(
        resource_lid=required(row, "RESOURCE_LID"),
        activity_lid=required(row, "ACTIVITY_LID"),
        insurance_lid=text(row, "INSURANCE_LID"),
        date=required_date(row, "AVA_DATE"),
        start=required_time(row, "AVA_START_TIME"),
        end=time_field(row, "AVA_END_TIME"),
        availability_lid=text(row, "AVAILABILITY_LID"),
        price=text(row, "ACTIVITY_PRICE"),
        center_lid=text(row, "CENTER_LID"),
    )


def appointment(row: Row) -> Appointment:
    try:
        status = parse_appointment_status(required(row, "STATUS"))
    except FormatError as exc:
        raise AnswerError(f"STATUS: {exc}") from None
    return Appointment(
        app_lid=required(row, "APP_LID"),
        status=status,
        date=required_date(row, "APP_DATE"),
        start=required_time(row, "APP_START_TIME"),
        end=time_field(row, "APP_END_TIME"),
        user_lid=required(row, "USER_LID"),
        user_tid=text(row, "USER_TID"),
        mobile_phone=text(row, "USER_MOBILE_PHONE"),
        email=text(row, "USER_EMAIL"),
        insurance_lid=text(row, "USER_INSURANCE_LID"),
        activity_lid=required(row, "ACTIVITY_LID"),
        activity_name=text(row, "ACTIVITY_NAME"),
        activity_group_lid=text(row, "ACTIVITY_GROUP_LID"),
        activity_group_name=text(row, "ACTIVITY_GROUP_NAME"),
        resource_lid=required(row, "RESOURCE_LID"),
        resource_first_name=text(row, "RESOURCE_FIRST_NAME"),
        resource_second_name=text(row, "RESOURCE_SECOND_NAME"),
        location_lid=text(row, "LOCATION_LID"),
        location_name=text(row, "LOCATION_NAME"),
        app_tid=text(row, "APP_TID"),
        center_lid=text(row, "CENTER_LID"),
    )


def center(row: Row) -> Center:
    return Center(
        center_lid=required(row, "CENTER_LID"),
        name=required(row, "CENTER_NAME"),
        description=text(row, "DESCRIPTION"),
        address=text(row, "ADDRESS"),
        phone=text(row, "PHONE"),
        website_url=text(row, "WEBSITE_URL"),
    )


def key_entity(row: Row) -> KeyEntity:
    return KeyEntity(
        activity_lid=required(row, "ACTIVITY_LID"),
        activity_name=required(row, "ACTIVITY_NAME"),
        resource_lid=required(row, "RESOURCE_LID"),
        resource_first_name=required(row, "RESOURCE_FIRST_NAME"),
        resource_second_name=text(row, "RESOURCE_SECOND_NAME"),
        insurance_lid=text(row, "INSURANCE_LID"),
        insurance_name=text(row, "INSURANCE_NAME"),
        activity_group_lid=text(row, "ACTIVITY_GROUP_LID"),
        activity_group_name=text(row, "ACTIVITY_GROUP_NAME"),
        price=text(row, "ACTIVITY_PRICE"),
        duration_minutes=int_field(row, "ACTIVITY_DURATION"),
        location_lid=text(row, "LOCATION_LID"),
        location_name=text(row, "LOCATION_NAME"),
    )


def _test_result_status(row: Row) -> TestResultStatus:
    try:
        return parse_test_result_status(required(row, "STATUS"))
    except FormatError as exc:
        raise AnswerError(f"STATUS: {exc}") from None


def download(row: Row) -> TestResult:
    """One row of getTestResultsList."""
    return TestResult(
        download_lid=required(row, "DOWNLOAD_LID"),
        status=_test_result_status(row),
        download_code=required(row, "DOWNLOAD_CODE"),
        file_type=required(row, "DOWNLOAD_TYPE"),
        user_lid=required(row, "USER_LID"),
        filename=text(row, "DOWNLOAD_FILENAME"),
        user_tid=text(row, "USER_TID"),
        mobile_phone=text(row, "USER_MOBILE_PHONE"),
        email=text(row, "USER_EMAIL"),
        id_number=text(row, "USER_ID_NUMBER"),
    )


def download_content(answer: Any) -> TestResultContent:
    """The answer of getTestResultContent."""
    row = record(answer, "TestResultContent")
    content = row.get("DOWNLOAD_CONTENT")
    if isinstance(content, str):
        # A clinic whose WSDL says string, not base64Binary: keep its bytes as sent.
        content = content.encode("utf-8")
    if content is not None and not isinstance(content, bytes):
        raise AnswerError("DOWNLOAD_CONTENT: expected bytes")
    return TestResultContent(
        download_lid=required(row, "DOWNLOAD_LID"),
        status=_test_result_status(row),
        content=content or None,
        error_message=text(row, "ERROR_MESSAGE"),
    )


def booking_result(answer: Any) -> BookingResult:
    row = record(answer, "AddAppointmentResult")
    ok = is_ok(required(row, "ADD_RESULT"))
    return BookingResult(
        ok=ok,
        app_lid=text(row, "APP_LID") if ok else None,
        user_lid=text(row, "USER_LID"),
        error_message=None if ok else (text(row, "ERROR_MESSAGE") or "refused, no reason given"),
    )


def delete_result(answer: Any) -> DeleteResult:
    row = record(answer, "DeleteAppointmentResult")
    ok = is_ok(required(row, "DELETE_RESULT"))
    return DeleteResult(
        ok=ok,
        app_lid=text(row, "APP_LID"),
        error_message=None if ok else (text(row, "ERROR_MESSAGE") or "refused, no reason given"),
    )


def cancel_result(answer: Any) -> DeleteResult:
    """CancelAppointment answers ``RESULT`` (and sometimes ``DELETE_RESULT``); on an
    error its ``APP_LID`` carries the message instead of the id (guide C.2)."""
    row = record(answer, "CancelAppointmentResult")
    outcome = text(row, "RESULT") or text(row, "DELETE_RESULT")
    if outcome is None:
        raise AnswerError("RESULT is missing")
    if is_ok(outcome):
        return DeleteResult(ok=True, app_lid=text(row, "APP_LID"))
    message = text(row, "ERROR_MESSAGE") or text(row, "APP_LID") or "refused, no reason given"
    return DeleteResult(ok=False, error_message=message)


CheckOutcome = tuple[str, Row]


def check_outcome(answer: Any) -> CheckOutcome:
    """``RESULT`` upper-cased and the record, for the client to branch on."""
    row = record(answer, "CheckAppointmentResult")
    return required(row, "RESULT").upper().replace(" ", "_"), row


def checked_appointment(row: Row) -> Appointment:
    found = row.get("APPOINTMENT")
    if not isinstance(found, dict) or not found:
        raise AnswerError("APPOINTMENT is missing")
    return appointment(found)
