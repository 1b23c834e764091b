"""What the back office shows of the machinery: each clinic integration's
poller (last success, last error, lag, next attempt), its centers and its queue
of calls to the clinic, and the outbox's health per provider (queue depth, the
oldest due message, failures by reason in the last hour and day).

Read-only, and limited to the instances the operator may act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from ..errors import NotFoundError, TuotempoError
from ..store.records import (
    CallbackRecord,
    CallbackSummary,
    CenterRecord,
    FailureCount,
    PollStatus,
)
from .audit import Actor
from .instances import utcnow
from .unit_of_work import Store

CALLBACKS_SHOWN = 50


class PollState(StrEnum):
    """One word for a poller's state, for the list's badge."""

    OK = "ok"
    FAILING = "failing"
    NEVER = "never"  # configured, no successful poll yet
    RUNNING = "running"
    OFF = "off"  # polling switched off
    DISABLED = "disabled"  # the instance is switched off


@dataclass(frozen=True)
class ClinicStatus:
    poll: PollStatus
    state: PollState
    # Where the clinic's web services are (host and port only: no credentials).
    endpoint_host: str
    # How old the newest data is: now - last successful poll.
    lag: timedelta | None
    # How late the next poll is (now - next_poll_at when it is past), else None.
    overdue: timedelta | None


@dataclass(frozen=True)
class ClinicDetail:
    status: ClinicStatus
    centers: list[CenterRecord]
    callbacks: CallbackSummary
    open_callbacks: list[CallbackRecord]


def endpoint_host(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.hostname:
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    return "local file"


def _state(poll: PollStatus, now: datetime) -> PollState:
    if poll.instance_disabled_at is not None:
        return PollState.DISABLED
    if not poll.poll_enabled:
        return PollState.OFF
    if poll.poll_lease_until is not None and poll.poll_lease_until >= now:
        return PollState.RUNNING
    if poll.consecutive_failures > 0:
        return PollState.FAILING
    if poll.last_success_at is None:
        return PollState.NEVER
    return PollState.OK


def _status(poll: PollStatus, now: datetime) -> ClinicStatus:
    overdue = None
    if poll.poll_enabled and poll.next_poll_at is not None and poll.next_poll_at < now:
        overdue = now - poll.next_poll_at
    return ClinicStatus(
        poll=poll,
        state=_state(poll, now),
        endpoint_host=endpoint_host(poll.endpoint_url or poll.wsdl_url),
        lag=None if poll.last_success_at is None else now - poll.last_success_at,
        overdue=overdue,
    )


def clinics(store: Store, actor: Actor, *, now: datetime | None = None) -> list[ClinicStatus]:
    """Every clinic integration the operator may see, by instance name."""
    now = now or utcnow()
    with store.begin() as uow:
        polls = uow.integrations.statuses(actor.instance_ids)
    return [_status(poll, now) for poll in polls]


def clinic(
    store: Store,
    actor: Actor,
    instance_id: int,
    *,
    now: datetime | None = None,
    callbacks_shown: int = CALLBACKS_SHOWN,
) -> ClinicDetail:
    """One integration: its poller, its centers (a portal's, or the instance's
    own one), and its queue of calls to the clinic."""
    actor.check(instance_id)
    now = now or utcnow()
    with store.begin() as uow:
        poll = uow.integrations.status(instance_id)
        if poll is None:
            raise NotFoundError(
                f"instance {instance_id} has no clinic web services configured", field="instance"
            )
        centers = uow.portals.center_records(instance_id)
        summary = uow.callbacks.summary(instance_id, now)
        shown = uow.callbacks.open_records(instance_id, callbacks_shown)
    if not centers:  # a plain instance is a portal of its own one center
        centers = [CenterRecord(poll.center_lid or "", None, instance_id, poll.instance_name)]
    return ClinicDetail(_status(poll, now), centers, summary, shown)


# The provider a message will go through, by instance name and channel
# (``DispatchConfig.provider_name_for``); raising means no route.
Router = Callable[[str, str], str]


@dataclass
class ProviderQueue:
    """The outbox seen from one provider. ``provider`` None: messages no route
    leads anywhere (the worker fails them when it claims them)."""

    provider: str | None
    queued: int = 0
    sending: int = 0
    due: int = 0
    oldest_due_at: datetime | None = None
    oldest_due_age: timedelta | None = None


@dataclass
class OutboxHealth:
    now: datetime
    providers: list[ProviderQueue] = field(default_factory=list)
    failures_last_hour: list[FailureCount] = field(default_factory=list)
    failures_last_day: list[FailureCount] = field(default_factory=list)


def outbox_health(
    store: Store, actor: Actor, *, route: Router | None = None, now: datetime | None = None
) -> OutboxHealth:
    """Queue depth and the oldest due message per provider, and failures by
    reason in the last hour and the last day.

    Messages no worker has claimed yet carry no provider: ``route`` says where
    they will go (without it, or without a route, they are counted under None).
    """
    now = now or utcnow()
    with store.begin() as uow:
        depths = uow.messages.queue_depth_by_provider(now, actor.instance_ids)
        hour = uow.messages.failures_by_reason(now - timedelta(hours=1), actor.instance_ids)
        day = uow.messages.failures_by_reason(now - timedelta(days=1), actor.instance_ids)
        names = {row.id: row.name for row in uow.instances.list()}
    by_provider: dict[str | None, ProviderQueue] = {}
    for depth in depths:
        provider = depth.provider
        if provider is None and route is not None and depth.instance_id in names:
            try:
                provider = route(names[depth.instance_id], depth.channel)
            except TuotempoError:
                provider = None
        queue = by_provider.setdefault(provider, ProviderQueue(provider))
        queue.queued += depth.queued
        queue.sending += depth.sending
        queue.due += depth.due
        if depth.oldest_due_at is not None and (
            queue.oldest_due_at is None or depth.oldest_due_at < queue.oldest_due_at
        ):
            queue.oldest_due_at = depth.oldest_due_at
    for queue in by_provider.values():
        if queue.oldest_due_at is not None:
            queue.oldest_due_age = max(timedelta(0), now - queue.oldest_due_at)
    providers = sorted(by_provider.values(), key=lambda q: (q.provider is None, q.provider or ""))
    return OutboxHealth(now, providers, hour, day)
