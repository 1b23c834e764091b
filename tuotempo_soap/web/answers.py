"""Patients' answers over HTTP.

- ``POST /inbound/sms/<provider>``: the gateway's mobile-originated messages
  (``from`` and ``text`` fields, JSON or form), authenticated like that
  provider's receipts (shared secret or HMAC).
- ``POST /inbound/voice/<provider>``: the voice provider's keypad result
  (``reference``: our message id, ``digits``).
- ``GET /answer/<token>``: the page an e-mail link opens: it shows the
  appointment and one button; ``POST`` to the same address applies the answer.
  A GET never changes anything, because mail scanners open links on their own.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from ..dispatch.config import DispatchConfig
from ..dispatch.receipts import verify_receipt
from ..domain.formats import format_date, format_time
from ..errors import TuotempoError
from ..services import answers
from ..services.links import LinkError, LinkSigner
from ..store.engine import Store
from .receipts import MAX_RECEIPT_BYTES, _headers

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
LINK_MAX_AGE = 30 * 24 * 3600

_FROM = ("from", "msisdn", "sender", "originator")
_TEXT = ("text", "body", "message", "content")


def _body(environ: dict[str, Any]) -> bytes | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > MAX_RECEIPT_BYTES:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _fields(body: bytes, content_type: str) -> dict[str, str]:
    if "json" in content_type:
        data = json.loads(body or b"{}")
        return {str(k).lower(): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k.lower(): v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _first(fields: dict[str, str], names: Iterable[str]) -> str | None:
    return next((fields[n] for n in names if fields.get(n)), None)


def inbound(
    environ: dict[str, Any], kind: str, provider: str, store: Store, dispatch: DispatchConfig
) -> tuple[str, dict[str, str]]:
    if environ.get("REQUEST_METHOD") != "POST":
        return "405 Method Not Allowed", {"result": "error", "reason": "POST here"}
    settings = dispatch.receipt_settings(provider)
    if settings is None:
        return "404 Not Found", {"result": "error", "reason": "no inbound for this provider"}
    body = _body(environ)
    if body is None:
        return "413 Payload Too Large", {"result": "error", "reason": "too large"}
    try:
        verify_receipt(settings, _headers(environ), body)
        fields = _fields(body, str(environ.get("CONTENT_TYPE") or ""))
    except TuotempoError as exc:
        log.warning("inbound %s from %s refused: %s", kind, provider, exc.code)
        return "401 Unauthorized", {"result": "error", "reason": exc.message}
    except ValueError:
        return "400 Bad Request", {"result": "error", "reason": "unreadable body"}
    if kind == "sms":
        sender, text = _first(fields, _FROM), _first(fields, _TEXT)
        if not sender or text is None:
            return "400 Bad Request", {"result": "error", "reason": "from and text are required"}
        result = answers.sms_reply(store, sender, text)
    else:
        reference, digits = fields.get("reference"), fields.get("digits") or fields.get("digit")
        if not reference or not reference.isdigit() or digits is None:
            return "400 Bad Request", {"result": "error", "reason": "reference and digits required"}
        result = answers.voice_answer(store, int(reference), digits)
    log.info("inbound %s via %s: %s", kind, provider, result.outcome)
    return "200 OK", {"result": result.outcome.lower()}


_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}}
button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>{title}</h1>{content}</body></html>
"""

_WORDS = {
    "confirm": ("Confirm your appointment", "Confirm"),
    "cancel": ("Cancel your appointment", "Cancel the appointment"),
}


def _page(title: str, content: str, status: str = "200 OK") -> tuple[str, bytes]:
    text = _PAGE.format(lang="en", title=html.escape(title), content=content)
    return status, text.encode()


def answer_page(
    environ: dict[str, Any], token: str, store: Store, signer: LinkSigner
) -> tuple[str, bytes]:
    try:
        link = signer.read(token, max_age_seconds=LINK_MAX_AGE)
    except LinkError as exc:
        return _page("Link not valid", f"<p>{html.escape(exc.reason)}.</p>", "404 Not Found")
    found = answers.appointments_of(store, link.reminder_id)
    if found is None:
        return _page("Link not valid", "<p>This appointment is unknown.</p>", "404 Not Found")
    _, views = found
    listing = "".join(
        "<li>"
        + html.escape(
            " ".join(
                filter(
                    None,
                    (
                        format_date(v.day),
                        format_time(v.start) if v.start else None,
                        v.resource_name,
                        v.location_name,
                    ),
                )
            )
        )
        + "</li>"
        for v in views
    )
    title, button = _WORDS[link.action]
    if environ.get("REQUEST_METHOD") == "POST":
        result = answers.link_answer(store, link.reminder_id, link.action)
        message = html.escape(result.acknowledgement or result.outcome)
        return _page(title, f"<ul>{listing}</ul><p><strong>{message}</strong></p>")
    form = f'<form method="post"><button type="submit">{html.escape(button)}</button></form>'
    return _page(title, f"<ul>{listing}</ul>{form}")
