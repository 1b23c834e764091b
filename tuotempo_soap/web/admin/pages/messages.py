"""Messages of one instance: the search, and a message's page with its timeline.

As for reservations: searches are POST forms (a recipient never goes in a
URL), recipients are masked, and a message's text and recipient are shown
only after the "show" button, which is recorded in the audit log.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....domain.message import Channel, MessageStatus
from ....errors import NotFoundError, RequestValidationError
from ....services import audit, search, timelines
from ....services.instances import Instance
from .. import forms
from ..app import AdminRequest
from ..routing import pages

FORM = (
    ("legacy_id", "msg.legacy_id"),
    ("to", "msg.recipient"),
    ("channel", "msg.channel"),
    ("status", "msg.status"),
    ("created_from", "msg.created_from"),
    ("created_to", "msg.created_to"),
)
CHANNELS = tuple(c.value for c in Channel)
STATUSES = tuple(s.value for s in MessageStatus)


@pages.page("/<instance:instance>/messages", methods=("GET", "POST"))
def messages(req: AdminRequest, instance: Instance) -> Response:
    terms = forms.terms(req, (name for name, _ in FORM))
    error = None
    found: search.Page[search.MessageRecord] = search.Page([], None)
    paged = False
    try:
        before, paged = forms.before(req)
        filters = search.MessageFilter(
            legacy_id=terms.get("legacy_id"),
            to=terms.get("to"),
            channel=terms.get("channel"),
            status=terms.get("status"),
            created_from=forms.day(req, terms, "created_from", "msg.created_from"),
            created_to=forms.day(req, terms, "created_to", "msg.created_to"),
        )
        found = search.search_messages(
            req.store, instance, filters, limit=forms.PAGE_SIZE, before_id=before
        )
    except RequestValidationError as exc:
        error = req.t("field.error", field=exc.field or "", message=exc.message)
    return req.render(
        "messages.html",
        status=400 if error else 200,
        terms=terms,
        channels=CHANNELS,
        statuses=STATUSES,
        rows=found.items,
        next_before=found.next_before,
        paged=paged,
        error=error,
    )


def _detail(req: AdminRequest, instance: Instance, message_id: int, *, revealed: bool) -> Response:
    try:
        detail = timelines.message_detail(req.store, instance, message_id)
    except NotFoundError:
        raise NotFound() from None
    return req.render("message.html", message=detail, revealed=revealed)


@pages.page("/<instance:instance>/messages/<int:message_id>")
def message(req: AdminRequest, instance: Instance, message_id: int) -> Response:
    return _detail(req, instance, message_id, revealed=False)


@pages.page("/<instance:instance>/messages/<int:message_id>/reveal", methods=("POST",))
def message_reveal(req: AdminRequest, instance: Instance, message_id: int) -> Response:
    response = _detail(req, instance, message_id, revealed=True)
    audit.record(
        req.store,
        req.actor,
        audit.AuditRecord(
            action=audit.AuditAction.PATIENT_DATA_SHOWN,
            outcome=audit.AuditOutcome.DONE,
            instance_id=instance.id,
            instance_name=instance.name,
            target_kind=audit.TargetKind.MESSAGE,
            target_id=message_id,
        ),
        now=req.now,
    )
    return response
