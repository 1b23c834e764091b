"""The fast SOAP path (``TUOTEMPO_SOAP_ENGINE=fast``) against Spyne's own path.

Two applications, one per engine, each over its own database holding the same
instance, the same clock, are sent the same requests in the same order from
the same client addresses: valid, odd and invalid envelopes (the log-privacy
fuzz corpus, plus the shapes the other SOAP tests use and the edges of each
type). Every answer must be the same bytes: status, Content-Type and the
other headers, body. Only the reference of an internal error (random by
design) is normalised.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.test import Client, TestResponse

from tests.fuzz_envelopes import Patient, corpus
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.web.app import TuotempoApp, create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tuotempo-soap.org/v1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML = {"Content-Type": "text/xml; charset=utf-8"}
INSTANCE = "tt_differential"
PASSWORD = "a-long-enough-password-1"
_REFERENCE = re.compile(rb"reference [0-9a-f]{12}")


@dataclass(frozen=True)
class Case:
    label: str
    body: bytes
    headers: dict[str, str]
    address: str


@dataclass
class Pair:
    spyne: TuotempoApp
    fast: TuotempoApp

    def send(self, case: Case) -> tuple[TestResponse, TestResponse]:
        answers = []
        # The same request id for both: each answer echoes it in X-Request-ID.
        request_id = f"differential-{secrets.token_hex(6)}"
        for app in (self.spyne, self.fast):
            answers.append(
                Client(app).post(
                    "/soap",
                    data=case.body,
                    headers={**case.headers, "X-Request-ID": request_id},
                    environ_overrides={"REMOTE_ADDR": case.address},
                )
            )
        return answers[0], answers[1]


def _app(tmp_path: Path, engine: str, clock_file: Path) -> TuotempoApp:
    settings = Settings.from_env(
        {
            "TUOTEMPO_DATABASE_URL": f"sqlite:///{tmp_path / engine}.db",
            "TUOTEMPO_DATA_DIR": str(tmp_path / engine),
            "TUOTEMPO_SOAP_ENGINE": engine,
            "TUOTEMPO_CLOCK_FILE": str(clock_file),
            "TUOTEMPO_MAX_BATCH_ITEMS": "150",
        }
    )
    app = create_app(settings)
    instances.create_instance(app.store, INSTANCE)
    instances.add_user(app.store, INSTANCE, "his", PASSWORD)
    return app


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    clock_file = tmp_path / "clock"
    clock_file.write_text("2027-02-01T08:00:00")
    made = Pair(_app(tmp_path, "spyne", clock_file), _app(tmp_path, "fast", clock_file))
    assert made.spyne.fast_soap is None and made.fast.fast_soap is not None
    yield made
    made.spyne.store.dispose()
    made.fast.store.dispose()
    clock.configure(None)


def _auth(password: str = PASSWORD, instance: str = INSTANCE) -> str:
    return (
        f"<t:AUTH><t:INSTANCE>{instance}</t:INSTANCE><t:USERNAME>his</t:USERNAME>"
        f"<t:PASSWORD>{password}</t:PASSWORD></t:AUTH>"
    )


def _env(operation: str, inner: str, *, header: str = "") -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:t="{TNS}" xmlns:xsi="{XSI}">'
        f"{header}<soapenv:Body><t:{operation}>{inner}</t:{operation}></soapenv:Body>"
        "</soapenv:Envelope>"
    )


def _reservation(n: int, **fields: str) -> str:
    values = {
        "APP_LID": f"D-{n}",
        "APP_DATE": f"{1 + n % 28:02d}/03/2027",
        "APP_START_TIME": f"{8 + n % 10:02d}:{(n * 5) % 60:02d}",
        "RESOURCE_LID": f"DR-{n % 7}",
        "USER_MOBILE_PHONE": f"6{n:08d}",
        "USER_LANDLINE_PHONE": f"+3491{n:07d}",
        "USER_EMAIL": f"p{n}@example.org",
        "STATUS": "PENDING",
        "NOTES": f"note {n} &amp; more <![CDATA[<x>]]> é",
    }
    values.update(fields)
    inner = "".join(
        f"<t:{name}/>" if value == "" else f"<t:{name}>{value}</t:{name}>"
        for name, value in values.items()
        if value is not None
    )
    return f"<t:RESERVATION>{inner}</t:RESERVATION>"


def _batch(items: list[str], auth: str | None = None) -> str:
    return _env(
        "updateReservations",
        (auth if auth is not None else _auth())
        + f"<t:RESERVATIONS>{''.join(items)}</t:RESERVATIONS>",
    )


def _handmade() -> Iterator[tuple[str, str | bytes, dict[str, str]]]:
    """The shapes the other SOAP tests send, and the edges of every type."""
    hundred = [_reservation(n) for n in range(100)]
    yield "100 new", _batch(hundred), {"SOAPAction": '"updateReservations"'}
    yield "100 unchanged", _batch(hundred), {"SOAPAction": '""'}
    changed = [_reservation(n, NOTES=f"changed {n}") for n in range(100)]
    yield "100 updated", _batch(changed), {}
    mixed = [
        _reservation(200, APP_LID=""),
        _reservation(201, APP_DATE="31/02/2027"),
        _reservation(202, USER_MOBILE_PHONE="12"),
        _reservation(203, USER_EMAIL="not an address"),
        _reservation(204, STATUS="MAYBE"),
        _reservation(205, APP_START_TIME="9:5"),
        _reservation(206, RESOURCE_LID="x" * 300),
        _reservation(207, USER_MOBILE_PHONE="  +34 600 000 207 "),
        _reservation(208, APP_LID="  spaced  "),
        "<t:RESERVATION/>",
        _reservation(209, STATUS="CANCELLED by USER"),
        _reservation(210, USER_GENDER="X", PRIVACY="2", COMMUNICATION_PREFERENCES="abc"),
        _reservation(
            211, USER_DATE_OF_BIRTH="1/2/1990", USER_LANGUAGE="en-GB", APP_END_TIME="7:00"
        ),
        _reservation(212, USER_FIRST_NAME="Zoë", USER_ZIP_CODE="\t08001\n"),
    ]
    yield "mixed items", _batch(mixed), {}
    yield "duplicate APP_LID in a batch", _batch([_reservation(300), _reservation(300)]), {}
    yield "empty batch", _batch([]), {}
    yield "no RESERVATIONS", _env("updateReservations", _auth()), {}
    yield "no AUTH", _env("updateReservations", "<t:RESERVATIONS/>"), {}
    yield "empty AUTH", _env("updateReservations", "<t:AUTH/><t:RESERVATIONS/>"), {}
    yield "wrong password", _batch([_reservation(1)], _auth("wrong")), {}
    yield "unknown instance", _batch([_reservation(1)], _auth(instance="tt_nobody")), {}
    yield "over the batch limit", _batch([_reservation(n) for n in range(151)]), {}
    yield (
        "xsi:nil item",
        _batch([_reservation(400), '<t:RESERVATION xsi:nil="true"/>']),
        {},
    )
    yield (
        "duplicate field",
        _batch(
            [
                _reservation(401).replace(
                    "</t:RESERVATION>", "<t:APP_LID>B</t:APP_LID></t:RESERVATION>"
                )
            ]
        ),
        {},
    )
    yield (
        "unknown field",
        _batch(
            [
                _reservation(402).replace(
                    "</t:RESERVATION>", "<t:COLOR>red</t:COLOR></t:RESERVATION>"
                )
            ]
        ),
        {},
    )
    yield "other member name", _batch([_reservation(403).replace("t:RESERVATION>", "t:ITEM>")]), {}
    yield "markup in a value", _batch([_reservation(404, NOTES="<t:b>bold</t:b>")]), {}
    yield (
        "field in no namespace",
        _batch(
            [
                _reservation(405)
                .replace("<t:NOTES>", '<NOTES xmlns="">')
                .replace("</t:NOTES>", "</NOTES>")
            ]
        ),
        {},
    )
    default_ns = (
        _batch([_reservation(406)])
        .replace("t:", "")
        .replace(f'xmlns:t="{TNS}"', "")
        .replace("<updateReservations>", f'<updateReservations xmlns="{TNS}">')
    )
    yield "default namespace", default_ns, {}
    yield "empty Header", _env("getReservations", _auth(), header="<soapenv:Header/>"), {}
    yield (
        "Header with content",
        _env(
            "getReservations",
            _auth(),
            header="<soapenv:Header><t:Trace>1</t:Trace></soapenv:Header>",
        ),
        {},
    )
    yield (
        "attribute on the operation",
        _env("getReservations", _auth()).replace(
            "<t:getReservations>", '<t:getReservations id="x">'
        ),
        {},
    )
    yield (
        "Latin-1 declared",
        _batch([_reservation(407, NOTES="caf\xe9")])
        .encode("latin-1")
        .join([b'<?xml version="1.0" encoding="ISO-8859-1"?>', b""]),
        {},
    )
    yield (
        "charset header latin-1",
        _batch([_reservation(408, NOTES="na\xefve")]).encode("latin-1"),
        {"Content-Type": "text/xml; charset=iso-8859-1"},
    )
    yield "no Content-Type", _env("getReservations", _auth()), {"Content-Type": ""}
    yield (
        "SOAPAction URI",
        _env("getReservations", _auth()),
        {"SOAPAction": f"{TNS}/getReservations"},
    )
    yield (
        "SOAPAction other",
        _env("getReservations", _auth()),
        {"SOAPAction": '"updateReservations"'},
    )
    yield (
        "SOAP 1.1 as soap+xml",
        _env("getReservations", _auth()),
        {"Content-Type": "application/soap+xml"},
    )
    # getReservations: every filter and page size.
    yield "read all", _env("getReservations", _auth()), {}
    for size in ("5", "0", "-1", "501", "99999999999", " 5", "+5", "abc", "", "1.5", "007"):
        inner = _auth() + (f"<t:MAX_RESULTS>{size}</t:MAX_RESULTS>" if size else "<t:MAX_RESULTS/>")
        yield f"MAX_RESULTS {size!r}", _env("getReservations", inner), {}
    for name, value in (
        ("APP_LID", "D-5"),
        ("APP_LID", ""),
        ("START_DATE", "01/03/2027"),
        ("START_DATE", "2027-03-01"),
        ("START_DATE", "32/13/2027"),
        ("END_DATE", "05/03/2027"),
        ("RESOURCE_LID", "DR-3"),
        ("STATUS", "PENDING"),
        ("STATUS", "NOPE"),
        ("LAST_REQUEST_TIMESTAMP", "01/01/2027 00:00:00"),
        ("LAST_REQUEST_TIMESTAMP", "garbage"),
        ("LAST_REQUEST_TIMESTAMP", "01/02/2027 09:00:00#3"),
    ):
        yield (
            f"filter {name}={value!r}",
            _env("getReservations", _auth() + f"<t:{name}>{value}</t:{name}>"),
            {},
        )
    # Messages.
    message = (
        "<t:MESSAGE><t:LEGACY_ID>M-{n}</t:LEGACY_ID><t:CHANNEL>{channel}</t:CHANNEL>"
        "<t:TO>{to}</t:TO><t:TEXT>Hola {n}</t:TEXT>{extra}</t:MESSAGE>"
    )
    batch = "".join(
        message.format(n=n, channel=channel, to=to, extra=extra)
        for n, (channel, to, extra) in enumerate(
            [
                ("SMS", "600000001", ""),
                ("SMS", "600000001", ""),
                ("EMAIL", "p@example.org", "<t:SUBJECT>Hi</t:SUBJECT>"),
                ("EMAIL", "p@example.org", ""),
                ("FAX", "12", ""),
                ("PIGEON", "x", ""),
                ("SMS", "600000002", "<t:SEND_AT>02/02/2027 10:00</t:SEND_AT>"),
                ("SMS", "600000003", "<t:EXPIRES_AT>nonsense</t:EXPIRES_AT>"),
            ]
        )
    )
    yield "messages", _env("updateMessages", _auth() + f"<t:MESSAGES>{batch}</t:MESSAGES>"), {}
    yield (
        "messages again",
        _env("updateMessages", _auth() + f"<t:MESSAGES>{batch}</t:MESSAGES>"),
        {},
    )
    yield "messages none", _env("updateMessages", _auth()), {}
    yield "search all", _env("searchMessages", _auth()), {}
    for name, value in (
        ("TO", "600000001"),
        ("CHANNEL", "SMS"),
        ("STATUS", "QUEUED"),
        ("CREATED_FROM", "01/02/2027"),
        ("CREATED_TO", "bad"),
        ("PAGE_TOKEN", "not-a-token"),
        ("MAX_RESULTS", "2"),
        ("MAX_RESULTS", "x"),
    ):
        yield (
            f"search {name}={value!r}",
            _env("searchMessages", _auth() + f"<t:{name}>{value}</t:{name}>"),
            {},
        )


def _cases() -> list[Case]:
    addresses = (f"10.7.{n // 250}.{n % 250}" for n in itertools.count(1))
    cases = [
        Case(
            label,
            body.encode() if isinstance(body, str) else body,
            {**XML, **headers},
            next(addresses),
        )
        for label, body, headers in _handmade()
    ]
    auth = {"INSTANCE": INSTANCE, "USERNAME": "his", "PASSWORD": PASSWORD}
    for request in corpus(auth, Patient.invent(9), seed=9, size=400):
        cases.append(Case(request.label, request.body, request.headers, next(addresses)))
    # Password guessing from one address until the throttle answers (Retry-After).
    for n in range(12):
        cases.append(Case(f"guess {n}", _batch([], _auth(f"guess{n}")).encode(), XML, "10.8.0.1"))
    return cases


def _normalised(body: bytes) -> bytes:
    return _REFERENCE.sub(b"reference <ref>", body)


def test_both_engines_answer_every_request_alike(pair: Pair) -> None:
    cases = _cases()
    # Page through what the batches stored, following each answer's cursor.
    differences = []
    for case in cases:
        old, new = pair.send(case)
        if (old.status, old.headers.to_wsgi_list(), _normalised(old.data)) != (
            new.status,
            new.headers.to_wsgi_list(),
            _normalised(new.data),
        ):
            differences.append(
                f"{case.label}:\n  spyne {old.status} {old.headers.to_wsgi_list()}\n"
                f"  {old.data[:1500]!r}\n  fast  {new.status} {new.headers.to_wsgi_list()}\n"
                f"  {new.data[:1500]!r}"
            )
    assert not differences, f"{len(differences)} of {len(cases)} differ:\n" + "\n".join(
        differences[:5]
    )
    # The fast path did answer the valid requests (not only hand them to Spyne).
    fast = pair.fast.fast_soap
    assert fast is not None and fast.answered >= 60, fast.answered if fast else None


def test_paging_cursor_chain_is_identical(pair: Pair) -> None:
    """A delta read paged to the end: each page's cursor fed back unchanged."""
    setup = Case("batch", _batch([_reservation(n) for n in range(120)]).encode(), XML, "10.6.0.1")
    old, new = pair.send(setup)
    assert old.status_code == new.status_code == 200 and old.data == new.data
    cursor = ""
    for page in range(8):
        inner = _auth() + "<t:MAX_RESULTS>50</t:MAX_RESULTS>"
        if cursor:
            inner += f"<t:LAST_REQUEST_TIMESTAMP>{cursor}</t:LAST_REQUEST_TIMESTAMP>"
        old, new = pair.send(
            Case(f"page {page}", _env("getReservations", inner).encode(), XML, "10.6.0.2")
        )
        assert (old.status, old.headers.to_wsgi_list(), old.data) == (
            new.status,
            new.headers.to_wsgi_list(),
            new.data,
        ), page
        found = re.search(rb"<tns:NEXT_REQUEST_TIMESTAMP>([^<]*)<", old.data)
        assert found is not None
        cursor = found.group(1).decode()
        if b"<tns:MORE_RESULTS>false<" in old.data:
            break
    else:
        pytest.fail("paging did not end")
