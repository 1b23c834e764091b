"""What the clinic contract requires of an answer, as data: the schema of
``wsdl/clinic.wsdl``, the guide's NOT NULL fields, the date and time fields, the
result codes, and which component of the platform calls each operation.

``clinic.wsdl`` beside this module is a copy of the published ``wsdl/clinic.wsdl``
(an installed package has no ``wsdl/`` folder); a test holds the two equal.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from lxml import etree

from ..endpoint import DEFAULT_TIMEOUT_SECONDS

TNS = "http://tuotempo-soap.org/clinic/v1"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

# In the order of the guide: reference data, availabilities and bookings,
# reading appointments back, cancelling, test results.
OPERATIONS = (
    "getCenters",
    "KeyEntities",
    "searchAvailabilities",
    "addAppointment",
    "checkAppointment",
    "getAppointments",
    "SearchAppointments",
    "deleteAppointment",
    "CancelAppointment",
    "getTestResultsList",
    "getTestResultContent",
)
WRITE_OPERATIONS = frozenset({"addAppointment", "deleteAppointment", "CancelAppointment"})


# Answers from clinics are untrusted: no DTDs, entities or network access.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


def contract_path() -> Path:
    return Path(str(resources.files(__package__).joinpath("clinic.wsdl")))


def response_element(operation: str) -> str:
    """The qualified name of the body element that answers ``operation``."""
    return f"{{{TNS}}}{operation}Response"


@functools.cache
def schema() -> etree.XMLSchema:
    """The contract's XML Schema, taken out of the WSDL.

    The ``xs:schema`` element is re-rooted with the WSDL's namespace declarations:
    its ``type="tns:..."`` attributes need ``tns`` in scope, which a plain copy of
    the element would lose.
    """
    root = etree.parse(str(contract_path()), _PARSER).getroot()
    original = root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    if original is None:
        raise RuntimeError("the packaged clinic.wsdl has no xs:schema")
    rooted = etree.Element(
        original.tag, attrib=dict(original.attrib), nsmap={**root.nsmap, **original.nsmap}
    )
    rooted.extend(copy.deepcopy(child) for child in original)
    return etree.XMLSchema(etree.ElementTree(rooted))


def contract_operations() -> set[str]:
    root = etree.parse(str(contract_path()), _PARSER).getroot()
    return {op.get("name", "") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")}


# -- NOT NULL fields -----------------------------------------------------------------
# Keyed by the element that holds one record on the wire; each tuple is the
# guide's NOT NULL fields of that record (the section in the comment). A test holds
# this table equal to the elements the contract's schema requires.
NOT_NULL: dict[str, tuple[str, ...]] = {
    # B.3 GetCenters
    "CENTER": ("CENTER_LID", "CENTER_NAME"),
    # B.2.1.2 KeyEntities (RESOURCE_SECOND_NAME is optional in the contract)
    "ENTITY": ("ACTIVITY_LID", "ACTIVITY_NAME", "RESOURCE_LID", "RESOURCE_FIRST_NAME"),
    # B.2.2 searchAvailabilities
    "AVAILABILITY": ("RESOURCE_LID", "ACTIVITY_LID", "AVA_DATE", "AVA_START_TIME"),
    # B.2.2 addAppointment
    "addAppointmentResult": ("ADD_RESULT",),
    # B.2.2 checkAppointment
    "checkAppointmentResult": ("RESULT",),
    # A.4.1 SearchAppointments, B.2.2 getAppointments and checkAppointment
    "APPOINTMENT": (
        "APP_LID",
        "STATUS",
        "APP_DATE",
        "APP_START_TIME",
        "USER_LID",
        "ACTIVITY_LID",
        "RESOURCE_LID",
    ),
    # B.2.2 deleteAppointment
    "deleteAppointmentResult": ("DELETE_RESULT",),
    # A.4.2 CancelAppointment
    "CancelAppointmentResult": ("RESULT",),
    # C.2.1 getTestResultsList
    "TEST_RESULT": (
        "DOWNLOAD_LID",
        "STATUS",
        "DOWNLOAD_CODE",
        "DOWNLOAD_TYPE",
        "USER_LID",
        "USER_MOBILE_PHONE",
        "USER_ID_NUMBER",
    ),
    # C.2.2 getTestResultContent (DOWNLOAD_CONTENT is absent when cancelled)
    "getTestResultContentResult": ("DOWNLOAD_LID", "STATUS"),
}

# -- dates and times ------------------------------------------------------------------
DATE_FIELDS = frozenset({"AVA_DATE", "APP_DATE"})
TIME_FIELDS = frozenset({"AVA_START_TIME", "AVA_END_TIME", "APP_START_TIME", "APP_END_TIME"})
# (start, end) pairs of one record: the end, when given, comes after the start.
TIME_SPANS = (("AVA_START_TIME", "AVA_END_TIME"), ("APP_START_TIME", "APP_END_TIME"))
MINUTES_FIELDS = frozenset({"ACTIVITY_DURATION"})

_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def contract_date(text: str) -> date | None:
    """``dd/mm/yyyy`` exactly, and a real calendar day; None otherwise."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def contract_time(text: str) -> str | None:
    """``hh:mm`` exactly (24-hour clock); the text itself, which sorts as time does."""
    return text if _TIME.fullmatch(text) else None


# -- result codes ----------------------------------------------------------------------
# (record element, field) -> the values the contract allows. Compared without
# regard to case, as the platform's client reads them.
CODES: dict[tuple[str, str], tuple[str, ...]] = {
    ("addAppointmentResult", "ADD_RESULT"): ("OK", "ERROR"),
    ("checkAppointmentResult", "RESULT"): ("OK", "NOT_FOUND", "ERROR"),
    ("APPOINTMENT", "STATUS"): ("Confirmed", "Cancelled"),
    ("deleteAppointmentResult", "DELETE_RESULT"): ("OK", "ERROR"),
    ("CancelAppointmentResult", "RESULT"): ("OK", "ERROR"),
    ("CancelAppointmentResult", "DELETE_RESULT"): ("OK", "ERROR"),
    ("TEST_RESULT", "STATUS"): ("Valid", "Cancelled"),
    ("getTestResultContentResult", "STATUS"): ("Valid", "Cancelled"),
}

# Which records each operation answers, so its checks know what to look at.
RECORDS: dict[str, tuple[str, ...]] = {
    "getCenters": ("CENTER",),
    "KeyEntities": ("ENTITY",),
    "searchAvailabilities": ("AVAILABILITY",),
    "addAppointment": ("addAppointmentResult",),
    "checkAppointment": ("checkAppointmentResult", "APPOINTMENT"),
    "getAppointments": ("APPOINTMENT",),
    "SearchAppointments": ("APPOINTMENT",),
    "deleteAppointment": ("deleteAppointmentResult",),
    "CancelAppointment": ("CancelAppointmentResult",),
    "getTestResultsList": ("TEST_RESULT",),
    "getTestResultContent": ("getTestResultContentResult",),
}


# The date, time and minutes fields of each record.
_FIELDS_OF: dict[str, tuple[str, ...]] = {
    "AVAILABILITY": ("AVA_DATE", "AVA_START_TIME", "AVA_END_TIME"),
    "APPOINTMENT": ("APP_DATE", "APP_START_TIME", "APP_END_TIME"),
    "ENTITY": ("ACTIVITY_DURATION",),
}


def formatted_fields(operation: str) -> frozenset[str]:
    """The date, time and minutes fields in ``operation``'s records (none: no format rule)."""
    found: set[str] = set()
    for record in RECORDS[operation]:
        for name in _FIELDS_OF.get(record, ()):
            if name in DATE_FIELDS | TIME_FIELDS | MINUTES_FIELDS:
                found.add(name)
    return frozenset(found)


def coded_fields(operation: str) -> list[tuple[str, str]]:
    return [key for key in CODES if key[0] in RECORDS[operation]]


# -- personal fields, never shown in a report ----------------------------------------
PERSONAL_FIELDS = frozenset(
    {
        "USER_FIRST_NAME",
        "USER_SECOND_NAME",
        "USER_THIRD_NAME",
        "USER_MOBILE_PHONE",
        "USER_LANDLINE_PHONE",
        "USER_EMAIL",
        "USER_ID_NUMBER",
        "USER_DATE_OF_BIRTH",
        "USER_GENDER",
        "PASSWORD",
        "DOWNLOAD_CONTENT",
        "DOWNLOAD_CODE",
    }
)


# -- how long an answer may take ---------------------------------------------------
@dataclass(frozen=True)
class Limit:
    seconds: float
    who: str  # the platform component that waits that long, for the rule text


def default_limits(seconds: float = DEFAULT_TIMEOUT_SECONDS) -> dict[str, Limit]:
    """Per operation, the timeout of the component that calls it: the poller reads
    SearchAppointments and KeyEntities; the portal searches, books, cancels and
    reads appointments back while a patient waits; test results are fetched on a
    patient's request by the same client."""
    poller = Limit(seconds, "the poller's timeout")
    portal = Limit(seconds, "the portal's timeout per center")
    client = Limit(seconds, "the clinic client's timeout")
    return {
        "getCenters": portal,
        "KeyEntities": poller,
        "searchAvailabilities": portal,
        "addAppointment": portal,
        "checkAppointment": portal,
        "getAppointments": portal,
        "SearchAppointments": poller,
        "deleteAppointment": portal,
        "CancelAppointment": portal,
        "getTestResultsList": client,
        "getTestResultContent": client,
    }
