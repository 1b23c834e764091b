"""Every fault of every operation, whoever raises it (our services, Spyne while
reading the request, the HTTP layer before Spyne), arrives in the one shape the
WSDL declares: ``faultcode`` ``soap:<CODE>``, a ``faultstring``, and a
``<detail><ServiceFault>`` that validates against the WSDL's schema, with
``CODE``, ``FIELD`` when one field is at fault, and ``MESSAGE``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import Credentials
from tests.integration.soap.conftest import (
    SOAP12_ENV,
    TNS,
    SoapFault,
    SoapHttp,
    auth_xml,
    envelope,
    fault_of,
    message_xml,
    reservation_xml,
    service_fault_schema,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.web.app import create_app

OPERATIONS = ("updateReservations", "getReservations", "updateMessages", "searchMessages")
MAX_ITEMS = 3
MAX_BODY = 8192
XSI = "http://www.w3.org/2001/XMLSchema-instance"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, max_batch_items=MAX_ITEMS, max_body_bytes=MAX_BODY)


def valid_inner(operation: str, who: Credentials, **auth: str) -> str:
    """A request that would succeed, so each case changes one thing only."""
    block = auth_xml(who, **auth)
    if operation == "updateReservations":
        return block + f"<t:RESERVATIONS>{reservation_xml('F-1')}</t:RESERVATIONS>"
    if operation == "updateMessages":
        return block + f"<t:MESSAGES>{message_xml('F-1')}</t:MESSAGES>"
    return block


def validation_case(operation: str, who: Credentials) -> tuple[str, str]:
    """(request inner, FIELD) of a value the service refuses, per operation."""
    return {
        "updateReservations": (auth_xml(who) + "<t:RESERVATIONS/>", "RESERVATIONS"),
        "getReservations": (
            auth_xml(who) + "<t:START_DATE>31/02/2027</t:START_DATE>",
            "START_DATE",
        ),
        "updateMessages": (auth_xml(who) + "<t:MESSAGES/>", "MESSAGES"),
        "searchMessages": (auth_xml(who) + "<t:CHANNEL>PIGEON</t:CHANNEL>", "CHANNEL"),
    }[operation]


def wrong_type_case(operation: str, who: Credentials) -> tuple[str, str]:
    """(request inner, FIELD) of a value that does not fit its WSDL type, as Spyne reads it."""
    if operation in ("getReservations", "searchMessages"):
        return auth_xml(who) + "<t:MAX_RESULTS>612 345 678</t:MAX_RESULTS>", "MAX_RESULTS"
    block, item = (
        ("RESERVATIONS", "RESERVATION")
        if operation == "updateReservations"
        else ("MESSAGES", "MESSAGE")
    )
    inner = (
        f'<t:{item} xmlns:xsi="{XSI}" xsi:type="t:NoSuchType"><t:APP_LID>X</t:APP_LID></t:{item}>'
    )
    return auth_xml(who) + f"<t:{block}>{inner}</t:{block}>", item


def too_many_items(operation: str, who: Credentials) -> tuple[str, str]:
    if operation == "updateReservations":
        items = "".join(reservation_xml(f"T-{i}") for i in range(MAX_ITEMS + 1))
        return auth_xml(who) + f"<t:RESERVATIONS>{items}</t:RESERVATIONS>", "RESERVATIONS"
    items = "".join(message_xml(f"T-{i}") for i in range(MAX_ITEMS + 1))
    return auth_xml(who) + f"<t:MESSAGES>{items}</t:MESSAGES>", "MESSAGES"


@dataclass(frozen=True)
class Case:
    name: str
    operations: tuple[str, ...]
    # (http, who, operation) -> fault
    send: Callable[[SoapHttp, Credentials, str], SoapFault]
    code: str
    field: str | None
    status: int = 500


def _post(http: SoapHttp, body: str | bytes, **headers: str | None) -> SoapFault:
    return fault_of(http.post(body, **headers))  # type: ignore[arg-type]


CASES = [
    Case(
        "wrong password",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, valid_inner(op, who, PASSWORD="nope-x"))),
        "Client.AuthenticationFailed",
        None,
    ),
    Case(
        "unknown instance",
        OPERATIONS,
        lambda http, who, op: _post(
            http, envelope(op, valid_inner(op, who, INSTANCE="tt_nowhere"))
        ),
        "Client.AuthenticationFailed",
        None,
    ),
    Case(
        "no AUTH block",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, valid_inner(op, who).split("</t:AUTH>")[1])),
        "Client.ValidationError",
        "AUTH",
    ),
    Case(
        "a value the service refuses",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, validation_case(op, who)[0])),
        "Client.ValidationError",
        "<per operation>",
    ),
    Case(
        "a value of the wrong type",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, wrong_type_case(op, who)[0])),
        "Client.ValidationError",
        "<per operation>",
    ),
    Case(
        "an integer out of xs:int",
        ("getReservations", "searchMessages"),
        lambda http, who, op: _post(
            http, envelope(op, auth_xml(who) + "<t:MAX_RESULTS>99999999999</t:MAX_RESULTS>")
        ),
        "Client.ValidationError",
        "MAX_RESULTS",
    ),
    Case(
        "a page size of 0",
        ("getReservations", "searchMessages"),
        lambda http, who, op: _post(
            http, envelope(op, auth_xml(who) + "<t:MAX_RESULTS>0</t:MAX_RESULTS>")
        ),
        "Client.ValidationError",
        "MAX_RESULTS",
    ),
    Case(
        "too many items",
        ("updateReservations", "updateMessages"),
        lambda http, who, op: _post(http, envelope(op, too_many_items(op, who)[0])),
        "Client.BatchTooLarge",
        "<per operation>",
    ),
    Case(
        "a body over the limit",
        OPERATIONS,
        lambda http, who, op: _post(
            http, envelope(op, valid_inner(op, who) + "<!--" + "x" * MAX_BODY + "-->")
        ),
        "Client.RequestTooLarge",
        None,
    ),
    Case(
        "malformed XML",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, valid_inner(op, who))[:-40]),
        "Client.MalformedXML",
        None,
    ),
    Case(
        "a SOAP 1.2 envelope",
        OPERATIONS,
        lambda http, who, op: _post(
            http,
            envelope(op, valid_inner(op, who), ns=SOAP12_ENV),
            content_type=f'application/soap+xml; charset=utf-8; action="{op}"',
            soap_action=None,
        ),
        "VersionMismatch",
        None,
    ),
    Case(
        "a SOAP 1.2 envelope sent as text/xml",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, valid_inner(op, who), ns=SOAP12_ENV)),
        "VersionMismatch",
        None,
    ),
    Case(
        "the operation in another namespace",
        OPERATIONS,
        lambda http, who, op: _post(http, envelope(op, valid_inner(op, who), tns="urn:other")),
        "Client.ResourceNotFound",
        None,
    ),
    Case(
        "a JSON body",
        OPERATIONS,
        lambda http, who, op: _post(
            http, f'{{"operation": "{op}"}}', content_type="application/json"
        ),
        "Client.UnsupportedMediaType",
        "Content-Type",
        415,
    ),
    Case(
        "a SOAPAction naming another operation",
        OPERATIONS,
        lambda http, who, op: _post(
            http,
            envelope(op, valid_inner(op, who)),
            soap_action='"deleteEverything"' if op != "getReservations" else '"updateMessages"',
        ),
        "Client.SOAPActionMismatch",
        "SOAPAction",
    ),
    Case(
        "an empty Body",
        ("-",),
        lambda http, who, op: _post(http, envelope("x", "").replace("<t:x></t:x>", "")),
        "Client.InvalidEnvelope",
        None,
    ),
    Case(
        "an operation we do not have",
        ("deleteEverything",),
        lambda http, who, op: _post(http, envelope(op, auth_xml(who))),
        "Client.ResourceNotFound",
        None,
    ),
    Case(
        "not a SOAP envelope",
        ("-",),
        lambda http, who, op: _post(http, f'<t:getReservations xmlns:t="{TNS}"/>'),
        "Client.InvalidEnvelope",
        None,
    ),
    Case(
        "a DOCTYPE",
        ("getReservations",),
        lambda http, who, op: _post(
            http, '<!DOCTYPE x [<!ENTITY e "e">]>' + envelope(op, auth_xml(who))
        ),
        "Client.MalformedXML",
        None,
    ),
    Case(
        "GET instead of POST",
        ("-",),
        lambda http, who, op: fault_of(http.client.get("/soap")),
        "Client.RequestNotAllowed",
        None,
        405,
    ),
]
FIELD_PER_OPERATION = {
    "a value the service refuses": validation_case,
    "a value of the wrong type": wrong_type_case,
    "too many items": too_many_items,
}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return service_fault_schema()


def check_fault(fault: SoapFault, code: str, field: str | None, schema: etree.XMLSchema) -> None:
    assert fault.code == f"soap:{code}"
    assert fault.string.strip()
    assert fault.detail is not None, "no <detail><ServiceFault>"
    detail = etree.fromstring(etree.tostring(fault.detail))
    assert schema.validate(detail), schema.error_log
    assert fault.detail_text("CODE") == code
    assert fault.detail_text("FIELD") == field
    assert fault.detail_text("MESSAGE") == fault.string


@pytest.mark.parametrize(
    ("case", "operation"),
    [pytest.param(case, op, id=f"{op}: {case.name}") for case in CASES for op in case.operations],
)
def test_every_fault_carries_the_typed_detail(
    http: SoapHttp,
    his: Credentials,
    schema: etree.XMLSchema,
    case: Case,
    operation: str,
) -> None:
    fault = case.send(http, his, operation)
    field = case.field
    if field == "<per operation>":
        field = FIELD_PER_OPERATION[case.name](operation, his)[1]
    assert fault.status == case.status
    check_fault(fault, case.code, field, schema)


def test_the_valid_requests_of_the_cases_succeed(http: SoapHttp, his: Credentials) -> None:
    """The cases above change one thing in a request that works."""
    for operation in OPERATIONS:
        response = http.post(envelope(operation, valid_inner(operation, his)))
        assert response.status_code == 200, response.data[:500]


def test_version_mismatch_names_the_envelope_we_speak(http: SoapHttp, his: Credentials) -> None:
    response = http.post(
        envelope("getReservations", auth_xml(his), ns=SOAP12_ENV),
        content_type="application/soap+xml; charset=utf-8",
    )
    root = etree.fromstring(response.data)
    assert etree.QName(root).namespace == "http://schemas.xmlsoap.org/soap/envelope/"
    supported = root.find(f"*/{{{SOAP12_ENV}}}Upgrade/{{{SOAP12_ENV}}}SupportedEnvelope")
    assert supported is not None
    prefix, _, local = supported.get("qname").partition(":")
    assert (supported.nsmap[prefix], local) == (
        "http://schemas.xmlsoap.org/soap/envelope/",
        "Envelope",
    )


def test_an_unreachable_database_is_a_typed_fault(settings: Settings, tmp_path: Path) -> None:
    """The database cannot be opened: Server.DatabaseUnavailable, typed like the rest."""
    broken = replace(
        settings,
        database_url=f"sqlite:///{tmp_path / 'no-such-dir' / 'tuotempo.db'}",
        auto_migrate=False,
    )
    app = create_app(broken)
    try:
        http = SoapHttp(app)
        who = Credentials("tt_any", "his", "secret-password")
        fault = fault_of(http.post(envelope("getReservations", auth_xml(who))))
    finally:
        app.store.dispose()
    assert fault.status == 500
    check_fault(fault, "Server.DatabaseUnavailable", None, service_fault_schema())


def test_throttled_sign_ins_are_typed_and_say_when_to_retry(
    http: SoapHttp, his: Credentials, schema: etree.XMLSchema
) -> None:
    body = envelope("getReservations", auth_xml(his, PASSWORD="guess-again"))
    for _ in range(30):
        response = http.post(body, environ={"REMOTE_ADDR": "192.0.2.77"})
        fault = fault_of(response)
        if fault.code != "soap:Client.AuthenticationFailed":
            break
    check_fault(fault, "Client.TooManyAttempts", "AUTH", schema)
    assert fault.status == 500
    assert int(response.headers["Retry-After"]) >= 1
