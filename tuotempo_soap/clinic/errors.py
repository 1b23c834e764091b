"""The one place that turns zeep, requests and lxml failures into clinic errors.

Callers branch on the class: ``ClinicUnavailableError`` (and its
``ClinicTimeoutError``) is worth another try later, the others are not. Messages
name the clinic's host and the operation, never what we sent: a clinic's fault
text is cut short and stripped of anything that looks like a phone number or an
e-mail address, and of the patient values the caller hands in as ``redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import requests
import zeep.exceptions
from lxml import etree

from ..errors import TuotempoError

# A clinic answering one of these may well answer the next call.
_RETRY_STATUSES = frozenset({408, 425, 429})
_AUTH_STATUSES = frozenset({401, 403})
# Fault codes and typed fault details name authentication failures in many ways.
_AUTH_WORDS = ("auth", "credential", "login", "password", "permission", "forbidden")
_EMAIL = re.compile(r"[^\s@<>\"',;()]+@[^\s@<>\"',;()]+")
_PHONE = re.compile(r"\+?\d[\d\s().\-]{5,}\d")
_FAULT_TEXT_LIMIT = 200


class ClinicError(TuotempoError):
    """A call to a clinic's web services failed. ``operation`` and ``host`` say which;
    ``fault_code`` and ``status_code`` carry the clinic's own code when it sent one."""

    code = "Server.ClinicError"

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        host: str | None = None,
        fault_code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.host = host
        self.fault_code = fault_code
        self.status_code = status_code


class ClinicUnavailableError(ClinicError):
    """Timeouts, refused or dropped connections, HTTP 5xx and ``Server`` faults.

    ``request_sent`` is False only when the request certainly never left us (the
    connection was never made), so a write cannot have happened."""

    code = "Server.ClinicUnavailable"

    def __init__(self, message: str, *, request_sent: bool = True, **context: Any) -> None:
        super().__init__(message, **context)
        self.request_sent = request_sent


class ClinicTimeoutError(ClinicUnavailableError):
    """No answer within the endpoint's ``timeout_seconds``."""


class ClinicAuthenticationError(ClinicError):
    """The clinic refused the credentials we are configured with."""

    code = "Server.ClinicAuthenticationFailed"


class ClinicProtocolError(ClinicError):
    """An answer we cannot read: not XML, forbidden XML (DTDs, entities, external
    references), not what the WSDL declares, or a WSDL we cannot use."""

    code = "Server.ClinicProtocolError"


class ClinicRejectedError(ClinicError):
    """The clinic understood the request and refused it (``Client`` faults)."""

    code = "Client.ClinicRejected"


def redact(text: str, values: Iterable[str] = ()) -> str:
    """``text`` without the given values, phone-like numbers or e-mail addresses,
    on one line and cut short."""
    for value in sorted((v for v in values if v and len(v) >= 3), key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    text = _EMAIL.sub("<redacted>", text)
    text = _PHONE.sub("<redacted>", text)
    text = " ".join(text.split())
    # Redact before cutting, so half a phone number cannot slip through the cut.
    if len(text) > _FAULT_TEXT_LIMIT:
        text = text[: _FAULT_TEXT_LIMIT - 3] + "..."
    return text


def _local_code(code: str | None) -> str:
    """``soap11env:Client.AuthenticationFailed`` -> ``Client.AuthenticationFailed``."""
    if not code:
        return ""
    return code.strip().rsplit("}", 1)[-1].split(":", 1)[-1]


def _detail_code(detail: Any) -> str:
    """The ``CODE`` of a typed fault detail (``ClinicFault``), wherever it is nested."""
    if not isinstance(detail, etree._Element):
        return ""
    for element in detail.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname.upper() == "CODE":
            return (element.text or "").strip()
    return ""


def _is_auth(*codes: str) -> bool:
    return any(word in code.lower() for code in codes for word in _AUTH_WORDS)


def _never_connected(exc: BaseException) -> bool:
    """The TCP connection was never made, so the request was never sent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    current: BaseException | None = exc
    # requests wraps urllib3's MaxRetryError as its first argument, which holds the
    # NewConnectionError as ``reason``: walk those links, a few steps at most.
    for _ in range(6):
        if current is None:
            return False
        if type(current).__name__ in ("NewConnectionError", "NameResolutionError"):
            return True
        reason = getattr(current, "reason", None)
        first = current.args[0] if current.args else None
        if isinstance(reason, BaseException):
            current = reason
        elif isinstance(first, BaseException):
            current = first
        else:
            current = current.__cause__ or current.__context__
    return False


def _from_status(status: int, where: str, context: dict[str, Any]) -> ClinicError:
    if status in _AUTH_STATUSES:
        return ClinicAuthenticationError(f"{where}: HTTP {status}", status_code=status, **context)
    if status >= 500 or status in _RETRY_STATUSES:
        return ClinicUnavailableError(f"{where}: HTTP {status}", status_code=status, **context)
    return ClinicProtocolError(f"{where}: unexpected HTTP {status}", status_code=status, **context)


def _from_fault(
    exc: zeep.exceptions.Fault, where: str, values: Iterable[str], context: dict[str, Any]
) -> ClinicError:
    code = _local_code(exc.code)
    detail = _detail_code(exc.detail)
    shown = detail or code or "no code"
    text = redact(str(exc.message or ""), values)
    message = f"{where}: fault {shown}" + (f": {text}" if text else "")
    context = {**context, "fault_code": detail or code or None}
    if _is_auth(code, detail):
        return ClinicAuthenticationError(message, **context)
    head = code.split(".", 1)[0]
    if head in ("Server", "Receiver"):
        return ClinicUnavailableError(message, **context)
    if head in ("Client", "Sender"):
        return ClinicRejectedError(message, **context)
    return ClinicProtocolError(message, **context)


def map_error(
    exc: BaseException,
    *,
    operation: str,
    host: str,
    redact_values: Iterable[str] = (),
) -> ClinicError | None:
    """The clinic error for a foreign exception, or None when ``exc`` is none of
    ours to map (a bug to let through). Use as ``raise mapped from exc``."""
    where = f"clinic {host}, {operation}"
    context: dict[str, Any] = {"operation": operation, "host": host}
    if isinstance(exc, ClinicError):
        return exc
    if isinstance(exc, zeep.exceptions.Fault):
        return _from_fault(exc, where, redact_values, context)
    if isinstance(exc, zeep.exceptions.TransportError):
        status = int(exc.status_code or 0)
        if status:
            return _from_status(status, where, context)
        return ClinicProtocolError(f"{where}: unreadable HTTP answer", **context)
    if isinstance(exc, requests.Timeout):
        return ClinicTimeoutError(
            f"{where}: no answer in time",
            request_sent=not _never_connected(exc),
            **context,
        )
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        never = _never_connected(exc)
        reason = "could not connect" if never else "connection lost"
        return ClinicUnavailableError(f"{where}: {reason}", request_sent=not never, **context)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        # Only the WSDL download raises this; calls go through zeep's TransportError.
        return _from_status(int(exc.response.status_code), where, context)
    if isinstance(exc, requests.RequestException):
        return ClinicProtocolError(f"{where}: request failed ({type(exc).__name__})", **context)
    forbidden = (
        zeep.exceptions.DTDForbidden,
        zeep.exceptions.EntitiesForbidden,
        zeep.exceptions.ExternalReferenceForbidden,
    )
    if isinstance(exc, forbidden):
        return ClinicProtocolError(
            f"{where}: refused XML with a DTD, entities or external references "
            f"({type(exc).__name__})",
            **context,
        )
    if isinstance(exc, zeep.exceptions.ValidationError):
        # Raised while building the request or reading the answer: either way the
        # clinic's WSDL and what we exchange disagree. The path names a field, not a value.
        path = ".".join(str(part) for part in exc.path)
        return ClinicProtocolError(
            f"{where}: does not match the WSDL" + (f" ({path})" if path else ""), **context
        )
    if isinstance(exc, zeep.exceptions.Error | etree.XMLSyntaxError):
        return ClinicProtocolError(f"{where}: unreadable answer ({type(exc).__name__})", **context)
    return None
