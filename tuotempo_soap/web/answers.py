"""Patients' answers over HTTP.

- ``POST /inbound/sms/<provider>``: the gateway's mobile-originated messages
  (``from`` and ``text`` fields, JSON or form; optionally ``to``, the sender id
  or number the patient wrote to, and ``in_reply_to``, the reference of our
  message being answered), authenticated with that provider's own receipt
  credentials (shared secret or HMAC).
- ``POST /inbound/voice/<provider>``: the voice provider's keypad result
  (``reference``: the reference that provider got from us for the call,
  ``digits``), authenticated the same way.
- ``GET /answer/<token>``: the page an e-mail link opens: it shows the
  appointment and one button; ``POST`` to the same address applies the answer,
  once. A GET never changes anything, because mail scanners open links on their
  own. The POST must carry the form's token (an HMAC of the link token) and, when
  the browser names one, our own ``Origin``.

Inbound traffic through a provider only reaches messages that went out through
that provider on that channel (``services.answers``). An SMS that only says
STOP (or BAJA, CANCELLAMI, ...) opts the number out of campaigns instead
(``services.campaigns.opt_out_reply``): answered ``{"result": "opted_out"}``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..dispatch.config import DispatchConfig
from ..dispatch.receipts import verify_receipt
from ..domain.formats import format_date, format_time
from ..errors import TuotempoError
from ..observability import metrics
from ..services import answers, campaigns
from ..services.links import LinkError, LinkSigner
from ..store.engine import Store
from ..store.outbox import REFERENCE_PATTERN
from .receipts import MAX_RECEIPT_BYTES, _headers

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]
LINK_MAX_AGE = 30 * 24 * 3600
MAX_FORM_BYTES = 4096

_FROM = ("from", "msisdn", "sender", "originator")
_TEXT = ("text", "body", "message", "content")
# Our side of the conversation, when the gateway says: the number or sender id
# the patient wrote to, and the reference of the message being answered.
_TO = ("to", "recipient", "destination")
_IN_REPLY_TO = ("in_reply_to", "reply_to", "related_reference", "client_ref", "reference")


def _body(environ: dict[str, Any], limit: int = MAX_RECEIPT_BYTES) -> bytes | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > limit or length < 0:
        return None
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _fields(body: bytes, content_type: str) -> dict[str, str]:
    if "json" in content_type:
        try:
            data = json.loads(body or b"{}")
        except RecursionError:  # absurdly deep nesting is unreadable, not a crash
            raise ValueError("too deeply nested") from None
        return {str(k).lower(): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return {k.lower(): v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _first(fields: dict[str, str], names: Iterable[str]) -> str | None:
    return next((fields[n] for n in names if fields.get(n)), None)


def _error(status: str, reason: str, field: str | None = None) -> tuple[str, dict[str, str]]:
    body = {"result": "error", "reason": reason}
    if field is not None:
        body["field"] = field
    return status, body


def inbound(
    environ: dict[str, Any], kind: str, provider: str, store: Store, dispatch: DispatchConfig
) -> tuple[str, dict[str, str]]:
    if environ.get("REQUEST_METHOD") != "POST":
        return _error("405 Method Not Allowed", "POST here")
    settings = dispatch.receipt_settings(provider)
    if settings is None:
        return _error("404 Not Found", "no inbound for this provider")
    # Answers that never reach the service are counted here (what does is
    # counted there, by its outcome).
    body = _body(environ)
    if body is None:
        metrics.count_answer(kind, "invalid")
        return _error("413 Payload Too Large", "too large")
    try:
        # This provider's own credentials: another provider's secret or signature
        # does not open this endpoint.
        verify_receipt(settings, _headers(environ), body)
        fields = _fields(body, str(environ.get("CONTENT_TYPE") or ""))
    except TuotempoError as exc:
        metrics.count_answer(kind, "refused")
        log.warning("inbound %s from %s refused: %s", kind, provider, exc.code)
        return _error("401 Unauthorized", exc.message, exc.field)
    except ValueError:
        metrics.count_answer(kind, "invalid")
        return _error("400 Bad Request", "unreadable body")
    if kind == "sms":
        sender, text = _first(fields, _FROM), _first(fields, _TEXT)
        if not sender or text is None:
            metrics.count_answer(kind, "invalid")
            return _error("400 Bad Request", "from and text are required", "from")
        # STOP (BAJA, ...) alone is no answer to a reminder: it opts the number
        # out of campaigns (services.campaigns).
        stopped = campaigns.opt_out_reply(
            store,
            provider,
            sender,
            text,
            to=_first(fields, _TO),
            reply_reference=_first(fields, _IN_REPLY_TO),
        )
        if stopped is not None:
            outcome = "opted_out" if stopped.instances else "unknown_sender"
            metrics.count_answer(kind, outcome)
            log.info("inbound %s via %s: %s", kind, provider, outcome.upper())
            return "200 OK", {"result": outcome}
        result = answers.sms_reply(
            store,
            provider,
            sender,
            text,
            to=_first(fields, _TO),
            reply_reference=_first(fields, _IN_REPLY_TO),
        )
    else:
        reference, digits = fields.get("reference"), fields.get("digits") or fields.get("digit")
        if not reference or digits is None:
            metrics.count_answer(kind, "invalid")
            return _error("400 Bad Request", "reference and digits are required", "reference")
        if not REFERENCE_PATTERN.fullmatch(reference):
            metrics.count_answer(kind, "invalid")
            return _error("400 Bad Request", "reference is not one we sent", "reference")
        result = answers.voice_answer(store, provider, reference, digits)
    log.info("inbound %s via %s: %s", kind, provider, result.outcome)
    return "200 OK", {"result": result.outcome.lower()}


# --- the answer page ---------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
    "button{font-size:1.1rem;padding:.6rem 1.2rem}"
)
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>{style}</style></head>
<body><h1>{title}</h1>{content}</body></html>
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

# Nothing loads, nothing frames the page, the form posts back here only; the
# link token in the address goes nowhere else (no Referer) and is never cached.
PAGE_HEADERS: Headers = [
    (
        "Content-Security-Policy",
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]

_WORDS = {
    "confirm": ("Confirm your appointment", "Confirm"),
    "cancel": ("Cancel your appointment", "Cancel the appointment"),
}
_USED = "This link has already been used; nothing was changed. Please call the clinic if needed."


def _page(title: str, content: str, status: str = "200 OK") -> tuple[str, Headers, bytes]:
    text = _PAGE.format(title=html.escape(title), style=_STYLE, content=content)
    return status, list(PAGE_HEADERS), text.encode()


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` as browsers send it in ``Origin`` (default port left out)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _same_origin(environ: dict[str, Any], public_url: str | None) -> bool:
    """A cross-site POST is refused. Browsers send ``Origin: null`` for our own
    form, since the page asks for no referrer; the form token decides then."""
    if str(environ.get("HTTP_SEC_FETCH_SITE") or "").lower() == "cross-site":
        return False
    given = environ.get("HTTP_ORIGIN")
    if given is None or given.strip() == "null":
        return True
    if public_url:
        expected = _origin(public_url)
    else:  # the demo, without a configured address: the address it was reached at
        scheme = environ.get("wsgi.url_scheme", "http")
        expected = _origin(f"{scheme}://{environ.get('HTTP_HOST', '')}")
    return expected is not None and _origin(given) == expected


def _listing(views: Iterable[Any]) -> str:
    items = (
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
        for v in views
    )
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def answer_page(
    environ: dict[str, Any],
    token: str,
    store: Store,
    signer: LinkSigner,
    public_url: str | None = None,
) -> tuple[str, Headers, bytes]:
    """(status, headers, HTML) of the answer page for one link."""
    method = environ.get("REQUEST_METHOD")
    if method not in ("GET", "HEAD", "POST"):
        status, headers, page = _page(
            "Not allowed", "<p>Open the link from your e-mail.</p>", "405 Method Not Allowed"
        )
        return status, [*headers, ("Allow", "GET, HEAD, POST")], page
    try:
        link = signer.read(token, max_age_seconds=LINK_MAX_AGE)
    except LinkError as exc:
        if method == "POST":  # an answer refused (a GET only shows the page)
            metrics.count_answer("email", "invalid")
        return _page("Link not valid", f"<p>{html.escape(exc.reason)}.</p>", "404 Not Found")
    found = answers.appointments_of(store, link.reminder_id)
    if found is None:
        return _page("Link not valid", "<p>This appointment is unknown.</p>", "404 Not Found")
    _, views = found
    listing = _listing(views)
    title, button = _WORDS[link.action]
    if method == "POST":
        form = _body(environ, MAX_FORM_BYTES)
        if form is None:
            return _page(title, "<p>The request is too large.</p>", "413 Payload Too Large")
        given = parse_qs(form.decode("utf-8", "replace")).get("form_token", [None])[0]
        if not _same_origin(environ, public_url) or not signer.form_token_ok(token, given):
            metrics.count_answer("email", "refused")
            log.warning("answer link POST refused: foreign origin or no valid form token")
            return _page(
                title, "<p>Please use the button on the page the link opens.</p>", "403 Forbidden"
            )
        result = answers.link_answer(store, link.reminder_id, link.action)
        if result.outcome == answers.ALREADY_USED:
            return _page(title, f"{listing}<p>{html.escape(_USED)}</p>", "409 Conflict")
        message = html.escape(result.acknowledgement or result.outcome)
        return _page(title, f"{listing}<p><strong>{message}</strong></p>")
    if answers.link_used(store, link.reminder_id, link.action):
        return _page(title, f"{listing}<p>{html.escape(_USED)}</p>")
    form_html = (
        '<form method="post">'
        f'<input type="hidden" name="form_token" value="{signer.form_token(token)}">'
        f'<button type="submit">{html.escape(button)}</button></form>'
    )
    return _page(title, f"{listing}{form_html}")
