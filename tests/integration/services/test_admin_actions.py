"""Operators' actions on a real database: each change, its audit row, and its
refusals (another instance, no such thing, the wrong state), each audited too."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import make_instance
from tests.scripted_dispatch import OneProvider, ScriptedSender
from tuotempo_soap.clinic import ClinicUnavailableError
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.base import SendResult
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.errors import ForbiddenError, NotFoundError, RequestValidationError
from tuotempo_soap.services import admin_actions, audit, clinic_sync, instances, messages
from tuotempo_soap.services.admin_actions import ActionConflictError, Refusal
from tuotempo_soap.services.audit import Actor, AuditAction, AuditOutcome
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.clinic import IntegrationRepository
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.outbox import MessageRepository
from tuotempo_soap.store.tables import instances as instances_table
from tuotempo_soap.store.tables import messages as messages_table

T0 = datetime(2027, 5, 3, 9, 0, 0)
PHONE = "612345678"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def only_this_tests_messages(store: Store) -> None:
    """A worker claims every due message whatever its instance, and the
    PostgreSQL database is shared by the session: withdraw what others left."""
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.status.in_(("QUEUED", "SENDING")))
            .values(status="CANCELLED")
        )


@pytest.fixture
def tuned(settings: Settings) -> Settings:
    # The settings model is frozen: a copy with the worker's policy made small.
    copy = getattr(settings, "model_copy", None)
    changes: dict[str, Any] = dict(
        max_send_attempts=2,
        retry_base_seconds=10,
        retry_max_seconds=60,
        worker_lease_seconds=60,
        worker_batch_size=10,
    )
    if copy is not None:
        return copy(update=changes)  # type: ignore[no-any-return]
    return replace(
        settings,
        max_send_attempts=2,
        retry_base_seconds=10,
        retry_max_seconds=60,
        worker_lease_seconds=60,
        worker_batch_size=10,
    )


def new_instance(store: Store) -> Instance:
    return instances.get_instance(store, make_instance(store).instance)


def queue(store: Store, instance: Instance, *legacy_ids: str, **extra: Any) -> list[int]:
    items = [
        {"LEGACY_ID": lid, "CHANNEL": "SMS", "TO": PHONE, "TEXT": "hola", **extra}
        for lid in legacy_ids
    ]
    outcome = messages.update_messages(store, instance, items, max_items=100, now=T0)
    return [int(item.message_id) for item in outcome.items]  # type: ignore[arg-type]


def row(store: Store, message_id: int) -> Any:
    with store.unit_of_work() as connection:
        query = select(messages_table).where(messages_table.c.id == message_id)
        return connection.execute(query).mappings().one()


def worker(store: Store, sender: ScriptedSender, settings: Settings, clock: Clock) -> OutboxWorker:
    return OutboxWorker(store, OneProvider(sender), settings, worker_id="w1", clock=clock)  # type: ignore[arg-type]


def failed_message(store: Store, tuned: Settings, instance: Instance) -> tuple[int, ScriptedSender]:
    (mid,) = queue(store, instance, "m1")
    sender = ScriptedSender(SendResult.permanent("HTTP 400 unknown destination"))
    worker(store, sender, tuned, Clock()).run_once()
    assert row(store, mid)["status"] == "FAILED"
    return mid, sender


def trail(store: Store, actor: Actor, instance_id: int) -> list[Any]:
    return audit.page(store, actor, instance_id=instance_id).entries


def operator_of(*instances_: Instance, name: str = "maria") -> Actor:
    return Actor.of(7, name, [i.id for i in instances_])


# --- retry ---------------------------------------------------------------------


def test_retry_queues_a_failed_message_due_now_under_the_same_reference(
    store: Store, tuned: Settings
) -> None:
    instance = new_instance(store)
    mid, sender = failed_message(store, tuned, instance)
    before = row(store, mid)
    actor = operator_of(instance)
    at = T0 + timedelta(minutes=30)

    done = admin_actions.retry_message(store, actor, instance.id, mid, now=at)

    after = row(store, mid)
    assert after["status"] == "QUEUED" and after["next_attempt_at"] == at
    assert after["reference"] == before["reference"] and after["failed_at"] is None
    assert after["attempts"] == 0
    (entry,) = trail(store, actor, instance.id)
    assert (entry.id, entry.at, entry.operator_id, entry.operator_name) == (
        done.audit_id,
        at,
        7,
        "maria",
    )
    assert (entry.instance_id, entry.instance_name) == (instance.id, instance.name)
    assert (entry.action, entry.target_kind, entry.target_id, entry.outcome) == (
        "MESSAGE_RETRY",
        "message",
        mid,
        "DONE",
    )
    assert entry.detail == "requeued after 1 attempt(s)"
    assert PHONE not in str(entry)

    # The worker sends it again at once, under the same idempotency key.
    clock = Clock()
    clock.now = at
    worker(store, sender, tuned, clock).run_once()
    assert [m.reference for m in sender.sent] == [before["reference"]] * 2
    assert row(store, mid)["status"] == "SENT"


def test_a_retried_message_gets_the_worker_s_attempts_and_backoff_again(
    store: Store, tuned: Settings
) -> None:
    instance = new_instance(store)
    mid, sender = failed_message(store, tuned, instance)
    at = T0 + timedelta(hours=1)
    admin_actions.retry_message(store, operator_of(instance), instance.id, mid, now=at)
    sender.results = [SendResult.retry("HTTP 503"), SendResult.retry("HTTP 503")]
    clock = Clock()
    clock.now = at
    w = worker(store, sender, tuned, clock)
    w.run_once()
    backed_off = row(store, mid)
    assert backed_off["status"] == "QUEUED" and backed_off["attempts"] == 1
    assert backed_off["next_attempt_at"] > at
    clock.now = backed_off["next_attempt_at"]
    w.run_once()
    final = row(store, mid)
    assert final["status"] == "FAILED" and final["last_error"].startswith("gave up after 2")


def test_retry_refuses_what_is_not_failed_and_audits_the_refusal(
    store: Store, tuned: Settings
) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    queued, sent = queue(store, instance, "q1", "s1")
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table).where(messages_table.c.id == sent).values(status="SENT")
        )

    with pytest.raises(ActionConflictError) as already_sent:
        admin_actions.retry_message(store, actor, instance.id, sent, now=T0)
    assert already_sent.value.reason is Refusal.ALREADY_SENT
    assert already_sent.value.field == "message"
    assert f"message {sent} was already sent (SENT)" in already_sent.value.message
    with pytest.raises(ActionConflictError) as still_queued:
        admin_actions.retry_message(store, actor, instance.id, queued, now=T0)
    assert still_queued.value.reason is Refusal.ALREADY_QUEUED

    assert row(store, sent)["status"] == "SENT" and row(store, queued)["status"] == "QUEUED"
    refusals = trail(store, actor, instance.id)
    assert [(e.action, e.outcome, e.target_id) for e in refusals] == [
        ("MESSAGE_RETRY", "REFUSED", queued),
        ("MESSAGE_RETRY", "REFUSED", sent),
    ]
    assert refusals[1].detail is not None
    assert refusals[1].detail.startswith("Client.Conflict: message")


def test_retry_refuses_an_expired_message(store: Store, tuned: Settings) -> None:
    instance = new_instance(store)
    mid, _ = failed_message(store, tuned, instance)
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.id == mid)
            .values(expires_at=T0 + timedelta(hours=2))
        )
    with pytest.raises(ActionConflictError) as expired:
        admin_actions.retry_message(
            store, operator_of(instance), instance.id, mid, now=T0 + timedelta(hours=3)
        )
    assert expired.value.reason is Refusal.EXPIRED
    assert row(store, mid)["status"] == "FAILED"


def test_an_operator_acts_only_on_their_instances_and_ids_do_not_cross(
    store: Store, tuned: Settings
) -> None:
    mine, theirs = new_instance(store), new_instance(store)
    their_message, _ = failed_message(store, tuned, theirs)
    actor = operator_of(mine)

    with pytest.raises(ForbiddenError) as forbidden:
        admin_actions.retry_message(store, actor, theirs.id, their_message, now=T0)
    assert forbidden.value.field == "instance"
    # Their message asked for under my instance: not found, not "it exists elsewhere".
    with pytest.raises(NotFoundError) as missing:
        admin_actions.retry_message(store, actor, mine.id, their_message, now=T0)
    assert missing.value.message == f"no message {their_message} in instance {mine.name}"
    # An instance that does not exist: outside the operator's too.
    with pytest.raises(ForbiddenError):
        admin_actions.retry_message(store, actor, 10**9, their_message, now=T0)
    with pytest.raises(NotFoundError) as no_instance:
        admin_actions.retry_message(store, Actor.of(1, "root", None), 10**9, 1, now=T0)
    assert no_instance.value.message == f"no instance with id {10**9}"

    assert row(store, their_message)["status"] == "FAILED"
    everything = Actor.of(1, "root", None)
    (refused,) = trail(store, everything, theirs.id)
    assert (refused.operator_name, refused.outcome, refused.detail) == (
        "maria",
        "REFUSED",
        f"Client.Forbidden: operator maria may not act on instance {theirs.id}",
    )
    (not_found,) = trail(store, actor, mine.id)
    assert not_found.detail is not None and not_found.detail.startswith("Client.NotFound")
    # The operator of one instance does not read the other's trail.
    with pytest.raises(ForbiddenError):
        trail(store, actor, theirs.id)
    assert all(e.instance_id == mine.id for e in audit.page(store, actor).entries)


# --- cancel --------------------------------------------------------------------


def test_cancel_a_queued_message(store: Store, tuned: Settings) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    (mid,) = queue(store, instance, "c1")
    admin_actions.cancel_message(store, actor, instance.id, mid, now=T0)
    cancelled = row(store, mid)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["last_error"] == admin_actions.CANCELLED_BY_OPERATOR
    # searchMessages tells the HIS.
    shown = messages.show_message(store, instance, "c1")
    assert (shown["STATUS"], shown["ERROR"]) == ("CANCELLED", "cancelled by an operator")
    # The worker never sends it.
    sender = ScriptedSender()
    worker(store, sender, tuned, Clock()).run_once()
    assert sender.sent == []
    (entry,) = trail(store, actor, instance.id)
    assert (entry.action, entry.outcome, entry.target_id) == ("MESSAGE_CANCEL", "DONE", mid)


def test_cancel_refuses_a_claimed_or_sent_message(store: Store, tuned: Settings) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    claimed, sent = queue(store, instance, "k1", "k2")
    with store.unit_of_work(write=True) as connection:
        repo = MessageRepository(connection)
        repo.claim(T0, "w9", T0 + timedelta(minutes=1), 10)
        connection.execute(
            update(messages_table).where(messages_table.c.id == sent).values(status="SENT")
        )
    with pytest.raises(ActionConflictError) as in_flight:
        admin_actions.cancel_message(store, actor, instance.id, claimed, now=T0)
    assert in_flight.value.reason is Refusal.IN_FLIGHT
    with pytest.raises(ActionConflictError) as already_sent:
        admin_actions.cancel_message(store, actor, instance.id, sent, now=T0)
    assert already_sent.value.reason is Refusal.ALREADY_SENT
    assert row(store, claimed)["status"] == "SENDING"
    assert [e.outcome for e in trail(store, actor, instance.id)] == ["REFUSED", "REFUSED"]


# --- clinic poll ---------------------------------------------------------------


def test_rerun_poll_makes_it_due_now_and_the_poller_takes_it(store: Store) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    clinic_sync.configure(store, instance.name, wsdl_url="https://clinic.example/ws?wsdl")
    with store.unit_of_work(write=True) as connection:
        IntegrationRepository(connection).save(
            instance.id, {"next_poll_at": T0 + timedelta(hours=1)}
        )

    done = admin_actions.rerun_poll(store, actor, instance.id, now=T0)
    assert done.detail == "was due 2027-05-03 10:00:00 UTC"
    with store.unit_of_work() as connection:
        due = IntegrationRepository(connection).due(T0)
    assert instance.id in {r.integration.instance_id for r in due}

    def clinic_down(endpoint: object) -> Any:
        raise ClinicUnavailableError("clinic.example:443 did not answer")

    outcomes = clinic_sync.poll_due(store, owner="poller", build=clinic_down, now=T0)
    assert [o.instance for o in outcomes if o.instance == instance.name] == [instance.name]
    with store.unit_of_work() as connection:
        status = IntegrationRepository(connection).status(instance.id)
    assert status is not None and status.consecutive_failures == 1
    (entry,) = trail(store, actor, instance.id)
    assert (entry.action, entry.target_kind, entry.target_id) == (
        "CLINIC_POLL_NOW",
        "clinic_integration",
        instance.id,
    )


def test_rerun_poll_refusals(store: Store) -> None:
    plain, off, busy = new_instance(store), new_instance(store), new_instance(store)
    actor = operator_of(plain, off, busy)
    with pytest.raises(NotFoundError) as missing:
        admin_actions.rerun_poll(store, actor, plain.id, now=T0)
    assert missing.value.message == f"{plain.name} has no clinic web services configured"

    clinic_sync.configure(store, off.name, wsdl_url="https://c.example/ws", poll_enabled=False)
    with pytest.raises(ActionConflictError) as switched_off:
        admin_actions.rerun_poll(store, actor, off.id, now=T0)
    assert switched_off.value.reason is Refusal.POLL_OFF

    clinic_sync.configure(store, busy.name, wsdl_url="https://c.example/ws")
    with store.unit_of_work(write=True) as connection:
        assert IntegrationRepository(connection).acquire(
            busy.id, "other", T0, T0 + timedelta(minutes=10)
        )
    with pytest.raises(ActionConflictError) as running:
        admin_actions.rerun_poll(store, actor, busy.id, now=T0 + timedelta(minutes=1))
    assert running.value.reason is Refusal.POLL_RUNNING
    outcomes = [(e.instance_id, e.outcome) for e in audit.page(store, actor).entries if e.at == T0]
    assert (plain.id, "REFUSED") in outcomes and (off.id, "REFUSED") in outcomes


# --- instances -----------------------------------------------------------------


def test_disable_and_enable_an_instance(store: Store) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)

    def disabled_at() -> Any:
        with store.unit_of_work() as connection:
            query = select(instances_table.c.disabled_at).where(instances_table.c.id == instance.id)
            return connection.execute(query).scalar_one()

    admin_actions.disable_instance(store, actor, instance.id, now=T0)
    assert disabled_at() == T0
    with pytest.raises(ActionConflictError) as again:
        admin_actions.disable_instance(store, actor, instance.id, now=T0)
    assert again.value.reason is Refusal.ALREADY_DISABLED
    assert disabled_at() == T0
    admin_actions.enable_instance(store, actor, instance.id, now=T0 + timedelta(hours=1))
    assert disabled_at() is None
    with pytest.raises(ActionConflictError) as not_off:
        admin_actions.enable_instance(store, actor, instance.id, now=T0)
    assert not_off.value.reason is Refusal.NOT_DISABLED
    with pytest.raises(ForbiddenError):
        admin_actions.disable_instance(store, operator_of(), instance.id, now=T0)
    assert disabled_at() is None
    assert [
        (e.action, e.outcome) for e in trail(store, Actor.of(1, "root", None), instance.id)
    ] == [
        (AuditAction.INSTANCE_DISABLE, AuditOutcome.REFUSED),
        (AuditAction.INSTANCE_ENABLE, AuditOutcome.REFUSED),
        (AuditAction.INSTANCE_ENABLE, AuditOutcome.DONE),
        (AuditAction.INSTANCE_DISABLE, AuditOutcome.REFUSED),
        (AuditAction.INSTANCE_DISABLE, AuditOutcome.DONE),
    ]


# --- the trail -----------------------------------------------------------------


def test_the_trail_pages_newest_first_by_keyset(store: Store) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    for minute in range(5):
        at = T0 + timedelta(minutes=minute)
        if minute % 2 == 0:
            admin_actions.disable_instance(store, actor, instance.id, now=at)
        else:
            admin_actions.enable_instance(store, actor, instance.id, now=at)
    first = audit.page(store, actor, instance_id=instance.id, limit=2)
    assert [e.at.minute for e in first.entries] == [4, 3]
    assert first.next_before_id == first.entries[-1].id
    second = audit.page(
        store, actor, instance_id=instance.id, before_id=first.next_before_id, limit=2
    )
    assert [e.at.minute for e in second.entries] == [2, 1]
    third = audit.page(
        store, actor, instance_id=instance.id, before_id=second.next_before_id, limit=2
    )
    assert [e.at.minute for e in third.entries] == [0] and third.next_before_id is None
    with pytest.raises(RequestValidationError) as too_many:
        audit.page(store, actor, limit=10_000)
    assert too_many.value.field == "limit"


def test_what_was_done_to_one_message(store: Store, tuned: Settings) -> None:
    instance = new_instance(store)
    actor = operator_of(instance)
    mid, _ = failed_message(store, tuned, instance)
    admin_actions.retry_message(store, actor, instance.id, mid, now=T0)
    admin_actions.cancel_message(store, actor, instance.id, mid, now=T0 + timedelta(seconds=1))
    assert [e.action for e in audit.for_message(store, actor, instance.id, mid)] == [
        "MESSAGE_CANCEL",
        "MESSAGE_RETRY",
    ]
