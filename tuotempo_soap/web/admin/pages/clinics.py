"""Clinics integrated through their own web services: every poller's state,
one clinic's page (its poller, centers and queue of calls to the clinic), and
the "re-run poll now" button."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from ....errors import ForbiddenError, NotFoundError
from ....services import admin_actions, admin_status
from ....services.admin_actions import ActionConflictError
from ....services.instances import Instance
from ..app import AdminRequest
from ..routing import pages
from .operations import duration, refusal


@pages.page("/clinics")
def clinics(req: AdminRequest) -> Response:
    rows = admin_status.clinics(req.store, req.actor, now=req.now)
    return req.render("clinics.html", rows=rows, duration=duration(req))


@pages.page("/<instance:instance>/clinic")
def clinic(req: AdminRequest, instance: Instance) -> Response:
    try:
        detail = admin_status.clinic(req.store, req.actor, instance.id, now=req.now)
    except NotFoundError:
        raise NotFound() from None
    interval = timedelta(seconds=detail.status.poll.poll_interval_seconds)
    return req.render("clinic.html", detail=detail, interval=interval, duration=duration(req))


@pages.page("/<instance:instance>/clinic/poll", methods=("POST",))
def clinic_poll(req: AdminRequest, instance: Instance) -> Response:
    try:
        admin_actions.rerun_poll(req.store, req.actor, instance.id, now=req.now)
        req.flash("poll_scheduled")
    except (ActionConflictError, ForbiddenError, NotFoundError) as exc:
        req.flash(refusal(exc))
        if isinstance(exc, NotFoundError):
            return req.redirect("clinics")
    return req.redirect("clinic")
