"""Operators' actions and the audit trail on the in-memory unit of work: the
change and its DONE row commit together; a refusal leaves nothing changed and
is recorded on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tuotempo_soap.errors import ForbiddenError, NotFoundError
from tuotempo_soap.services import admin_actions, audit, messages
from tuotempo_soap.services.admin_actions import ActionConflictError, Refusal
from tuotempo_soap.services.audit import Actor, AuditAction, AuditOutcome
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.records import IntegrationRecord

from .fakes import FakeUnitOfWork, integration_row

NOW = datetime(2027, 5, 3, 9, 0)
ADMIN = Actor.of(1, "ana", None)


def queued(uow: FakeUnitOfWork, instance: Instance, legacy_id: str, **values: object) -> int:
    item = {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"}
    outcome = messages.update_messages(uow, instance, [item], max_items=10, now=NOW)
    message_id = outcome.items[0].message_id
    assert message_id is not None
    if values:
        uow.tables.messages[message_id] = replace(uow.tables.messages[message_id], **values)
    uow.calls.clear()
    uow.commits = 0
    return message_id


def trail(uow: FakeUnitOfWork) -> list[tuple[str, str, str | None]]:
    return [(e.action, e.outcome, e.detail) for e in uow.tables.audit]


def test_a_retry_and_its_audit_row_commit_together(uow: FakeUnitOfWork, instance: Instance) -> None:
    message_id = queued(uow, instance, "f1", status="FAILED", attempts=6, failed_at=NOW)

    done = admin_actions.retry_message(uow, ADMIN, instance.id, message_id, now=NOW)

    retried = uow.tables.messages[message_id]
    assert (retried.status, retried.attempts, retried.next_attempt_at) == ("QUEUED", 0, NOW)
    assert retried.failed_at is None
    assert trail(uow) == [("MESSAGE_RETRY", "DONE", "requeued after 6 attempt(s)")]
    assert done.audit_id == uow.tables.audit[0].id and uow.commits == 1


def test_a_refusal_changes_nothing_and_is_recorded_on_its_own(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    message_id = queued(uow, instance, "s1", status="SENT")
    before = uow.tables.messages[message_id]

    with pytest.raises(ActionConflictError) as refused:
        admin_actions.retry_message(uow, ADMIN, instance.id, message_id, now=NOW)

    assert refused.value.reason is Refusal.ALREADY_SENT
    assert uow.tables.messages[message_id] == before
    ((action, outcome, detail),) = trail(uow)
    assert (action, outcome) == ("MESSAGE_RETRY", "REFUSED") and detail
    assert detail.startswith("Client.")


def test_an_expired_message_is_not_retried(uow: FakeUnitOfWork, instance: Instance) -> None:
    message_id = queued(uow, instance, "e1", status="FAILED", expires_at=NOW - timedelta(minutes=1))
    with pytest.raises(ActionConflictError) as refused:
        admin_actions.retry_message(uow, ADMIN, instance.id, message_id, now=NOW)
    assert refused.value.reason is Refusal.EXPIRED
    assert uow.tables.messages[message_id].status == "FAILED"


def test_cancel_takes_a_queued_message_only(uow: FakeUnitOfWork, instance: Instance) -> None:
    waiting = queued(uow, instance, "q1")
    claimed = queued(uow, instance, "q2", status="SENDING")

    admin_actions.cancel_message(uow, ADMIN, instance.id, waiting, now=NOW)
    with pytest.raises(ActionConflictError) as refused:
        admin_actions.cancel_message(uow, ADMIN, instance.id, claimed, now=NOW)

    cancelled = uow.tables.messages[waiting]
    assert (cancelled.status, cancelled.last_error) == (
        "CANCELLED",
        admin_actions.CANCELLED_BY_OPERATOR,
    )
    assert refused.value.reason is Refusal.IN_FLIGHT
    assert uow.tables.messages[claimed].status == "SENDING"
    assert [(a, o) for a, o, _ in trail(uow)] == [
        ("MESSAGE_CANCEL", "DONE"),
        ("MESSAGE_CANCEL", "REFUSED"),
    ]


def test_an_operator_of_other_instances_is_refused_and_ids_do_not_cross(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    message_id = queued(uow, instance, "x1", status="FAILED")
    elsewhere = Actor.of(2, "bea", [instance.id + 100])

    with pytest.raises(ForbiddenError):
        admin_actions.retry_message(uow, elsewhere, instance.id, message_id, now=NOW)
    with pytest.raises(NotFoundError):
        admin_actions.retry_message(uow, ADMIN, instance.id, message_id + 1000, now=NOW)

    assert uow.tables.messages[message_id].status == "FAILED"
    assert [(e.operator_name, e.outcome) for e in uow.tables.audit] == [
        ("bea", "REFUSED"),
        ("ana", "REFUSED"),
    ]
    # bea sees no row of an instance she may not act on.
    assert audit.page(uow, elsewhere).entries == []


def poll(instance: Instance, **values: object) -> IntegrationRecord:
    return integration_row(instance.id, next_poll_at=NOW + timedelta(minutes=4), **values)


def test_rerun_poll_makes_it_due_now_unless_off_or_running(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    with pytest.raises(NotFoundError):
        admin_actions.rerun_poll(uow, ADMIN, instance.id, now=NOW)

    uow.tables.integrations[instance.id] = poll(instance)
    done = admin_actions.rerun_poll(uow, ADMIN, instance.id, now=NOW)
    assert uow.tables.integrations[instance.id].next_poll_at == NOW
    assert done.detail == "was due 2027-05-03 09:04:00 UTC"

    uow.tables.integrations[instance.id] = poll(
        instance, poll_lease_until=NOW + timedelta(seconds=30)
    )
    with pytest.raises(ActionConflictError) as running:
        admin_actions.rerun_poll(uow, ADMIN, instance.id, now=NOW)
    uow.tables.integrations[instance.id] = poll(instance, poll_enabled=False)
    with pytest.raises(ActionConflictError) as off:
        admin_actions.rerun_poll(uow, ADMIN, instance.id, now=NOW)
    assert (running.value.reason, off.value.reason) == (Refusal.POLL_RUNNING, Refusal.POLL_OFF)


def test_disable_then_enable_and_the_trail_pages_newest_first(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    admin_actions.disable_instance(uow, ADMIN, instance.id, now=NOW)
    with pytest.raises(ActionConflictError) as again:
        admin_actions.disable_instance(uow, ADMIN, instance.id, now=NOW)
    assert uow.tables.instances[instance.id].disabled_at == NOW
    admin_actions.enable_instance(uow, ADMIN, instance.id, now=NOW)
    assert uow.tables.instances[instance.id].disabled_at is None
    assert again.value.reason is Refusal.ALREADY_DISABLED

    first = audit.page(uow, ADMIN, limit=2)
    rest = audit.page(uow, ADMIN, limit=2, before_id=first.next_before_id)
    seen = [(e.action, e.outcome) for e in first.entries + rest.entries]
    assert seen == [
        (AuditAction.INSTANCE_ENABLE.value, AuditOutcome.DONE.value),
        (AuditAction.INSTANCE_DISABLE.value, AuditOutcome.REFUSED.value),
        (AuditAction.INSTANCE_DISABLE.value, AuditOutcome.DONE.value),
    ]
    assert rest.next_before_id is None
