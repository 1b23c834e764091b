"""The clinic-side contract (guide A.4, B.2, B.3 and C.2) as Spyne declarations.

``wsdl/clinic.wsdl`` is exported from here (``python -m examples.clinic_server
export-wsdl``) and a test holds the two equal. Every operation takes an optional
``AUTH`` (the credentials the platform is configured with) and an optional
``CENTER_LID`` (B.3: one set of web services for several centers). Business
outcomes (a slot already taken, an unknown appointment) are answered in the
result fields the guide defines (``ADD_RESULT``=ERROR and ``ERROR_MESSAGE``);
faults are for requests that cannot be processed at all (bad credentials,
malformed input), with a typed ``ClinicFault`` detail.

The operations delegate to ``ctx.app.backend`` (see ``backend.py``), so the
contract and the example agenda stay apart.
"""

from __future__ import annotations

from typing import Any

from spyne import (
    Array,
    Boolean,
    ByteArray,
    ComplexModel,
    DateTime,
    Fault,
    Integer32,
    ServiceBase,
    Unicode,
    rpc,
)

CLINIC_TNS = "http://tuotempo-soap.org/clinic/v1"

_REQUIRED = {"min_occurs": 1, "nillable": False}
_OPTIONAL = {"min_occurs": 0, "nillable": False}


def req(kind: Any, doc: str | None = None) -> Any:
    return kind.customize(**_REQUIRED, doc=doc) if doc else kind.customize(**_REQUIRED)


def opt(kind: Any, doc: str | None = None) -> Any:
    return kind.customize(**_OPTIONAL, doc=doc) if doc else kind.customize(**_OPTIONAL)


def _model(name: str, fields: list[tuple[str, Any]], doc: str | None = None) -> Any:
    attrs: dict[str, Any] = {"__namespace__": CLINIC_TNS, "_type_info": fields}
    if doc:
        attrs["__doc__"] = doc
    return type(name, (ComplexModel,), attrs)


def _array(model: Any, member: str, *, min_one: bool = False) -> Any:
    return Array(model.customize(**(_REQUIRED if min_one else _OPTIONAL)), member_name=member)


DATE = "dd/mm/yyyy"
TIME = "hh:mm"

ClinicAuth = _model(
    "ClinicAuth",
    [("USERNAME", req(Unicode)), ("PASSWORD", req(Unicode))],
    "The credentials the platform was given for these web services.",
)

Availability = _model(
    "Availability",
    [
        ("RESOURCE_LID", req(Unicode, "nvarchar(50) NOT NULL")),
        ("ACTIVITY_LID", req(Unicode, "nvarchar(50) NOT NULL")),
        ("INSURANCE_LID", opt(Unicode)),
        ("AVA_DATE", req(Unicode, DATE)),
        ("AVA_START_TIME", req(Unicode, TIME)),
        ("AVAILABILITY_LID", opt(Unicode, "Pass it back to addAppointment")),
        ("AVA_END_TIME", opt(Unicode, TIME)),
        ("ACTIVITY_PRICE", opt(Unicode)),
        ("CENTER_LID", opt(Unicode, "The center of this slot (multi-center services)")),
    ],
)

AddAppointmentResult = _model(
    "AddAppointmentResult",
    [
        ("ADD_RESULT", req(Unicode, "OK / ERROR")),
        ("ERROR_MESSAGE", opt(Unicode, "nvarchar(500)")),
        ("APP_LID", opt(Unicode, "ID of the new appointment; empty on error")),
        ("USER_LID", opt(Unicode, "ID of the patient (new patients get one)")),
    ],
)

DeleteAppointmentResult = _model(
    "DeleteAppointmentResult",
    [
        ("DELETE_RESULT", req(Unicode, "OK / ERROR")),
        ("ERROR_MESSAGE", opt(Unicode, "nvarchar(500)")),
        ("APP_LID", opt(Unicode)),
    ],
)

Appointment = _model(
    "Appointment",
    [
        ("APP_LID", req(Unicode)),
        ("STATUS", req(Unicode, "Confirmed or Cancelled")),
        ("APP_DATE", req(Unicode, DATE)),
        ("APP_START_TIME", req(Unicode, TIME)),
        ("APP_END_TIME", opt(Unicode, TIME)),
        ("USER_LID", req(Unicode)),
        ("USER_TID", opt(Unicode)),
        ("USER_MOBILE_PHONE", opt(Unicode)),
        ("USER_EMAIL", opt(Unicode)),
        ("USER_INSURANCE_LID", opt(Unicode)),
        ("ACTIVITY_LID", req(Unicode)),
        ("ACTIVITY_NAME", opt(Unicode)),
        ("ACTIVITY_GROUP_LID", opt(Unicode)),
        ("ACTIVITY_GROUP_NAME", opt(Unicode)),
        ("RESOURCE_LID", req(Unicode)),
        ("RESOURCE_FIRST_NAME", opt(Unicode)),
        ("RESOURCE_SECOND_NAME", opt(Unicode)),
        ("LOCATION_LID", opt(Unicode)),
        ("LOCATION_NAME", opt(Unicode)),
        ("APP_TID", opt(Unicode, "The platform's id, as sent to addAppointment")),
        ("CENTER_LID", opt(Unicode)),
    ],
)

CheckAppointmentResult = _model(
    "CheckAppointmentResult",
    [
        ("RESULT", req(Unicode, "OK, NOT_FOUND or ERROR")),
        ("ERROR_MESSAGE", opt(Unicode)),
        ("APPOINTMENT", opt(Appointment)),
    ],
)

CancelAppointmentResult = _model(
    "CancelAppointmentResult",
    [
        ("DELETE_RESULT", opt(Unicode, "OK / ERROR")),
        ("RESULT", req(Unicode, "OK / ERROR")),
        ("APP_LID", opt(Unicode, "ID of the appointment, or the error message")),
    ],
)

Center = _model(
    "Center",
    [
        ("CENTER_LID", req(Unicode)),
        ("CENTER_NAME", req(Unicode)),
        ("DESCRIPTION", opt(Unicode)),
        ("ADDRESS", opt(Unicode)),
        ("PHONE", opt(Unicode)),
        ("WEBSITE_URL", opt(Unicode)),
    ],
)

KeyEntity = _model(
    "KeyEntity",
    [
        ("INSURANCE_LID", opt(Unicode)),
        ("INSURANCE_NAME", opt(Unicode)),
        ("ACTIVITY_GROUP_LID", opt(Unicode)),
        ("ACTIVITY_GROUP_NAME", opt(Unicode)),
        ("ACTIVITY_LID", req(Unicode)),
        ("ACTIVITY_NAME", req(Unicode)),
        ("ACTIVITY_PRICE", opt(Unicode)),
        ("ACTIVITY_DURATION", opt(Unicode, "Minutes")),
        ("LOCATION_LID", opt(Unicode)),
        ("LOCATION_NAME", opt(Unicode)),
        ("RESOURCE_LID", req(Unicode)),
        ("RESOURCE_FIRST_NAME", req(Unicode)),
        ("RESOURCE_SECOND_NAME", opt(Unicode)),
    ],
    "One row of the all-inclusive KeyEntities answer (B.2.1.2).",
)

TestResult = _model(
    "TestResult",
    [
        ("DOWNLOAD_LID", req(Unicode)),
        ("STATUS", req(Unicode, "Valid or Cancelled")),
        ("DOWNLOAD_CODE", req(Unicode)),
        ("DOWNLOAD_FILENAME", opt(Unicode)),
        ("DOWNLOAD_TYPE", req(Unicode, "File extension, e.g. pdf")),
        ("USER_LID", req(Unicode)),
        ("USER_TID", opt(Unicode)),
        ("USER_MOBILE_PHONE", req(Unicode)),
        ("USER_EMAIL", opt(Unicode)),
        ("USER_ID_NUMBER", req(Unicode)),
    ],
)

TestResultContent = _model(
    "TestResultContent",
    [
        ("DOWNLOAD_LID", req(Unicode)),
        ("STATUS", req(Unicode, "Valid or Cancelled")),
        ("DOWNLOAD_CONTENT", opt(ByteArray, "The file, base64; absent when cancelled")),
        ("ERROR_MESSAGE", opt(Unicode)),
    ],
)

SearchAvailabilitiesResult = _model(
    "SearchAvailabilitiesResult", [("AVAILABILITIES", req(_array(Availability, "AVAILABILITY")))]
)
AppointmentsResult = _model(
    "AppointmentsResult", [("APPOINTMENTS", req(_array(Appointment, "APPOINTMENT")))]
)
CentersResult = _model("CentersResult", [("CENTERS", req(_array(Center, "CENTER")))])
KeyEntitiesResult = _model("KeyEntitiesResult", [("ENTITIES", req(_array(KeyEntity, "ENTITY")))])
TestResultsListResult = _model(
    "TestResultsListResult", [("TEST_RESULTS", req(_array(TestResult, "TEST_RESULT")))]
)


class ClinicFault(Fault):
    """Typed detail of every clinic-side fault."""

    __namespace__ = CLINIC_TNS
    _type_info = [("CODE", req(Unicode)), ("MESSAGE", req(Unicode))]


_AUTH = opt(ClinicAuth)
_CENTER = opt(Unicode, "B.3: the center to act on, when one service serves several")
_COMMON = {"_throws": [ClinicFault]}


def _backend(ctx: Any) -> Any:
    return ctx.app.backend


class ClinicService(ServiceBase):
    """What a clinic publishes for the platform to call."""

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode, "ID Activity; may be empty if all activities last the same"),
        opt(Unicode, f"{DATE}; default today"),
        opt(Unicode, f"{DATE}; default AVA_START_DAY + 1 week"),
        opt(Unicode, f"{TIME} on AVA_START_DAY; default 00:00"),
        opt(Unicode, f"{TIME} on AVA_END_DAY"),
        opt(Unicode, f"{TIME}: earliest slot start on any day"),
        opt(Unicode, f"{TIME}: latest slot start on any day"),
        req(Integer32, "How many availabilities to return at most"),
        opt(Unicode, "NULL: all resources"),
        opt(Unicode),
        _returns=req(SearchAvailabilitiesResult),
        _operation_name="searchAvailabilities",
        _out_variable_name="searchAvailabilitiesResult",
        **_COMMON,
    )
    def searchAvailabilities(
        ctx,
        AUTH,
        CENTER_LID,
        ACTIVITY_LID,
        AVA_START_DAY,
        AVA_END_DAY,
        AVA_START_TIME,
        AVA_END_TIME,
        AVA_MIN_TIME,
        AVA_MAX_TIME,
        AVA_RESULTS_NUMBER,
        RESOURCE_LID,
        INSURANCE_LID,
    ):
        return _backend(ctx).search_availabilities(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode),
        opt(Unicode),
        opt(Unicode, "Pattern 1: the platform's patient id"),
        opt(Unicode, "Pattern 2: your patient id (absent for new patients)"),
        opt(Unicode),
        opt(Unicode),
        opt(Unicode),
        opt(Unicode, "M or F"),
        opt(Unicode, DATE),
        opt(Unicode),
        opt(Unicode),
        opt(Unicode),
        opt(Unicode),
        req(Unicode, DATE),
        req(Unicode, TIME),
        req(Unicode, "As returned by searchAvailabilities"),
        opt(Unicode),
        opt(
            Unicode,
            "The platform's id for this booking: store it so checkAppointment and "
            "getAppointments can return it",
        ),
        _returns=req(AddAppointmentResult),
        _operation_name="addAppointment",
        _out_variable_name="addAppointmentResult",
        **_COMMON,
    )
    def addAppointment(
        ctx,
        AUTH,
        CENTER_LID,
        ACTIVITY_LID,
        RESOURCE_LID,
        USER_TID,
        USER_LID,
        USER_FIRST_NAME,
        USER_SECOND_NAME,
        USER_THIRD_NAME,
        USER_GENDER,
        USER_DATE_OF_BIRTH,
        USER_MOBILE_PHONE,
        USER_LANDLINE_PHONE,
        USER_EMAIL,
        USER_ID_NUMBER,
        APP_DATE,
        APP_START_TIME,
        AVAILABILITY_LID,
        INSURANCE_LID,
        APP_TID,
    ):
        return _backend(ctx).add_appointment(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode),
        _returns=req(DeleteAppointmentResult),
        _operation_name="deleteAppointment",
        _out_variable_name="deleteAppointmentResult",
        **_COMMON,
    )
    def deleteAppointment(ctx, AUTH, CENTER_LID, APP_LID):
        return _backend(ctx).delete_appointment(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode),
        _returns=req(CheckAppointmentResult),
        _operation_name="checkAppointment",
        _out_variable_name="checkAppointmentResult",
        **_COMMON,
    )
    def checkAppointment(ctx, AUTH, CENTER_LID, APP_LID):
        return _backend(ctx).check_appointment(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        opt(Unicode, "USER_LID or USER_TID, by the patient pattern in use"),
        opt(Unicode),
        opt(Unicode, DATE),
        opt(Unicode, DATE),
        opt(Unicode),
        opt(DateTime, "Only appointments added or changed after this"),
        _returns=req(AppointmentsResult),
        _operation_name="getAppointments",
        _out_variable_name="getAppointmentsResult",
        **_COMMON,
    )
    def getAppointments(
        ctx,
        AUTH,
        CENTER_LID,
        USER_LID,
        USER_TID,
        START_DATE,
        END_DATE,
        RESOURCE_LID,
        LAST_REQUEST_TIMESTAMP,
    ):
        return _backend(ctx).get_appointments(ctx, locals())

    @rpc(
        _AUTH,
        _returns=req(CentersResult),
        _operation_name="getCenters",
        _out_variable_name="getCentersResult",
        **_COMMON,
    )
    def getCenters(ctx, AUTH):
        return _backend(ctx).get_centers(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        _returns=req(KeyEntitiesResult),
        _operation_name="KeyEntities",
        _out_variable_name="KeyEntitiesResult",
        **_COMMON,
    )
    def KeyEntities(ctx, AUTH, CENTER_LID):
        return _backend(ctx).key_entities(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        opt(
            Unicode,
            "A.4.1 names it NOT NULL; the platform's poller omits it to read every "
            "patient's appointments",
        ),
        opt(Unicode, DATE),
        opt(Unicode, DATE),
        opt(Unicode),
        opt(DateTime, "Only appointments added or changed after this"),
        _returns=req(AppointmentsResult),
        _operation_name="SearchAppointments",
        _out_variable_name="SearchAppointmentsResult",
        **_COMMON,
    )
    def SearchAppointments(
        ctx,
        AUTH,
        CENTER_LID,
        USER_LID,
        START_DATE,
        END_DATE,
        RESOURCE_LID,
        LAST_REQUEST_TIMESTAMP,
    ):
        return _backend(ctx).search_appointments(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode),
        req(Unicode),
        _returns=req(CancelAppointmentResult),
        _operation_name="CancelAppointment",
        _out_variable_name="CancelAppointmentResult",
        **_COMMON,
    )
    def CancelAppointment(ctx, AUTH, CENTER_LID, APP_LID, USER_LID):
        return _backend(ctx).cancel_appointment(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        opt(Unicode),
        opt(Unicode),
        opt(Unicode, DATE),
        _returns=req(TestResultsListResult),
        _operation_name="getTestResultsList",
        _out_variable_name="getTestResultsListResult",
        **_COMMON,
    )
    def getTestResultsList(ctx, AUTH, CENTER_LID, USER_LID, USER_TID, RESULT_START_DATE):
        return _backend(ctx).test_results_list(ctx, locals())

    @rpc(
        _AUTH,
        _CENTER,
        req(Unicode),
        _returns=req(TestResultContent),
        _operation_name="getTestResultContent",
        _out_variable_name="getTestResultContentResult",
        **_COMMON,
    )
    def getTestResultContent(ctx, AUTH, CENTER_LID, DOWNLOAD_LID):
        return _backend(ctx).test_result_content(ctx, locals())


_ = Boolean  # kept importable for backends that extend the contract
