"""Figures a metrics scrape reads from the database: the outbox's depth and
the oldest due message per provider, and where each clinic's poller stands.

For every instance at once, in one grouped query each (plus the instances'
names when some queued messages have no provider yet), however many messages
wait: a scrape comes every few seconds. The back office's per-operator views
are ``admin_status``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..errors import TuotempoError
from .instances import utcnow
from .unit_of_work import Store

# Where a message without a provider yet will go: (instance name, channel) -> provider.
Router = Callable[[str, str], str]
UNROUTED = "unrouted"


@dataclass
class ProviderDepth:
    provider: str
    waiting: int = 0  # queued or being sent
    due: int = 0
    oldest_due_at: datetime | None = None


@dataclass(frozen=True)
class ClinicPoll:
    clinic: str  # the instance's name
    last_success_at: datetime | None
    consecutive_failures: int


def outbox_depth(
    store: Store, route: Router, *, now: datetime | None = None
) -> list[ProviderDepth]:
    """Waiting and due messages and the oldest due time, per provider; messages
    no worker has claimed yet are counted under the provider ``route`` names
    (``unrouted`` when none does)."""
    now = now or utcnow()
    with store.begin() as uow:
        depths = uow.messages.queue_depth_by_provider(now)
        names: dict[int, str] = {}
        if any(depth.provider is None for depth in depths):
            names = {r.id: r.name for r in uow.instances.list()}
    by_provider: dict[str, ProviderDepth] = {}
    for depth in depths:
        provider = depth.provider
        if provider is None:
            try:
                provider = route(names[depth.instance_id], depth.channel)
            except (KeyError, TuotempoError):
                provider = UNROUTED
        figure = by_provider.setdefault(provider, ProviderDepth(provider))
        figure.waiting += depth.queued
        figure.due += depth.due
        if depth.oldest_due_at is not None and (
            figure.oldest_due_at is None or depth.oldest_due_at < figure.oldest_due_at
        ):
            figure.oldest_due_at = depth.oldest_due_at
    return sorted(by_provider.values(), key=lambda figure: figure.provider)


def clinic_polls(store: Store) -> list[ClinicPoll]:
    """Every clinic integration with polling on, by instance name."""
    with store.begin() as uow:
        statuses = uow.integrations.statuses()
    return [
        ClinicPoll(status.instance_name, status.last_success_at, status.consecutive_failures)
        for status in statuses
        if status.poll_enabled and status.instance_disabled_at is None
    ]
