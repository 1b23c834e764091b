"""Campaigns of one instance (guide A.6): the list, the form that creates one
from a patient list (a CSV or Excel upload, or pasted addresses), its preview
(recipients, opted out, SMS segments and when sending would run) with the
start button, and its status with the report.

Creating and starting are POSTs (their CSRF token checked before the view
runs) that call ``services.campaigns``, which checks the operator and writes
the audit log. Addresses are never shown unmasked here, and never go in a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....domain.campaigns import (
    CHANNELS,
    DEFAULT_QUIET_HOURS,
    DEFAULT_RATE_PER_MINUTE,
    MAX_RATE_PER_MINUTE,
    OPT_OUT_WORDS,
    CampaignText,
)
from ....errors import ConflictError, ForbiddenError, NotFoundError, RequestValidationError
from ....files.patient_lists import MAX_LIST_BYTES
from ....services import campaigns
from ....services.campaigns import CampaignBusyError, CampaignSpec, PatientSource
from ....services.instances import Instance
from ..app import AdminRequest
from ..routing import pages
from ..texts import LANGUAGES

# The upload, the pasted addresses and the texts; the file is read in memory.
MAX_UPLOAD_BYTES = MAX_LIST_BYTES + 1024 * 1024
RECIPIENTS_SHOWN = 50
# A start queues for this long inside its request (well under gunicorn's
# timeout); the worker queues what is left of a large campaign.
START_BUDGET_SECONDS = 20.0


def _languages(instance: Instance) -> list[str]:
    """The languages the form offers a text in: the instance's first."""
    return list(dict.fromkeys([instance.language, *LANGUAGES]))


# The list is the navigation's entry (``routing.NAV`` names ``campaigns``).
@pages.page("/<instance:instance>/campaigns", endpoint="campaigns")
def campaigns_list(req: AdminRequest, instance: Instance) -> Response:
    page = campaigns.list_campaigns(req.store, instance, limit=100)
    return req.render(
        "campaigns.html",
        rows=page.campaigns,
        opted_out=campaigns.opted_out_count(req.store, instance),
    )


@dataclass
class _Form:
    """What was typed, to show the form again after an error (never the file)."""

    values: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


def _form(req: AdminRequest) -> _Form:
    if req.http.method != "POST":
        return _Form(
            {
                "channel": "SMS",
                "rate_per_minute": str(DEFAULT_RATE_PER_MINUTE),
                "quiet_hours": DEFAULT_QUIET_HOURS,
            }
        )
    return _Form({name: value for name, value in req.http.form.items() if name != "csrf_token"})


def _send_after(text: str) -> datetime | None:
    """``<input type="datetime-local">``: ``2027-03-10T20:50`` (the instance's clock)."""
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise RequestValidationError(
            f"'{text.strip()}' is not a date and time", field="send_after"
        ) from None


def _rate(text: str) -> int:
    try:
        return int(text.strip() or DEFAULT_RATE_PER_MINUTE)
    except ValueError:
        raise RequestValidationError(
            f"'{text.strip()}' is not a whole number of messages a minute",
            field="rate_per_minute",
        ) from None


def _source(req: AdminRequest, form: _Form) -> PatientSource:
    upload = req.http.files.get("file")
    data = upload.read() if upload is not None and upload.filename else b""
    pasted = form.get("addresses").strip()
    if data and pasted:
        raise RequestValidationError(
            "send either a file or pasted addresses, not both", field="addresses"
        )
    if data:
        return PatientSource.from_file(upload.filename or "list", data)  # type: ignore[union-attr]
    if pasted:
        return PatientSource.pasted(pasted)
    raise RequestValidationError("choose a file, or paste the addresses", field="file")


@pages.page(
    "/<instance:instance>/campaigns/new", methods=("GET", "POST"), max_bytes=MAX_UPLOAD_BYTES
)
def campaign_new(req: AdminRequest, instance: Instance) -> Response:
    form = _form(req)
    languages = _languages(instance)
    error = None
    if req.http.method == "POST":
        try:
            spec = CampaignSpec(
                name=form.get("name"),
                channel=form.get("channel", "SMS"),
                texts={
                    code: CampaignText(form.get(f"text_{code}"), form.get(f"subject_{code}"))
                    for code in languages
                },
                default_language=form.get("default_language") or None,
                filters=form.get("filters"),
                address_column=form.get("address_column") or None,
                language_column=form.get("language_column") or None,
                rate_per_minute=_rate(form.get("rate_per_minute")),
                quiet_hours=form.get("quiet_hours"),
                send_after=_send_after(form.get("send_after")),
            )
            created = campaigns.create_campaign(
                req.store, req.actor, instance, spec, _source(req, form), now=req.now
            )
        except RequestValidationError as exc:
            error = req.t("field.error", field=_label(req, exc.field), message=exc.message)
        except ForbiddenError:
            raise NotFound() from None
        else:
            req.flash("campaign_created")
            return req.redirect("campaign_preview", campaign_id=created.campaign.id)
    return req.render(
        "campaign_new.html",
        status=400 if error else 200,
        form=form,
        error=error,
        languages=languages,
        channels=[c.value for c in CHANNELS],
        max_rate=MAX_RATE_PER_MINUTE,
        max_mb=MAX_LIST_BYTES // (1024 * 1024),
        stop_words=sorted({word for words in OPT_OUT_WORDS.values() for word in words}),
    )


def _label(req: AdminRequest, field: str | None) -> str:
    """A field the services named, in the page's words (``texts.es`` -> "Text (es)")."""
    if not field:
        return ""
    name, _, language = field.partition(".")
    key = f"camp.f.{name}"
    label = req.t(key) if key in req.texts else field
    return f"{label} ({language})" if language else label


def _campaign(req: AdminRequest, instance: Instance, campaign_id: int) -> campaigns.Campaign:
    try:
        return campaigns.get_campaign(req.store, instance, campaign_id)
    except NotFoundError:
        raise NotFound() from None


@pages.page("/<instance:instance>/campaigns/<int:campaign_id>/preview")
def campaign_preview(req: AdminRequest, instance: Instance, campaign_id: int) -> Response:
    _campaign(req, instance, campaign_id)
    seen = campaigns.preview(req.store, instance, campaign_id, now=req.now)
    return req.render("campaign_preview.html", campaign=seen.campaign, preview=seen)


@pages.page("/<instance:instance>/campaigns/<int:campaign_id>/start", methods=("POST",))
def campaign_start(req: AdminRequest, instance: Instance, campaign_id: int) -> Response:
    _campaign(req, instance, campaign_id)
    try:
        started = campaigns.start_campaign(
            req.store,
            req.actor,
            instance,
            campaign_id,
            now=req.now,
            budget_seconds=START_BUDGET_SECONDS,
        )
        req.flash("campaign_started_partly" if started.remaining else "campaign_started")
    except CampaignBusyError:
        req.flash("refused.campaign_busy")
    except ConflictError:
        req.flash("refused.campaign_started")
    except ForbiddenError:
        req.flash("refused.forbidden")
    return req.redirect("campaign", campaign_id=campaign_id)


@pages.page("/<instance:instance>/campaigns/<int:campaign_id>")
def campaign(req: AdminRequest, instance: Instance, campaign_id: int) -> Response:
    found = _campaign(req, instance, campaign_id)
    after_text = req.http.args.get("after", "")
    after = int(after_text) if after_text.isascii() and after_text.isdigit() else 0
    report = campaigns.campaign_report(req.store, instance, campaign_id)
    lines = campaigns.recipient_lines(
        req.store, instance, campaign_id, after_id=after, limit=RECIPIENTS_SHOWN + 1
    )
    more = len(lines) > RECIPIENTS_SHOWN
    lines = lines[:RECIPIENTS_SHOWN]
    return req.render(
        "campaign.html",
        campaign=found,
        report=report,
        lines=lines,
        next_after=lines[-1].id if more and lines else None,
        paged=after > 0,
    )
