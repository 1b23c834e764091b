"""HttpSender shared by a worker's send threads, against a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tuotempo_soap.dispatch.base import Outcome, OutgoingMessage, SendResult
from tuotempo_soap.dispatch.senders.http import HttpSender, HttpSettings

AT_ONCE = 12  # more than urllib3's default pool of 10 connections per host
WAIT = 10.0

MESSAGE = OutgoingMessage(
    message_id=1,
    instance="tt_acme",
    channel="SMS",
    recipient="+34600111222",
    text="Recordatorio",
    reference="ref",
)


class Gateway:
    """Answers only once ``AT_ONCE`` requests are open together; notes each client port."""

    def __init__(self) -> None:
        self.together = threading.Barrier(AT_ONCE, timeout=WAIT)
        self.lock = threading.Lock()
        self.ports: set[int] = set()
        self.keys: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    gateway.ports.add(self.client_address[1])
                    gateway.keys.append(self.headers.get("Idempotency-Key") or "")
                gateway.together.wait()
                data = b'{"id": "gw"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    thread = threading.Thread(target=gateway.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        gateway.server.shutdown()
        gateway.server.server_close()


def send_together(sender: HttpSender, round_number: int) -> list[SendResult]:
    results: list[SendResult] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        message = dataclasses.replace(MESSAGE, message_id=n, reference=f"r{round_number}-{n}")
        result = sender.send(message)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(AT_ONCE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT * 2)
    return results


def test_threads_send_at_once_and_keep_their_connections(gateway: Gateway) -> None:
    sender = HttpSender("gw", HttpSettings(url=gateway.url, message_id_path="id"))
    try:
        first = send_together(sender, 1)
        second = send_together(sender, 2)
    finally:
        sender.close()
    assert [r.outcome for r in first + second] == [Outcome.SENT] * (2 * AT_ONCE)
    assert sorted(gateway.keys) == sorted(
        f"r{k}-{n}" for k in (1, 2) for n in range(AT_ONCE)
    )  # each thread's own idempotency key
    # The second round reuses the first round's kept-alive connections: none
    # was dropped for want of room in a shared pool.
    assert len(gateway.ports) == AT_ONCE
