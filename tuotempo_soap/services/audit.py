"""The back office's audit trail: who did what, when, on which instance, to
which thing (an internal id), and whether it was done or refused.

An ``Actor`` is the operator as a plain value: the back office's sign-in turns
its operator into one, so the actions and the trail do not depend on how
operators are stored. Nothing recorded here is patient data: targets are
internal ids and details are our own wording.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..errors import ForbiddenError, RequestValidationError
from ..store.records import AuditEntry, NewAuditEntry
from .instances import Instance, utcnow
from .unit_of_work import Store

MAX_PAGE = 200


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator's id and name, and the instances they may act on
    (``None``: every instance)."""

    id: int | None
    name: str
    instance_ids: frozenset[int] | None = None

    @classmethod
    def of(cls, id: int | None, name: str, instance_ids: Collection[int] | None) -> Actor:
        return cls(id, name, None if instance_ids is None else frozenset(instance_ids))

    def may_act_on(self, instance_id: int | None) -> bool:
        if self.instance_ids is None:
            return True
        return instance_id is not None and instance_id in self.instance_ids

    def check(self, instance_id: int) -> None:
        if not self.may_act_on(instance_id):
            raise ForbiddenError(
                f"operator {self.name} may not act on instance {instance_id}", field="instance"
            )


class AuditAction(StrEnum):
    MESSAGE_RETRY = "MESSAGE_RETRY"
    MESSAGE_CANCEL = "MESSAGE_CANCEL"
    CLINIC_POLL_NOW = "CLINIC_POLL_NOW"
    INSTANCE_DISABLE = "INSTANCE_DISABLE"
    INSTANCE_ENABLE = "INSTANCE_ENABLE"
    # An operator asked to see a reservation's or a message's patient data unmasked.
    PATIENT_DATA_SHOWN = "PATIENT_DATA_SHOWN"
    # Campaigns (guide A.6): set up from a list, and started (its messages queued).
    CAMPAIGN_CREATE = "CAMPAIGN_CREATE"
    CAMPAIGN_START = "CAMPAIGN_START"


class AuditOutcome(StrEnum):
    DONE = "DONE"
    REFUSED = "REFUSED"


class TargetKind(StrEnum):
    MESSAGE = "message"
    INSTANCE = "instance"
    CLINIC_INTEGRATION = "clinic_integration"
    RESERVATION = "reservation"
    CAMPAIGN = "campaign"


@dataclass(frozen=True)
class AuditRecord:
    """What ``record`` is told: the action, where, on what, and how it ended."""

    action: AuditAction
    outcome: AuditOutcome
    instance_id: int | None
    instance_name: str | None
    target_kind: TargetKind | None
    target_id: int | None
    detail: str | None = None


def entry(actor: Actor, record: AuditRecord, now: datetime) -> NewAuditEntry:
    return NewAuditEntry(
        at=now,
        operator_id=actor.id,
        operator_name=actor.name,
        instance_id=record.instance_id,
        instance_name=record.instance_name,
        action=record.action.value,
        target_kind=None if record.target_kind is None else record.target_kind.value,
        target_id=record.target_id,
        outcome=record.outcome.value,
        detail=record.detail,
    )


def record(store: Store, actor: Actor, what: AuditRecord, *, now: datetime | None = None) -> int:
    """Write one row in its own transaction (refusals: the action's own rolled back)."""
    with store.begin(write=True) as uow:
        audit_id = uow.audit.add(entry(actor, what, now or utcnow()))
        uow.commit()
    return audit_id


def patient_data_shown(
    store: Store,
    actor: Actor,
    instance: Instance,
    kind: TargetKind,
    target_id: int,
    *,
    now: datetime | None = None,
) -> int:
    """Record that ``actor`` was shown a message's or a reservation's patient data in full."""
    return record(
        store,
        actor,
        AuditRecord(
            action=AuditAction.PATIENT_DATA_SHOWN,
            outcome=AuditOutcome.DONE,
            instance_id=instance.id,
            instance_name=instance.name,
            target_kind=kind,
            target_id=target_id,
        ),
        now=now,
    )


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    # Pass as ``before_id`` for the next (older) page; None on the last page.
    next_before_id: int | None


def page(
    store: Store,
    actor: Actor,
    *,
    instance_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """The trail newest first, limited to the instances the actor may act on.

    Operators given some instances see only rows about those; rows about no
    instance are for operators of every instance.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise RequestValidationError(f"a page holds 1 to {MAX_PAGE} rows", field="limit")
    if before_id is not None and before_id < 1:
        raise RequestValidationError("before must be a positive id", field="before")
    if instance_id is not None:
        actor.check(instance_id)
    with store.begin() as uow:
        rows = uow.audit.page(
            instance_ids=actor.instance_ids,
            instance_id=instance_id,
            before_id=before_id,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1].id if more and rows else None)


def for_message(store: Store, actor: Actor, instance_id: int, message_id: int) -> list[AuditEntry]:
    """What operators did to one message, newest first."""
    actor.check(instance_id)
    with store.begin() as uow:
        return uow.audit.for_target(instance_id, TargetKind.MESSAGE.value, message_id)
