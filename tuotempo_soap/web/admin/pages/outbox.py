"""The outbox's health: queue depth and the oldest due message per provider,
failures by reason in the last hour and day."""

from __future__ import annotations

from werkzeug.wrappers import Response

from ....services import admin_status
from ..app import AdminRequest
from ..routing import pages
from .operations import duration


@pages.page("/outbox")
def outbox(req: AdminRequest) -> Response:
    health = admin_status.outbox_health(req.store, req.actor, route=req.app.route, now=req.now)
    return req.render("outbox.html", health=health, duration=duration(req))
