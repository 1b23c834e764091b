"""The JSON messages API (``/api/v1``) through the in-process WSGI application on
a real database: it queues and finds what SOAP queues and finds, answers a batch
item for item as updateMessages does, queues a legacy id once, and refuses
(signing in, throttling, a disabled instance, broken or oversized bodies, wrong
types) with the SOAP faultcodes, HTTP statuses and the field at fault. Every
answer conforms to the published OpenAPI description."""

from __future__ import annotations

import base64
import io
import itertools
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from jsonschema import Draft202012Validator
from lxml import etree
from werkzeug.test import Client, TestResponse

from tests.conftest import Credentials, make_instance
from tests.integration.soap.conftest import TNS, SoapHttp, auth_xml, envelope, fault_of
from tests.integration.web.test_observability import samples, scrape, value
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.errors import StoreUnavailableError
from tuotempo_soap.services import instances
from tuotempo_soap.soap import operations
from tuotempo_soap.web.app import TuotempoApp, create_app
from tuotempo_soap.web.jsonapi import openapi_document

JSON = "application/json"
_addresses = itertools.count(1)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def conforms(body: Any, schema: str) -> None:
    """``body`` is what the published description says ``schema`` is."""
    document = openapi_document()
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    errors = sorted(Draft202012Validator(root).iter_errors(body), key=str)
    assert not errors, [error.message for error in errors]


class JsonHttp:
    """POSTs JSON as an HIS would, each call from its own address unless told
    (so the sign-in throttle of one case never answers another)."""

    def __init__(self, app: TuotempoApp) -> None:
        self.client = Client(app)

    def post(
        self,
        path: str,
        body: Any,
        who: Credentials | None,
        *,
        content_type: str = JSON,
        headers: dict[str, str] | None = None,
        address: str | None = None,
        environ: dict[str, Any] | None = None,
    ) -> TestResponse:
        sent = dict(headers or {})
        if who is not None:
            sent.setdefault("Authorization", basic(who.username, who.password))
        data = body if isinstance(body, bytes) else None
        overrides = {
            "REMOTE_ADDR": address or f"10.7.{next(_addresses) % 250}.{next(_addresses) % 250}",
            **(environ or {}),
        }
        return self.client.post(
            path,
            data=data,
            json=None if isinstance(body, bytes) else body,
            content_type=content_type if isinstance(body, bytes) else None,
            headers=sent,
            environ_overrides=overrides,
        )

    def update(self, who: Credentials, messages: Any, **options: Any) -> TestResponse:
        return self.post(f"/api/v1/{who.instance}/messages", {"MESSAGES": messages}, who, **options)

    def search(self, who: Credentials, filters: Any, **options: Any) -> TestResponse:
        return self.post(f"/api/v1/{who.instance}/messages/search", filters, who, **options)


def message(legacy_id: str, **fields: str) -> dict[str, str]:
    return {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola", **fields}


def ok(response: TestResponse, schema: str) -> dict[str, Any]:
    assert response.status_code == 200, response.data[:500]
    assert response.headers["Content-Type"] == JSON
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    conforms(body, schema)
    return body


def refused(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """The error of a refusal, after checking its shape, status, code and reference."""
    assert response.status_code == status, response.data[:500]
    assert response.headers["Content-Type"] == JSON
    body = response.get_json()
    conforms(body, "ErrorAnswer")
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert error["reference"] == response.headers["X-Request-ID"]
    return error


# --- SOAP, to hold the JSON answers against -----------------------------------

_ARRAYS = {"ITEMS", "MESSAGES", "WARNINGS"}


def _plain(element: Any) -> Any:
    children = [child for child in element if isinstance(child.tag, str)]
    if etree.QName(element).localname in _ARRAYS:
        return [_plain(child) for child in children]
    if not children:
        return element.text or ""
    return {etree.QName(child).localname: _plain(child) for child in children}


def soap_answer(response: TestResponse, operation: str) -> dict[str, Any]:
    assert response.status_code == 200, response.data[:500]
    found = etree.fromstring(response.data).find(f".//{{{TNS}}}{operation}Result")
    assert found is not None, response.data[:500]
    answer: dict[str, Any] = _plain(found)
    return answer


def as_soap_text(value: Any) -> Any:
    """A JSON answer with its scalars written as SOAP writes them."""
    if isinstance(value, dict):
        return {key: as_soap_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_soap_text(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def soap_update(soap: SoapHttp, who: Credentials, items: list[dict[str, str]]) -> dict[str, Any]:
    xml = "".join(
        "<t:MESSAGE>"
        + "".join(f"<t:{name}>{escape(text)}</t:{name}>" for name, text in item.items())
        + "</t:MESSAGE>"
        for item in items
    )
    response = soap.post(
        envelope("updateMessages", auth_xml(who) + f"<t:MESSAGES>{xml}</t:MESSAGES>")
    )
    return soap_answer(response, "updateMessages")


def soap_search(soap: SoapHttp, who: Credentials, **filters: str) -> dict[str, Any]:
    inner = "".join(f"<t:{name}>{escape(text)}</t:{name}>" for name, text in filters.items())
    return soap_answer(
        soap.post(envelope("searchMessages", auth_xml(who) + inner)), "searchMessages"
    )


# --- fixtures -------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings) -> Iterator[TuotempoApp]:
    built = create_app(settings)
    yield built
    built.store.dispose()


@pytest.fixture
def api(app: TuotempoApp) -> JsonHttp:
    return JsonHttp(app)


@pytest.fixture
def soap(app: TuotempoApp) -> SoapHttp:
    return SoapHttp(app)


@pytest.fixture
def his(app: TuotempoApp) -> Credentials:
    return make_instance(app.store)


# --- round trips ------------------------------------------------------------------


def test_queued_as_json_is_found_as_json_and_over_soap(
    api: JsonHttp, soap: SoapHttp, his: Credentials
) -> None:
    queued = ok(api.update(his, [message("JS-1", TO="612 345 678")]), "UpdateMessagesResult")
    assert queued["RESULT"] == "OK"
    assert (queued["QUEUED"], queued["ALREADY_QUEUED"], queued["FAILED"]) == (1, 0, 0)
    (item,) = queued["ITEMS"]
    assert item["LEGACY_ID"] == "JS-1" and item["ACTION"] == "QUEUED" and item["SEGMENTS"] == 1

    found = ok(api.search(his, {"LEGACY_ID": "JS-1"}), "SearchMessagesResult")
    assert (found["COUNT"], found["MORE_RESULTS"]) == (1, False)
    (stored,) = found["MESSAGES"]
    assert stored["MESSAGE_ID"] == item["MESSAGE_ID"]
    assert (stored["TO"], stored["STATUS"], stored["CHANNEL"]) == ("+34612345678", "QUEUED", "SMS")
    # By recipient, as the guide's "to" filter: any spelling of the number.
    by_number = ok(api.search(his, {"TO": "+34 612 34 56 78"}), "SearchMessagesResult")
    assert by_number["MESSAGES"] == [stored]
    # Over SOAP: the same answer, field for field.
    assert soap_search(soap, his, LEGACY_ID="JS-1") == as_soap_text(found)


def test_queued_over_soap_is_found_as_json(api: JsonHttp, soap: SoapHttp, his: Credentials) -> None:
    queued = soap_update(
        soap, his, [message("SO-1", CHANNEL="EMAIL", TO="Ana@Example.com", SUBJECT="Cita")]
    )
    assert queued["RESULT"] == "OK", queued
    found = ok(api.search(his, {"LEGACY_ID": "SO-1"}), "SearchMessagesResult")
    (stored,) = found["MESSAGES"]
    assert str(stored["MESSAGE_ID"]) == queued["ITEMS"][0]["MESSAGE_ID"]
    assert stored["CHANNEL"] == "EMAIL"
    assert as_soap_text(found) == soap_search(soap, his, LEGACY_ID="SO-1")


def test_pages_through_with_the_page_token(api: JsonHttp, his: Credentials) -> None:
    ok(api.update(his, [message(f"PG-{n}") for n in range(5)]), "UpdateMessagesResult")
    seen: list[str] = []
    filters: dict[str, Any] = {"MAX_RESULTS": 2}
    while True:
        page = ok(api.search(his, filters), "SearchMessagesResult")
        seen += [stored["LEGACY_ID"] for stored in page["MESSAGES"]]
        if not page["MORE_RESULTS"]:
            assert "NEXT_PAGE_TOKEN" not in page
            break
        filters = {"MAX_RESULTS": 2, "PAGE_TOKEN": page["NEXT_PAGE_TOKEN"]}
    assert seen == [f"PG-{n}" for n in range(5)]


# One of each per-item outcome of updateMessages.
MIXED_BATCH = [
    message("MX-ok", TEXT="Su cita es mañana a las 10:00"),
    message("MX-no-text", TEXT=""),
    message("MX-channel", CHANNEL="PIGEON"),
    message("MX-mail", CHANNEL="EMAIL", TO="ana@example.com"),
    message("MX-phone", TO="12"),
    message("MX-ok", TEXT="the same id again in one call"),
    message("MX-when", SEND_AT="31/02/2027 10:00"),
    {"CHANNEL": "SMS", "TO": "612345678", "TEXT": "no id"},
    message("MX-mail-ok", CHANNEL="email", TO="ana@example.com", SUBJECT="Cita"),
]


def _without_ids(answer: dict[str, Any]) -> dict[str, Any]:
    return {
        **answer,
        "ITEMS": [
            {key: value for key, value in item.items() if key != "MESSAGE_ID"}
            for item in answer["ITEMS"]
        ],
    }


def test_a_batch_is_answered_item_for_item_as_updatemessages_does(
    app: TuotempoApp, api: JsonHttp, soap: SoapHttp
) -> None:
    over_soap, as_json = make_instance(app.store), make_instance(app.store)
    for _ in range(2):  # the second time, every queued one is ALREADY_QUEUED
        soap_side = soap_update(soap, over_soap, MIXED_BATCH)
        json_side = ok(api.update(as_json, MIXED_BATCH), "UpdateMessagesResult")
        assert _without_ids(as_soap_text(json_side)) == _without_ids(soap_side)
    assert json_side["RESULT"] == "PARTIAL"
    assert (json_side["QUEUED"], json_side["ALREADY_QUEUED"], json_side["FAILED"]) == (0, 3, 6)
    fields = {item.get("LEGACY_ID"): item.get("ERROR_FIELD") for item in json_side["ITEMS"]}
    assert fields["MX-no-text"] == "TEXT" and fields["MX-channel"] == "CHANNEL"
    assert fields["MX-mail"] == "SUBJECT" and fields["MX-phone"] == "TO"
    assert fields["MX-when"] == "SEND_AT" and fields[None] == "LEGACY_ID"


def test_a_resent_legacy_id_gets_the_same_answer_and_is_queued_once(
    api: JsonHttp, his: Credentials
) -> None:
    first = ok(api.update(his, [message("ID-1")]), "UpdateMessagesResult")
    again = ok(api.update(his, [message("ID-1")]), "UpdateMessagesResult")
    third = ok(api.update(his, [message("ID-1")]), "UpdateMessagesResult")
    assert again == third
    (item,) = again["ITEMS"]
    assert item["ACTION"] == "ALREADY_QUEUED"
    assert item["MESSAGE_ID"] == first["ITEMS"][0]["MESSAGE_ID"]
    assert (again["QUEUED"], again["ALREADY_QUEUED"], again["RESULT"]) == (0, 1, "OK")
    # Another text under the same id: the first message stands, and the answer says so.
    changed = ok(api.update(his, [message("ID-1", TEXT="Adiós")]), "UpdateMessagesResult")
    assert changed["ITEMS"][0]["MESSAGE_ID"] == item["MESSAGE_ID"]
    assert any("first one stands" in warning for warning in changed["ITEMS"][0]["WARNINGS"])
    found = ok(api.search(his, {"LEGACY_ID": "ID-1"}), "SearchMessagesResult")
    assert found["COUNT"] == 1


def test_each_instance_sees_only_its_own_messages(
    app: TuotempoApp, api: JsonHttp, his: Credentials
) -> None:
    other = make_instance(app.store)
    ok(api.update(his, [message("OWN-1")]), "UpdateMessagesResult")
    assert ok(api.search(other, {"LEGACY_ID": "OWN-1"}), "SearchMessagesResult")["COUNT"] == 0
    # Another instance's credentials on this instance's path sign nobody in.
    crossed = api.post(f"/api/v1/{his.instance}/messages/search", {}, other)
    refused(crossed, 401, "Client.AuthenticationFailed")


# --- signing in ---------------------------------------------------------------------


def test_sign_in_failures_are_401_with_a_basic_challenge(
    app: TuotempoApp, api: JsonHttp, his: Credentials
) -> None:
    path = f"/api/v1/{his.instance}/messages/search"
    wrong = {
        "no credentials": api.post(path, {}, None),
        "bearer": api.post(path, {}, None, headers={"Authorization": "Bearer abc"}),
        "not base64": api.post(path, {}, None, headers={"Authorization": "Basic ***"}),
        "wrong password": api.post(path, {}, None, headers={"Authorization": basic("his", "x")}),
        "unknown user": api.post(
            path, {}, None, headers={"Authorization": basic("nobody", his.password)}
        ),
        "unknown instance": api.post("/api/v1/tt_nobody_here/messages/search", {}, his),
    }
    messages = {}
    for case, response in wrong.items():
        error = refused(response, 401, "Client.AuthenticationFailed")
        assert error["field"] == "Authorization", case
        assert response.headers["WWW-Authenticate"].startswith('Basic realm="tuotempo"'), case
        messages[case] = error["message"]
    # Which of instance, user or password was wrong is not told.
    assert messages["wrong password"] == messages["unknown user"] == messages["unknown instance"]
    ok(api.post(path, {}, his), "SearchMessagesResult")


T0 = datetime(2027, 3, 1, 9, 0, 0)


def test_wrong_passwords_are_throttled_together_with_soap(
    settings: Settings, tmp_path: Path
) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text(T0.isoformat())  # time stands still until the test moves it
    app = create_app(replace(settings, clock_file=clock_file))
    try:
        api, soap = JsonHttp(app), SoapHttp(app)
        his = make_instance(app.store)
        where = "192.0.2.77"
        bad = Credentials(his.instance, his.username, "not-the-password")
        # Three failures from one address, two of them over SOAP: one budget for both.
        for _ in range(2):
            fault = fault_of(
                soap.post(envelope("searchMessages", auth_xml(bad)), environ={"REMOTE_ADDR": where})
            )
            assert fault.detail_text("CODE") == "Client.AuthenticationFailed"
        refused(api.search(bad, {}, address=where), 401, "Client.AuthenticationFailed")
        # Now even the right password waits, as it would over SOAP.
        waiting = api.search(his, {}, address=where)
        error = refused(waiting, 429, "Client.TooManyAttempts")
        assert error["field"] == "Authorization"
        assert waiting.headers["Retry-After"] == "1"
        assert "try again in 1 s" in error["message"]
        clock_file.write_text((T0 + timedelta(seconds=2)).isoformat())
        ok(api.search(his, {}, address=where), "SearchMessagesResult")
    finally:
        app.store.dispose()
        clock.configure(None)


def test_a_disabled_instance_is_refused_after_the_password(
    app: TuotempoApp, api: JsonHttp, his: Credentials
) -> None:
    assert instances.disable_instance(app.store, his.instance)
    for response in (api.update(his, [message("DIS-1")]), api.search(his, {})):
        error = refused(response, 403, "Client.InstanceDisabled")
        assert error["field"] == "instance"
        assert his.instance in error["message"]
    # A wrong password learns nothing about the switch.
    bad = Credentials(his.instance, his.username, "not-the-password")
    refused(api.search(bad, {}), 401, "Client.AuthenticationFailed")
    assert instances.enable_instance(app.store, his.instance)
    assert ok(api.search(his, {"LEGACY_ID": "DIS-1"}), "SearchMessagesResult")["COUNT"] == 0


# --- bodies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b'{"MESSAGES": [', b"\xff\xfe{}", b"[" * 5000, b'{"MESSAGES": ["\\ud800"]}'],
    ids=["empty", "open brace", "cut short", "not utf-8", "deep", "lone surrogate"],
)
def test_a_body_that_is_not_json_is_refused(api: JsonHttp, his: Credentials, body: bytes) -> None:
    response = api.post(f"/api/v1/{his.instance}/messages", body, his)
    error = refused(response, 400, "Client.MalformedJSON")
    assert error["field"] is None
    assert error["message"].startswith("The body is not well-formed JSON")


def test_a_body_shorter_than_its_length_is_refused(api: JsonHttp, his: Credentials) -> None:
    response = api.post(
        f"/api/v1/{his.instance}/messages/search",
        b"{}",
        his,
        environ={"CONTENT_LENGTH": "100"},
    )
    error = refused(response, 400, "Client.MalformedJSON")
    assert "Content-Length" in error["message"]


@pytest.mark.parametrize(
    ("operation", "body", "field", "says"),
    [
        (
            "update",
            {"MESSAGES": [message("T-1"), {**message("T-2"), "TEXT": 5}]},
            "MESSAGES[1].TEXT",
            "must be a string",
        ),
        (
            "update",
            {"MESSAGES": [message("T-1", TO="612\u0000345678")]},
            "MESSAGES[0].TO",
            "control character",
        ),
        (
            "update",
            {"MESSAGES": [{**message("T-1"), "LEGACYID": "x"}]},
            "MESSAGES[0].LEGACYID",
            "is not a field",
        ),
        ("update", {"MESSAGES": [None]}, "MESSAGES[0]", "must be an object"),
        ("update", {"MESSAGES": message("T-1")}, "MESSAGES", "must be an array"),
        ("update", {}, "MESSAGES", "is required"),
        ("update", {"MESSAGES": []}, "MESSAGES", "is empty"),
        ("update", [message("T-1")], None, "must be a JSON object"),
        ("search", {"MAX_RESULTS": "10"}, "MAX_RESULTS", "must be an integer"),
        ("search", {"MAX_RESULTS": 10.5}, "MAX_RESULTS", "must be an integer"),
        ("search", {"MAX_RESULTS": 2**31}, "MAX_RESULTS", "2147483647"),
        ("search", {"MAX_RESULTS": 0}, "MAX_RESULTS", "1 or more"),
        ("search", {"TO": ["612345678"]}, "TO", "must be a string"),
        ("search", {"CHANNEL": "PIGEON"}, "CHANNEL", "not a channel"),
        ("search", {"PAGE_TOKEN": "²"}, "PAGE_TOKEN", "PAGE_TOKEN"),
        ("search", {"CREATED_FROM": "31/02/2027"}, "CREATED_FROM", "CREATED_FROM"),
    ],
)
def test_a_wrong_value_is_refused_naming_its_field(
    api: JsonHttp, his: Credentials, operation: str, body: Any, field: str | None, says: str
) -> None:
    path = "messages" if operation == "update" else "messages/search"
    response = api.post(f"/api/v1/{his.instance}/{path}", body, his)
    error = refused(response, 400, "Client.ValidationError")
    assert error["field"] == field
    assert says in error["message"]
    # A refused request queues nothing, not even its good items.
    assert ok(api.search(his, {}), "SearchMessagesResult")["COUNT"] == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_that_is_not_declared_json_is_refused(
    api: JsonHttp, his: Credentials, content_type: str
) -> None:
    response = api.post(
        f"/api/v1/{his.instance}/messages/search", b"{}", his, content_type=content_type
    )
    assert refused(response, 415, "Client.UnsupportedMediaType")["field"] == "Content-Type"
    # A JSON media type with a suffix, or a charset said aloud, is fine.
    for accepted in ("application/vnd.tuotempo+json", "application/json; charset=UTF-8"):
        answer = api.post(
            f"/api/v1/{his.instance}/messages/search", b"{}", his, content_type=accepted
        )
        ok(answer, "SearchMessagesResult")


@pytest.fixture
def small_app(settings: Settings) -> Iterator[TuotempoApp]:
    built = create_app(replace(settings, max_batch_items=3, max_body_bytes=2048))
    yield built
    built.store.dispose()


def test_the_batch_and_body_limits_are_those_of_soap(small_app: TuotempoApp) -> None:
    api, soap = JsonHttp(small_app), SoapHttp(small_app)
    his = make_instance(small_app.store)
    four = [message(f"L-{n}") for n in range(4)]
    error = refused(api.update(his, four), 413, "Client.BatchTooLarge")
    assert error["field"] == "MESSAGES"
    assert "at most 3" in error["message"]
    fault = fault_of(
        soap.post(
            envelope(
                "updateMessages",
                auth_xml(his)
                + "<t:MESSAGES>"
                + "".join(
                    f"<t:MESSAGE><t:LEGACY_ID>S-{n}</t:LEGACY_ID></t:MESSAGE>" for n in range(4)
                )
                + "</t:MESSAGES>",
            )
        )
    )
    assert (fault.detail_text("CODE"), fault.detail_text("MESSAGE")) == (
        error["code"],
        error["message"],
    )
    ok(api.update(his, four[:3]), "UpdateMessagesResult")

    big = [message("B-1", TEXT="x" * 3000)]
    error = refused(api.update(his, big), 413, "Client.RequestTooLarge")
    assert "2048 bytes" in error["message"]

    # Sent without a length (chunked, as a server that ends the stream itself
    # says): read up to the limit, and refused past it.
    def chunked(path: str, body: bytes) -> TestResponse:
        return api.client.post(
            f"/api/v1/{his.instance}/{path}",
            input_stream=io.BytesIO(body),
            content_type=JSON,
            headers={
                "Authorization": basic(his.username, his.password),
                "Transfer-Encoding": "chunked",
            },
            environ_overrides={"wsgi.input_terminated": True, "REMOTE_ADDR": "10.8.0.1"},
        )

    ok(chunked("messages/search", b'{"LEGACY_ID": "L-0"}'), "SearchMessagesResult")
    too_long = chunked("messages", b'{"MESSAGES": [' + b" " * 4096 + b"]}")
    refused(too_long, 413, "Client.RequestTooLarge")


# --- routes -------------------------------------------------------------------------


def test_methods_and_paths_outside_the_api_are_refused(api: JsonHttp, his: Credentials) -> None:
    get = api.client.get(f"/api/v1/{his.instance}/messages")
    refused(get, 405, "Client.RequestNotAllowed")
    assert get.headers["Allow"] == "POST"
    refused(api.client.post("/api/v1/openapi.json"), 405, "Client.RequestNotAllowed")
    for path in ("/api/v1", "/api/v1/", f"/api/v1/{his.instance}", "/api/v1/a/b/c/d"):
        error = refused(api.client.post(path), 404, "Client.ResourceNotFound")
        assert "/api/v1/openapi.json" in error["message"]
    # A trailing slash is the same resource, never a redirect.
    ok(api.post(f"/api/v1/{his.instance}/messages/search/", {}, his), "SearchMessagesResult")


def test_the_served_description_is_the_generated_one(api: JsonHttp) -> None:
    served = api.client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == JSON
    assert served.get_json() == openapi_document()


# --- metrics and logs -----------------------------------------------------------------


def test_requests_are_counted_and_logged_with_their_request_id(
    app: TuotempoApp, api: JsonHttp, his: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    metrics_client = Client(app)
    before = samples(scrape(metrics_client))
    ok(
        api.update(his, [message("MT-1", TO="699887766", TEXT="Cita con Ana Pérez")]),
        "UpdateMessagesResult",
    )
    bad = api.update(
        his,
        [{**message("MT-2", TO="699887766"), "NOMBRE": "Ana Pérez"}],
        headers={"X-Request-ID": "his-call-0001"},
    )
    error = refused(bad, 400, "Client.ValidationError")
    assert bad.headers["X-Request-ID"] == "his-call-0001" == error["reference"]
    refused(
        api.search(his, {}, headers={"Authorization": basic("his", "nope")}),
        401,
        "Client.AuthenticationFailed",
    )
    refused(api.client.post("/api/v1/nothing/here/at/all"), 404, "Client.ResourceNotFound")
    after = samples(scrape(metrics_client))

    def moved(**labels: str) -> float:
        name = "tuotempo_soap_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(operation="json.updateMessages", fault="") == 1
    assert moved(operation="json.updateMessages", fault="Client.ValidationError") == 1
    assert moved(operation="json.searchMessages", fault="Client.AuthenticationFailed") == 1
    assert moved(operation="json.unknown", fault="Client.ResourceNotFound") == 1

    lines = [
        record
        for record in caplog.records
        if getattr(record, "request_id", None) == "his-call-0001"
    ]
    refusal = [record for record in lines if "json error" in record.getMessage()]
    assert len(refusal) == 1
    assert refusal[0].getMessage() == (
        "json error Client.ValidationError field=MESSAGES[0].<unknown> "
        "operation=json.updateMessages"
    )
    assert getattr(refusal[0], "operation", None) == "json.updateMessages"
    assert getattr(refusal[0], "instance", None) == his.instance
    # Nothing of the patient, nor the key the caller made up, in any line.
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for secret in ("699887766", "Pérez", "NOMBRE", his.password):
        assert secret not in logged


def test_an_unexpected_error_is_a_500_with_a_reference_and_no_value_logged(
    api: JsonHttp,
    his: Credentials,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"could not read {kwargs or args}")  # as library errors quote values

    monkeypatch.setattr(operations, "search_messages", broken)
    caplog.set_level(logging.INFO)
    response = api.search(his, {"TO": "612345678"})
    error = refused(response, 500, "Server.InternalError")
    reference = response.headers["X-Request-ID"]
    assert error["message"] == f"Internal error; quote reference {reference} to support"
    (line,) = [
        record
        for record in caplog.records
        if record.levelno == logging.ERROR and "unexpected error" in record.getMessage()
    ]
    assert reference in line.getMessage() and "RuntimeError (message withheld)" in line.getMessage()
    assert "612345678" not in "\n".join(record.getMessage() for record in caplog.records)

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("The database is unavailable; retry later")

    monkeypatch.setattr(operations, "search_messages", unavailable)
    refused(api.search(his, {}), 503, "Server.DatabaseUnavailable")
