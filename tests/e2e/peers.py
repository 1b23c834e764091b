"""Real local peers for the gateway tests: an HTTP SMS gateway and an SMTP server.

The SMS gateway behaves like a provider that honours idempotency keys: a
request whose key it has already accepted is answered with the same message
id and not counted again, so "sent once" can be counted exactly.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class GatewayBehaviour:
    delay_seconds: float = 0.0
    fail_first: dict[str, int] = field(default_factory=dict)  # recipient -> 500s before 200
    reject: set[str] = field(default_factory=set)  # recipients answered 400


class SmsGateway:
    def __init__(self) -> None:
        self.behaviour = GatewayBehaviour()
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # every request that reached us
        self.accepted: dict[str, dict[str, Any]] = {}  # idempotency key -> first accepted body
        self.replays: Counter[str] = Counter()  # keys seen again after acceptance
        self.failures: Counter[str] = Counter()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                key = self.headers.get("Idempotency-Key") or ""
                status, answer = gateway.handle(key, body, dict(self.headers))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, key: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
        behaviour = self.behaviour
        if behaviour.delay_seconds:
            time.sleep(behaviour.delay_seconds)
        recipient = str(body.get("to"))
        with self.lock:
            self.requests.append({"key": key, "body": body, "headers": headers})
            if key in self.accepted:
                self.replays[key] += 1
                return 200, {"messages": [{"id": f"gw-{key}"}]}
            if recipient in behaviour.reject:
                return 400, {"error": "invalid destination number"}
            if self.failures[recipient] < behaviour.fail_first.get(recipient, 0):
                self.failures[recipient] += 1
                return 500, {"error": "temporarily unavailable"}
            self.accepted[key] = body
            return 200, {"messages": [{"id": f"gw-{key}"}]}

    def reset(self) -> None:
        with self.lock:
            self.behaviour = GatewayBehaviour()
            self.requests.clear()
            self.accepted.clear()
            self.replays.clear()
            self.failures.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.collector = _Collector()
        with socket.socket() as probe:  # aiosmtpd cannot start on port 0
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[Message]:
        return self.collector.messages

    def close(self) -> None:
        self.controller.stop()


def senders_config(gateway: SmsGateway, smtp: SmtpServer) -> dict[str, Any]:
    """A dispatch configuration routing SMS to the gateway and e-mail to the SMTP server."""
    return {
        "providers": {
            "sms-gw": {
                "type": "http",
                "url": gateway.url,
                "method": "POST",
                "format": "json",
                "auth": {"type": "bearer", "token_env": "TEST_SMS_TOKEN"},
                "fields": {
                    "to": "to",
                    "text": "text",
                    "sender_id": "from",
                    "reference": "client_ref",
                },
                "static_fields": {"channel": "sms"},
                "idempotency_header": "Idempotency-Key",
                "message_id_path": "messages.0.id",
                "timeout_seconds": 5,
                "receipts": {
                    "secret_env": "TEST_SMS_RECEIPT_SECRET",
                    "auth": "shared-secret",
                    "secret_header": "X-Receipt-Secret",
                    "format": "form",
                    "id_field": "id",
                    "reference_field": "client_ref",
                    "status_field": "stat",
                    "error_field": "err",
                },
            },
            "smtp-main": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "starttls": False,
                "from": "noreply@clinic.example",
                "timeout_seconds": 5,
                "receipts": {
                    "secret_env": "TEST_MAIL_RECEIPT_SECRET",
                    "auth": "hmac-sha256",
                    "signature_header": "X-Signature",
                    "format": "json",
                    "id_field": "message_id",
                    "reference_field": "reference",
                    "status_field": "status",
                    "error_field": "error",
                },
            },
            "console": {"type": "file", "path": "outbox-sent.log"},
        },
        "routes": {"*": {"SMS": "sms-gw", "EMAIL": "smtp-main", "*": "console"}},
    }


SECRETS = {
    "TEST_SMS_TOKEN": "sms-token-123",
    "TEST_SMS_RECEIPT_SECRET": "receipt-secret-abc",
    "TEST_MAIL_RECEIPT_SECRET": "mail-hmac-key-xyz",
}
