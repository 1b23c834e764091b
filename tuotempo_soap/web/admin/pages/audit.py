"""The audit log: what operators did, newest first, a page at a time (keyset:
``?before=<id>``), optionally for one instance (``?instance=<name>``)."""

from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....errors import NotFoundError
from ....services import audit as audit_service
from ....services.instances import get_instance
from ..app import AdminRequest
from ..routing import pages

PAGE_SIZE = 50


@pages.page("/audit")
def audit(req: AdminRequest) -> Response:
    args = req.http.args
    before_text = (args.get("before") or "").strip()
    if before_text and not (before_text.isdigit() and 0 < int(before_text) < 2**62):
        raise NotFound()
    name = (args.get("instance") or "").strip()
    instance = None
    if name:
        try:
            instance = get_instance(req.store, name)
        except NotFoundError:
            raise NotFound() from None
        if not req.actor.may_act_on(instance.id):
            raise NotFound()  # as if it did not exist
    found = audit_service.page(
        req.store,
        req.actor,
        instance_id=None if instance is None else instance.id,
        before_id=int(before_text) if before_text else None,
        limit=PAGE_SIZE,
    )
    return req.render(
        "audit.html",
        entries=found.entries,
        next_before=found.next_before_id,
        paged=bool(before_text),
        only=instance,
    )
