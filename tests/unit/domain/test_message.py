from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tuotempo_soap.domain.message import (
    MessageRejectedError,
    MessageStatus,
    clean_message,
    receipt_may_move,
    sms_size,
)

NOW = datetime(2027, 2, 1, 12, 0)
MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters cost two septets
        ("€" * 81, "GSM-7", 2),
        ("ñ" * 160, "GSM-7", 1),
        ("ć" * 70, "UCS-2", 1),
        ("ć" * 71, "UCS-2", 2),
        ("😀" * 35, "UCS-2", 1),  # a surrogate pair is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_sms_segments(text: str, encoding: str, segments: int) -> None:
    size = sms_size(text)
    assert (size.encoding, size.segments) == (encoding, segments)


def message(**fields: object) -> dict[str, object]:
    return {"LEGACY_ID": "L1", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "hola", **fields}


def clean(raw: dict[str, object]):  # type: ignore[no-untyped-def]
    return clean_message(raw, region="ES", zone=MADRID, now=NOW)


def code(raw: dict[str, object]) -> tuple[str, str | None]:
    with pytest.raises(MessageRejectedError) as info:
        clean(raw)
    return info.value.error.code, info.value.error.field


def test_recipients_per_channel() -> None:
    assert clean(message()).values["recipient"] == "+34612345678"
    assert (
        clean(message(CHANNEL="email", TO="Ana@Example.ORG", SUBJECT="s")).values["recipient"]
        == "ana@example.org"
    )
    assert (
        clean(message(CHANNEL="PUSH", TO="device-token-1")).values["recipient"] == "device-token-1"
    )
    assert code(message(TO="12")) == ("INVALID_RECIPIENT", "TO")
    assert code(message(CHANNEL="EMAIL", TO="nobody", SUBJECT="s")) == ("INVALID_RECIPIENT", "TO")
    assert code(message(CHANNEL="FAXX")) == ("INVALID_VALUE", "CHANNEL")
    assert code(message(LEGACY_ID=" ")) == ("MISSING_FIELD", "LEGACY_ID")
    assert code(message(LEGACY_ID="x" * 65)) == ("FIELD_TOO_LONG", "LEGACY_ID")


def test_send_and_expiry_times() -> None:
    local = clean(message(SEND_AT="01/02/2027 15:00")).values
    assert local["send_at"] == datetime(2027, 2, 1, 14, 0)  # Madrid is UTC+1 in February
    offset = clean(message(SEND_AT="2027-02-01T15:00:00+00:00")).values
    assert offset["send_at"] == datetime(2027, 2, 1, 15, 0)
    assert code(message(EXPIRES_AT="01/02/2027 12:30")) == ("INVALID_DATE", "EXPIRES_AT")  # past
    assert code(message(SEND_AT="02/02/2027 10:00", EXPIRES_AT="02/02/2027 09:00")) == (
        "INVALID_DATE",
        "EXPIRES_AT",
    )
    assert code(message(SEND_AT="31/02/2027 10:00")) == ("INVALID_DATE", "SEND_AT")


def test_receipts_never_move_backwards() -> None:
    assert receipt_may_move(MessageStatus.SENT, MessageStatus.DELIVERED)
    assert receipt_may_move(MessageStatus.SENDING, MessageStatus.FAILED)
    for final in ("DELIVERED", "FAILED", "EXPIRED", "CANCELLED"):
        assert not receipt_may_move(final, MessageStatus.DELIVERED)
        assert not receipt_may_move(final, MessageStatus.FAILED)
    assert not receipt_may_move(MessageStatus.SENT, MessageStatus.SENT)
