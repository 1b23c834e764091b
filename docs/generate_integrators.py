"""Writes docs/integrators.md, the integrator's guide, from the code it describes.

The field tables come from the Spyne declarations the WSDL is built from
(``tuotempo_soap/soap/types.py`` and the operations in ``soap/service.py``), the
limits from the settings' defaults, the TT_RESERVATIONS mapping from the one list
of guide fields (``domain/reservation.py``), and every example request, answer,
item error and fault from a real exchange with the application, built in-process
on a fresh SQLite database with a fixed clock. Only the prose is written here.

    python docs/generate_integrators.py            # rewrite docs/integrators.md
    python docs/generate_integrators.py --check    # exit 1 if the committed file is stale

``tests/integration/test_integrators_guide.py`` runs the check, so the guide
cannot drift from the service.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from werkzeug.test import Client

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import tuotempo_soap.soap.compat  # noqa: E402, F401  (before anything imports Spyne)
from tuotempo_soap import clock, errors  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.domain.message import MAX_SMS_SEGMENTS  # noqa: E402
from tuotempo_soap.domain.reservation import FIELD_NAMES, FIELDS, FieldSpec  # noqa: E402
from tuotempo_soap.services import instances  # noqa: E402
from tuotempo_soap.soap import TNS, faults  # noqa: E402
from tuotempo_soap.soap import types as wire  # noqa: E402
from tuotempo_soap.soap.operations import MESSAGE_FIELDS  # noqa: E402
from tuotempo_soap.soap.service import TuotempoService  # noqa: E402
from tuotempo_soap.web.app import TuotempoApp, create_app  # noqa: E402

OUTPUT = ROOT / "docs" / "integrators.md"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XML = "text/xml; charset=utf-8"
START = datetime(2027, 3, 10, 8, 0, 0)  # UTC; 09:00 in the instance's Europe/Madrid
INSTANCE, USERNAME, PASSWORD = "tt_demo", "demo", "change-me-please"
DAY = "15/03/2027"
OPERATIONS = ("updateReservations", "getReservations", "updateMessages", "searchMessages")


# ---------------------------------------------------------------- exchanges


class GuideError(Exception):
    """The service no longer answers as the guide's text expects: fix the generator."""


def require(condition: object, message: str) -> None:
    if not condition:
        raise GuideError(message)


@dataclass
class Exchange:
    """One request as sent and the answer as received."""

    request: str
    status: str
    answer: str
    headers: dict[str, str]
    root: Any  # the parsed answer

    def find(self, path: str) -> str | None:
        return self.root.findtext(path, namespaces={"t": TNS, "soap": SOAP_ENV})

    def findall(self, path: str) -> list[Any]:
        return list(self.root.iterfind(path, namespaces={"t": TNS, "soap": SOAP_ENV}))

    def fault(self) -> tuple[str, str | None, str]:
        """(CODE, FIELD, faultstring) of a fault answer."""
        detail = "soap:Body/soap:Fault/detail/t:ServiceFault/t:"
        code = self.find(detail + "CODE")
        require(code is not None, f"not a fault: {self.answer}")
        text = self.find("soap:Body/soap:Fault/faultstring") or ""
        return str(code), self.find(detail + "FIELD"), text


def pretty(document: bytes) -> str:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    return etree.tostring(root, pretty_print=True, encoding="unicode").rstrip()


def element(name: str, value: Any) -> Any:
    """``<t:name>`` holding text, or the children given as (name, value) pairs or a list of them."""
    node = etree.Element(f"{{{TNS}}}{name}", nsmap={"t": TNS})
    if isinstance(value, list):
        for child_name, child_value in value:
            node.append(element(child_name, child_value))
    else:
        node.text = str(value)
    return node


def envelope(operation: str, *parts: tuple[str, Any], auth: dict[str, str] | None = None) -> bytes:
    credentials = auth or {"INSTANCE": INSTANCE, "USERNAME": USERNAME, "PASSWORD": PASSWORD}
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV, "t": TNS})
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    # In the WSDL's order, as a generated client sends them.
    order = list(TuotempoService.public_methods[operation].in_message._type_info)
    ordered = sorted(parts, key=lambda part: order.index(part[0]))
    call = element(operation, [("AUTH", list(credentials.items())), *ordered])
    body.append(call)
    return etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)


def reservation(lid: str, date: str = DAY, **fields: str) -> tuple[str, Any]:
    values = {"APP_LID": lid, "APP_DATE": date, **fields}
    return ("RESERVATION", [(name, values[name]) for name in FIELD_NAMES if name in values])


def message(legacy_id: str, channel: str, to: str, text: str, **fields: str) -> tuple[str, Any]:
    values = {"LEGACY_ID": legacy_id, "CHANNEL": channel, "TO": to, "TEXT": text, **fields}
    return ("MESSAGE", [(name, values[name]) for name in MESSAGE_FIELDS if name in values])


class Service:
    """The application in-process, spoken to over WSGI as an HTTP client would."""

    def __init__(self, app: TuotempoApp, clock_file: Path) -> None:
        self.app = app
        self.client = Client(app)
        self.clock_file = clock_file
        self.now = START
        self.set_clock(START)

    def set_clock(self, moment: datetime) -> None:
        self.now = moment
        self.clock_file.write_text(moment.replace(tzinfo=UTC).isoformat())

    def advance(self, **delta: float) -> None:
        self.set_clock(self.now + timedelta(**delta))

    def post(
        self,
        body: bytes,
        *,
        action: str | None = None,
        content_type: str = XML,
        method: str = "POST",
        address: str = "192.0.2.10",
    ) -> Exchange:
        headers = {"Content-Type": content_type}
        if action is not None:
            headers["SOAPAction"] = f'"{action}"'
        response = self.client.open(
            "/soap",
            method=method,
            data=body if method == "POST" else None,
            headers=headers,
            environ_overrides={"REMOTE_ADDR": address},
        )
        answer = response.get_data()
        root = etree.fromstring(answer)
        shown = {k: v for k, v in response.headers.items() if k in ("Content-Type", "Retry-After")}
        request = body.decode("utf-8", "replace") if len(body) < 20_000 else ""
        return Exchange(request.rstrip(), response.status, pretty(answer), shown, root)

    def call(self, operation: str, *parts: tuple[str, Any], **options: Any) -> Exchange:
        auth = options.pop("auth", None)
        return self.post(envelope(operation, *parts, auth=auth), action=operation, **options)


@contextmanager
def service(workdir: Path, **overrides: str) -> Iterator[Service]:
    """A fresh application on its own SQLite database, clock fixed at START."""
    workdir.mkdir(parents=True, exist_ok=True)
    clock_file = workdir / "clock"
    clock_file.write_text(START.replace(tzinfo=UTC).isoformat())
    env = {
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{workdir / 'tuotempo.db'}",
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
        "TUOTEMPO_CLOCK_FILE": str(clock_file),
        "TUOTEMPO_PUBLIC_URL": "https://soap.example.org",
        "TUOTEMPO_SECRET_KEY": "integrators-guide",
        "TUOTEMPO_LOG_LEVEL": "CRITICAL",
        **overrides,
    }
    # create_app sets our loggers' level (here: quiet); put it back afterwards, so
    # that running the generator inside a test session leaves logging as it was.
    ours = logging.getLogger("tuotempo_soap")
    level = ours.level
    app = create_app(Settings.from_env(env))
    try:
        yield Service(app, clock_file)
    finally:
        app.store.dispose()
        clock.configure(None)
        ours.setLevel(level)


# ---------------------------------------------------------------- what the guide shows


@dataclass
class Captured:
    update: Exchange
    page1: Exchange
    page2: Exchange
    cancel: Exchange
    delta: Exchange
    delta_empty: Exchange
    resend: Exchange
    messages: Exchange
    messages_again: Exchange
    search: Exchange
    search_page: Exchange
    search_next: Exchange
    reservation_errors: Exchange
    message_errors: Exchange
    faults: dict[str, Exchange]


def capture(workdir: Path) -> Captured:
    with service(workdir / "main") as api:
        store = api.app.store
        instances.create_instance(store, INSTANCE)
        instances.add_user(store, INSTANCE, USERNAME, PASSWORD)

        day = [
            reservation(
                "HIS-1001",
                APP_START_TIME="09:30",
                APP_END_TIME="09:50",
                USER_LID="P-7731",
                USER_MOBILE_PHONE="612 34 56 78",
                USER_EMAIL="Ana.Perez@Example.org",
                USER_LANGUAGE="es",
                COMMUNICATION_PREFERENCES="110",
                NOTES="Revisión anual",
                RESOURCE_LID="DR-GARCIA",
                RESOURCE_NAME="Dra. García",
                LOCATION_LID="C-01",
                STATUS="APPROVED",
            ),
            reservation(
                "HIS-1002",
                APP_START_TIME="10:00",
                USER_MOBILE_PHONE="+34 622 334 455",
                RESOURCE_LID="DR-GARCIA",
                STATUS="PENDING",
            ),
            reservation(
                "HIS-1003",
                APP_START_TIME="10:30",
                USER_MOBILE_PHONE="633445566",
                RESOURCE_LID="DR-GARCIA",
                STATUS="PENDING",
            ),
            reservation(
                "HIS-1004",
                "31/02/2027",
                APP_START_TIME="11:00",
                USER_MOBILE_PHONE="644556677",
                RESOURCE_LID="DR-GARCIA",
            ),
        ]
        update = api.call("updateReservations", ("RESERVATIONS", day))
        read = [("START_DATE", DAY), ("END_DATE", DAY), ("MAX_RESULTS", "2")]
        page1 = api.call("getReservations", *read)
        cursor = page1.find(".//t:NEXT_REQUEST_TIMESTAMP")
        page2 = api.call("getReservations", *read, ("LAST_REQUEST_TIMESTAMP", cursor))
        cursor = page2.find(".//t:NEXT_REQUEST_TIMESTAMP")

        api.advance(hours=2)
        cancelled = reservation(
            "HIS-1002",
            APP_START_TIME="10:00",
            USER_MOBILE_PHONE="+34 622 334 455",
            RESOURCE_LID="DR-GARCIA",
            STATUS="CANCELLED by USER",
        )
        cancel = api.call("updateReservations", ("RESERVATIONS", [cancelled]))
        api.advance(minutes=5)
        delta = api.call("getReservations", *read, ("LAST_REQUEST_TIMESTAMP", cursor))
        cursor = delta.find(".//t:NEXT_REQUEST_TIMESTAMP")
        api.advance(minutes=5)
        delta_empty = api.call("getReservations", *read, ("LAST_REQUEST_TIMESTAMP", cursor))
        resend = api.call("updateReservations", ("RESERVATIONS", [cancelled]))

        api.advance(minutes=5)
        text = "Le recordamos su cita de mañana 15/03 a las 09:30 con la Dra. García."
        batch = [
            message("SMS-2027-0001", "SMS", "612 34 56 78", text + " Responda SI o NO."),
            message(
                "SMS-2027-0002",
                "SMS",
                "612345678",
                "Su cita de mañana sigue en pie.",
                SEND_AT="2027-03-14T18:00:00+01:00",
                EXPIRES_AT="15/03/2027 09:00",
            ),
            message("MAIL-2027-0001", "EMAIL", "ana.perez.example.org", text, SUBJECT="Su cita"),
        ]
        messages = api.call("updateMessages", ("MESSAGES", batch))
        messages_again = api.call("updateMessages", ("MESSAGES", batch[:1]))
        search = api.call("searchMessages", ("LEGACY_ID", "SMS-2027-0001"))
        by_to = [("TO", "+34612345678"), ("MAX_RESULTS", "1")]
        search_page = api.call("searchMessages", *by_to)
        token = search_page.find(".//t:NEXT_PAGE_TOKEN")
        search_next = api.call("searchMessages", *by_to, ("PAGE_TOKEN", token))

        reservation_errors = api.call(
            "updateReservations",
            (
                "RESERVATIONS",
                [
                    ("RESERVATION", [("APP_DATE", DAY), ("RESOURCE_LID", "DR-GARCIA")]),
                    reservation("E-2", RESOURCE_LID="DR-" + "X" * 60),
                    reservation("E-3", "31/02/2027", RESOURCE_LID="DR-GARCIA"),
                    reservation("E-4", APP_START_TIME="25:61", RESOURCE_LID="DR-GARCIA"),
                    reservation("E-5", RESOURCE_LID="DR-GARCIA", STATUS="MAYBE"),
                    reservation("E-6", RESOURCE_LID="DR-GARCIA"),
                    reservation("E-6", RESOURCE_LID="DR-LOPEZ"),
                ],
            ),
        )
        message_errors = api.call(
            "updateMessages",
            (
                "MESSAGES",
                [
                    ("MESSAGE", [("CHANNEL", "SMS"), ("TO", "612345678"), ("TEXT", "Hola")]),
                    message("M-2", "SMS", "612345678", "Hola " * 400),
                    message("M-3", "EMAIL", "ana@example.org", "Hola"),
                    message("M-4", "SMS", "12", "Hola"),
                    message("M-5", "TELEGRAM", "612345678", "Hola"),
                    message("M-6", "SMS", "612345678", "Hola", EXPIRES_AT="01/01/2027 00:00"),
                    message("M" * 65, "SMS", "612345678", "Hola"),
                ],
            ),
        )

        found = capture_faults(api, workdir)
    return Captured(
        update,
        page1,
        page2,
        cancel,
        delta,
        delta_empty,
        resend,
        messages,
        messages_again,
        search,
        search_page,
        search_next,
        reservation_errors,
        message_errors,
        found,
    )


def capture_faults(api: Service, workdir: Path) -> dict[str, Exchange]:
    """Every fault a request can provoke, provoked."""
    read = envelope("getReservations", ("START_DATE", DAY))
    found = {
        "Client.AuthenticationFailed": api.call(
            "getReservations",
            auth={"INSTANCE": INSTANCE, "USERNAME": USERNAME, "PASSWORD": "not-the-password"},
        ),
        "Client.ValidationError": api.call("getReservations", ("START_DATE", "31/02/2027")),
        "Client.BatchTooLarge": api.call(
            "updateReservations",
            ("RESERVATIONS", [reservation(f"B-{n}", RESOURCE_LID="R") for n in range(1001)]),
        ),
        "Client.RequestTooLarge": api.post(b"<x>" + b"x" * (8 * 1024 * 1024) + b"</x>"),
        "Client.MalformedXML": api.post(read.replace(b"</t:START_DATE>", b"")),
        "Client.InvalidEnvelope": api.post(
            etree.tostring(element("getReservations", [("START_DATE", DAY)]))
        ),
        "VersionMismatch": api.post(
            read.replace(SOAP_ENV.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
            content_type="application/soap+xml; charset=utf-8",
        ),
        "Client.ResourceNotFound": api.post(
            read.replace(b"getReservations", b"deleteReservations")
        ),
        "Client.SOAPActionMismatch": api.post(read, action="updateReservations"),
        "Client.UnsupportedMediaType": api.post(
            read, content_type="application/x-www-form-urlencoded"
        ),
        "Client.RequestNotAllowed": api.post(b"", method="GET"),
    }
    guess = {"INSTANCE": INSTANCE, "USERNAME": "no-such-user", "PASSWORD": "a-guess"}
    for _ in range(30):
        answer = api.call("getReservations", auth=guess)
        if answer.fault()[0] != "Client.AuthenticationFailed":
            break
    found["Client.TooManyAttempts"] = answer

    instances.create_instance(api.app.store, "tt_closed")
    instances.add_user(api.app.store, "tt_closed", USERNAME, PASSWORD)
    instances.disable_instance(api.app.store, "tt_closed")
    closed = {"INSTANCE": "tt_closed", "USERNAME": USERNAME, "PASSWORD": PASSWORD}
    found["Client.InstanceDisabled"] = api.call("getReservations", auth=closed)

    broken = workdir / "broken"
    with service(
        broken,
        TUOTEMPO_DATABASE_URL=f"sqlite:///{broken / 'missing' / 'tuotempo.db'}",
        TUOTEMPO_AUTO_MIGRATE="false",
    ) as down:
        found["Server.DatabaseUnavailable"] = down.call("getReservations")
    return found


# ---------------------------------------------------------------- tables from the declarations


XS = {"string": "xs:string", "int": "xs:int", "long": "xs:long", "boolean": "xs:boolean"}


def type_name(kind: Any) -> str:
    if getattr(kind, "_type_info", None) and kind.get_type_name().endswith("Array"):
        ((member, item),) = kind._type_info.items()
        return f"list of `{member}` ({type_name(item)})"
    name = kind.get_type_name()
    return XS.get(name, f"[{name}](#{name.lower()})" if name in TYPES else name)


TYPES: dict[str, Any] = {
    "Authorization": wire.Authorization,
    "Reservation": wire.Reservation,
    "StoredReservation": wire.StoredReservation,
    "UpdateReservationsResult": wire.UpdateReservationsResult,
    "ReservationItemResult": wire.ReservationItemResult,
    "GetReservationsResult": wire.GetReservationsResult,
    "Message": wire.Message,
    "UpdateMessagesResult": wire.UpdateMessagesResult,
    "MessageItemResult": wire.MessageItemResult,
    "StoredMessage": wire.StoredMessage,
    "SearchMessagesResult": wire.SearchMessagesResult,
    "ServiceFault": wire.ServiceFault,
}


def cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def field_rows(fields: Iterable[tuple[str, Any]]) -> list[str]:
    rows = ["| element | type | | meaning |", "|---|---|---|---|"]
    for name, kind in fields:
        occurs = "required" if kind.Attributes.min_occurs else "optional"
        doc = kind.Annotations.doc
        rows.append(f"| `{name}` | {type_name(kind)} | {occurs} | {cell(doc)} |")
    return rows


def type_table(name: str) -> list[str]:
    kind = TYPES[name]
    lines = [f"#### {name}", ""]
    if kind.__doc__ and name != "ServiceFault":
        lines += [" ".join(kind.__doc__.split()), ""]
    fields = list(kind._type_info.items())
    if name == "StoredReservation":
        guide = set(wire.Reservation._type_info)
        lines += [
            "`RESERVATION_ID`, then every field of [Reservation](#reservation) as stored "
            "(dates `dd/mm/yyyy`, times `hh:mm`, phones E.164; empty ones left out), then:",
            "",
        ]
        fields = [(n, k) for n, k in fields if n not in guide and n != "RESERVATION_ID"]
    return [*lines, *field_rows(fields), ""]


def parameters(operation: str) -> list[str]:
    method = TuotempoService.public_methods[operation]
    return field_rows(method.in_message._type_info.items())


# ---------------------------------------------------------------- the guide's TT_RESERVATIONS

# The guide's declaration of each column (B.1 TT_RESERVATIONS; the four marked
# A.1.1 appear only in the export format), and what it says the column holds.
GUIDE_COLUMNS = {
    "APP_LID": ("[nvarchar](50) NOT NULL, UNIQUE", "ID of the appointment in your software"),
    "APP_DATE": ("[nvarchar](10) NOT NULL", "date of the appointment (dd/mm/yyyy)"),
    "APP_TID": ("[nvarchar](50) NULL", "ID of the appointment in tuOtempO"),
    "APP_START_TIME": ("[nvarchar](5) NULL", "starting time (hh:mm)"),
    "APP_END_TIME": ("[nvarchar](5) NULL", "end time (hh:mm)"),
    "USER_LID": ("[nvarchar](50) NULL", "ID of the patient in your software"),
    "USER_TID": ("[nvarchar](50) NULL", "ID of the patient in tuOtempO"),
    "USER_FIRST_NAME": ("[nvarchar](50) NULL", "first name; for privacy, best left empty"),
    "USER_SECOND_NAME": ("[nvarchar](50) NULL", "second name; best left empty"),
    "USER_THIRD_NAME": ("[nvarchar](50) NULL", "third name; best left empty"),
    "USER_ID_NUMBER": ("[nvarchar](50) NULL", "ID number; best left empty"),
    "USER_LANDLINE_PHONE": ("[nvarchar](50) NULL", "landline"),
    "USER_MOBILE_PHONE": ("[nvarchar](50) NULL", "mobile number"),
    "USER_WORK_PHONE": ("[nvarchar](50) NULL", "work phone"),
    "USER_EMAIL": ("[nvarchar](50) NULL", "e-mail"),
    "PRIVACY": ("[nvarchar](1) NULL", "privacy terms accepted"),
    "COMMUNICATION_PREFERENCES": ("[nvarchar](3) NULL", "SMS, e-mail, landline flags"),
    "USER_DATE_OF_BIRTH": ("[nvarchar](10) NULL", "date of birth (dd/mm/yyyy)"),
    "USER_GENDER": ("[nvarchar](10) NULL", "gender (M, F)"),
    "USER_ZIP_CODE": ("[nvarchar](10) NULL", "zip code"),
    "USER_LANGUAGE": ("[nvarchar](10) NULL", "language for communications"),
    "NOTES": ("[nvarchar](500) NULL", "notes"),
    "RESOURCE_LID": ("[nvarchar](50) NOT NULL", "ID of the resource (doctor)"),
    "RESOURCE_NAME": ("[nvarchar](50) NOT NULL (A.1.1)", "name of the resource"),
    "RESOURCE_MOBILE_PHONE": ("[nvarchar](50) NULL (A.1.1)", "mobile of the resource"),
    "RESOURCE_EMAIL": ("[nvarchar](50) NULL (A.1.1)", "e-mail of the resource"),
    "ACTIVITY_LID": ("[nvarchar](50) NULL", "ID of the activity"),
    "INSURANCE_LID": ("[nvarchar](50) NULL", "ID of the insurance"),
    "LOCATION_LID": ("[nvarchar](50) NULL", "ID of the location"),
    "LOCATION_NAME": ("[nvarchar](50) NULL (A.1.1)", "name of the location"),
    "STATUS": (
        "[nvarchar](50) NULL",
        "PENDING, APPROVED, CANCELLED by USER, CANCELLED by ADMIN",
    ),
    "APP_OWNER_LID": ("[nvarchar](50) NULL", "ID of the user who created the appointment"),
    "APP_OWNER_TID": ("[nvarchar](50) NULL", "ID of the tuOtempO user who created it"),
    "APP_OWNER_NAME": ("[nvarchar](50) NULL", "name of the tuOtempO user who created it"),
}


def mapping_rows() -> list[str]:
    missing = {spec.name for spec in FIELDS} ^ set(GUIDE_COLUMNS)
    require(not missing, f"GUIDE_COLUMNS and domain/reservation.py FIELDS differ: {missing}")
    rows = [
        "| TT_RESERVATIONS column | the guide declares | it holds | `RESERVATION` element: "
        "what the server takes |",
        "|---|---|---|---|",
    ]
    declared_fields: Any = wire.Reservation._type_info  # Spyne's TypeInfo, a dict
    docs = {name: kind.Annotations.doc for name, kind in declared_fields.items()}
    for spec in FIELDS:
        declared, meaning = GUIDE_COLUMNS[spec.name]
        rows.append(
            f"| `{spec.name}` | `{declared}` | {meaning} | `{spec.name}`: "
            f"{cell(docs[spec.name])}{difference(spec, declared)} |"
        )
    return rows


def difference(spec: FieldSpec, declared: str) -> str:
    """Where the server is more lenient than the guide's declaration, say so."""
    notes = []
    if spec.kind == "time":
        notes.append("seconds accepted and dropped")
    if "NOT NULL" in declared and not spec.required:
        notes.append("optional here")
    return f" ({'; '.join(notes)})" if notes else ""


# ---------------------------------------------------------------- faults

# When each fault is sent, for a person; every code the server can send must be here.
FAULT_WHEN = {
    errors.AuthenticationError.code: "unknown instance, unknown user or wrong password "
    "(indistinguishable on purpose)",
    errors.TooManyAttemptsError.code: "too many wrong passwords lately for this user or from "
    "this address; the message and the HTTP `Retry-After` header say when to retry",
    errors.InstanceDisabledError.code: "the credentials are right, but an operator has switched "
    "the instance off: nothing is read or stored until it is switched back on",
    errors.RequestValidationError.code: "a missing `AUTH`; a value that does not fit its WSDL "
    "type; a filter that cannot be read (a date 31/02, `END_DATE` before `START_DATE`, an "
    "unknown `STATUS` or `CHANNEL`, `MAX_RESULTS` 0); a `LAST_REQUEST_TIMESTAMP` or "
    "`PAGE_TOKEN` this server did not hand out; an empty batch",
    errors.BatchTooLargeError.code: "more items in one call than the server takes",
    errors.RequestTooLargeError.code: "a body over the size limit, refused before it is parsed",
    errors.MalformedRequestError.code: "not well-formed XML, an empty body, or any DOCTYPE/ENTITY "
    "declaration (refused outright)",
    faults.INVALID_ENVELOPE: "well-formed XML that is not a SOAP 1.1 envelope with one operation "
    "in its Body",
    faults.VERSION_MISMATCH: "an Envelope in another namespace than SOAP 1.1's (a SOAP 1.2 "
    "envelope); the fault's Header names the envelope we speak",
    faults.UNKNOWN_OPERATION: "the Body names an operation this service does not have",
    faults.SOAP_ACTION_MISMATCH: "the `SOAPAction` header names another operation than the "
    "Body; nothing is run",
    faults.UNSUPPORTED_MEDIA_TYPE: "a `Content-Type` other than `text/xml` (a form, JSON, "
    "`application/soap+xml` with a SOAP 1.1 envelope), or a charset that cannot be decoded",
    faults.REQUEST_NOT_ALLOWED: "an HTTP method other than POST (a GET without `?wsdl`)",
    "Client.TooManyRequests": "sent by nginx (the production recipe, `deploy/nginx.conf`): too "
    "many requests from one address; wait and send them one after the other",
    "Server.Unavailable": "sent by nginx: the application is not answering (restarting); retry "
    "in a minute",
    errors.ServerBusyError.code: "every password-checking slot is taken; retry in a few seconds",
    errors.StoreUnavailableError.code: "the database cannot be reached or does not answer in "
    "time; retry later",
    faults.INTERNAL_ERROR: "a bug: the message holds a reference to quote to support",
}

# Codes of errors.py that never reach a SOAP client (the CLI and the back office's).
NOT_SOAP = {errors.NotFoundError.code, errors.ConflictError.code, errors.ForbiddenError.code}


def nginx_faults() -> dict[str, str]:
    """The faultstrings deploy/nginx.conf answers with, read from the file."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    found = re.findall(r"<faultcode>soap:([\w.]+)</faultcode><faultstring>([^<]*)<", text)
    return dict(found)


def fault_rows(found: dict[str, Exchange]) -> list[str]:
    codes = {c.code for c in vars(errors).values() if isinstance(c, type) and hasattr(c, "code")}
    layer = {
        value
        for name, value in vars(faults).items()
        if name.isupper() and isinstance(value, str) and value.startswith(("Client.", "Server."))
    }
    known = (codes | layer | {faults.VERSION_MISMATCH} | set(nginx_faults())) - NOT_SOAP
    require(known == set(FAULT_WHEN), f"FAULT_WHEN is not every fault: {known ^ set(FAULT_WHEN)}")
    nginx = nginx_faults()
    rows = [
        "| `CODE` (faultcode `soap:CODE`) | when | HTTP | `FIELD` | faultstring (a real one) |",
        "|---|---|---|---|---|",
    ]
    for code, when in FAULT_WHEN.items():
        if code in found:
            got, field, text = found[code].fault()
            require(got == code, f"provoking {code} answered {got}")
            status = found[code].status.split()[0]
            example = f"`{cell(text)}`"
            field_text = f"`{field}`" if field else "—"
        elif code in nginx:
            status, field_text, example = "500", "—", f"`{cell(nginx[code])}`"
        else:
            status, field_text, example = "500", "—", "(not provoked by a request alone)"
        rows.append(f"| `{code}` | {when} | {status} | {field_text} | {example} |")
    return rows


def item_error_rows(exchange: Exchange, key: str) -> list[str]:
    rows = [
        f"| `{key}` | `ERROR_CODE` | `ERROR_FIELD` | `MESSAGE` (a real one) |",
        "|---|---|---|---|",
    ]
    for item in exchange.findall(".//t:ITEM"):
        code = item.findtext(f"{{{TNS}}}ERROR_CODE")
        if code is None:
            continue
        lid = item.findtext(f"{{{TNS}}}{key}")
        shown = "(absent)" if lid is None else lid if len(lid) < 20 else f"{lid[:8]}… ({len(lid)})"
        rows.append(
            f"| {shown} | `{code}` | `{item.findtext(f'{{{TNS}}}ERROR_FIELD')}` "
            f"| {cell(item.findtext(f'{{{TNS}}}MESSAGE'))} |"
        )
    return rows


# ---------------------------------------------------------------- the document


def xml_block(text: str) -> list[str]:
    return ["```xml", text, "```", ""]


def show(exchange: Exchange, title: str, *, request: bool = True) -> list[str]:
    lines = []
    if request:
        lines += [f"{title}, the request:", "", *xml_block(exchange.request)]
    headers = "; ".join(f"`{k}: {v}`" for k, v in exchange.headers.items())
    lead = f"{title}, the answer" if title and not request else "The answer"
    lines += [f"{lead} (HTTP {exchange.status}; {headers}):", "", *xml_block(exchange.answer)]
    return lines


def render(workdir: Path) -> str:
    got = capture(workdir)
    settings = Settings.from_env({})
    page1_cursor = got.page1.find(".//t:NEXT_REQUEST_TIMESTAMP")
    out: list[str] = []
    add = out.extend

    add(
        [
            "# Integrator's guide",
            "",
            "<!-- Generated by docs/generate_integrators.py from the service itself: edit the "
            "generator, then run it. tests/integration/test_integrators_guide.py fails when "
            "this file is stale. -->",
            "",
            "For the developers of a HIS (the clinic's software) who connect it to tuotempo-soap: "
            "the contract operation by operation, with a real request and answer for each, the "
            "errors, the delta-read loop, paging, idempotency, time zones, limits, and where each "
            "column of the guide's `TT_RESERVATIONS` view goes. Every example below was "
            "exchanged with the service while this page was generated (instance `tt_demo`, "
            "time zone Europe/Madrid, the clock fixed at "
            f"{START:%d/%m/%Y %H:%M} UTC); ids and timestamps are what a fresh instance answers.",
            "",
            "## Contents",
            "",
            "- [The service](#the-service)",
            "- [updateReservations](#updatereservations)",
            "- [getReservations](#getreservations)",
            "- [The delta-read loop](#the-delta-read-loop)",
            "- [updateMessages](#updatemessages)",
            "- [searchMessages](#searchmessages)",
            "- [Paging](#paging)",
            "- [Idempotency and retries](#idempotency-and-retries)",
            "- [Time zones and formats](#time-zones-and-formats)",
            "- [Limits](#limits)",
            "- [Item errors](#item-errors)",
            "- [Faults](#faults)",
            "- [Types](#types)",
            "- [From TT_RESERVATIONS to RESERVATION](#from-tt_reservations-to-reservation)",
            "- [Clients](#clients)",
            "",
            "## The service",
            "",
            "- One SOAP 1.1 service, document/literal wrapped, target namespace "
            f"`{TNS}`, four operations: " + ", ".join(f"`{op}`" for op in OPERATIONS) + ".",
            "- Endpoint `https://<your server>/soap`; the WSDL is served at `/soap?wsdl` (and "
            "committed as `wsdl/tuotempo.wsdl`). Generate your client from it: every element "
            "name below is the WSDL's.",
            "- POST with `Content-Type: text/xml; charset=utf-8`. `SOAPAction` may be empty, "
            'absent, or the operation\'s name (`"getReservations"`); naming another operation '
            "than the Body is refused.",
            "- Every request carries an `AUTH` block in the Body (`INSTANCE`, `USERNAME`, "
            "`PASSWORD`): no SOAP header to write. A user belongs to one instance and sees only "
            "that instance's data.",
            "- Element order follows the WSDL; optional elements may be left out (absent and "
            "empty are the same). Answers leave out the optional elements that have no value.",
            "- A batch is answered item by item: a bad item is refused with a code and the "
            "field at fault, the others are stored. A problem with the request as a whole is a "
            "SOAP fault with a typed `ServiceFault` detail (`CODE`, `FIELD`, `MESSAGE`).",
            "",
        ]
    )

    # updateReservations
    add(
        [
            "## updateReservations",
            "",
            "Creates or updates appointments, by `APP_LID` within the instance. Send each "
            "appointment whenever it is created or changes (status, time, phone...), with all "
            "its fields: a field left out is stored as empty. The whole batch is one "
            "transaction; each item is answered, in input order.",
            "",
            *parameters("updateReservations"),
            "",
            "The answer is an [UpdateReservationsResult](#updatereservationsresult): `RESULT` "
            "`OK` (all stored), `PARTIAL` (some refused) or `ERROR` (none stored), the counts, "
            "and one [ReservationItemResult](#reservationitemresult) per item.",
            "",
            *show(got.update, "A day's appointments, one of them dated 31/02"),
            "Phones are stored and come back in E.164 with the instance's country (`612 34 56 "
            "78` is `+34612345678`), e-mail addresses with their domain in lower case; "
            "`RESERVATION_ID` is ours. The refused item changed nothing: send it again once "
            "corrected.",
            "",
        ]
    )

    # getReservations
    add(
        [
            "## getReservations",
            "",
            "Reads appointments back with what happened to them: `STATUS` and who set it, the "
            "patient's answer to a reminder (`PATIENT_ANSWER`, `PATIENT_ANSWER_CHANNEL`, "
            "`PATIENT_ANSWER_TIME`). Filters combine with AND; dates filter on `APP_DATE`. "
            "Results come in change order, a page at a time.",
            "",
            *parameters("getReservations"),
            "",
            "The answer is a [GetReservationsResult](#getreservationsresult) holding "
            "[StoredReservation](#storedreservation)s.",
            "",
            *show(got.page1, f"The appointments of {DAY}, two per page"),
        ]
    )

    # delta loop
    add(
        [
            "## The delta-read loop",
            "",
            "A HIS that wants to know what changed (a patient confirmed or cancelled by SMS, "
            "the desk cancelled by phone) does not re-read everything: it keeps the "
            "`NEXT_REQUEST_TIMESTAMP` of its last answer and passes it back, unchanged, as "
            "`LAST_REQUEST_TIMESTAMP`. The answer holds only what changed since, in change "
            "order, and a new cursor.",
            "",
            "```text",
            "cursor = load()                       # none on the very first run",
            "loop:",
            "    page = getReservations(AUTH, START_DATE, END_DATE, LAST_REQUEST_TIMESTAMP=cursor)",
            "    apply(page.RESERVATIONS)          # upsert by APP_LID on your side",
            "    cursor = page.NEXT_REQUEST_TIMESTAMP",
            "    save(cursor)                      # with the data applied, in one transaction",
            "    if not page.MORE_RESULTS: break   # caught up: sleep until the next run",
            "```",
            "",
            "- The cursor (`21/11/2026 22:15:23#1234`: when, and the exact change number) is "
            "opaque: store it as text, never parse or build one. The change number makes it "
            "exact: two changes within one second, or a row committed late by a concurrent "
            "call, come back on the next call, once; nothing is lost or repeated.",
            "- Keep the same filters from one call to the next.",
            "- On the very first run, leave `LAST_REQUEST_TIMESTAMP` out (everything), or give "
            "a plain date-time `dd/mm/yyyy hh:mm:ss` in the instance's time zone (everything "
            "changed at or after it). A cursor the server did not hand out is refused with "
            "`Client.ValidationError`, FIELD `LAST_REQUEST_TIMESTAMP`.",
            "- A HIS's own changes come back too (here: the cancellation it just sent), "
            "marked `STATUS_CHANGED_BY` `HIS`; a patient's answer is marked `PATIENT`.",
            "",
            f"The second page of the read above, with its cursor `{page1_cursor}`:",
            "",
            *show(got.page2, "", request=False),
            "Two hours later the HIS sends a cancellation (`HIS-1002`, `CANCELLED by USER`), "
            "then reads from the cursor it kept:",
            "",
            *show(got.delta, "The delta read"),
            "And once more, from the cursor of that answer: nothing changed since.",
            "",
            *show(got.delta_empty, "", request=False),
        ]
    )

    # updateMessages
    add(
        [
            "## updateMessages",
            "",
            "Hands messages to the gateway (SMS, e-mail, voice, fax, push, WhatsApp). An "
            "accepted message is queued in the database and sent by the server's worker; "
            "nothing is lost if the server restarts. `LEGACY_ID` is your id for the message.",
            "",
            *parameters("updateMessages"),
            "",
            "The answer is an [UpdateMessagesResult](#updatemessagesresult): `RESULT`, the "
            "counts, and one [MessageItemResult](#messageitemresult) per message (`SEGMENTS`: "
            "the SMS parts the text needs, GSM-7 or UCS-2).",
            "",
            *show(got.messages, "Two SMS (the second scheduled) and an e-mail to a bad address"),
            "The first SMS needs two segments: `í` is not in the GSM-7 alphabet, so the whole "
            "text goes as UCS-2, 70 characters a segment (67 when split). `ñ` is in GSM-7.",
            "",
        ]
    )

    # searchMessages
    add(
        [
            "## searchMessages",
            "",
            "What became of messages: by your `LEGACY_ID` (exactly one), or every message "
            "`TO` a number or address (any spelling of it), by channel, status, creation or "
            "sending time. The text is never returned.",
            "",
            *parameters("searchMessages"),
            "",
            "The answer is a [SearchMessagesResult](#searchmessagesresult) holding "
            "[StoredMessage](#storedmessage)s. `STATUS` moves forward only: `QUEUED`, "
            "`SENDING`, `SENT`, then `DELIVERED`, `FAILED`, `EXPIRED` or `CANCELLED` (final).",
            "",
            *show(got.search, "One message by its LEGACY_ID"),
        ]
    )

    # paging
    add(
        [
            "## Paging",
            "",
            f"Both reads answer at most `MAX_RESULTS` items per call (default "
            f"{settings.default_page_size}, at most {settings.max_page_size}; a larger value is "
            "lowered to it) and say `MORE_RESULTS` `true` when there is more:",
            "",
            "- getReservations: call again with `LAST_REQUEST_TIMESTAMP` = the "
            "`NEXT_REQUEST_TIMESTAMP` of the page (the same cursor as the delta read: paging "
            "and delta reads are one loop, [above](#the-delta-read-loop)).",
            "- searchMessages: call again with `PAGE_TOKEN` = the `NEXT_PAGE_TOKEN` of the page "
            "and the same filters.",
            "",
            *show(got.search_page, "Every message to +34612345678, one per page"),
            *show(got.search_next, "The next page"),
        ]
    )

    # idempotency
    add(
        [
            "## Idempotency and retries",
            "",
            "Every write can be sent again safely, so a HIS that did not get an answer (a "
            "timeout, a dropped connection, a `Server.*` fault) retries the same call:",
            "",
            "- updateReservations upserts by `APP_LID`: an item equal to what is stored answers "
            "`ACTION` `UNCHANGED` and changes nothing (no new change number, so delta reads do "
            "not see it again).",
            "- updateMessages is idempotent by `LEGACY_ID` within the instance, across "
            "concurrent calls too: a legacy id seen before answers `ALREADY_QUEUED` with the "
            "first `MESSAGE_ID`, and the message is never queued, so never sent, twice. Use a "
            "new `LEGACY_ID` for each new message.",
            "- Reads have no effect; retry them as they are.",
            "- Retry `Server.*` faults and transport errors with a growing pause (a few seconds, "
            "then minutes); do not retry `Client.*` faults unchanged: they will be refused "
            "again. `Client.TooManyAttempts` says in `Retry-After` when to try again.",
            "",
            *show(got.resend, "The cancellation sent a second time", request=False),
            *show(got.messages_again, "The first SMS sent a second time", request=False),
        ]
    )

    # time zones
    add(
        [
            "## Time zones and formats",
            "",
            "Each instance has a time zone (Europe/Madrid unless set otherwise when it was "
            "created) and a country (for phone numbers).",
            "",
            "- `APP_DATE`, `APP_START_TIME`, `APP_END_TIME` and `USER_DATE_OF_BIRTH` are the "
            "clinic's wall-clock values: stored and returned as given, never converted. Dates "
            "are `dd/mm/yyyy` (also accepted: `d/m/yyyy`, `yyyy-mm-dd`, `dd-mm-yyyy`, "
            "`dd.mm.yyyy`), times `hh:mm` (also `h:mm`, `hh:mm:ss`).",
            "- Every timestamp the server writes (`LAST_UPDATE`, `STATUS_CHANGED_AT`, "
            "`PATIENT_ANSWER_TIME`, `CREATED`, `SEND_AT`, `DELIVERED_AT`, the time in "
            "`NEXT_REQUEST_TIMESTAMP`) is `dd/mm/yyyy hh:mm:ss` in the instance's time zone: "
            f"the examples ran at {START:%H:%M} UTC, and the first answer says `LAST_UPDATE` "
            f"`{got.page1.find('.//t:RESERVATION/t:LAST_UPDATE')}`.",
            "- `SEND_AT` and `EXPIRES_AT` take `dd/mm/yyyy hh:mm[:ss]` in the instance's time "
            "zone, or ISO 8601 with an offset (`2027-03-14T18:00:00+01:00`); they come back in "
            "the instance's time zone (the second SMS above).",
            "- searchMessages' bounds (`CREATED_FROM`, `CREATED_TO`, `SENT_FROM`, `SENT_TO`) "
            "are in the instance's time zone; a date alone covers the whole day. getReservations"
            "' `START_DATE` and `END_DATE` compare with `APP_DATE` as it is.",
            "- Text is Unicode: send UTF-8 (`ñ`, `€` and `ª` go both ways unchanged).",
            "",
        ]
    )

    # limits
    add(
        [
            "## Limits",
            "",
            "| what | limit | over it |",
            "|---|---|---|",
            f"| items in one updateReservations or updateMessages call | "
            f"{settings.max_batch_items:,} (`TUOTEMPO_MAX_BATCH_ITEMS`) | "
            "`Client.BatchTooLarge` (nothing stored) |",
            f"| request body | {settings.max_body_bytes // (1024 * 1024)} MiB "
            "(`TUOTEMPO_MAX_BODY_BYTES`) | `Client.RequestTooLarge` |",
            f"| page size (`MAX_RESULTS`) | default {settings.default_page_size}, at most "
            f"{settings.max_page_size} (`TUOTEMPO_DEFAULT_PAGE_SIZE`, "
            "`TUOTEMPO_MAX_PAGE_SIZE`) | lowered to the maximum |",
            "| reservation fields | the guide's lengths (see "
            "[the mapping](#from-tt_reservations-to-reservation)) | the item: `FIELD_TOO_LONG` |",
            f"| SMS text | {MAX_SMS_SEGMENTS} segments | the item: `FIELD_TOO_LONG` |",
            f"| wrong passwords | a growing wait from the "
            f"{settings.auth_failures_before_delay}rd failure of a user at an address, a "
            f"{settings.auth_lock_seconds:.0f} s lock from the "
            f"{settings.auth_failures_before_lock}th | `Client.TooManyAttempts` with "
            "`Retry-After` |",
            "| requests per address (the nginx recipe) | 20 a second, bursts of 200, 32 at once "
            "| `Client.TooManyRequests` with `Retry-After: 1` |",
            "",
            "Calls of one instance that write wait for each other (each batch holds the "
            "instance's change sequence until it commits), so send batches of up to a few "
            "hundred items one after the other rather than many small ones in parallel.",
            "",
        ]
    )

    # item errors
    add(
        [
            "## Item errors",
            "",
            "A refused item has `RESULT` `ERROR`, a stable `ERROR_CODE` to branch on, the "
            "`ERROR_FIELD` at fault and a `MESSAGE` for a person; the other items of the batch "
            "are stored. Items stored with something worth a look (an unusable phone number, an "
            "invalid e-mail address) are `OK` with `WARNINGS`. One bad item of each kind, as "
            "answered:",
            "",
            "updateReservations:",
            "",
            *item_error_rows(got.reservation_errors, "APP_LID"),
            "",
            "(`DUPLICATE_APP_LID`: the same `APP_LID` twice in one batch; the first is stored.)",
            "",
            "updateMessages:",
            "",
            *item_error_rows(got.message_errors, "LEGACY_ID"),
            "",
        ]
    )

    # faults
    auth_fault = got.faults["Client.ValidationError"]
    add(
        [
            "## Faults",
            "",
            "A problem with the request as a whole is a SOAP 1.1 fault, never an HTML page. "
            "Every fault has the same shape: `faultcode` `soap:<CODE>` (your toolkit may show "
            "its own prefix for the SOAP namespace), a `faultstring` for a person, and a "
            "`<detail>` holding the [ServiceFault](#servicefault) the WSDL declares on every "
            "operation, so generated clients raise a typed exception (Java, PHP, gSOAP, zeep) "
            "or expose the detail (.NET). Branch on `CODE`; `FIELD` names the culprit when "
            "there is one. Faults are HTTP 500 as SOAP 1.1 requires, except the two refusals "
            "at the HTTP level (405, 415).",
            "",
            *fault_rows(got.faults),
            "",
            *show(auth_fault, "A fault"),
        ]
    )

    # types
    add(["## Types", "", "Every complex type of the WSDL, as declared.", ""])
    for name in TYPES:
        add(type_table(name))

    # mapping
    add(
        [
            "## From TT_RESERVATIONS to RESERVATION",
            "",
            "A HIS that already exports the guide's appointments view (A.2.1 / B.1 "
            "`TT_RESERVATIONS`, or the A.1.1 export) sends each row as one `RESERVATION`: the "
            "element names are the column names, with the same lengths and NOT NULL rules. "
            "The last column is the WSDL's own documentation of each element.",
            "",
            *mapping_rows(),
            "",
            "Patient names and ID numbers are stored only if the instance was created to keep "
            "patient identity (`--store-patient-identity`); otherwise they are accepted and "
            "dropped, as the guide advises.",
            "",
        ]
    )

    # clients
    add(
        [
            "## Clients",
            "",
            "Each of these is run against a real server by the test suite (all but the "
            "`dotnet-svcutil` variant, described in the C# example's README):",
            "",
            "| toolkit | example | notes |",
            "|---|---|---|",
            "| Python, zeep | `examples/python_client/his_sync.py` | faults are "
            "`zeep.exceptions.Fault` with the detail element |",
            "| Java, JAX-WS `wsimport` | `examples/java_client/` | `ServiceFault_Exception`, "
            "`getFaultInfo().getCODE()`; JDK 11+ needs the JAX-WS RI jars |",
            "| C#, `wsdl` (ASMX; `dotnet-svcutil` on modern .NET) | `examples/csharp_client/` | "
            "ASMX: a plain `SoapException` whose `Detail` holds the ServiceFault; WCF: "
            "`FaultException<ServiceFault>` |",
            "| PHP, `SoapClient` | `examples/php_client/` | `SOAP_SINGLE_ELEMENT_ARRAYS`; "
            "`$fault->detail->ServiceFault->CODE` |",
            "| Node.js, node-soap | `examples/node_client/` | the fault's detail in "
            "`err.root.Envelope.Body.Fault.detail.ServiceFault` |",
            "| C++, gSOAP | `examples/gsoap_client/` | create the proxy with "
            "`SOAP_C_UTFSTRING`, or non-ASCII text is sent as Latin-1 |",
            "| curl, raw envelopes | `examples/curl/` | every operation and every fault above, "
            "one file each |",
            "",
        ]
    )
    return "\n".join(out).rstrip() + "\n"


def generate() -> str:
    with tempfile.TemporaryDirectory(prefix="integrators-") as workdir:
        return render(Path(workdir))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    options = parser.parse_args(argv)
    text = generate()
    if options.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), "committed", "generated", lineterm=""
            )
            print("\n".join(list(diff)[:60]), file=sys.stderr)
            print(f"{OUTPUT} is stale: run python docs/generate_integrators.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
