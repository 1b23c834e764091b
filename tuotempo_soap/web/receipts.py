"""``POST /receipts/<provider>``: delivery reports from SMS/e-mail providers.

Authenticated per provider (shared secret or HMAC of the body), parsed by the
provider's receipt settings, applied by the messages service, which never
moves a message backwards. Answers are small JSON documents; providers retry
on anything but 2xx, so "unknown" and "ignored" are 200 too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..dispatch.config import DispatchConfig
from ..dispatch.receipts import ReceiptState, parse_receipt
from ..errors import TuotempoError
from ..observability import metrics
from ..services import messages
from ..store.engine import Store

log = logging.getLogger(__name__)

MAX_RECEIPT_BYTES = 64 * 1024


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    found = {
        key[5:].replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        found["Content-Type"] = str(environ["CONTENT_TYPE"])
    return found


def handle_receipt(
    environ: dict[str, Any], provider: str, store: Store, dispatch: DispatchConfig
) -> tuple[str, dict[str, str]]:
    """(HTTP status, JSON body) for one receipt request."""
    if environ.get("REQUEST_METHOD") != "POST":
        return "405 Method Not Allowed", {"result": "error", "reason": "POST receipts here"}
    settings = dispatch.receipt_settings(provider)
    if settings is None:
        return "404 Not Found", {"result": "error", "reason": "no receipts for this provider"}
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_RECEIPT_BYTES + 1
    # Counted from here on only: ``provider`` is now a configured one, not
    # whatever a request's path says.
    if length > MAX_RECEIPT_BYTES:
        metrics.count_receipt(provider, "invalid")
        return "413 Payload Too Large", {"result": "error", "reason": "receipt too large"}
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        receipt = parse_receipt(settings, _headers(environ), body)
    except TuotempoError as exc:
        refused = exc.code.endswith("Unauthorized")
        metrics.count_receipt(provider, "refused" if refused else "invalid")
        status = "401 Unauthorized" if refused else "400 Bad Request"
        log.warning("receipt from %s refused: %s", provider, exc.code)
        return status, {"result": "error", "reason": exc.message}
    if receipt.state not in (ReceiptState.DELIVERED, ReceiptState.FAILED):
        metrics.count_receipt(provider, "ignored")
        return "200 OK", {"result": "ignored", "reason": f"state {receipt.raw_status}"}
    outcome = messages.apply_receipt(
        store,
        provider,
        provider_message_id=receipt.provider_message_id,
        reference=receipt.reference,
        delivered=receipt.state is ReceiptState.DELIVERED,
        error=receipt.error,
    )
    metrics.count_receipt(provider, outcome)
    log.info("receipt from %s: %s %s", provider, receipt.state.value, outcome)
    return "200 OK", {"result": outcome}


def encode(body: dict[str, str]) -> bytes:
    return json.dumps(body).encode()
