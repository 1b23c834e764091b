"""HttpSender against a real HTTP server on 127.0.0.1 that records what it gets."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tuotempo_soap.dispatch.base import Outcome, OutgoingMessage
from tuotempo_soap.dispatch.senders.http import (
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    HttpSender,
    HttpSettings,
    value_at_path,
)

REFERENCE = "9f2c4e7a1b3d5f60a8c2e4b6"
MESSAGE = OutgoingMessage(
    message_id=4711,
    instance="tt_acme",
    channel="SMS",
    recipient="+34600111222",
    text="Su cita es mañana a las 10:00",
    reference=REFERENCE,
    sender_id="CLINICA",
)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    """What the fake gateway answers next, and everything it was sent."""

    port: int = 0
    status: int = 200
    body: bytes = b'{"messages": [{"id": "gw-1"}]}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    received: list[Recorded] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    def last_json(self) -> dict[str, object]:
        data = json.loads(self.received[-1].body)
        assert isinstance(data, dict)
        return data


def handler_for(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            gateway.received.append(
                Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            if gateway.delay:
                gateway.release.wait(gateway.delay)  # bounded; teardown cuts it short
            self.send_response(gateway.status)
            for name, value in gateway.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(gateway.body)))
            self.end_headers()
            self.wfile.write(gateway.body)

        do_PUT = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def sender_for(gateway: Gateway, **options: object) -> HttpSender:
    settings = HttpSettings(
        url=gateway.url,
        fields={"to": "to", "text": "text", "sender_id": "from", "reference": "client_ref"},
        static_fields={"channel": "sms", "flash": False, "priority": 2},
        message_id_path="messages.0.id",
        timeout_seconds=5,
    )
    return HttpSender("sms-gw", dataclasses.replace(settings, **options))  # type: ignore[arg-type]


def test_json_body_headers_and_provider_id(gateway: Gateway) -> None:
    sender = sender_for(gateway, auth=BasicAuth("user", "pässword"))
    result = sender.send(MESSAGE)
    sender.close()

    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == "gw-1"
    request = gateway.received[-1]
    assert (request.method, request.path) == ("POST", "/sms")
    assert request.headers["content-type"] == "application/json"
    # The provider gets the random reference, never our sequential id.
    assert request.headers["idempotency-key"] == REFERENCE
    assert b"4711" not in request.body and "4711" not in str(request.headers)
    user, _, password = base64.b64decode(request.headers["authorization"][6:]).partition(b":")
    assert request.headers["authorization"].startswith("Basic ")
    assert (user, password.decode("latin-1")) == (b"user", "pässword")
    assert gateway.last_json() == {
        "channel": "sms",
        "flash": False,
        "priority": 2,
        "to": "+34600111222",
        "text": "Su cita es mañana a las 10:00",
        "from": "CLINICA",
        "client_ref": REFERENCE,
    }


def test_form_body_with_bearer_token(gateway: Gateway) -> None:
    sender = sender_for(gateway, format="form", auth=BearerAuth("tok-123"), method="PUT")
    result = sender.send(MESSAGE)

    assert result.outcome is Outcome.SENT
    request = gateway.received[-1]
    assert request.method == "PUT"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == "Bearer tok-123"
    form = parse_qs(request.body.decode())
    assert form == {
        "channel": ["sms"],
        "flash": ["false"],
        "priority": ["2"],
        "to": ["+34600111222"],
        "text": ["Su cita es mañana a las 10:00"],
        "from": ["CLINICA"],
        "client_ref": [REFERENCE],
    }


def test_header_auth_no_idempotency_header_and_unset_fields_left_out(gateway: Gateway) -> None:
    # No sender id.
    message = OutgoingMessage(4712, "tt_acme", "SMS", "+34600111222", "Hola", "ref-4712")
    sender = sender_for(
        gateway,
        auth=HeaderAuth("X-Api-Key", "k-1"),
        idempotency_header=None,
        fields={"to": "msisdn", "text": "body", "sender_id": "from", "subject": "subject"},
        static_fields={},
    )
    assert sender.send(message).outcome is Outcome.SENT
    request = gateway.received[-1]
    assert request.headers["x-api-key"] == "k-1"
    assert "idempotency-key" not in request.headers
    assert "authorization" not in request.headers
    assert gateway.last_json() == {"msisdn": "+34600111222", "body": "Hola"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"messages": [{"id": 99}]}', "99"),
        (b'{"messages": []}', None),
        (b'{"other": 1}', None),
        (b'{"messages": [{"id": {"deep": 1}}]}', None),
        (b"accepted", None),
        (b"", None),
    ],
)
def test_provider_id_is_read_when_there(
    gateway: Gateway, body: bytes, expected: str | None
) -> None:
    gateway.body = body
    result = sender_for(gateway).send(MESSAGE)
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == expected


def test_value_at_path() -> None:
    data = {"a": [{"b": "x"}, {"b": "y"}], "n": None}
    assert value_at_path(data, "a.1.b") == "y"
    assert value_at_path(data, "a.-1.b") == "y"
    assert value_at_path(data, "a.2.b") is None
    assert value_at_path(data, "a.b") is None
    assert value_at_path(data, "n.x") is None
    assert value_at_path([1, 2], "0") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 425, 429])
def test_temporary_statuses_are_retried(gateway: Gateway, status: int) -> None:
    gateway.status = status
    gateway.body = b'{"error": "busy"}'
    result = sender_for(gateway).send(MESSAGE)
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith(f"HTTP {status}")


def test_429_reports_retry_after(gateway: Gateway) -> None:
    gateway.status = 429
    gateway.headers = {"Retry-After": "30"}
    gateway.body = b""
    result = sender_for(gateway).send(MESSAGE)
    assert result.outcome is Outcome.RETRY
    assert result.error == "HTTP 429 (Retry-After: 30)"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_client_errors_are_permanent(gateway: Gateway, status: int) -> None:
    gateway.status = status
    gateway.body = b'{"error": "invalid destination +34600111222"}' + b"x" * 1000
    result = sender_for(gateway).send(MESSAGE)
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert result.error.startswith(f"HTTP {status}: ")
    assert len(result.error) <= len(f"HTTP {status}: ") + 200
    assert "+34600111222" not in result.error  # the patient's number is not echoed
    assert "invalid destination <redacted>" in result.error


def test_redirects_are_not_followed(gateway: Gateway) -> None:
    gateway.status = 302
    gateway.headers = {"Location": "http://127.0.0.1:1/elsewhere"}
    gateway.body = b""
    result = sender_for(gateway).send(MESSAGE)
    assert result.outcome is Outcome.PERMANENT
    assert result.error == "HTTP 302"
    assert len(gateway.received) == 1


def test_timeout_is_retried(gateway: Gateway) -> None:
    gateway.delay = 2.0
    result = sender_for(gateway, timeout_seconds=0.1).send(MESSAGE)
    assert result.outcome is Outcome.RETRY
    assert result.error == "timeout after 0.1s"


def test_connection_refused_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nobody listens on the port now.
    settings = HttpSettings(url=f"http://127.0.0.1:{port}/sms", timeout_seconds=2)
    result = HttpSender("sms-gw", settings).send(MESSAGE)
    assert result.outcome is Outcome.RETRY
    assert result.error is not None
    assert result.error.startswith("connection failed")


def test_logs_say_who_and_what_happened_but_not_to_whom(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.status = 400
    gateway.body = b"bad +34600111222"
    with caplog.at_level(logging.DEBUG):
        sender_for(gateway).send(MESSAGE)
    logged = caplog.text
    assert "sms-gw" in logged
    assert "4711" in logged
    assert "400" in logged
    assert "+34600111222" not in logged
    assert "mañana" not in logged


def test_a_gateway_that_closes_each_connection_still_gets_every_message(gateway: Gateway) -> None:
    # The fake gateway answers HTTP/1.0: it closes the connection after each
    # answer, so every send after the first finds its kept connection gone.
    sender = sender_for(gateway)
    try:
        results = [
            sender.send(dataclasses.replace(MESSAGE, reference=f"ref-{n}")) for n in range(3)
        ]
    finally:
        sender.close()
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert [r.headers["idempotency-key"] for r in gateway.received] == ["ref-0", "ref-1", "ref-2"]


def test_the_proxy_named_by_the_environment_is_used_unless_no_proxy_says_otherwise(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    # The fake gateway plays the proxy: a proxied request names the whole URL.
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{gateway.port}")
    settings = HttpSettings(url="http://gateway.invalid/sms", timeout_seconds=5)
    assert HttpSender("sms-gw", settings).send(MESSAGE).outcome is Outcome.SENT
    request = gateway.received[-1]
    assert request.path == "http://gateway.invalid/sms"
    assert request.headers["host"] == "gateway.invalid"

    monkeypatch.setenv("no_proxy", "gateway.invalid")
    direct = HttpSender("sms-gw", settings).send(MESSAGE)  # .invalid never resolves
    assert direct.outcome is Outcome.RETRY
    assert direct.error is not None and direct.error.startswith("connection failed")
    assert len(gateway.received) == 1
