"""A configurable HTTP gateway (SMS and the like), over pooled ``requests.Session`` objects.

Most SMS gateways take one POST with the number, the text and a sender id,
under names of their own; ``HttpSettings.fields`` maps ours onto theirs, so a
new gateway is configuration, not code. The message's random reference (never
our sequential id) travels as the idempotency key and as the reference the
gateway echoes in its receipts and in patients' answers.
"""

from __future__ import annotations

import http.cookiejar
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import requests

from ..base import OutgoingMessage, SendResult

log = logging.getLogger(__name__)

HttpFormat = Literal["json", "form"]
StaticValue = str | int | float | bool

# Our names for what a gateway may want; keys of ``HttpSettings.fields``.
FIELD_NAMES = ("to", "text", "sender_id", "reference", "subject", "language")

# Worth another try later: the request timed out, was too early, too many, or
# the gateway itself failed. Every other 4xx says this request will never do.
RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class BearerAuth:
    token: str = field(repr=False)


@dataclass(frozen=True)
class HeaderAuth:
    name: str
    value: str = field(repr=False)


HttpAuth = BasicAuth | BearerAuth | HeaderAuth


@dataclass(frozen=True)
class HttpSettings:
    """``fields`` maps our field names (``FIELD_NAMES``) to the gateway's; unmapped ones
    are not sent. ``message_id_path`` is a dotted path into the JSON answer
    (``messages.0.id``) where the gateway puts its own id."""

    url: str
    method: str = "POST"
    format: HttpFormat = "json"
    auth: HttpAuth | None = None
    fields: Mapping[str, str] = field(default_factory=lambda: {"to": "to", "text": "text"})
    static_fields: Mapping[str, StaticValue] = field(default_factory=dict)
    idempotency_header: str | None = "Idempotency-Key"
    message_id_path: str | None = None
    timeout_seconds: float = 10.0


def value_at_path(data: object, path: str) -> object | None:
    """``a.0.b`` walks dict keys and list indices; anything missing gives None."""
    current = data
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def _form_value(value: StaticValue) -> str:
    # JSON spells booleans in lower case; a form should read the same.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _redact(text: str, message: OutgoingMessage) -> str:
    # Gateways like to echo the number (and sometimes the text) in their errors.
    for secret in (message.recipient, message.text):
        if secret and len(secret) >= 3:
            text = text.replace(secret, "<redacted>")
    return " ".join(text.split())


class HttpSender:
    """One gateway. Safe to share between worker threads: each send borrows a session
    of its own from a small pool (requests does not promise that one session is
    thread-safe, and its connection pool holds only 10 connections), and gives it
    back for the next send to reuse its kept-alive connection. An injected session
    (tests) is used by every send."""

    def __init__(
        self, name: str, settings: HttpSettings, *, session: requests.Session | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self._shared = session
        if session is not None:
            self._no_cookies(session)
        self._lock = threading.Lock()
        self._idle: list[requests.Session] = []
        self._all: list[requests.Session] = []
        self._proxies: dict[str, str] | None = None

    @staticmethod
    def _no_cookies(session: requests.Session) -> None:
        # Cookies would be shared state between messages.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        if self._proxies is None:
            self._proxies = requests.utils.get_environ_proxies(self.settings.url)
        # With trust_env, requests re-reads proxy variables and .netrc on every
        # request (measured: 13% of a worker's time); read them once instead.
        session.proxies.update(self._proxies)
        session.trust_env = False
        self._no_cookies(session)
        return session

    def _borrow(self) -> requests.Session:
        if self._shared is not None:
            return self._shared
        with self._lock:
            if self._idle:
                return self._idle.pop()
            session = self._new_session()
            self._all.append(session)
            return session

    def _give_back(self, session: requests.Session) -> None:
        if session is self._shared:
            return
        with self._lock:
            if session in self._all:  # not after close()
                self._idle.append(session)
            else:
                session.close()

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        ours: dict[str, object | None] = {
            "to": message.recipient,
            "text": message.text,
            "sender_id": message.sender_id,
            "reference": message.reference,
            "subject": message.subject,
            "language": message.language,
        }
        body: dict[str, Any] = dict(self.settings.static_fields)
        for name, theirs in self.settings.fields.items():
            value = ours.get(name)
            if value is not None:
                body[theirs] = value
        if self.settings.format == "form":
            return {key: _form_value(value) for key, value in body.items()}
        return body

    def headers(self, message: OutgoingMessage) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.idempotency_header:
            headers[self.settings.idempotency_header] = message.reference
        auth = self.settings.auth
        if isinstance(auth, BearerAuth):
            headers["Authorization"] = f"Bearer {auth.token}"
        elif isinstance(auth, HeaderAuth):
            headers[auth.name] = auth.value
        return headers

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        body = self.payload(message)
        auth = self.settings.auth
        session = self._borrow()
        try:
            response = session.request(
                s.method,
                s.url,
                json=body if s.format == "json" else None,
                data=body if s.format == "form" else None,
                headers=self.headers(message),
                auth=(auth.username, auth.password) if isinstance(auth, BasicAuth) else None,
                timeout=s.timeout_seconds,
                # A redirected POST turns into a GET; a gateway that moved is a
                # configuration matter, not something to follow silently.
                allow_redirects=False,
            )
        except requests.Timeout:
            return self._done(message, SendResult.retry(f"timeout after {s.timeout_seconds:g}s"))
        except requests.ConnectionError as exc:
            reason = _redact(f"connection failed: {type(exc).__name__}", message)
            return self._done(message, SendResult.retry(reason))
        except requests.RequestException as exc:
            return self._done(message, SendResult.retry(f"request failed: {type(exc).__name__}"))
        finally:
            self._give_back(session)
        return self._classify(message, response)

    def _classify(self, message: OutgoingMessage, response: requests.Response) -> SendResult:
        status = int(response.status_code)
        if 200 <= status < 300:
            return self._done(message, SendResult.sent(self._provider_id(response)), status)
        # Redact before cutting, so half a phone number cannot slip through the cut.
        excerpt = _redact(response.text[:4000], message)[:200]
        text = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        if status in RETRY_STATUSES or status >= 500:
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                text = f"{text} (Retry-After: {retry_after[:40]})"
            return self._done(message, SendResult.retry(text), status)
        return self._done(message, SendResult.permanent(text), status)

    def _provider_id(self, response: requests.Response) -> str | None:
        path = self.settings.message_id_path
        if not path:
            return None
        try:
            data = response.json()
        except ValueError:  # the gateway took it; a non-JSON answer only costs us its id
            return None
        value = value_at_path(data, path)
        if value is None or isinstance(value, dict | list):
            return None
        return str(value)

    def _done(
        self, message: OutgoingMessage, result: SendResult, status: int | None = None
    ) -> SendResult:
        # Never the recipient or the text: provider, our id and the status only.
        log.info(
            "http provider=%s message=%s outcome=%s status=%s",
            self.name,
            message.message_id,
            result.outcome,
            status,
        )
        return result

    def close(self) -> None:
        with self._lock:
            sessions, self._all, self._idle = self._all, [], []
        if self._shared is not None:
            sessions.append(self._shared)
        for session in sessions:
            session.close()
