"""Wrong passwords through the real WSGI application (in-process, real database):
growing delay, lock with ``Client.TooManyAttempts``, unlock after the window on the
injected clock, a cached HIS served while its user is under attack, and ``Server.Busy``
when no password-checking slot is free."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from lxml import etree

from tests.conftest import Credentials, make_instance
from tests.e2e.authflood import SOAP_ENV, TNS, get_reservations
from tuotempo_soap import clock
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.store.engine import Store
from tuotempo_soap.web.app import TuotempoApp, create_app

T0 = datetime(2027, 3, 1, 9, 0, 0)
HIS_ADDRESS = "192.0.2.10"


@dataclass(frozen=True)
class Answer:
    status: str
    code: str | None  # the detail CODE of a fault, None for a result
    faultcode: str | None = None
    message: str = ""
    field: str | None = None


class Server:
    """The application in this process, with its clock in a file the test moves."""

    def __init__(self, app: TuotempoApp, clock_file: Path) -> None:
        self.app = app
        self.clock_file = clock_file
        self.now = T0
        self.advance(0)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.clock_file.write_text(self.now.isoformat())

    def call(self, who: Credentials, address: str, password: str | None = None) -> Answer:
        body = get_reservations(who.instance, who.username, password or who.password)
        environ: dict[str, Any] = {}
        setup_testing_defaults(environ)
        environ.update(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/soap",
                "CONTENT_TYPE": "text/xml; charset=utf-8",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_SOAPACTION": '"getReservations"',
                "REMOTE_ADDR": address,
                "wsgi.input": io.BytesIO(body),
            }
        )
        status: list[str] = []
        data = b"".join(self.app(environ, lambda s, headers, exc=None: status.append(s)))
        fault = etree.fromstring(data).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
        if fault is None:
            return Answer(status[0], None)
        detail = f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}"
        return Answer(
            status[0],
            fault.findtext(f"{detail}CODE"),
            fault.findtext("faultcode"),
            str(fault.findtext("faultstring")),
            fault.findtext(f"{detail}FIELD"),
        )

    @property
    def guard(self) -> Any:
        return self.app.soap.app.runtime.auth_guard


@pytest.fixture
def serve(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    apps: list[TuotempoApp] = []

    def make(**auth: Any) -> Server:
        tuned = replace(settings, clock_file=tmp_path / "clock", **auth)
        (tmp_path / "clock").write_text(T0.isoformat())
        app = create_app(tuned)
        apps.append(app)
        return Server(app, tmp_path / "clock")

    yield make
    for app in apps:
        app.store.dispose()
    clock.configure(None)


def wrong(server: Server, who: Credentials, address: str) -> Answer:
    return server.call(who, address, password="not-the-password-1")


def assert_too_many(answer: Answer, seconds: int, scope: str) -> None:
    assert answer.code == "Client.TooManyAttempts", answer
    assert answer.faultcode is not None and answer.faultcode.endswith("Client.TooManyAttempts")
    assert answer.field == "AUTH"
    assert answer.message == f"Too many failed sign-ins {scope}; try again in {seconds} s"
    assert answer.status.startswith("500")


def test_wrong_passwords_meet_a_growing_delay_then_a_lock_that_ends_with_its_window(
    serve: Any, store: Store
) -> None:
    server = serve()  # the defaults: 3 free failures, lock after 10, for 60 s
    his = make_instance(store)
    attacker = "203.0.113.5"
    for _ in range(3):
        assert wrong(server, his, attacker).code == "Client.AuthenticationFailed"
    for wait in (1, 2, 4, 8, 16, 32, 60):
        assert_too_many(wrong(server, his, attacker), wait, "for this user from your address")
        server.advance(wait)
        assert wrong(server, his, attacker).code == "Client.AuthenticationFailed"
    # Ten failures: locked for 60 s, even with the right password, from that address.
    assert_too_many(server.call(his, attacker), 60, "for this user from your address")
    # The user's own HIS, from its own address, is not concerned.
    assert server.call(his, HIS_ADDRESS).code is None
    server.advance(59)
    assert_too_many(wrong(server, his, attacker), 1, "for this user from your address")
    server.advance(1)
    assert server.call(his, attacker).code is None  # the window is over


def test_a_his_is_served_while_its_user_is_under_attack_from_other_addresses(
    serve: Any, store: Store
) -> None:
    # Small numbers keep the Argon2 work short: per user and address 1 free failure
    # and a lock after 2; per user (x5) a delay after 5 and a lock after 10.
    server = serve(auth_failures_before_delay=1, auth_failures_before_lock=2)
    his = make_instance(store)
    assert server.call(his, HIS_ADDRESS).code is None  # signs in: cached, address known
    for index in range(10):  # a minute apart, from ten addresses: none has to wait
        server.advance(61)
        assert wrong(server, his, f"203.0.113.{index + 1}").code == "Client.AuthenticationFailed"
    # The user is locked for addresses it never signed in from...
    assert_too_many(wrong(server, his, "203.0.113.99"), 60, "for this user")
    # ...but not for the HIS, nor for its cached password from elsewhere.
    for _ in range(3):
        assert server.call(his, HIS_ADDRESS).code is None
    assert server.call(his, "198.51.100.20").code is None
    # A new password is not cached yet: its known address still signs in at once.
    rotated = replace(his, password="a-brand-new-password-2")
    instances.set_password(store, his.instance, his.username, rotated.password)
    assert_too_many(server.call(rotated, "198.51.100.21"), 60, "for this user")
    assert server.call(rotated, HIS_ADDRESS).code is None
    server.advance(60)
    assert server.call(rotated, "198.51.100.21").code is None


def test_no_free_password_slot_is_answered_server_busy_quickly(serve: Any, store: Store) -> None:
    server = serve(auth_max_concurrent_hashes=1, auth_hash_wait_seconds=0.3)
    his = make_instance(store)
    assert server.call(his, HIS_ADDRESS).code is None  # cached from now on
    release = threading.Event()
    holder = threading.Thread(target=server.guard.slots.run, args=(lambda: release.wait(30),))
    holder.start()
    try:
        time.sleep(0.1)  # the holder has the only slot
        started = time.monotonic()
        answer = wrong(server, his, "203.0.113.5")
        elapsed = time.monotonic() - started
        assert answer.code == "Server.Busy", answer
        assert (
            answer.message == "The server is busy checking other passwords; retry in a few seconds"
        )
        assert elapsed < 2.0
        # A cached password needs no slot.
        assert server.call(his, HIS_ADDRESS).code is None
    finally:
        release.set()
        holder.join(timeout=30)
    # The refusal was not counted as a failure, and the slot is free again.
    assert wrong(server, his, "203.0.113.5").code == "Client.AuthenticationFailed"


def test_behind_an_unconfigured_proxy_an_attacker_cannot_lock_out_a_cached_his(
    serve: Any, store: Store
) -> None:
    # Without TUOTEMPO_TRUSTED_PROXY_HOPS every client is the proxy's 127.0.0.1: only
    # the user scope counts there (x5: a delay after 5 failures, a lock after 10).
    server = serve(auth_failures_before_delay=1, auth_failures_before_lock=2)
    his = make_instance(store)
    assert server.call(his, "127.0.0.1").code is None
    for _ in range(10):
        server.advance(61)
        assert wrong(server, his, "127.0.0.1").code == "Client.AuthenticationFailed"
    assert_too_many(wrong(server, his, "127.0.0.1"), 60, "for this user")
    for _ in range(3):
        assert server.call(his, "127.0.0.1").code is None  # its cached password
    # Another user behind the same proxy is not concerned.
    other = make_instance(store)
    assert server.call(other, "127.0.0.1").code is None
