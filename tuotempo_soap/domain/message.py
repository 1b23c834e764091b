"""Messages of the gateway (guide A.5): channels, statuses, recipients, SMS segments.

Status moves only forward: QUEUED -> SENDING -> SENT -> DELIVERED | FAILED, and
EXPIRED / CANCELLED / FAILED / DELIVERED are final. A late or repeated delivery
receipt can therefore never move a message backwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from .formats import FormatError, parse_timestamp
from .phones import normalise_phone
from .reservation import ItemError


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    VOICE = "VOICE"
    FAX = "FAX"
    PUSH = "PUSH"
    WHATSAPP = "WHATSAPP"


PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE, Channel.FAX, Channel.WHATSAPP})


class MessageStatus(StrEnum):
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.EXPIRED, MessageStatus.CANCELLED}
)


def receipt_may_move(current: str, target: str) -> bool:
    """A receipt moves SENDING/SENT (and a QUEUED retry) to DELIVERED or FAILED, never back."""
    if current in FINAL_STATUSES:
        return False
    return target in (MessageStatus.DELIVERED, MessageStatus.FAILED)


# GSM 03.38 basic character set, and the extension table (each costs two septets).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_size(text: str) -> SmsSize:
    """Segments a text needs: 160/153 septets in GSM-7, else 70/67 UTF-16 units.

    Concatenated SMS lose 7 septets (or 3 UCS-2 units) per part to the UDH header.
    A character is never split between two parts (an extension character's
    escape and its septet, a surrogate pair's two halves travel together), so a
    long text can need one part more than its units divided by 153 (or 67).
    """
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in text):
        costs = [2 if char in _GSM7_EXTENDED else 1 for char in text]
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, multi, encoding = 70, 67, "UCS-2"
    units = sum(costs)
    if units <= single:
        return SmsSize(encoding, units, 1)
    if all(cost == 1 for cost in costs):
        return SmsSize(encoding, units, math.ceil(units / multi))
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return SmsSize(encoding, units, segments)


MAX_SMS_SEGMENTS = 10
MAX_TEXT_LENGTH = 100_000

_LIMITS = {
    "LEGACY_ID": 64,
    "TO": 255,
    "SENDER": 50,
    "SUBJECT": 255,
    "LANGUAGE": 10,
}


@dataclass
class CleanMessage:
    legacy_id: str
    values: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class MessageRejectedError(Exception):
    def __init__(self, error: ItemError) -> None:
        super().__init__(error.message)
        self.error = error


def _reject(code: str, name: str, message: str) -> MessageRejectedError:
    return MessageRejectedError(ItemError(code, name, message))


def _text(raw: Mapping[str, object], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    limit = _LIMITS.get(name)
    if limit is not None and len(text) > limit:
        raise _reject("FIELD_TOO_LONG", name, f"{name} is {len(text)} characters; at most {limit}")
    return text


def normalise_recipient(channel: Channel, recipient: str, region: str) -> str:
    """The recipient as we store and search it; raises FormatError when unusable."""
    if channel in PHONE_CHANNELS:
        check = normalise_phone(recipient, region)
        if check.problem:
            raise FormatError(f"'{recipient}' {check.problem}")
        return check.value
    if channel is Channel.EMAIL:
        try:
            address = validate_email(recipient, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise FormatError(f"'{recipient}' is not a valid e-mail address: {exc}") from None
        # Lower case throughout: mailbox names are case-blind in practice, and
        # searchMessages by "to" must find Ana@x and ana@x alike.
        return str(address).lower()
    return recipient


def _moment(text: str | None, name: str, zone: ZoneInfo) -> datetime | None:
    """A send/expiry time: in the instance's zone unless it carries an offset; naive UTC out."""
    if text is None:
        return None
    try:
        moment = parse_timestamp(text)
    except FormatError as exc:
        raise _reject("INVALID_DATE", name, f"{name}: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def clean_message(
    raw: Mapping[str, object], *, region: str, zone: ZoneInfo, now: datetime
) -> CleanMessage:
    """Validate one incoming message; raise ``MessageRejectedError`` on the first error."""
    legacy_id = _text(raw, "LEGACY_ID")
    if legacy_id is None:
        raise _reject("MISSING_FIELD", "LEGACY_ID", "LEGACY_ID is required (your id for it)")
    channel_text = _text(raw, "CHANNEL")
    if channel_text is None:
        raise _reject("MISSING_FIELD", "CHANNEL", "CHANNEL is required")
    try:
        channel = Channel(channel_text.upper())
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise _reject(
            "INVALID_VALUE", "CHANNEL", f"'{channel_text}' is not a channel; expected {allowed}"
        ) from None
    recipient = _text(raw, "TO")
    if recipient is None:
        raise _reject("MISSING_FIELD", "TO", "TO is required (phone number, e-mail or token)")
    try:
        recipient = normalise_recipient(channel, recipient, region)
    except FormatError as exc:
        raise _reject("INVALID_RECIPIENT", "TO", f"TO: {exc}") from None
    body = raw.get("TEXT")
    text = str(body) if body is not None else ""
    if not text.strip():
        raise _reject("MISSING_FIELD", "TEXT", "TEXT is required")
    if len(text) > MAX_TEXT_LENGTH:
        raise _reject("FIELD_TOO_LONG", "TEXT", f"TEXT is over {MAX_TEXT_LENGTH} characters")
    subject = _text(raw, "SUBJECT")
    if channel is Channel.EMAIL and subject is None:
        raise _reject("MISSING_FIELD", "SUBJECT", "SUBJECT is required for EMAIL")
    segments = None
    if channel in (Channel.SMS, Channel.WHATSAPP):
        size = sms_size(text)
        if channel is Channel.SMS and size.segments > MAX_SMS_SEGMENTS:
            raise _reject(
                "FIELD_TOO_LONG",
                "TEXT",
                f"TEXT needs {size.segments} SMS segments ({size.encoding}); at most "
                f"{MAX_SMS_SEGMENTS}",
            )
        segments = size.segments if channel is Channel.SMS else None
    send_at = _moment(_text(raw, "SEND_AT"), "SEND_AT", zone)
    expires_at = _moment(_text(raw, "EXPIRES_AT"), "EXPIRES_AT", zone)
    if expires_at is not None:
        if expires_at <= now:
            raise _reject("INVALID_DATE", "EXPIRES_AT", "EXPIRES_AT is already past")
        if send_at is not None and expires_at <= send_at:
            raise _reject("INVALID_DATE", "EXPIRES_AT", "EXPIRES_AT is not after SEND_AT")
    values = {
        "legacy_id": legacy_id,
        "channel": channel.value,
        "recipient": recipient,
        "sender": _text(raw, "SENDER"),
        "subject": subject,
        "body": text,
        "language": _text(raw, "LANGUAGE"),
        "segments": segments,
        "send_at": send_at,
        "expires_at": expires_at,
    }
    return CleanMessage(legacy_id, values)
