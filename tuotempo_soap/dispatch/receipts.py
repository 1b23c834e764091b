"""Delivery receipts: proving a callback comes from the provider, and reading it.

A receipt endpoint is open to the internet, so the callback is authenticated
before its body is parsed: either the provider echoes a shared secret in a
header, or it signs the raw body with HMAC-SHA256. Both are compared in
constant time. What is left is mapped onto four states; the service layer
decides what a state does to a message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal
from urllib.parse import parse_qs

from ..errors import TuotempoError

ReceiptAuth = Literal["shared-secret", "hmac-sha256"]
ReceiptFormat = Literal["json", "form"]
RECEIPT_AUTHS: tuple[ReceiptAuth, ...] = ("shared-secret", "hmac-sha256")
RECEIPT_FORMATS: tuple[ReceiptFormat, ...] = ("json", "form")


class ReceiptAuthError(TuotempoError):
    """The callback does not carry the secret or a valid signature."""

    code = "Client.ReceiptUnauthorized"


class ReceiptFormatError(TuotempoError):
    """The callback is authentic but not a receipt we can read."""

    code = "Client.ReceiptInvalid"


class ReceiptState(StrEnum):
    DELIVERED = "delivered"  # on the handset / in the mailbox
    FAILED = "failed"  # will never arrive
    SENT = "sent"  # still on its way: accepted, queued, buffered
    UNKNOWN = "unknown"  # a word we do not know, or the gateway does not know either


# Keys are lower case; words are matched case-insensitively. SMPP-style
# abbreviations (DELIVRD, UNDELIV, ...) come from the SMSC delivery report format
# most SMS gateways pass through; the others are what HTTP gateways and e-mail
# services commonly send.
STATE_BY_WORD: dict[str, ReceiptState] = {
    **dict.fromkeys(("delivrd", "delivered", "read"), ReceiptState.DELIVERED),
    **dict.fromkeys(
        (
            "undeliv",
            "undelivered",
            "undeliverable",
            "rejectd",
            "rejected",
            "expired",
            "deleted",
            "failed",
            "bounced",
            "dropped",
        ),
        ReceiptState.FAILED,
    ),
    **dict.fromkeys(
        ("acceptd", "accepted", "enroute", "buffered", "sent", "sending", "queued", "deferred"),
        ReceiptState.SENT,
    ),
    "unknown": ReceiptState.UNKNOWN,
}


def state_for(word: str) -> ReceiptState:
    return STATE_BY_WORD.get(word.strip().lower(), ReceiptState.UNKNOWN)


@dataclass(frozen=True)
class ReceiptSettings:
    """How one provider's callbacks are authenticated and where their values are.

    ``header`` carries the secret (shared-secret) or the body's hex HMAC
    (hmac-sha256). A ``*_field`` set to ``None`` is not read.
    """

    secret: str = field(repr=False)
    auth: ReceiptAuth = "hmac-sha256"
    header: str = "X-Signature"
    format: ReceiptFormat = "json"
    id_field: str | None = "id"
    reference_field: str | None = "reference"
    status_field: str = "status"
    error_field: str | None = "error"


@dataclass(frozen=True)
class Receipt:
    """``reference`` is the message's random reference as the provider echoes it back."""

    provider_message_id: str | None
    reference: str | None
    state: ReceiptState
    raw_status: str
    error: str | None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _same(given: str, expected: str) -> bool:
    # compare_digest refuses non-ASCII str; bytes keep it constant-time for any input.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def verify_receipt(settings: ReceiptSettings, headers: Mapping[str, str], body: bytes) -> None:
    """Raise ``ReceiptAuthError`` unless the callback proves it knows the secret."""
    given = _header(headers, settings.header)
    if given is None or not given.strip():
        raise ReceiptAuthError(f"the {settings.header} header is missing", field=settings.header)
    given = given.strip()
    if settings.auth == "shared-secret":
        if not _same(given, settings.secret):
            raise ReceiptAuthError("the receipt secret is wrong", field=settings.header)
        return
    if given[:7].lower() == "sha256=":
        given = given[7:]
    expected = hmac.new(settings.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not _same(given.lower(), expected):
        raise ReceiptAuthError("the receipt signature does not match", field=settings.header)


def _values(settings: ReceiptSettings, body: bytes) -> Mapping[str, object]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ReceiptFormatError("the receipt body is not UTF-8") from None
    if settings.format == "json":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            raise ReceiptFormatError("the receipt body is not JSON") from None
        if not isinstance(data, dict):
            raise ReceiptFormatError("the receipt body is not a JSON object")
        return data
    try:
        pairs = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError:
        raise ReceiptFormatError("the receipt body is not form-encoded") from None
    return {key: values[0] for key, values in pairs.items()}


def _text(values: Mapping[str, object], name: str | None) -> str | None:
    if name is None:
        return None
    value = values.get(name)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def parse_receipt(settings: ReceiptSettings, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Authenticate, then read one receipt; header names are matched case-insensitively."""
    verify_receipt(settings, headers, body)
    values = _values(settings, body)
    provider_message_id = _text(values, settings.id_field)
    reference = _text(values, settings.reference_field)
    if provider_message_id is None and reference is None:
        named = " or ".join(f"'{n}'" for n in (settings.id_field, settings.reference_field) if n)
        raise ReceiptFormatError(f"the receipt has no message id ({named})")
    raw_status = _text(values, settings.status_field)
    if raw_status is None:
        raise ReceiptFormatError(
            f"the receipt has no status ('{settings.status_field}')", field=settings.status_field
        )
    error = _text(values, settings.error_field)
    return Receipt(
        provider_message_id=provider_message_id,
        reference=reference,
        state=state_for(raw_status),
        raw_status=raw_status,
        error=error[:500] if error else None,
    )
