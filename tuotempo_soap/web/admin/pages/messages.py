"""Messages of one instance: the search, and a message's page with its timeline.

As for reservations: searches are POST forms (a recipient never goes in a
URL), recipients are masked, and a message's text and recipient are shown
only after the "show" button, which is recorded in the audit log.
"""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....domain.message import Channel, MessageStatus
from ....errors import NotFoundError
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
    def find(terms: dict[str, str], before: int | None) -> search.Page[search.MessageHit]:
        filters = search.MessageFilter(
            legacy_id=terms.get("legacy_id"),
            to=terms.get("to"),
            channel=terms.get("channel"),
            status=terms.get("status"),
            created_from=forms.day(req, terms, "created_from", "msg.created_from"),
            created_to=forms.day(req, terms, "created_to", "msg.created_to"),
        )
        return search.search_messages(
            req.store, instance, filters, limit=forms.PAGE_SIZE, before_id=before
        )

    return forms.search_page(
        req,
        "messages.html",
        (name for name, _ in FORM),
        find,
        channels=CHANNELS,
        statuses=STATUSES,
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
    audit.patient_data_shown(
        req.store, req.actor, instance, audit.TargetKind.MESSAGE, message_id, now=req.now
    )
    return response
