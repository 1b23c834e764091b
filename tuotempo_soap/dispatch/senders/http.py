"""A configurable HTTP gateway (SMS and the like), over one pool of kept-alive connections.

Most SMS gateways take one POST with the number, the text and a sender id,
under names of their own; ``HttpSettings.fields`` maps ours onto theirs, so a
new gateway is configuration, not code. The message's random reference (never
our sequential id) travels as the idempotency key and as the reference the
gateway echoes in its receipts and in patients' answers.

The wire is urllib3's connection pool, used directly: a worker sends every
message through here, and requests' layers on top of the same pool (sessions,
hooks, cookie jars, header merging) cost three times the CPU of the send
itself (bench/bench_dispatch.py), for features a gateway call does not use.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from urllib3.exceptions import (
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as HttpTimeoutError

from ..base import OutgoingMessage, SendResult

log = logging.getLogger(__name__)

HttpFormat = Literal["json", "form"]
StaticValue = str | int | float | bool

# Our names for what a gateway may want; keys of ``HttpSettings.fields``.
FIELD_NAMES = ("to", "text", "sender_id", "reference", "subject", "language")

# Worth another try later: the request timed out, was too early, too many, or
# the gateway itself failed. Every other 4xx says this request will never do.
RETRY_STATUSES = frozenset({408, 425, 429})

# Connections kept alive per gateway when its provider sets no max_concurrency:
# the most the senders file allows. A connection is only opened for a send
# that finds none idle, so a worker keeps as many as it has sends in flight.
MAX_CONNECTIONS = 1000
USER_AGENT = "tuotempo-soap"


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


def _latin1_or_utf8(text: str) -> bytes:
    # RFC 7617's historical charset first, as browsers and requests send it.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _auth_headers(auth: HttpAuth | None) -> dict[str, str]:
    if isinstance(auth, BasicAuth):
        pair = _latin1_or_utf8(auth.username) + b":" + _latin1_or_utf8(auth.password)
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if isinstance(auth, BearerAuth):
        return {"Authorization": f"Bearer {auth.token}"}
    if isinstance(auth, HeaderAuth):
        return {auth.name: auth.value}
    return {}


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``https_proxy``, ``no_proxy``...), if any.

    Read once per sender, not per request: re-reading the environment on every
    send was 13% of a worker's time when requests did it.
    """
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    return proxy


class HttpSender:
    """One gateway. Safe to share between a worker's send threads: the connection pool
    hands each send a kept-alive connection of its own (one per send in flight,
    up to ``connections``), so concurrent sends never wait for each other."""

    def __init__(
        self, name: str, settings: HttpSettings, *, connections: int | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.connections = connections or MAX_CONNECTIONS
        self._lock = threading.Lock()
        self._manager: urllib3.PoolManager | None = None
        # Where each send goes: the gateway's own pool and the URL's path, or
        # (through a proxy) the manager and the whole URL.
        self._route: tuple[urllib3.HTTPConnectionPool | urllib3.PoolManager, str] | None = None
        self._timeout = urllib3.Timeout(
            connect=settings.timeout_seconds, read=settings.timeout_seconds
        )
        content_type = (
            "application/json" if settings.format == "json" else "application/x-www-form-urlencoded"
        )
        # Everything but the idempotency key is the same for every message.
        self._headers = {
            "Accept": "application/json",
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            **_auth_headers(settings.auth),
        }

    def _opened(self) -> tuple[urllib3.HTTPConnectionPool | urllib3.PoolManager, str]:
        """Built on the first send (nothing connects at start-up), then reused."""
        route = self._route
        if route is None:
            with self._lock:
                if self._route is None:
                    self._route = self._open()
                route = self._route
        return route

    def _open(self) -> tuple[urllib3.HTTPConnectionPool | urllib3.PoolManager, str]:
        options: dict[str, Any] = {
            "num_pools": 1,
            "maxsize": self.connections,
            "block": False,
            "ca_certs": certifi.where(),  # the bundle requests verified against
        }
        url = self.settings.url
        proxy = _proxy_for(url)
        if proxy is not None:
            # Through a proxy the manager decides per request (absolute URL or
            # CONNECT tunnel); a proxied gateway is rare enough to pay for it.
            self._manager = urllib3.ProxyManager(proxy, **options)
            return self._manager, url
        self._manager = urllib3.PoolManager(**options)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return self._manager.connection_from_url(url), path

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
        headers = dict(self._headers)
        if self.settings.idempotency_header:
            headers[self.settings.idempotency_header] = message.reference
        return headers

    def _body(self, message: OutgoingMessage) -> bytes:
        payload = self.payload(message)
        if self.settings.format == "form":
            return urlencode(payload).encode("ascii")
        return json.dumps(payload, allow_nan=False).encode("utf-8")

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        try:
            opener, target = self._opened()
            response = opener.urlopen(
                s.method,
                target,
                body=self._body(message),
                headers=self.headers(message),
                timeout=self._timeout,
                # Never resent behind the worker's back: a retry is the
                # worker's decision, recorded, under the same reference.
                retries=False,
                # A redirected POST turns into a GET; a gateway that moved is a
                # configuration matter, not something to follow silently.
                redirect=False,
                preload_content=True,
            )
        except NewConnectionError as exc:  # refused, unreachable, unknown host
            return self._done(message, SendResult.retry(f"connection failed: {type(exc).__name__}"))
        except HttpTimeoutError:
            return self._done(message, SendResult.retry(f"timeout after {s.timeout_seconds:g}s"))
        except (ProtocolError, ProxyError, SSLError) as exc:
            return self._done(message, SendResult.retry(f"connection failed: {type(exc).__name__}"))
        except (HTTPError, ValueError) as exc:  # ValueError: a body JSON cannot carry
            return self._done(message, SendResult.retry(f"request failed: {type(exc).__name__}"))
        return self._classify(message, response)

    def _classify(self, message: OutgoingMessage, response: urllib3.BaseHTTPResponse) -> SendResult:
        status = int(response.status)
        if 200 <= status < 300:
            return self._done(message, SendResult.sent(self._provider_id(response)), status)
        # Redact before cutting, so half a phone number cannot slip through the cut.
        excerpt = _redact(_text(response)[:4000], message)[:200]
        text = f"HTTP {status}: {excerpt}" if excerpt else f"HTTP {status}"
        if status in RETRY_STATUSES or status >= 500:
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                text = f"{text} (Retry-After: {retry_after[:40]})"
            return self._done(message, SendResult.retry(text), status)
        return self._done(message, SendResult.permanent(text), status)

    def _provider_id(self, response: urllib3.BaseHTTPResponse) -> str | None:
        path = self.settings.message_id_path
        if not path:
            return None
        try:
            data = json.loads(response.data)
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
            manager, self._manager, self._route = self._manager, None, None
        if manager is not None:
            manager.clear()


def _text(response: urllib3.BaseHTTPResponse) -> str:
    """The answer's body as text, in the charset it declares (UTF-8 when it does not)."""
    charset = "utf-8"
    for part in (response.headers.get("Content-Type") or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"'")
    try:
        return response.data.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return response.data.decode("utf-8", errors="replace")
