"""Operators' actions on a message (retry a FAILED one, cancel a QUEUED one)
and on an instance (its page, disable, enable), and the helpers the action
pages share: how a refusal is worded, how a duration is shown.

Every action is a POST (its CSRF token is checked before the view runs) that
calls one service of ``services/admin_actions.py`` (which checks the operator
and writes the audit log), leaves a notice for the next page, and redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from werkzeug.wrappers import Response

from ....errors import ForbiddenError, NotFoundError, TuotempoError
from ....services import admin_actions, audit, instances
from ....services.admin_actions import ActionConflictError
from ....services.instances import Instance
from ..app import AdminRequest
from ..routing import pages


def refusal(error: TuotempoError) -> str:
    """The notice word of a refused action (``refused.<why>``)."""
    if isinstance(error, ActionConflictError):
        return f"refused.{error.reason.value}"
    if isinstance(error, ForbiddenError):
        return "refused.forbidden"
    if isinstance(error, NotFoundError) and error.field == "instance":
        return "refused.no_clinic"
    return "refused.not_found"


def duration(req: AdminRequest) -> Callable[[timedelta | None], str]:
    """A formatter of durations in the page's language: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""

    def shown(value: timedelta | None) -> str:
        if value is None:
            return ""
        total = max(0, int(value.total_seconds()))
        if total < 60:
            return req.t("dur.s", n=total)
        minutes = total // 60
        if minutes < 60:
            return req.t("dur.min", n=minutes)
        hours, minutes = divmod(minutes, 60)
        if hours < 48:
            return req.t("dur.h", h=hours, m=minutes)
        days, hours = divmod(hours, 24)
        return req.t("dur.d", d=days, h=hours)

    return shown


def _back_to_message(req: AdminRequest, message_id: int) -> Response:
    if req.has_page("message"):
        return req.redirect("message", message_id=message_id)
    return req.redirect("home")


def _message_action(
    req: AdminRequest,
    instance: Instance,
    message_id: int,
    action: Callable[..., admin_actions.ActionDone],
    done: str,
) -> Response:
    """Run ``action`` on the message, leave ``done`` (or why not) as the notice, go back."""
    try:
        action(req.store, req.actor, instance.id, message_id, now=req.now)
        req.flash(done)
    except (ActionConflictError, ForbiddenError, NotFoundError) as exc:
        req.flash(refusal(exc))
    return _back_to_message(req, message_id)


@pages.page("/<instance:instance>/messages/<int:message_id>/retry", methods=("POST",))
def message_retry(req: AdminRequest, instance: Instance, message_id: int) -> Response:
    return _message_action(
        req, instance, message_id, admin_actions.retry_message, "message_retried"
    )


@pages.page("/<instance:instance>/messages/<int:message_id>/cancel", methods=("POST",))
def message_cancel(req: AdminRequest, instance: Instance, message_id: int) -> Response:
    return _message_action(
        req, instance, message_id, admin_actions.cancel_message, "message_cancelled"
    )


@pages.page("/<instance:instance>/settings")
def instance_settings(req: AdminRequest, instance: Instance) -> Response:
    """The instance's settings, whether it is switched off, and the switch."""
    disabled_since = instances.disabled_since(req.store, instance.name)
    trail = audit.page(req.store, req.actor, instance_id=instance.id, limit=10)
    return req.render("instance.html", disabled_since=disabled_since, entries=trail.entries)


@pages.page("/<instance:instance>/disable", methods=("POST",))
def instance_disable(req: AdminRequest, instance: Instance) -> Response:
    try:
        admin_actions.disable_instance(req.store, req.actor, instance.id, now=req.now)
        req.flash("instance_disabled")
    except (ActionConflictError, ForbiddenError) as exc:
        req.flash(refusal(exc))
    return req.redirect("instance_settings")


@pages.page("/<instance:instance>/enable", methods=("POST",))
def instance_enable(req: AdminRequest, instance: Instance) -> Response:
    try:
        admin_actions.enable_instance(req.store, req.actor, instance.id, now=req.now)
        req.flash("instance_enabled")
    except (ActionConflictError, ForbiddenError) as exc:
        req.flash(refusal(exc))
    return req.redirect("instance_settings")
