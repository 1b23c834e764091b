"""What an operator may do from the back office, each checked and written to
the audit log: retry a FAILED message, cancel a QUEUED one, re-run a clinic's
poll now, switch an instance off or back on.

Every action checks first that the operator may act on the instance, then does
its change and its DONE audit row in one transaction, so the trail never
misses a change and never shows one that did not happen. A refusal (wrong
instance, no such message, wrong state) is rolled back and then recorded as
REFUSED with its reason, in a transaction of its own, and raised: a
``ForbiddenError``, a ``NotFoundError`` or an ``ActionConflictError`` whose
``reason`` the back office turns into its own words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..domain.message import MessageStatus
from ..errors import ConflictError, NotFoundError, StoreUnavailableError, TuotempoError
from ..store.records import MessageRecord
from . import audit
from .audit import Actor, AuditAction, AuditOutcome, AuditRecord, TargetKind
from .instances import utcnow
from .unit_of_work import Store, UnitOfWork

# What a cancelled message shows as its ERROR in searchMessages.
CANCELLED_BY_OPERATOR = "cancelled by an operator"


class Refusal(StrEnum):
    """Why an action was refused, for the back office's own wording."""

    NOT_FAILED = "not_failed"
    ALREADY_QUEUED = "already_queued"
    ALREADY_SENT = "already_sent"
    IN_FLIGHT = "in_flight"
    NOT_QUEUED = "not_queued"
    EXPIRED = "expired"
    POLL_OFF = "poll_off"
    POLL_RUNNING = "poll_running"
    ALREADY_DISABLED = "already_disabled"
    NOT_DISABLED = "not_disabled"


class ActionConflictError(ConflictError):
    """The thing is not in the state the action needs (``reason`` says which)."""

    def __init__(self, message: str, *, reason: Refusal, field: str) -> None:
        super().__init__(message, field=field)
        self.reason = reason


@dataclass(frozen=True)
class ActionDone:
    action: AuditAction
    instance_id: int
    instance_name: str
    target_id: int
    audit_id: int
    detail: str | None


# The change itself, inside the action's transaction: the unit of work, the
# instance's name, the time; returns the audit row's detail.
_Change = Callable[[UnitOfWork, str, datetime], str | None]


def _act(
    store: Store,
    actor: Actor,
    action: AuditAction,
    instance_id: int,
    target_kind: TargetKind,
    target_id: int,
    change: _Change,
    now: datetime | None,
) -> ActionDone:
    now = now or utcnow()
    instance_name: str | None = None
    try:
        with store.begin(write=True) as uow:
            row = uow.instances.by_id(instance_id)
            instance_name = None if row is None else row.name
            actor.check(instance_id)
            if instance_name is None:
                raise NotFoundError(f"no instance with id {instance_id}", field="instance")
            detail = change(uow, instance_name, now)
            done = AuditRecord(
                action,
                AuditOutcome.DONE,
                instance_id,
                instance_name,
                target_kind,
                target_id,
                detail,
            )
            audit_id = uow.audit.add(audit.entry(actor, done, now))
            uow.commit()
    except StoreUnavailableError:
        raise  # nothing to record it in
    except TuotempoError as exc:
        refused = AuditRecord(
            action,
            AuditOutcome.REFUSED,
            instance_id,
            instance_name,
            target_kind,
            target_id,
            f"{exc.code}: {exc.message}",
        )
        audit.record(store, actor, refused, now=now)
        raise
    return ActionDone(action, instance_id, instance_name, target_id, audit_id, detail)


def _message(
    uow: UnitOfWork, instance_name: str, instance_id: int, message_id: int
) -> MessageRecord:
    found = uow.messages.get(instance_id, message_id)
    if found is None:
        raise NotFoundError(f"no message {message_id} in instance {instance_name}", field="message")
    return found


def retry_message(
    store: Store, actor: Actor, instance_id: int, message_id: int, *, now: datetime | None = None
) -> ActionDone:
    """A FAILED message back to QUEUED, due now, with the same reference (the
    providers' idempotency key) and a fresh round of the worker's attempts
    (``TUOTEMPO_MAX_SEND_ATTEMPTS``, with its backoff).

    A message past its expiry is refused: the worker would only expire it.
    """

    def change(uow: UnitOfWork, instance_name: str, at: datetime) -> str | None:
        message = _message(uow, instance_name, instance_id, message_id)
        if message.status != MessageStatus.FAILED.value:
            raise _not_failed(message_id, message.status)
        if message.expires_at is not None and message.expires_at <= at:
            raise ActionConflictError(
                f"message {message_id} expired at {message.expires_at:%Y-%m-%d %H:%M} UTC; "
                "a retry would never be sent",
                reason=Refusal.EXPIRED,
                field="message",
            )
        if not uow.messages.requeue_failed(message_id, at):
            raise ActionConflictError(
                f"message {message_id} changed while it was being retried; look at it again",
                reason=Refusal.NOT_FAILED,
                field="message",
            )
        return f"requeued after {message.attempts} attempt(s)"

    return _act(
        store,
        actor,
        AuditAction.MESSAGE_RETRY,
        instance_id,
        TargetKind.MESSAGE,
        message_id,
        change,
        now,
    )


def _not_failed(message_id: int, status: str) -> ActionConflictError:
    if status in (MessageStatus.SENT.value, MessageStatus.DELIVERED.value):
        return ActionConflictError(
            f"message {message_id} was already sent ({status}); only a FAILED message can be "
            "retried",
            reason=Refusal.ALREADY_SENT,
            field="message",
        )
    if status in (MessageStatus.QUEUED.value, MessageStatus.SENDING.value):
        return ActionConflictError(
            f"message {message_id} is already queued ({status}); only a FAILED message can be "
            "retried",
            reason=Refusal.ALREADY_QUEUED,
            field="message",
        )
    return ActionConflictError(
        f"message {message_id} is {status}; only a FAILED message can be retried",
        reason=Refusal.NOT_FAILED,
        field="message",
    )


def cancel_message(
    store: Store, actor: Actor, instance_id: int, message_id: int, *, now: datetime | None = None
) -> ActionDone:
    """A QUEUED message to CANCELLED (searchMessages shows why in ERROR).

    A message a worker has claimed (SENDING) may be at the provider already:
    it is refused, as is a claim that wins the race against this change.
    """

    def change(uow: UnitOfWork, instance_name: str, at: datetime) -> str | None:
        status = _message(uow, instance_name, instance_id, message_id).status
        if status == MessageStatus.QUEUED.value and uow.messages.cancel_queued(
            message_id, at, CANCELLED_BY_OPERATOR
        ):
            return None
        if status == MessageStatus.QUEUED.value:
            status = MessageStatus.SENDING.value  # a worker claimed it in between
        raise _not_queued(message_id, status)

    return _act(
        store,
        actor,
        AuditAction.MESSAGE_CANCEL,
        instance_id,
        TargetKind.MESSAGE,
        message_id,
        change,
        now,
    )


def _not_queued(message_id: int, status: str) -> ActionConflictError:
    if status == MessageStatus.SENDING.value:
        return ActionConflictError(
            f"message {message_id} is being sent right now; only a QUEUED message can be cancelled",
            reason=Refusal.IN_FLIGHT,
            field="message",
        )
    if status in (MessageStatus.SENT.value, MessageStatus.DELIVERED.value):
        return ActionConflictError(
            f"message {message_id} was already sent ({status}); only a QUEUED message can be "
            "cancelled",
            reason=Refusal.ALREADY_SENT,
            field="message",
        )
    return ActionConflictError(
        f"message {message_id} is {status}; only a QUEUED message can be cancelled",
        reason=Refusal.NOT_QUEUED,
        field="message",
    )


def rerun_poll(
    store: Store, actor: Actor, instance_id: int, *, now: datetime | None = None
) -> ActionDone:
    """Make the instance's clinic poll due now: the next round of ``tuotempo-soap
    poll`` (every 30 s by default) runs it, with its lease, backoff and
    outcome recording, instead of a web request waiting on the clinic."""

    def change(uow: UnitOfWork, instance_name: str, at: datetime) -> str | None:
        status = uow.integrations.status(instance_id)
        if status is None:
            raise NotFoundError(
                f"{instance_name} has no clinic web services configured", field="instance"
            )
        if not status.poll_enabled:
            raise ActionConflictError(
                f"polling is switched off for {instance_name}",
                reason=Refusal.POLL_OFF,
                field="instance",
            )
        if (status.poll_lease_until is not None and status.poll_lease_until >= at) or not (
            uow.integrations.schedule_now(instance_id, at)
        ):
            raise ActionConflictError(
                f"a poll of {instance_name} is running right now",
                reason=Refusal.POLL_RUNNING,
                field="instance",
            )
        if status.next_poll_at is None:
            return None
        return f"was due {status.next_poll_at:%Y-%m-%d %H:%M:%S} UTC"

    return _act(
        store,
        actor,
        AuditAction.CLINIC_POLL_NOW,
        instance_id,
        TargetKind.CLINIC_INTEGRATION,
        instance_id,
        change,
        now,
    )


def disable_instance(
    store: Store, actor: Actor, instance_id: int, *, now: datetime | None = None
) -> ActionDone:
    """Switch the instance off: it answers no SOAP call and sends nothing, and
    keeps all its data, until an operator switches it back on."""

    def change(uow: UnitOfWork, instance_name: str, at: datetime) -> str | None:
        if not uow.instances.set_disabled(instance_id, at):
            raise ActionConflictError(
                f"instance {instance_name} is already disabled",
                reason=Refusal.ALREADY_DISABLED,
                field="instance",
            )
        return None

    return _act(
        store,
        actor,
        AuditAction.INSTANCE_DISABLE,
        instance_id,
        TargetKind.INSTANCE,
        instance_id,
        change,
        now,
    )


def enable_instance(
    store: Store, actor: Actor, instance_id: int, *, now: datetime | None = None
) -> ActionDone:
    """Switch a disabled instance back on."""

    def change(uow: UnitOfWork, instance_name: str, at: datetime) -> str | None:
        if not uow.instances.set_disabled(instance_id, None):
            raise ActionConflictError(
                f"instance {instance_name} is not disabled",
                reason=Refusal.NOT_DISABLED,
                field="instance",
            )
        return None

    return _act(
        store,
        actor,
        AuditAction.INSTANCE_ENABLE,
        instance_id,
        TargetKind.INSTANCE,
        instance_id,
        change,
        now,
    )
