"""Delivery receipts: authentication first, then the body, then the state word."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from tuotempo_soap.dispatch.receipts import (
    STATE_BY_WORD,
    ReceiptAuthError,
    ReceiptFormatError,
    ReceiptSettings,
    ReceiptState,
    parse_receipt,
)
from tuotempo_soap.errors import TuotempoError

SECRET = "s3cr3t-ñ"

SIGNED = ReceiptSettings(
    secret=SECRET,
    auth="hmac-sha256",
    header="X-Signature",
    format="json",
    id_field="message_id",
    reference_field="reference",
    status_field="status",
    error_field="error",
)
SHARED = ReceiptSettings(
    secret=SECRET,
    auth="shared-secret",
    header="X-Receipt-Secret",
    format="form",
    id_field="id",
    reference_field="client_ref",
    status_field="stat",
    error_field="err",
)


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def json_body(**values: object) -> bytes:
    return json.dumps(values).encode()


def test_signed_json_receipt() -> None:
    body = json_body(message_id="gw-1", reference="42", status="DELIVRD", error=None)
    receipt = parse_receipt(SIGNED, {"X-Signature": sign(body)}, body)
    assert receipt.provider_message_id == "gw-1"
    assert receipt.reference == "42"
    assert receipt.state is ReceiptState.DELIVERED
    assert receipt.raw_status == "DELIVRD"
    assert receipt.error is None


@pytest.mark.parametrize(
    "header",
    [lambda b: "sha256=" + sign(b), lambda b: sign(b).upper(), lambda b: f"  {sign(b)}  "],
)
def test_signature_spellings_gateways_use(header: Callable[[bytes], str]) -> None:
    body = json_body(message_id=7, status="failed", error="absent subscriber")
    receipt = parse_receipt(SIGNED, {"x-signature": header(body)}, body)
    assert receipt.provider_message_id == "7"  # numbers become text
    assert receipt.state is ReceiptState.FAILED
    assert receipt.error == "absent subscriber"


def test_wrong_secret_is_refused() -> None:
    body = json_body(message_id="gw-1", status="DELIVRD")
    with pytest.raises(ReceiptAuthError) as caught:
        parse_receipt(SIGNED, {"X-Signature": sign(body, "guess")}, body)
    assert caught.value.code == "Client.ReceiptUnauthorized"
    assert isinstance(caught.value, TuotempoError)


def test_tampered_body_is_refused() -> None:
    body = json_body(message_id="gw-1", status="UNDELIV")
    signature = sign(body)
    forged = body.replace(b"UNDELIV", b"DELIVRD")
    with pytest.raises(ReceiptAuthError, match="signature"):
        parse_receipt(SIGNED, {"X-Signature": signature}, forged)


@pytest.mark.parametrize("headers", [{}, {"X-Signature": ""}, {"X-Other": "x"}])
def test_missing_signature_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(ReceiptAuthError, match="missing"):
        parse_receipt(SIGNED, headers, json_body(message_id="1", status="sent"))


def test_non_ascii_signature_is_refused_not_crashing() -> None:
    body = json_body(message_id="1", status="sent")
    with pytest.raises(ReceiptAuthError):
        parse_receipt(SIGNED, {"X-Signature": "ñ" * 64}, body)


def test_shared_secret_form_receipt() -> None:
    body = urlencode({"id": "abc", "client_ref": "99", "stat": "REJECTD", "err": "bad number"})
    receipt = parse_receipt(SHARED, {"X-Receipt-Secret": SECRET}, body.encode())
    assert (receipt.provider_message_id, receipt.reference) == ("abc", "99")
    assert receipt.state is ReceiptState.FAILED
    assert receipt.error == "bad number"


@pytest.mark.parametrize("given", ["wrong", SECRET + "x", SECRET[:-1], ""])
def test_shared_secret_must_match_exactly(given: str) -> None:
    body = b"id=abc&stat=DELIVRD"
    with pytest.raises(ReceiptAuthError):
        parse_receipt(SHARED, {"X-Receipt-Secret": given}, body)


def test_auth_comes_before_parsing() -> None:
    # An unauthenticated caller learns nothing about what we would accept.
    with pytest.raises(ReceiptAuthError):
        parse_receipt(SIGNED, {"X-Signature": "00"}, b"not json at all")


def signed(body: bytes) -> dict[str, str]:
    return {"X-Signature": sign(body)}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (json_body(status="DELIVRD"), "no message id"),
        (json_body(message_id="", reference=None, status="DELIVRD"), "no message id"),
        (json_body(message_id={"nested": 1}, status="DELIVRD"), "no message id"),
        (json_body(message_id="1"), "no status"),
        (json_body(message_id="1", status="  "), "no status"),
    ],
)
def test_unreadable_json_receipts(body: bytes, problem: str) -> None:
    with pytest.raises(ReceiptFormatError, match=problem) as caught:
        parse_receipt(SIGNED, signed(body), body)
    assert caught.value.code == "Client.ReceiptInvalid"


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"stat=DELIVRD", "no message id"), (b"id=1", "no status"), (b"id=1&&bogus", "form")],
)
def test_unreadable_form_receipts(body: bytes, problem: str) -> None:
    with pytest.raises(ReceiptFormatError, match=problem):
        parse_receipt(SHARED, {"X-Receipt-Secret": SECRET}, body)


def test_reference_alone_is_enough() -> None:
    body = json_body(reference="12", status="delivered")
    receipt = parse_receipt(SIGNED, signed(body), body)
    assert receipt.provider_message_id is None
    assert receipt.reference == "12"


def test_long_provider_errors_are_cut() -> None:
    body = json_body(message_id="1", status="failed", error="x" * 5000)
    receipt = parse_receipt(SIGNED, signed(body), body)
    assert receipt.error is not None
    assert len(receipt.error) == 500


@pytest.mark.parametrize(
    ("word", "state"),
    [
        *[(w, ReceiptState.DELIVERED) for w in ("DELIVRD", "DELIVERED", "delivered", "read")],
        *[
            (w, ReceiptState.FAILED)
            for w in (
                "UNDELIV",
                "UNDELIVERABLE",
                "REJECTD",
                "REJECTED",
                "EXPIRED",
                "DELETED",
                "FAILED",
                "failed",
                "bounced",
                "undelivered",
            )
        ],
        *[
            (w, ReceiptState.SENT)
            for w in ("ACCEPTD", "ENROUTE", "BUFFERED", "SENT", "queued", "Accepted")
        ],
        ("UNKNOWN", ReceiptState.UNKNOWN),
        ("unknown", ReceiptState.UNKNOWN),
        ("something-new", ReceiptState.UNKNOWN),
    ],
)
def test_state_words(word: str, state: ReceiptState) -> None:
    body = json_body(message_id="1", status=word)
    assert parse_receipt(SIGNED, signed(body), body).state is state


def test_state_table_is_lower_case_for_case_insensitive_lookup() -> None:
    assert all(word == word.lower() for word in STATE_BY_WORD)
    assert set(STATE_BY_WORD.values()) == set(ReceiptState)


def test_secret_is_not_in_repr() -> None:
    assert SECRET not in repr(SIGNED)
