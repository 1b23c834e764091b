"""The request being answered: its id, and what the logs and metrics say of it.

One ``RequestContext`` per HTTP request, set by the WSGI application for the
thread answering it (a context variable) and kept in the WSGI environ, where
gunicorn's access log finds it after the application has returned. Code that
learns something about the request notes it (``note_operation``,
``note_instance``, ``note_fault``); outside a request those calls do nothing.

The request id is the client's ``X-Request-ID`` when that is a short safe
token, else a new random one; it is sent back as ``X-Request-ID`` on every
answer and is the reference an internal-error fault asks the caller to quote.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
ENVIRON_KEY = "tuotempo.request"

# Letters, digits, '.', '_' and '-', 8 to 64 of them (a UUID, nginx's
# $request_id, a ULID); at least one letter, because a run of digits may be a
# phone number or an ID number and the request id is written in every log line.
_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_LETTER = re.compile(r"[A-Za-z]")


@dataclass
class RequestContext:
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    operation: str | None = None  # one of our operation names, never the caller's spelling
    instance: str | None = None  # set once the caller has authenticated
    fault: str | None = None  # the faultcode sent, if any

    def seconds(self) -> float:
        return time.perf_counter() - self.started


_CURRENT: ContextVar[RequestContext | None] = ContextVar("tuotempo_request", default=None)


def new_request_id() -> str:
    """64 random bits in hex: short enough to read out on the phone."""
    return secrets.token_hex(8)


def accepted_request_id(value: str | None) -> str | None:
    """The incoming id if it is one we keep (see ``_SAFE_ID``), else None."""
    if value is None:
        return None
    value = value.strip()
    if _SAFE_ID.fullmatch(value) and _LETTER.search(value):
        return value
    return None


def begin(environ: MutableMapping[str, Any]) -> tuple[RequestContext, Token[RequestContext | None]]:
    """Start the context of the request ``environ`` describes, for this thread."""
    request = RequestContext(
        accepted_request_id(environ.get("HTTP_X_REQUEST_ID")) or new_request_id()
    )
    environ[ENVIRON_KEY] = request
    return request, _CURRENT.set(request)


def end(token: Token[RequestContext | None]) -> None:
    _CURRENT.reset(token)


@contextmanager
def activated(request: RequestContext | None) -> Iterator[None]:
    """``request`` as the current one for a while (the access log, after the app)."""
    token = _CURRENT.set(request)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current() -> RequestContext | None:
    return _CURRENT.get()


def request_id() -> str | None:
    request = _CURRENT.get()
    return request.request_id if request is not None else None


def reference() -> str:
    """What an error answer asks the caller to quote: the request id (a new
    random one outside a request)."""
    return request_id() or new_request_id()


def note_operation(name: str) -> None:
    request = _CURRENT.get()
    if request is not None:
        request.operation = name


def note_instance(name: str) -> None:
    request = _CURRENT.get()
    if request is not None:
        request.instance = name


def note_fault(code: str, operation: str | None = None) -> None:
    request = _CURRENT.get()
    if request is not None:
        request.fault = code
        if operation is not None and request.operation is None:
            request.operation = operation
