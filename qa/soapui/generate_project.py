"""Writes qa/soapui/tuotempo-soap-project.xml, the SoapUI project QA runs.

The project is generated, not hand-edited, so that it stays in step with
wsdl/tuotempo.wsdl: the WSDL is cached in the project as it is committed, the
interface's operations are the WSDL's, and every request body puts its
fields in the order the WSDL's types declare (a renamed or removed field
stops the generation with its name). tests/unit/suite/test_shipped_project.py
regenerates the file and requires the committed copy to be identical.

    python qa/soapui/generate_project.py            # rewrite the project
    python qa/soapui/generate_project.py --check    # exit 1 if it is stale

Test data is chosen so that a run never reaches a patient: appointments are
in 2099, messages are due in 2099 (a worker never sends them), e-mail goes to
example.org, and every identifier carries the run's own RUN value, taken from
the server at the start of each test case (a change cursor: its time and
change number), so runs never collide with each other or with real data.
"""

from __future__ import annotations

import argparse
import functools
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WSDL_PATH = ROOT / "wsdl" / "tuotempo.wsdl"
OUTPUT = HERE / "tuotempo-soap-project.xml"

CON = "http://eviware.com/soapui/config"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tuotempo-soap.org/v1"

PROJECT_NAME = "tuotempo-soap"
INTERFACE = "TuotempoService"
DEMO_ENDPOINT = "http://127.0.0.1:8000/soap"
DEFINITION_URL = f"{DEMO_ENDPOINT}?wsdl"
SOAPUI_VERSION = "5.7.2"

PROJECT_PROPERTIES = (
    ("ENDPOINT", DEMO_ENDPOINT),
    ("INSTANCE", "tt_demo"),
    ("USERNAME", "demo"),
    # Deliberately empty: set it (the demo server prints it at start).
    ("PASSWORD", ""),
)

RUN = "${#TestCase#RUN}"
PROLOG = f"declare namespace soap='{SOAP_ENV}';\ndeclare namespace tns='{TNS}';\n"
FAULT = "//soap:Fault"
DETAIL = "//soap:Fault/detail/tns:ServiceFault"

# A test phone number the demo instance (country ES) accepts, and the form it is stored in.
PHONE = "612345678"
PHONE_E164 = "+34612345678"
LATER = "01/01/2099 09:00"  # messages are due then: queued, never sent by a worker

# Faultcodes of the README's table that a client cannot provoke against a
# healthy server, with the reason; every other documented code has a test case.
NOT_PROVOKED = {
    "Client.RequestTooLarge": "needs a body over TUOTEMPO_MAX_BODY_BYTES (8 MiB); "
    "tests/integration/soap covers it",
    "Client.TooManyRequests": "answered by nginx in the production recipe, not by the application",
    "Server.Unavailable": "answered by nginx when the application is down",
    "Server.Busy": "only when every password-checking slot is taken by concurrent requests",
    "Server.DatabaseUnavailable": "only when the database is down",
    "Server.InternalError": "only on a bug",
    "Client.InstanceDisabled": "only when an operator has switched the instance off",
}


# --- the WSDL: field order of each type ---------------------------------------


@functools.cache
def _wsdl() -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(WSDL_PATH), parser).getroot()


@functools.cache
def _sequence(type_name: str) -> tuple[str, ...]:
    found = _wsdl().find(
        f"{{{WSDL_NS}}}types/{{{XS}}}schema/{{{XS}}}complexType[@name='{type_name}']"
    )
    if found is None:
        raise SystemExit(f"the WSDL has no type {type_name}: update generate_project.py")
    return tuple(node.get("name") for node in found.iterfind(f"{{{XS}}}sequence/{{{XS}}}element"))


def _operations() -> list[str]:
    binding = _wsdl().find(f"{{{WSDL_NS}}}binding")
    return [node.get("name") for node in binding.iterfind(f"{{{WSDL_NS}}}operation")]


# --- request bodies --------------------------------------------------------------

Fields = Sequence[tuple[str, "str | Fields"]]


def _render(fields: Fields, depth: int) -> str:
    pad = "   " * depth
    lines = []
    for name, value in fields:
        if isinstance(value, str):
            lines.append(f"{pad}<v1:{name}>{escape(value)}</v1:{name}>")
        elif not value:
            lines.append(f"{pad}<v1:{name}/>")
        else:
            lines.append(f"{pad}<v1:{name}>\n{_render(value, depth + 1)}\n{pad}</v1:{name}>")
    return "\n".join(lines)


def _ordered(type_name: str, values: dict[str, str]) -> Fields:
    order = _sequence(type_name)
    unknown = sorted(set(values) - set(order))
    if unknown:
        raise SystemExit(f"{type_name} has no field {', '.join(unknown)} in the WSDL")
    return [(name, values[name]) for name in order if name in values]


def envelope(operation: str, fields: Fields) -> str:
    inner = _render([(operation, fields)], 3)
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:v1="{TNS}">\n'
        "   <soapenv:Header/>\n"
        "   <soapenv:Body>\n"
        f"{inner}\n"
        "   </soapenv:Body>\n"
        "</soapenv:Envelope>"
    )


def auth(
    instance: str = "${#Project#INSTANCE}",
    username: str = "${#Project#USERNAME}",
    password: str = "${#Project#PASSWORD}",  # noqa: S107 (a property expansion)
) -> tuple[str, Fields]:
    return (
        "AUTH",
        _ordered(
            "Authorization", {"INSTANCE": instance, "USERNAME": username, "PASSWORD": password}
        ),
    )


def reservation(app_lid: str, **values: str) -> tuple[str, Fields]:
    fields = {"APP_LID": app_lid, "APP_DATE": "24/02/2099", "RESOURCE_LID": f"QA-DR-{RUN}"}
    fields.update(values)
    return ("RESERVATION", _ordered("Reservation", {k: v for k, v in fields.items() if v != ""}))


def update_reservations(*items: tuple[str, Fields], with_auth: bool = True) -> str:
    body: list[tuple[str, str | Fields]] = [auth()] if with_auth else []
    body.append(("RESERVATIONS", list(items)))
    return envelope("updateReservations", body)


def get_reservations(with_auth: bool = True, **filters: str) -> str:
    values = _ordered("getReservations", filters)
    return envelope("getReservations", ([auth()] if with_auth else []) + list(values))


def message(legacy_id: str, **values: str) -> tuple[str, Fields]:
    fields = {
        "LEGACY_ID": legacy_id,
        "CHANNEL": "SMS",
        "TO": PHONE,
        "TEXT": "QA test message, never sent",
        "SEND_AT": LATER,
    }
    fields.update(values)
    return ("MESSAGE", _ordered("Message", {k: v for k, v in fields.items() if v != ""}))


def update_messages(*items: tuple[str, Fields]) -> str:
    return envelope("updateMessages", [auth(), ("MESSAGES", list(items))])


def search_messages(**filters: str) -> str:
    return envelope("searchMessages", [auth(), *_ordered("searchMessages", filters)])


# --- steps and assertions ----------------------------------------------------------


@dataclass(frozen=True)
class Check:
    kind: str  # SoapUI assertion type id
    name: str
    config: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Soap:
    name: str
    operation: str
    body: str
    checks: tuple[Check, ...]
    # False for bodies that break the WSDL on purpose (a field left out, a
    # broken envelope): the shipped-project test validates all the others.
    valid_request: bool = True


@dataclass(frozen=True)
class Http:
    name: str
    method: str
    endpoint: str
    checks: tuple[Check, ...]
    media_type: str = "text/xml"
    body: str = ""


@dataclass(frozen=True)
class Transfer:
    name: str
    source_step: str
    path: str
    target: str  # a #TestCase# property


@dataclass(frozen=True)
class Transfers:
    name: str
    transfers: tuple[Transfer, ...]


Step = Soap | Http | Transfers


@dataclass
class Case:
    name: str
    description: str
    steps: list[Step]
    properties: tuple[str, ...] = ()
    fail_on_error: bool = True


@dataclass
class Suite:
    name: str
    description: str
    cases: list[Case] = field(default_factory=list)


def xpath(name: str, path: str, expected: str, *, wildcards: bool = False) -> Check:
    return Check(
        "XPath Match",
        name,
        (
            ("path", PROLOG + path),
            ("content", expected),
            ("allowWildcards", "true" if wildcards else "false"),
            ("ignoreNamspaceDifferences", "false"),
            ("ignoreComments", "false"),
        ),
    )


def holds(name: str, condition: str) -> Check:
    """An XPath condition that must be true (same result in XPath 1.0 and 2.0)."""
    return xpath(name, condition, "true")


def contains(name: str, token: str) -> Check:
    return Check(
        "Simple Contains",
        name,
        (("token", token), ("ignoreCase", "false"), ("useRegEx", "false")),
    )


def status(*codes: int) -> Check:
    shown = ",".join(str(code) for code in codes)
    return Check("Valid HTTP Status Codes", f"HTTP status {shown}", (("codes", shown),))


SOAP_RESPONSE = Check("SOAP Response", "SOAP Response")
SCHEMA = Check("Schema Compliance", "Schema Compliance")
NOT_FAULT = Check("SOAP Fault Assertion", "Not SOAP Fault")
IS_FAULT = Check("Not SOAP Fault Assertion", "SOAP Fault")


def answered(*checks: Check) -> tuple[Check, ...]:
    """An answer that is no fault, complies with the WSDL, and holds ``checks``."""
    return (SOAP_RESPONSE, SCHEMA, NOT_FAULT, status(200), *checks)


def refused(
    code: str, field_name: str | None = None, *checks: Check, http: int = 500
) -> tuple[Check, ...]:
    """A SOAP fault ``soap:<code>`` with its typed ServiceFault detail."""
    found = [
        SOAP_RESPONSE,
        SCHEMA,
        IS_FAULT,
        status(http),
        xpath(f"faultcode is soap:{code}", f"{FAULT}/faultcode", f"soap:{code}"),
        xpath(f"ServiceFault CODE is {code}", f"{DETAIL}/tns:CODE", code),
        holds(
            "faultstring is the ServiceFault MESSAGE",
            f"string({FAULT}/faultstring) = string({DETAIL}/tns:MESSAGE)"
            f" and string-length({FAULT}/faultstring) > 0",
        ),
    ]
    if field_name:
        found.append(
            xpath(f"ServiceFault FIELD is {field_name}", f"{DETAIL}/tns:FIELD", field_name)
        )
    else:
        found.append(holds("ServiceFault has no FIELD", f"count({DETAIL}/tns:FIELD) = 0"))
    return (*found, *checks)


def result(operation: str, name: str) -> str:
    return f"//tns:{operation}Result/tns:{name}"


def item(operation: str, number: int, name: str) -> str:
    return f"//tns:{operation}Result/tns:ITEMS/tns:ITEM[{number}]/tns:{name}"


START = "Start: read the change cursor"


def start() -> list[Step]:
    """Every case that writes begins here: the instance's change cursor is the
    case's RUN (unique per run: a time and a change number) and, for delta
    reads, the position to read from."""
    return [
        Soap(
            START,
            "getReservations",
            get_reservations(APP_LID="QA-NO-SUCH-APPOINTMENT", MAX_RESULTS="1"),
            answered(xpath("COUNT is 0", result("getReservations", "COUNT"), "0")),
        ),
        Transfers(
            "Take RUN and CURSOR",
            (
                Transfer("RUN", START, "//tns:NEXT_REQUEST_TIMESTAMP", "RUN"),
                Transfer("CURSOR", START, "//tns:NEXT_REQUEST_TIMESTAMP", "CURSOR"),
            ),
        ),
    ]


# --- the suites ------------------------------------------------------------------


def reservations_suite() -> Suite:
    op = "updateReservations"
    suite = Suite(
        op,
        "Upserts by APP_LID, per-item errors, idempotent re-sends, the batch limit, "
        "authentication. Appointments are in 2099.",
    )
    full = reservation(
        f"QA-HP-{RUN}-A",
        APP_DATE="24/02/2099",
        APP_START_TIME="09:30",
        APP_END_TIME="10:00",
        USER_LID="QA-PATIENT-1",
        USER_MOBILE_PHONE=PHONE,
        USER_EMAIL="qa.patient@example.org",
        PRIVACY="1",
        COMMUNICATION_PREFERENCES="101",
        USER_GENDER="F",
        USER_LANGUAGE="es",
        NOTES="QA run; not a real appointment",
        RESOURCE_NAME="QA doctor",
        LOCATION_LID="QA-LOC",
        STATUS="APPROVED",
    )
    minimal = reservation(f"QA-HP-{RUN}-B", APP_DATE="25/02/2099")
    suite.cases.append(
        Case(
            "Happy path: two reservations created and read back",
            "A full and a minimal reservation are stored; getReservations returns the full "
            "one in the guide's formats (phone in E.164, status as sent, STATUS_CHANGED_BY HIS).",
            [
                *start(),
                Soap(
                    "Create two reservations",
                    op,
                    update_reservations(full, minimal),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("CREATED is 2", result(op, "CREATED"), "2"),
                        xpath("UPDATED is 0", result(op, "UPDATED"), "0"),
                        xpath("UNCHANGED is 0", result(op, "UNCHANGED"), "0"),
                        xpath("FAILED is 0", result(op, "FAILED"), "0"),
                        holds("two ITEMs", f"count({result(op, 'ITEMS')}/tns:ITEM) = 2"),
                        xpath("ITEM 1 APP_LID as sent", item(op, 1, "APP_LID"), f"QA-HP-{RUN}-A"),
                        xpath("ITEM 1 ACTION is CREATED", item(op, 1, "ACTION"), "CREATED"),
                        xpath("ITEM 2 ACTION is CREATED", item(op, 2, "ACTION"), "CREATED"),
                        holds(
                            "ITEM 1 has a RESERVATION_ID",
                            f"number({item(op, 1, 'RESERVATION_ID')}) > 0",
                        ),
                        holds("no ERROR_CODE", "count(//tns:ERROR_CODE) = 0"),
                    ),
                ),
                Soap(
                    "Read the full one back",
                    "getReservations",
                    get_reservations(APP_LID=f"QA-HP-{RUN}-A"),
                    answered(
                        xpath("COUNT is 1", result("getReservations", "COUNT"), "1"),
                        xpath(
                            "MORE_RESULTS is false",
                            result("getReservations", "MORE_RESULTS"),
                            "false",
                        ),
                        xpath("APP_DATE", "//tns:RESERVATION/tns:APP_DATE", "24/02/2099"),
                        xpath("APP_START_TIME", "//tns:RESERVATION/tns:APP_START_TIME", "09:30"),
                        xpath("APP_END_TIME", "//tns:RESERVATION/tns:APP_END_TIME", "10:00"),
                        xpath(
                            "USER_MOBILE_PHONE in E.164",
                            "//tns:RESERVATION/tns:USER_MOBILE_PHONE",
                            PHONE_E164,
                        ),
                        xpath(
                            "USER_EMAIL",
                            "//tns:RESERVATION/tns:USER_EMAIL",
                            "qa.patient@example.org",
                        ),
                        xpath(
                            "COMMUNICATION_PREFERENCES",
                            "//tns:RESERVATION/tns:COMMUNICATION_PREFERENCES",
                            "101",
                        ),
                        xpath("RESOURCE_LID", "//tns:RESERVATION/tns:RESOURCE_LID", f"QA-DR-{RUN}"),
                        xpath("STATUS", "//tns:RESERVATION/tns:STATUS", "APPROVED"),
                        xpath(
                            "STATUS_CHANGED_BY is HIS",
                            "//tns:RESERVATION/tns:STATUS_CHANGED_BY",
                            "HIS",
                        ),
                        xpath(
                            "LAST_UPDATE is dd/mm/yyyy hh:mm:ss",
                            "//tns:RESERVATION/tns:LAST_UPDATE",
                            "*/*/* *:*:*",
                            wildcards=True,
                        ),
                        holds(
                            "the cursor is 'time#change number'",
                            "contains(//tns:NEXT_REQUEST_TIMESTAMP, '#')",
                        ),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    first = reservation(f"QA-IDEM-{RUN}-1", APP_START_TIME="09:00")
    second = reservation(f"QA-IDEM-{RUN}-2", APP_START_TIME="09:15")
    moved = reservation(f"QA-IDEM-{RUN}-2", APP_START_TIME="11:45")
    suite.cases.append(
        Case(
            "Idempotent re-send: the same batch answers UNCHANGED",
            "Sending a batch again changes nothing and keeps the reservation ids; changing "
            "one field updates that reservation only.",
            [
                *start(),
                Soap(
                    "Send a batch",
                    op,
                    update_reservations(first, second),
                    answered(
                        xpath("CREATED is 2", result(op, "CREATED"), "2"),
                        xpath("ITEM 1 ACTION is CREATED", item(op, 1, "ACTION"), "CREATED"),
                    ),
                ),
                Transfers(
                    "Keep the reservation ids",
                    (
                        Transfer("ID_1", "Send a batch", item(op, 1, "RESERVATION_ID"), "ID_1"),
                        Transfer("ID_2", "Send a batch", item(op, 2, "RESERVATION_ID"), "ID_2"),
                    ),
                ),
                Soap(
                    "Re-send the same batch",
                    op,
                    update_reservations(first, second),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("CREATED is 0", result(op, "CREATED"), "0"),
                        xpath("UPDATED is 0", result(op, "UPDATED"), "0"),
                        xpath("UNCHANGED is 2", result(op, "UNCHANGED"), "2"),
                        xpath("ITEM 1 ACTION is UNCHANGED", item(op, 1, "ACTION"), "UNCHANGED"),
                        xpath("ITEM 2 ACTION is UNCHANGED", item(op, 2, "ACTION"), "UNCHANGED"),
                        xpath(
                            "ITEM 1 keeps its RESERVATION_ID",
                            item(op, 1, "RESERVATION_ID"),
                            "${#TestCase#ID_1}",
                        ),
                        xpath(
                            "ITEM 2 keeps its RESERVATION_ID",
                            item(op, 2, "RESERVATION_ID"),
                            "${#TestCase#ID_2}",
                        ),
                    ),
                ),
                Soap(
                    "Move one appointment",
                    op,
                    update_reservations(first, moved),
                    answered(
                        xpath("UPDATED is 1", result(op, "UPDATED"), "1"),
                        xpath("UNCHANGED is 1", result(op, "UNCHANGED"), "1"),
                        xpath("ITEM 1 ACTION is UNCHANGED", item(op, 1, "ACTION"), "UNCHANGED"),
                        xpath("ITEM 2 ACTION is UPDATED", item(op, 2, "ACTION"), "UPDATED"),
                        xpath(
                            "ITEM 2 keeps its RESERVATION_ID",
                            item(op, 2, "RESERVATION_ID"),
                            "${#TestCase#ID_2}",
                        ),
                    ),
                ),
                Soap(
                    "Read the moved one back",
                    "getReservations",
                    get_reservations(APP_LID=f"QA-IDEM-{RUN}-2"),
                    answered(
                        xpath("COUNT is 1", result("getReservations", "COUNT"), "1"),
                        xpath(
                            "APP_START_TIME is the new one",
                            "//tns:RESERVATION/tns:APP_START_TIME",
                            "11:45",
                        ),
                        xpath(
                            "RESERVATION_ID is the same",
                            "//tns:RESERVATION/tns:RESERVATION_ID",
                            "${#TestCase#ID_2}",
                        ),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR", "ID_1", "ID_2"),
        )
    )
    # One case per item error code: a good item and a bad one in one batch.
    # (code, short tag for the ids, field at fault, what is wrong, bad fields)
    bad_items: list[tuple[str, str, str, str, dict[str, str]]] = [
        (
            "MISSING_FIELD",
            "MF",
            "RESOURCE_LID",
            "RESOURCE_LID left out (NOT NULL in the guide)",
            {"RESOURCE_LID": ""},
        ),
        (
            "FIELD_TOO_LONG",
            "TL",
            "RESOURCE_LID",
            "RESOURCE_LID of 51 characters (nvarchar(50))",
            {"RESOURCE_LID": "R" * 51},
        ),
        ("INVALID_DATE", "ID", "APP_DATE", "APP_DATE 31/02/2099", {"APP_DATE": "31/02/2099"}),
        (
            "INVALID_TIME",
            "IT",
            "APP_START_TIME",
            "APP_START_TIME 25:61",
            {"APP_START_TIME": "25:61"},
        ),
        ("INVALID_VALUE", "IV", "STATUS", "STATUS MAYBE", {"STATUS": "MAYBE"}),
        (
            "DUPLICATE_APP_LID",
            "DUP",
            "APP_LID",
            "the same APP_LID twice in one batch (the first is stored)",
            {"APP_DATE": "26/02/2099"},
        ),
    ]
    for code, tag, field_name, what, bad_fields in bad_items:
        first_lid, second_lid = f"QA-ERR-{tag}-{RUN}-1", f"QA-ERR-{tag}-{RUN}-2"
        good = reservation(first_lid)
        duplicate = code == "DUPLICATE_APP_LID"
        bad = reservation(first_lid if duplicate else second_lid, **bad_fields)
        stored_after = "1" if duplicate else "0"
        read_back = first_lid if duplicate else second_lid
        checks_read = [
            xpath(f"COUNT is {stored_after}", result("getReservations", "COUNT"), stored_after)
        ]
        if code == "DUPLICATE_APP_LID":
            checks_read.append(
                xpath("the first one stands", "//tns:RESERVATION/tns:APP_DATE", "24/02/2099")
            )
        suite.cases.append(
            Case(
                f"Item error {code}",
                f"{what}: that item is refused with {code} naming {field_name}; the good "
                "item of the same batch is stored (RESULT PARTIAL).",
                [
                    *start(),
                    Soap(
                        f"Send a good item and one with {code}",
                        op,
                        update_reservations(good, bad),
                        answered(
                            xpath("RESULT is PARTIAL", result(op, "RESULT"), "PARTIAL"),
                            xpath("CREATED is 1", result(op, "CREATED"), "1"),
                            xpath("FAILED is 1", result(op, "FAILED"), "1"),
                            xpath("ITEM 1 RESULT is OK", item(op, 1, "RESULT"), "OK"),
                            xpath("ITEM 2 RESULT is ERROR", item(op, 2, "RESULT"), "ERROR"),
                            xpath(f"ITEM 2 ERROR_CODE is {code}", item(op, 2, "ERROR_CODE"), code),
                            xpath(
                                f"ITEM 2 ERROR_FIELD is {field_name}",
                                item(op, 2, "ERROR_FIELD"),
                                field_name,
                            ),
                            holds(
                                "ITEM 2 has a MESSAGE",
                                f"string-length({item(op, 2, 'MESSAGE')}) > 0",
                            ),
                            holds("ITEM 2 has no ACTION", f"count({item(op, 2, 'ACTION')}) = 0"),
                        ),
                        valid_request=code != "MISSING_FIELD",
                    ),
                    Soap(
                        "The refused item is not stored",
                        "getReservations",
                        get_reservations(APP_LID=read_back),
                        answered(*checks_read),
                    ),
                ],
                properties=("RUN", "CURSOR"),
            )
        )
    suite.cases.append(
        Case(
            "Nothing valid: RESULT is ERROR",
            "When every item is refused the answer is still an answer (no fault): RESULT ERROR.",
            [
                *start(),
                Soap(
                    "Send two bad items",
                    op,
                    update_reservations(
                        reservation(f"QA-ALLBAD-{RUN}-1", APP_DATE="31/02/2099"),
                        reservation(f"QA-ALLBAD-{RUN}-2", APP_START_TIME="07:77"),
                    ),
                    answered(
                        xpath("RESULT is ERROR", result(op, "RESULT"), "ERROR"),
                        xpath("CREATED is 0", result(op, "CREATED"), "0"),
                        xpath("FAILED is 2", result(op, "FAILED"), "2"),
                        xpath(
                            "ITEM 2 ERROR_CODE is INVALID_TIME",
                            item(op, 2, "ERROR_CODE"),
                            "INVALID_TIME",
                        ),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    suite.cases.append(
        Case(
            "Warnings: an unusable phone and e-mail are stored with a warning",
            "The guide's data is often dirty: the item is stored as given and WARNINGS say why.",
            [
                *start(),
                Soap(
                    "Send an item with a bad phone and e-mail",
                    op,
                    update_reservations(
                        reservation(
                            f"QA-WARN-{RUN}", USER_MOBILE_PHONE="12", USER_EMAIL="not-an-address"
                        )
                    ),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("ITEM 1 ACTION is CREATED", item(op, 1, "ACTION"), "CREATED"),
                        holds("two WARNINGs", f"count({item(op, 1, 'WARNINGS')}/tns:WARNING) = 2"),
                        holds(
                            "a warning names USER_MOBILE_PHONE",
                            f"count({item(op, 1, 'WARNINGS')}/tns:WARNING"
                            "[contains(., 'USER_MOBILE_PHONE')]) = 1",
                        ),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    batch = [
        reservation(f"QA-BATCH-{number:04d}", APP_START_TIME="08:00", RESOURCE_LID="QA-BATCH")
        for number in range(1, 1001)
    ]
    suite.cases.append(
        Case(
            "Batch of 1,000 reservations (the limit) is accepted",
            "TUOTEMPO_MAX_BATCH_ITEMS is 1,000: a full batch is stored in one call. The same "
            "1,000 APP_LIDs every run (CREATED the first time, UNCHANGED later).",
            [
                Soap(
                    "Send 1,000 reservations",
                    op,
                    update_reservations(*batch),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("FAILED is 0", result(op, "FAILED"), "0"),
                        holds("1,000 ITEMs", f"count({result(op, 'ITEMS')}/tns:ITEM) = 1000"),
                        holds(
                            "every ITEM is OK",
                            f"count({result(op, 'ITEMS')}/tns:ITEM[tns:RESULT='OK']) = 1000",
                        ),
                        holds(
                            "CREATED + UPDATED + UNCHANGED is 1,000",
                            f"{result(op, 'CREATED')} + {result(op, 'UPDATED')}"
                            f" + {result(op, 'UNCHANGED')} = 1000",
                        ),
                        xpath("ITEM 1000 APP_LID", item(op, 1000, "APP_LID"), "QA-BATCH-1000"),
                    ),
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Batch of 1,001 reservations: Client.BatchTooLarge",
            "One item over the limit refuses the whole call with a typed fault; nothing is read.",
            [
                Soap(
                    "Send 1,001 reservations",
                    op,
                    update_reservations(*[("RESERVATION", [])] * 1001),
                    refused(
                        "Client.BatchTooLarge", "RESERVATIONS", contains("says the limit", "1000")
                    ),
                    valid_request=False,
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Empty batch: Client.ValidationError",
            "A call without any RESERVATION is refused, naming RESERVATIONS.",
            [
                Soap(
                    "Send no reservation",
                    op,
                    update_reservations(),
                    refused("Client.ValidationError", "RESERVATIONS"),
                    valid_request=False,
                ),
            ],
        )
    )
    suite.cases.append(
        authentication_case(
            op, update_reservations(reservation("QA-AUTH-NEVER-STORED", RESOURCE_LID="QA-DR"))
        )
    )
    return suite


def authentication_case(operation: str, body: str) -> Case:
    wrong = body.replace("${#Project#PASSWORD}", "QA-wrong-password-${#Project#USERNAME}")
    no_auth = _without_auth(body)
    return Case(
        "Authentication failures",
        f"{operation} with a wrong password is refused with Client.AuthenticationFailed "
        "(HTTP 500, no FIELD); without the AUTH block, Client.ValidationError naming AUTH.",
        [
            Soap("Wrong password", operation, wrong, refused("Client.AuthenticationFailed")),
            Soap(
                "No AUTH block",
                operation,
                no_auth,
                refused("Client.ValidationError", "AUTH"),
                valid_request=False,
            ),
        ],
        fail_on_error=False,
    )


def _without_auth(body: str) -> str:
    begin = body.index("<v1:AUTH>")
    end = body.index("</v1:AUTH>") + len("</v1:AUTH>")
    line_start = body.rindex("\n", 0, begin)
    return body[:line_start] + body[end:]


def get_reservations_suite() -> Suite:
    op = "getReservations"
    suite = Suite(op, "Filters, paging and delta reads with NEXT_REQUEST_TIMESTAMP, bad filters.")
    resource = f"QA-FILTER-{RUN}"
    suite.cases.append(
        Case(
            "Filters: APP_LID, dates, resource and status",
            "Three appointments on three days with three statuses; filters combine with AND.",
            [
                *start(),
                Soap(
                    "Create three appointments",
                    "updateReservations",
                    update_reservations(
                        reservation(
                            f"QA-F-{RUN}-1",
                            APP_DATE="10/03/2099",
                            RESOURCE_LID=resource,
                            STATUS="APPROVED",
                        ),
                        reservation(
                            f"QA-F-{RUN}-2",
                            APP_DATE="11/03/2099",
                            RESOURCE_LID=resource,
                            STATUS="PENDING",
                        ),
                        reservation(
                            f"QA-F-{RUN}-3",
                            APP_DATE="12/03/2099",
                            RESOURCE_LID=resource,
                            STATUS="CANCELLED by USER",
                        ),
                    ),
                    answered(xpath("CREATED is 3", result("updateReservations", "CREATED"), "3")),
                ),
                Soap(
                    "By RESOURCE_LID",
                    op,
                    get_reservations(RESOURCE_LID=resource),
                    answered(
                        xpath("COUNT is 3", result(op, "COUNT"), "3"),
                        holds("three RESERVATIONs", "count(//tns:RESERVATION) = 3"),
                    ),
                ),
                Soap(
                    "By APP_LID",
                    op,
                    get_reservations(APP_LID=f"QA-F-{RUN}-2"),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath(
                            "the one asked for", "//tns:RESERVATION/tns:APP_LID", f"QA-F-{RUN}-2"
                        ),
                    ),
                ),
                Soap(
                    "From START_DATE on",
                    op,
                    get_reservations(START_DATE="11/03/2099", RESOURCE_LID=resource),
                    answered(xpath("COUNT is 2", result(op, "COUNT"), "2")),
                ),
                Soap(
                    "One day: START_DATE = END_DATE",
                    op,
                    get_reservations(
                        START_DATE="11/03/2099", END_DATE="11/03/2099", RESOURCE_LID=resource
                    ),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath(
                            "the appointment of that day",
                            "//tns:RESERVATION/tns:APP_DATE",
                            "11/03/2099",
                        ),
                    ),
                ),
                Soap(
                    "By STATUS, as the HIS spells it",
                    op,
                    get_reservations(RESOURCE_LID=resource, STATUS="cancelled by user"),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath("STATUS", "//tns:RESERVATION/tns:STATUS", "CANCELLED by USER"),
                        xpath(
                            "STATUS_CHANGED_BY is HIS",
                            "//tns:RESERVATION/tns:STATUS_CHANGED_BY",
                            "HIS",
                        ),
                        xpath(
                            "PATIENT_ANSWER is CANCELLED",
                            "//tns:RESERVATION/tns:PATIENT_ANSWER",
                            "CANCELLED",
                        ),
                        xpath(
                            "PATIENT_ANSWER_CHANNEL is HIS",
                            "//tns:RESERVATION/tns:PATIENT_ANSWER_CHANNEL",
                            "HIS",
                        ),
                    ),
                ),
                Soap(
                    "A page of MAX_RESULTS",
                    op,
                    get_reservations(RESOURCE_LID=resource, MAX_RESULTS="2"),
                    answered(
                        xpath("COUNT is 2", result(op, "COUNT"), "2"),
                        xpath("MORE_RESULTS is true", result(op, "MORE_RESULTS"), "true"),
                    ),
                ),
                Soap(
                    "Nothing matches",
                    op,
                    get_reservations(
                        RESOURCE_LID=resource, STATUS="PENDING", START_DATE="12/03/2099"
                    ),
                    answered(
                        xpath("COUNT is 0", result(op, "COUNT"), "0"),
                        xpath("MORE_RESULTS is false", result(op, "MORE_RESULTS"), "false"),
                        holds("RESERVATIONS is empty", "count(//tns:RESERVATION) = 0"),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    delta = f"QA-DELTA-{RUN}"
    suite.cases.append(
        Case(
            "Delta read: pages, then returns nothing, then only what changed",
            "From the cursor read before writing: three changes come in two pages (change "
            "order), a third read returns nothing, and after one more change only that one "
            "comes back, once.",
            [
                *start(),
                Soap(
                    "Create three appointments",
                    "updateReservations",
                    update_reservations(
                        *(reservation(f"{delta}-{n}", RESOURCE_LID=delta) for n in (1, 2, 3))
                    ),
                    answered(xpath("CREATED is 3", result("updateReservations", "CREATED"), "3")),
                ),
                Soap(
                    "Page 1 from the cursor",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta,
                        LAST_REQUEST_TIMESTAMP="${#TestCase#CURSOR}",
                        MAX_RESULTS="2",
                    ),
                    answered(
                        xpath("COUNT is 2", result(op, "COUNT"), "2"),
                        xpath("MORE_RESULTS is true", result(op, "MORE_RESULTS"), "true"),
                        xpath(
                            "first change first", "//tns:RESERVATION[1]/tns:APP_LID", f"{delta}-1"
                        ),
                        xpath("then the second", "//tns:RESERVATION[2]/tns:APP_LID", f"{delta}-2"),
                    ),
                ),
                Transfers(
                    "Keep the cursor of page 1",
                    (
                        Transfer(
                            "CURSOR",
                            "Page 1 from the cursor",
                            "//tns:NEXT_REQUEST_TIMESTAMP",
                            "CURSOR",
                        ),
                    ),
                ),
                Soap(
                    "Page 2",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta,
                        LAST_REQUEST_TIMESTAMP="${#TestCase#CURSOR}",
                        MAX_RESULTS="2",
                    ),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath("MORE_RESULTS is false", result(op, "MORE_RESULTS"), "false"),
                        xpath("the third change", "//tns:RESERVATION/tns:APP_LID", f"{delta}-3"),
                    ),
                ),
                Transfers(
                    "Keep the cursor of page 2",
                    (Transfer("CURSOR", "Page 2", "//tns:NEXT_REQUEST_TIMESTAMP", "CURSOR"),),
                ),
                Soap(
                    "Read again: nothing new",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta, LAST_REQUEST_TIMESTAMP="${#TestCase#CURSOR}"
                    ),
                    answered(
                        xpath("COUNT is 0", result(op, "COUNT"), "0"),
                        xpath("MORE_RESULTS is false", result(op, "MORE_RESULTS"), "false"),
                        holds("RESERVATIONS is empty", "count(//tns:RESERVATION) = 0"),
                        holds(
                            "the cursor still says where",
                            "contains(//tns:NEXT_REQUEST_TIMESTAMP, '#')",
                        ),
                    ),
                ),
                Transfers(
                    "Keep the cursor of the empty read",
                    (
                        Transfer(
                            "CURSOR",
                            "Read again: nothing new",
                            "//tns:NEXT_REQUEST_TIMESTAMP",
                            "CURSOR",
                        ),
                    ),
                ),
                Soap(
                    "Cancel one appointment",
                    "updateReservations",
                    update_reservations(
                        reservation(f"{delta}-2", RESOURCE_LID=delta, STATUS="CANCELLED by ADMIN")
                    ),
                    answered(xpath("UPDATED is 1", result("updateReservations", "UPDATED"), "1")),
                ),
                Soap(
                    "Delta: only the cancelled one",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta, LAST_REQUEST_TIMESTAMP="${#TestCase#CURSOR}"
                    ),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath("the changed one", "//tns:RESERVATION/tns:APP_LID", f"{delta}-2"),
                        xpath(
                            "its new STATUS", "//tns:RESERVATION/tns:STATUS", "CANCELLED by ADMIN"
                        ),
                    ),
                ),
                Transfers(
                    "Keep the cursor of the delta",
                    (
                        Transfer(
                            "CURSOR",
                            "Delta: only the cancelled one",
                            "//tns:NEXT_REQUEST_TIMESTAMP",
                            "CURSOR",
                        ),
                    ),
                ),
                Soap(
                    "Delta again: nothing",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta, LAST_REQUEST_TIMESTAMP="${#TestCase#CURSOR}"
                    ),
                    answered(xpath("COUNT is 0", result(op, "COUNT"), "0")),
                ),
                Soap(
                    "First call with a plain date-time",
                    op,
                    get_reservations(
                        RESOURCE_LID=delta, LAST_REQUEST_TIMESTAMP="01/01/2000 00:00:00"
                    ),
                    answered(xpath("COUNT is 3", result(op, "COUNT"), "3")),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    bad = [
        ("START_DATE 31/02/2099", {"START_DATE": "31/02/2099"}, "START_DATE", True),
        (
            "END_DATE before START_DATE",
            {"START_DATE": "10/03/2099", "END_DATE": "09/03/2099"},
            "END_DATE",
            True,
        ),
        ("Unknown STATUS", {"STATUS": "MAYBE"}, "STATUS", True),
        ("MAX_RESULTS 0", {"MAX_RESULTS": "0"}, "MAX_RESULTS", True),
        ("MAX_RESULTS not a number", {"MAX_RESULTS": "ten"}, "MAX_RESULTS", False),
        ("MAX_RESULTS beyond xs:int", {"MAX_RESULTS": "99999999999"}, "MAX_RESULTS", False),
        (
            "LAST_REQUEST_TIMESTAMP not a cursor",
            {"LAST_REQUEST_TIMESTAMP": "yesterday"},
            "LAST_REQUEST_TIMESTAMP",
            True,
        ),
        (
            "LAST_REQUEST_TIMESTAMP this server never returned",
            {"LAST_REQUEST_TIMESTAMP": "01/01/2099 00:00:00#999999999999"},
            "LAST_REQUEST_TIMESTAMP",
            True,
        ),
    ]
    suite.cases.append(
        Case(
            "Bad filters: Client.ValidationError naming the field",
            "Each bad filter is refused with a typed fault whose FIELD names it.",
            [
                Soap(
                    name,
                    op,
                    get_reservations(**filters),
                    refused("Client.ValidationError", field_name),
                    valid_request=valid,
                )
                for name, filters, field_name, valid in bad
            ],
            fail_on_error=False,
        )
    )
    suite.cases.append(authentication_case(op, get_reservations(APP_LID="QA-AUTH")))
    return suite


def update_messages_suite() -> Suite:
    op = "updateMessages"
    suite = Suite(
        op,
        "Queueing SMS and e-mail, per-item errors, idempotent re-sends by LEGACY_ID, SMS "
        f"segments, the batch limit. Every message is due {LATER}: none is ever sent.",
    )
    sms = message(f"QA-MSG-{RUN}-SMS", TO="612 34 56 78")
    mail = message(
        f"QA-MSG-{RUN}-MAIL", CHANNEL="EMAIL", TO="QA.Patient@Example.org", SUBJECT="QA test"
    )
    suite.cases.append(
        Case(
            "Happy path: an SMS and an e-mail are queued",
            "Both are QUEUED with our MESSAGE_ID; searchMessages shows them QUEUED with the "
            "recipient normalised (E.164, e-mail in lower case) and never the text.",
            [
                *start(),
                Soap(
                    "Queue an SMS and an e-mail",
                    op,
                    update_messages(sms, mail),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("QUEUED is 2", result(op, "QUEUED"), "2"),
                        xpath("ALREADY_QUEUED is 0", result(op, "ALREADY_QUEUED"), "0"),
                        xpath("FAILED is 0", result(op, "FAILED"), "0"),
                        xpath("ITEM 1 ACTION is QUEUED", item(op, 1, "ACTION"), "QUEUED"),
                        xpath(
                            "ITEM 1 LEGACY_ID as sent",
                            item(op, 1, "LEGACY_ID"),
                            f"QA-MSG-{RUN}-SMS",
                        ),
                        xpath("the SMS is 1 segment", item(op, 1, "SEGMENTS"), "1"),
                        holds(
                            "ITEM 1 has a MESSAGE_ID", f"number({item(op, 1, 'MESSAGE_ID')}) > 0"
                        ),
                        holds(
                            "the e-mail has no SEGMENTS", f"count({item(op, 2, 'SEGMENTS')}) = 0"
                        ),
                    ),
                ),
                Soap(
                    "Find the SMS",
                    "searchMessages",
                    search_messages(LEGACY_ID=f"QA-MSG-{RUN}-SMS"),
                    answered(
                        xpath("COUNT is 1", result("searchMessages", "COUNT"), "1"),
                        xpath("STATUS is QUEUED", "//tns:MESSAGE/tns:STATUS", "QUEUED"),
                        xpath("TO in E.164", "//tns:MESSAGE/tns:TO", PHONE_E164),
                        xpath("CHANNEL", "//tns:MESSAGE/tns:CHANNEL", "SMS"),
                        xpath("ATTEMPTS is 0", "//tns:MESSAGE/tns:ATTEMPTS", "0"),
                        xpath("SEND_AT", "//tns:MESSAGE/tns:SEND_AT", f"{LATER}:00"),
                        holds("never the text", "count(//tns:TEXT) = 0"),
                    ),
                ),
                Soap(
                    "Find the e-mail",
                    "searchMessages",
                    search_messages(LEGACY_ID=f"QA-MSG-{RUN}-MAIL"),
                    answered(
                        xpath("TO in lower case", "//tns:MESSAGE/tns:TO", "qa.patient@example.org"),
                        xpath("CHANNEL", "//tns:MESSAGE/tns:CHANNEL", "EMAIL"),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    once = message(f"QA-ONCE-{RUN}")
    suite.cases.append(
        Case(
            "Idempotent re-send: the same LEGACY_ID answers ALREADY_QUEUED",
            "A message is queued once per LEGACY_ID, whatever is sent again: re-sends answer "
            "ALREADY_QUEUED with the first MESSAGE_ID (and a warning if the content differs).",
            [
                *start(),
                Soap(
                    "Queue a message",
                    op,
                    update_messages(once),
                    answered(xpath("ITEM 1 ACTION is QUEUED", item(op, 1, "ACTION"), "QUEUED")),
                ),
                Transfers(
                    "Keep the MESSAGE_ID",
                    (
                        Transfer(
                            "MESSAGE_ID", "Queue a message", item(op, 1, "MESSAGE_ID"), "MESSAGE_ID"
                        ),
                    ),
                ),
                Soap(
                    "Send it again",
                    op,
                    update_messages(once),
                    answered(
                        xpath("RESULT is OK", result(op, "RESULT"), "OK"),
                        xpath("QUEUED is 0", result(op, "QUEUED"), "0"),
                        xpath("ALREADY_QUEUED is 1", result(op, "ALREADY_QUEUED"), "1"),
                        xpath(
                            "ITEM 1 ACTION is ALREADY_QUEUED",
                            item(op, 1, "ACTION"),
                            "ALREADY_QUEUED",
                        ),
                        xpath(
                            "the same MESSAGE_ID",
                            item(op, 1, "MESSAGE_ID"),
                            "${#TestCase#MESSAGE_ID}",
                        ),
                        holds("no warning", f"count({item(op, 1, 'WARNINGS')}) = 0"),
                    ),
                ),
                Soap(
                    "Same LEGACY_ID with another text",
                    op,
                    update_messages(message(f"QA-ONCE-{RUN}", TEXT="QA: a different text")),
                    answered(
                        xpath(
                            "ITEM 1 ACTION is ALREADY_QUEUED",
                            item(op, 1, "ACTION"),
                            "ALREADY_QUEUED",
                        ),
                        xpath(
                            "the first MESSAGE_ID stands",
                            item(op, 1, "MESSAGE_ID"),
                            "${#TestCase#MESSAGE_ID}",
                        ),
                        holds(
                            "a warning says so", f"count({item(op, 1, 'WARNINGS')}/tns:WARNING) = 1"
                        ),
                    ),
                ),
                Soap(
                    "Twice in one batch",
                    op,
                    update_messages(message(f"QA-TWICE-{RUN}"), message(f"QA-TWICE-{RUN}")),
                    answered(
                        xpath("QUEUED is 1", result(op, "QUEUED"), "1"),
                        xpath("ALREADY_QUEUED is 1", result(op, "ALREADY_QUEUED"), "1"),
                        xpath(
                            "ITEM 2 ACTION is ALREADY_QUEUED",
                            item(op, 2, "ACTION"),
                            "ALREADY_QUEUED",
                        ),
                        holds(
                            "both items name one MESSAGE_ID",
                            f"string({item(op, 1, 'MESSAGE_ID')})"
                            f" = string({item(op, 2, 'MESSAGE_ID')})",
                        ),
                    ),
                ),
                Soap(
                    "Only one was queued",
                    "searchMessages",
                    search_messages(LEGACY_ID=f"QA-TWICE-{RUN}"),
                    answered(xpath("COUNT is 1", result("searchMessages", "COUNT"), "1")),
                ),
            ],
            properties=("RUN", "CURSOR", "MESSAGE_ID"),
        )
    )
    # (code, short tag for the ids, field at fault, what is wrong, bad fields, WSDL-valid)
    bad_messages: list[tuple[str, str, str, str, dict[str, str], bool]] = [
        ("MISSING_FIELD", "MF", "TEXT", "TEXT left out", {"TEXT": ""}, False),
        (
            "FIELD_TOO_LONG",
            "TL",
            "LEGACY_ID",
            "a LEGACY_ID of 65 characters (at most 64)",
            {"LEGACY_ID": "Q" * 65},
            True,
        ),
        ("INVALID_VALUE", "IV", "CHANNEL", "CHANNEL PIGEON", {"CHANNEL": "PIGEON"}, True),
        ("INVALID_RECIPIENT", "IR", "TO", "an SMS to 12", {"TO": "12"}, True),
        (
            "INVALID_DATE",
            "ID",
            "SEND_AT",
            "SEND_AT 31/02/2099 09:00",
            {"SEND_AT": "31/02/2099 09:00"},
            True,
        ),
    ]
    for code, tag, field_name, what, bad_fields, valid in bad_messages:
        values = {"LEGACY_ID": f"QA-MERR-{tag}-{RUN}-2", **bad_fields}
        bad = message(values.pop("LEGACY_ID"), **values)
        good = message(f"QA-MERR-{tag}-{RUN}-1")
        suite.cases.append(
            Case(
                f"Item error {code}",
                f"{what}: refused with {code} naming {field_name}; the good message of the "
                "same batch is queued (RESULT PARTIAL).",
                [
                    *start(),
                    Soap(
                        f"Queue a good message and one with {code}",
                        op,
                        update_messages(good, bad),
                        answered(
                            xpath("RESULT is PARTIAL", result(op, "RESULT"), "PARTIAL"),
                            xpath("QUEUED is 1", result(op, "QUEUED"), "1"),
                            xpath("FAILED is 1", result(op, "FAILED"), "1"),
                            xpath("ITEM 2 RESULT is ERROR", item(op, 2, "RESULT"), "ERROR"),
                            xpath(f"ITEM 2 ERROR_CODE is {code}", item(op, 2, "ERROR_CODE"), code),
                            xpath(
                                f"ITEM 2 ERROR_FIELD is {field_name}",
                                item(op, 2, "ERROR_FIELD"),
                                field_name,
                            ),
                            holds(
                                "ITEM 2 has no MESSAGE_ID",
                                f"count({item(op, 2, 'MESSAGE_ID')}) = 0",
                            ),
                        ),
                        valid_request=valid,
                    ),
                ],
                properties=("RUN", "CURSOR"),
            )
        )
    segments = [
        ("160 GSM-7 characters: 1 segment", "a" * 160, "1"),
        ("161 GSM-7 characters: 2 segments", "a" * 161, "2"),
        ("80 euro signs count as 160: 1 segment", "\u20ac" * 80, "1"),
        ("81 euro signs count as 162: 2 segments", "\u20ac" * 81, "2"),
        ("70 UCS-2 characters: 1 segment", "\u0416" * 70, "1"),
        ("71 UCS-2 characters: 2 segments", "\u0416" * 71, "2"),
    ]
    suite.cases.append(
        Case(
            "SMS segments: GSM-7 and UCS-2",
            "SEGMENTS counts 160/153 GSM-7 septets (extension characters such as the euro sign "
            "count two) or 70/67 UCS-2 units per segment.",
            [
                *start(),
                Soap(
                    "Queue six SMS",
                    op,
                    update_messages(
                        *(
                            message(f"QA-SEG-{RUN}-{n}", TEXT=text)
                            for n, (_, text, _) in enumerate(segments, 1)
                        )
                    ),
                    answered(
                        xpath("QUEUED is 6", result(op, "QUEUED"), "6"),
                        *(
                            xpath(name, item(op, n, "SEGMENTS"), expected)
                            for n, (name, _, expected) in enumerate(segments, 1)
                        ),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    suite.cases.append(
        Case(
            "Batch of 1,001 messages: Client.BatchTooLarge",
            "One message over TUOTEMPO_MAX_BATCH_ITEMS (1,000) refuses the whole call.",
            [
                Soap(
                    "Send 1,001 messages",
                    op,
                    update_messages(*[("MESSAGE", [])] * 1001),
                    refused("Client.BatchTooLarge", "MESSAGES"),
                    valid_request=False,
                )
            ],
        )
    )
    suite.cases.append(
        Case(
            "Empty batch: Client.ValidationError",
            "A call without any MESSAGE is refused, naming MESSAGES.",
            [
                Soap(
                    "Send no message",
                    op,
                    update_messages(),
                    refused("Client.ValidationError", "MESSAGES"),
                    valid_request=False,
                )
            ],
        )
    )
    suite.cases.append(authentication_case(op, update_messages(message("QA-AUTH-NEVER-QUEUED"))))
    return suite


def search_messages_suite() -> Suite:
    op = "searchMessages"
    suite = Suite(
        op, "Finding messages by LEGACY_ID, by recipient in any spelling, by date; pages."
    )
    legacy = f"QA-FIND-{RUN}"
    suite.cases.append(
        Case(
            "By LEGACY_ID, and by TO in any spelling",
            "A phone number matches however it is written; an e-mail whatever its case; "
            "another recipient does not match.",
            [
                *start(),
                Soap(
                    "Queue an SMS and an e-mail",
                    "updateMessages",
                    update_messages(
                        message(f"{legacy}-SMS", TO=PHONE),
                        message(
                            f"{legacy}-MAIL",
                            CHANNEL="EMAIL",
                            TO="qa.find@example.org",
                            SUBJECT="QA",
                        ),
                    ),
                    answered(xpath("QUEUED is 2", result("updateMessages", "QUEUED"), "2")),
                ),
                Soap(
                    "By LEGACY_ID",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-SMS"),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath("MORE_RESULTS is false", result(op, "MORE_RESULTS"), "false"),
                        xpath("LEGACY_ID", "//tns:MESSAGE/tns:LEGACY_ID", f"{legacy}-SMS"),
                        xpath(
                            "CREATED is dd/mm/yyyy hh:mm:ss",
                            "//tns:MESSAGE/tns:CREATED",
                            "*/*/* *:*:*",
                            wildcards=True,
                        ),
                        holds("no NEXT_PAGE_TOKEN", "count(//tns:NEXT_PAGE_TOKEN) = 0"),
                    ),
                ),
                Soap(
                    "By TO written with spaces and +34",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-SMS", TO="+34 612 34 56 78"),
                    answered(xpath("COUNT is 1", result(op, "COUNT"), "1")),
                ),
                Soap(
                    "By TO of someone else",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-SMS", TO="+34 699 99 99 99"),
                    answered(xpath("COUNT is 0", result(op, "COUNT"), "0")),
                ),
                Soap(
                    "By e-mail in capitals",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-MAIL", TO="QA.Find@EXAMPLE.org"),
                    answered(
                        xpath("COUNT is 1", result(op, "COUNT"), "1"),
                        xpath("TO", "//tns:MESSAGE/tns:TO", "qa.find@example.org"),
                    ),
                ),
                Soap(
                    "By CHANNEL and STATUS",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-MAIL", CHANNEL="email", STATUS="queued"),
                    answered(xpath("COUNT is 1", result(op, "COUNT"), "1")),
                ),
                Soap(
                    "Not sent yet: a SENT_FROM filter finds nothing",
                    op,
                    search_messages(LEGACY_ID=f"{legacy}-MAIL", SENT_FROM="01/01/2000"),
                    answered(xpath("COUNT is 0", result(op, "COUNT"), "0")),
                ),
            ],
            properties=("RUN", "CURSOR"),
        )
    )
    page = f"QA-PAGE-{RUN}"
    inbox = "qa.paging@example.org"
    suite.cases.append(
        Case(
            "Pages: NEXT_PAGE_TOKEN until MORE_RESULTS is false",
            f"Four e-mails to {inbox} created from this case's start on, read two at a time: "
            "page 1 has a NEXT_PAGE_TOKEN, page 2 ends the list.",
            [
                *start(),
                Soap(
                    "Queue a first e-mail",
                    "updateMessages",
                    update_messages(message(f"{page}-1", CHANNEL="EMAIL", TO=inbox, SUBJECT="QA")),
                    answered(xpath("QUEUED is 1", result("updateMessages", "QUEUED"), "1")),
                ),
                Soap(
                    "Read when it was created",
                    op,
                    search_messages(LEGACY_ID=f"{page}-1"),
                    answered(xpath("COUNT is 1", result(op, "COUNT"), "1")),
                ),
                Transfers(
                    "Keep CREATED",
                    (
                        Transfer(
                            "SINCE",
                            "Read when it was created",
                            "//tns:MESSAGE/tns:CREATED",
                            "SINCE",
                        ),
                    ),
                ),
                Soap(
                    "Queue three more",
                    "updateMessages",
                    update_messages(
                        *(
                            message(f"{page}-{n}", CHANNEL="EMAIL", TO=inbox, SUBJECT="QA")
                            for n in (2, 3, 4)
                        )
                    ),
                    answered(xpath("QUEUED is 3", result("updateMessages", "QUEUED"), "3")),
                ),
                Soap(
                    "Page 1",
                    op,
                    search_messages(TO=inbox, CREATED_FROM="${#TestCase#SINCE}", MAX_RESULTS="2"),
                    answered(
                        xpath("COUNT is 2", result(op, "COUNT"), "2"),
                        xpath("MORE_RESULTS is true", result(op, "MORE_RESULTS"), "true"),
                        holds(
                            "a NEXT_PAGE_TOKEN",
                            f"string-length({result(op, 'NEXT_PAGE_TOKEN')}) > 0",
                        ),
                        xpath("oldest first", "//tns:MESSAGE[1]/tns:LEGACY_ID", f"{page}-1"),
                    ),
                ),
                Transfers(
                    "Keep the page token",
                    (Transfer("PAGE_TOKEN", "Page 1", "//tns:NEXT_PAGE_TOKEN", "PAGE_TOKEN"),),
                ),
                Soap(
                    "Page 2",
                    op,
                    search_messages(
                        TO=inbox,
                        CREATED_FROM="${#TestCase#SINCE}",
                        PAGE_TOKEN="${#TestCase#PAGE_TOKEN}",  # noqa: S106 (an expansion)
                        MAX_RESULTS="2",
                    ),
                    answered(
                        xpath("COUNT is 2", result(op, "COUNT"), "2"),
                        xpath("MORE_RESULTS is false", result(op, "MORE_RESULTS"), "false"),
                        holds("no NEXT_PAGE_TOKEN", "count(//tns:NEXT_PAGE_TOKEN) = 0"),
                        xpath("the last one last", "//tns:MESSAGE[2]/tns:LEGACY_ID", f"{page}-4"),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR", "SINCE", "PAGE_TOKEN"),
        )
    )
    bad = [
        ("Unknown CHANNEL", {"CHANNEL": "PIGEON"}, "CHANNEL", True),
        ("Unknown STATUS", {"STATUS": "LOST"}, "STATUS", True),
        ("CREATED_FROM 31/02/2099", {"CREATED_FROM": "31/02/2099"}, "CREATED_FROM", True),
        ("PAGE_TOKEN this server never returned", {"PAGE_TOKEN": "page-two"}, "PAGE_TOKEN", True),
        ("MAX_RESULTS 0", {"MAX_RESULTS": "0"}, "MAX_RESULTS", True),
    ]
    suite.cases.append(
        Case(
            "Bad filters: Client.ValidationError naming the field",
            "Each bad filter is refused with a typed fault whose FIELD names it.",
            [
                Soap(
                    name,
                    op,
                    search_messages(**filters),
                    refused("Client.ValidationError", field_name),
                    valid_request=valid,
                )
                for name, filters, field_name, valid in bad
            ],
            fail_on_error=False,
        )
    )
    suite.cases.append(authentication_case(op, search_messages(LEGACY_ID="QA-AUTH")))
    return suite


def authentication_suite() -> Suite:
    suite = Suite(
        "Authentication",
        "Failed sign-ins and the throttle. The server counts these failures (README, "
        "Password guessing): from an address other than the server's own host, run this "
        "suite at most once every 15 minutes; the other suites may run any time.",
    )
    probe = get_reservations(APP_LID="QA-AUTH")
    wrong_password = probe.replace("${#Project#PASSWORD}", "QA-wrong-password")
    unknown_user = probe.replace("${#Project#USERNAME}", f"qa-nobody {RUN}")
    unknown_instance = probe.replace("${#Project#INSTANCE}", f"tt_qa_nowhere {RUN}")
    same = "${#TestCase#AUTH_MESSAGE}"
    suite.cases.append(
        Case(
            "Unknown instance, unknown user and wrong password answer alike",
            "Client.AuthenticationFailed with one faultstring for all three, so an "
            "attacker learns nothing about which part was wrong.",
            [
                *start(),
                Soap(
                    "Wrong password",
                    "getReservations",
                    wrong_password,
                    refused("Client.AuthenticationFailed"),
                ),
                Transfers(
                    "Keep its faultstring",
                    (
                        Transfer(
                            "AUTH_MESSAGE",
                            "Wrong password",
                            "//soap:Fault/faultstring",
                            "AUTH_MESSAGE",
                        ),
                    ),
                ),
                Soap(
                    "Unknown user",
                    "getReservations",
                    unknown_user,
                    refused(
                        "Client.AuthenticationFailed",
                        None,
                        xpath("the same faultstring", f"{FAULT}/faultstring", same),
                    ),
                ),
                Soap(
                    "Unknown instance",
                    "getReservations",
                    unknown_instance,
                    refused(
                        "Client.AuthenticationFailed",
                        None,
                        xpath("the same faultstring", f"{FAULT}/faultstring", same),
                    ),
                ),
                Soap(
                    "Empty password",
                    "getReservations",
                    probe.replace("${#Project#USERNAME}", f"qa-empty {RUN}").replace(
                        "${#Project#PASSWORD}", ""
                    ),
                    refused(
                        "Client.AuthenticationFailed",
                        None,
                        xpath("the same faultstring", f"{FAULT}/faultstring", same),
                    ),
                ),
            ],
            properties=("RUN", "CURSOR", "AUTH_MESSAGE"),
        )
    )
    attacked = probe.replace("${#Project#USERNAME}", f"qa-throttled {RUN}")
    either = holds(
        "AuthenticationFailed, or TooManyAttempts once throttled",
        f"{FAULT}/faultcode = 'soap:Client.AuthenticationFailed' or "
        f"{FAULT}/faultcode = 'soap:Client.TooManyAttempts'",
    )
    steps: list[Step] = [*start()]
    for number in range(1, 16):
        # The first failure is never delayed; later ones may be, from an address
        # that is not a trusted proxy (3 per user and address, 9 per address).
        checks = (
            refused("Client.AuthenticationFailed")
            if number == 1
            else (SOAP_RESPONSE, SCHEMA, IS_FAULT, status(500), either)
        )
        steps.append(Soap(f"Wrong password {number} of 15", "getReservations", attacked, checks))
    steps.append(
        Soap(
            "The next attempt is refused",
            "getReservations",
            attacked,
            refused(
                "Client.TooManyAttempts",
                "AUTH",
                xpath(
                    "the message says when to retry",
                    f"{DETAIL}/tns:MESSAGE",
                    "Too many failed sign-ins*; try again in * s",
                    wildcards=True,
                ),
            ),
        )
    )
    steps.append(
        Soap(
            "The real user still signs in",
            "getReservations",
            probe,
            answered(xpath("RESULT is OK", result("getReservations", "RESULT"), "OK")),
        )
    )
    suite.cases.append(
        Case(
            "Client.TooManyAttempts after repeated wrong passwords",
            "Fifteen wrong passwords for one user (from the server's own host only the per-user "
            "count applies: 15; from elsewhere 3 per user and address) and the next attempt "
            "is answered at once with Client.TooManyAttempts, FIELD AUTH. Another user is "
            "not affected. Assumes the server's default TUOTEMPO_AUTH_* settings.",
            steps,
            properties=("RUN", "CURSOR"),
        )
    )
    return suite


def envelope_suite() -> Suite:
    suite = Suite(
        "SOAP envelope and HTTP",
        "Requests that are not what the WSDL describes, refused before any operation runs, "
        "each with its typed fault; and the WSDL itself.",
    )
    good = get_reservations(APP_LID="QA-ENVELOPE")
    suite.cases.append(
        Case(
            "Client.MalformedXML",
            "A body that is not well-formed XML, and one with a DOCTYPE (no XXE, no entity "
            "expansion).",
            [
                Soap(
                    "Not well-formed",
                    "getReservations",
                    good[: good.index("<v1:AUTH>")],
                    refused("Client.MalformedXML"),
                    valid_request=False,
                ),
                Soap(
                    "A DOCTYPE with an entity",
                    "getReservations",
                    '<?xml version="1.0"?>\n<!DOCTYPE soapenv:Envelope [<!ENTITY qa "QA">]>\n'
                    + good.replace("QA-ENVELOPE", "&qa;"),
                    refused("Client.MalformedXML"),
                    valid_request=False,
                ),
            ],
            fail_on_error=False,
        )
    )
    operation_only = good[
        good.index("<v1:getReservations>") : good.index("</soapenv:Body>")
    ].strip()
    suite.cases.append(
        Case(
            "Client.InvalidEnvelope",
            "Well-formed XML that is not a SOAP envelope, and an envelope without a Body.",
            [
                Soap(
                    "The operation without an envelope",
                    "getReservations",
                    operation_only.replace(
                        "<v1:getReservations>", f'<v1:getReservations xmlns:v1="{TNS}">', 1
                    ),
                    refused("Client.InvalidEnvelope"),
                    valid_request=False,
                ),
                Soap(
                    "An envelope without a Body",
                    "getReservations",
                    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">\n'
                    "   <soapenv:Header/>\n</soapenv:Envelope>",
                    refused("Client.InvalidEnvelope"),
                    valid_request=False,
                ),
            ],
            fail_on_error=False,
        )
    )
    suite.cases.append(
        Case(
            "VersionMismatch: a SOAP 1.2 envelope",
            "SOAP 1.1 section 4.4.1: faultcode soap:VersionMismatch, and the SOAP 1.2 Upgrade "
            "header naming the envelope this service speaks.",
            [
                Soap(
                    "Send a SOAP 1.2 envelope",
                    "getReservations",
                    good.replace(SOAP_ENV, SOAP12_ENV),
                    refused(
                        "VersionMismatch",
                        None,
                        holds(
                            "an Upgrade header names the SOAP 1.1 envelope",
                            "count(//soap:Header/*[local-name()='Upgrade' and "
                            f"namespace-uri()='{SOAP12_ENV}']) = 1",
                        ),
                    ),
                    valid_request=False,
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Client.ResourceNotFound: an operation this service does not have",
            "The Body names cancelEverything: refused, listing the four operations.",
            [
                Soap(
                    "Ask for cancelEverything",
                    "getReservations",
                    envelope("cancelEverything", [auth()]),
                    refused(
                        "Client.ResourceNotFound",
                        None,
                        contains(
                            "lists the operations",
                            "updateReservations, getReservations, updateMessages, searchMessages",
                        ),
                    ),
                    valid_request=False,
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Client.SOAPActionMismatch",
            "The request is sent as updateReservations (its SOAPAction) but the Body holds "
            "getReservations: nothing runs.",
            [
                Soap(
                    "getReservations under the SOAPAction of updateReservations",
                    "updateReservations",
                    good,
                    refused("Client.SOAPActionMismatch", "SOAPAction"),
                    valid_request=False,
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Client.UnsupportedMediaType (HTTP 415)",
            "A POST with Content-Type application/json gets HTTP 415 (WS-I BP R1115) with the "
            "fault as body.",
            [
                Http(
                    "POST application/json",
                    "POST",
                    "${#Project#ENDPOINT}",
                    (
                        status(415),
                        xpath(
                            "faultcode is soap:Client.UnsupportedMediaType",
                            f"{FAULT}/faultcode",
                            "soap:Client.UnsupportedMediaType",
                        ),
                        xpath(
                            "ServiceFault CODE", f"{DETAIL}/tns:CODE", "Client.UnsupportedMediaType"
                        ),
                        xpath(
                            "ServiceFault FIELD is Content-Type",
                            f"{DETAIL}/tns:FIELD",
                            "Content-Type",
                        ),
                    ),
                    media_type="application/json",
                    body='{"getReservations": {"APP_LID": "QA"}}',
                ),
            ],
        )
    )
    suite.cases.append(
        Case(
            "Client.RequestNotAllowed (HTTP 405)",
            "GET without ?wsdl, and PUT, get HTTP 405 (WS-I BP R1114) with the fault as body.",
            [
                Http(
                    name,
                    method,
                    "${#Project#ENDPOINT}",
                    (
                        status(405),
                        xpath(
                            "faultcode is soap:Client.RequestNotAllowed",
                            f"{FAULT}/faultcode",
                            "soap:Client.RequestNotAllowed",
                        ),
                        xpath(
                            "ServiceFault CODE", f"{DETAIL}/tns:CODE", "Client.RequestNotAllowed"
                        ),
                    ),
                    body=body,
                )
                for name, method, body in (
                    ("GET the endpoint", "GET", ""),
                    ("PUT an envelope", "PUT", good),
                )
            ],
            fail_on_error=False,
        )
    )
    wsdl_prolog = (
        f"declare namespace wsdl='{WSDL_NS}';\n"
        "declare namespace wsoap='http://schemas.xmlsoap.org/wsdl/soap/';\n"
    )
    operations = _operations()
    suite.cases.append(
        Case(
            "The WSDL is served at ?wsdl, with the operations this project tests",
            "GET ENDPOINT?wsdl answers the contract: the same operations and SOAPActions as "
            "wsdl/tuotempo.wsdl, which this project caches.",
            [
                Http(
                    "GET ?wsdl",
                    "GET",
                    "${#Project#ENDPOINT}?wsdl",
                    (
                        status(200),
                        Check(
                            "XPath Match",
                            f"{len(operations)} operations",
                            (
                                ("path", wsdl_prolog + "count(//wsdl:portType/wsdl:operation)"),
                                ("content", str(len(operations))),
                                ("allowWildcards", "false"),
                                ("ignoreNamspaceDifferences", "false"),
                                ("ignoreComments", "false"),
                            ),
                        ),
                        *(
                            Check(
                                "XPath Match",
                                f"SOAPAction of {name}",
                                (
                                    (
                                        "path",
                                        wsdl_prolog
                                        + f"//wsdl:binding/wsdl:operation[@name='{name}']"
                                        + "/wsoap:operation/@soapAction",
                                    ),
                                    ("content", name),
                                    ("allowWildcards", "false"),
                                    ("ignoreNamspaceDifferences", "false"),
                                    ("ignoreComments", "false"),
                                ),
                            )
                            for name in operations
                        ),
                    ),
                ),
            ],
        )
    )
    return suite


def suites() -> list[Suite]:
    built = [
        reservations_suite(),
        get_reservations_suite(),
        update_messages_suite(),
        search_messages_suite(),
        authentication_suite(),
        envelope_suite(),
    ]
    missing = set(_operations()) - {suite.name for suite in built}
    if missing:
        raise SystemExit(
            f"the WSDL has operations without a test suite: {', '.join(sorted(missing))}"
        )
    return built


# --- the project file ------------------------------------------------------------


def _id(*path: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tuotempo-soap/qa/soapui/" + "/".join(path)))


def _sub(
    parent: etree._Element, tag: str, text: str | None = None, /, **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CON}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def _cdata(parent: etree._Element, name: str, text: str) -> None:
    element = etree.SubElement(parent, f"{{{CON}}}{name}")
    element.text = etree.CDATA(text) if text else None


def _properties(parent: etree._Element, values: Iterable[tuple[str, str]]) -> None:
    holder = _sub(parent, "properties")
    for name, value in values:
        prop = _sub(holder, "property")
        _sub(prop, "name", name)
        if value:
            _sub(prop, "value", value)
        else:
            _sub(prop, "value")


def _checks(parent: etree._Element, checks: Iterable[Check], *where: str) -> None:
    for check in checks:
        node = _sub(
            parent, "assertion", type=check.kind, id=_id(*where, check.name), name=check.name
        )
        if check.config:
            configuration = _sub(node, "configuration")
            for key, value in check.config:
                etree.SubElement(configuration, key).text = value
        elif check.kind == "Schema Compliance":
            configuration = _sub(node, "configuration")
            etree.SubElement(configuration, "definition")


def _request_tail(parent: etree._Element, action: str | None) -> None:
    credentials = _sub(parent, "credentials")
    _sub(credentials, "authType", "No Authorization")
    _sub(parent, "jmsConfig", JMSDeliveryMode="PERSISTENT")
    _sub(parent, "jmsPropertyConfig")
    if action is not None:
        _sub(parent, "wsaConfig", mustUnderstand="NONE", version="200508", action=action)
        _sub(parent, "wsrmConfig", version="1.2")


def _soap_step(case: etree._Element, step: Soap, *where: str) -> None:
    node = _sub(case, "testStep", type="request", name=step.name, id=_id(*where, step.name))
    _sub(node, "settings")
    config = _sub(node, "config")
    config.set(f"{{{XSI}}}type", "con:RequestStep")
    _sub(config, "interface", INTERFACE)
    _sub(config, "operation", step.operation)
    request = _sub(config, "request", name=step.name, id=_id(*where, step.name, "request"))
    _sub(request, "settings")
    _sub(request, "encoding", "UTF-8")
    _sub(request, "endpoint", "${#Project#ENDPOINT}")
    _cdata(request, "request", step.body)
    _checks(request, step.checks, *where, step.name)
    _request_tail(request, step.operation)


def _http_step(case: etree._Element, step: Http, *where: str) -> None:
    node = _sub(case, "testStep", type="httprequest", name=step.name, id=_id(*where, step.name))
    _sub(node, "settings")
    config = _sub(
        node,
        "config",
        method=step.method,
        id=_id(*where, step.name, "request"),
        name=step.name,
        postQueryString="false",
        mediaType=step.media_type,
    )
    config.set(f"{{{XSI}}}type", "con:HttpRequest")
    _sub(config, "settings")
    _sub(config, "encoding", "UTF-8")
    _sub(config, "endpoint", step.endpoint)
    _cdata(config, "request", step.body)
    _checks(config, step.checks, *where, step.name)
    _request_tail(config, None)
    _sub(config, "parameters")


def _transfer_step(case: etree._Element, step: Transfers, *where: str) -> None:
    node = _sub(case, "testStep", type="transfer", name=step.name, id=_id(*where, step.name))
    _sub(node, "settings")
    config = _sub(node, "config")
    config.set(f"{{{XSI}}}type", "con:PropertyTransfersStep")
    for transfer in step.transfers:
        item_node = _sub(
            config,
            "transfers",
            setNullOnMissingSource="false",
            transferTextContent="true",
            failOnError="true",
            ignoreEmpty="false",
            transferToAll="false",
            entitize="false",
            transferChildNodes="false",
        )
        _sub(item_node, "name", transfer.name)
        _sub(item_node, "sourceType", "Response")
        _sub(item_node, "sourceStep", transfer.source_step)
        _sub(item_node, "sourcePath", PROLOG + transfer.path)
        _sub(item_node, "targetType", transfer.target)
        _sub(item_node, "targetStep", "#TestCase#")
        _sub(item_node, "upgraded", "true")


def _interface(project: etree._Element, wsdl_text: str) -> None:
    node = _sub(
        project,
        "interface",
        id=_id("interface"),
        wsaVersion="NONE",
        name=INTERFACE,
        type="wsdl",
        bindingName=f"{{{TNS}}}{INTERFACE}",
        soapVersion="1_1",
        anonymous="optional",
        definition=DEFINITION_URL,
    )
    node.set(f"{{{XSI}}}type", "con:WsdlInterface")
    _sub(node, "settings")
    cache = _sub(node, "definitionCache", type="TEXT", rootPart=DEFINITION_URL)
    part = _sub(cache, "part")
    _sub(part, "url", DEFINITION_URL)
    _cdata(part, "content", wsdl_text)
    _sub(part, "type", "http://schemas.xmlsoap.org/wsdl/")
    endpoints = _sub(node, "endpoints")
    _sub(endpoints, "endpoint", "${#Project#ENDPOINT}")
    samples = {
        "updateReservations": update_reservations(reservation("QA-SAMPLE-1")),
        "getReservations": get_reservations(APP_LID="QA-SAMPLE-1"),
        "updateMessages": update_messages(message("QA-SAMPLE-1")),
        "searchMessages": search_messages(LEGACY_ID="QA-SAMPLE-1"),
    }
    for name in _operations():
        operation = _sub(
            node,
            "operation",
            id=_id("interface", name),
            isOneWay="false",
            action=name,
            name=name,
            bindingOperationName=name,
            type="Request-Response",
            outputName=f"{name}Response",
            inputName=name,
            receivesAttachments="false",
            sendsAttachments="false",
            anonymous="optional",
        )
        _sub(operation, "settings")
        call = _sub(operation, "call", id=_id("interface", name, "call"), name="Request 1")
        _sub(call, "settings")
        _sub(call, "encoding", "UTF-8")
        _sub(call, "endpoint", "${#Project#ENDPOINT}")
        _cdata(call, "request", samples.get(name, envelope(name, [auth()])))
        _request_tail(call, name)


def build() -> bytes:
    wsdl_text = WSDL_PATH.read_text(encoding="utf-8")
    project = etree.Element(
        f"{{{CON}}}soapui-project",
        nsmap={"con": CON},
        id=_id("project"),
        activeEnvironment="Default",
        name=PROJECT_NAME,
        resourceRoot="",
        abortOnError="false",
        runType="SEQUENTIAL",
    )
    project.set("soapui-version", SOAPUI_VERSION)
    _sub(
        project,
        "description",
        "Functional tests of the tuotempo-soap SOAP service, generated by "
        "qa/soapui/generate_project.py from wsdl/tuotempo.wsdl. Set the project properties "
        "ENDPOINT, INSTANCE, USERNAME and PASSWORD (the demo server prints them).",
    )
    _sub(project, "settings")
    _interface(project, wsdl_text)
    for suite in suites():
        suite_node = _sub(project, "testSuite", id=_id(suite.name), name=suite.name)
        _sub(suite_node, "description", suite.description)
        _sub(suite_node, "settings")
        _sub(suite_node, "runType", "SEQUENTIAL")
        for case in suite.cases:
            case_node = _sub(
                suite_node,
                "testCase",
                id=_id(suite.name, case.name),
                failOnError="true" if case.fail_on_error else "false",
                failTestCaseOnErrors="true",
                keepSession="false",
                maxResults="0",
                name=case.name,
                searchProperties="true",
            )
            _sub(case_node, "description", case.description)
            _sub(case_node, "settings")
            for step in case.steps:
                if isinstance(step, Soap):
                    _soap_step(case_node, step, suite.name, case.name)
                elif isinstance(step, Http):
                    _http_step(case_node, step, suite.name, case.name)
                else:
                    _transfer_step(case_node, step, suite.name, case.name)
            _properties(case_node, ((name, "") for name in case.properties))
        _properties(suite_node, ())
    _properties(project, PROJECT_PROPERTIES)
    for container in (
        "wssContainer",
        "oAuth2ProfileContainer",
        "oAuth1ProfileContainer",
        "sensitiveInformation",
    ):
        _sub(project, container)
    return bytes(etree.tostring(project, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed project is stale"
    )
    args = parser.parse_args(argv)
    built = build()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_bytes() != built:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python qa/soapui/generate_project.py")
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is up to date")
        return 0
    OUTPUT.write_bytes(built)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
