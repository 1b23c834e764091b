"""The back office's read models on a real database: clinic pollers, their
centers and callback queues, and the outbox's health per provider."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import make_instance
from tuotempo_soap.dispatch.config import ConfigurationError
from tuotempo_soap.errors import ForbiddenError, NotFoundError
from tuotempo_soap.services import admin_actions, admin_status, clinic_sync, instances, messages
from tuotempo_soap.services.admin_status import PollState
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.clinic import IntegrationRepository, PortalRepository
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.outbox import MessageRepository
from tuotempo_soap.store.reminders import CallbackRepository
from tuotempo_soap.store.tables import messages as messages_table

T0 = datetime(2027, 6, 7, 12, 0, 0)


def new_instance(store: Store) -> Instance:
    return instances.get_instance(store, make_instance(store).instance)


def operator_of(*instances_: Instance) -> Actor:
    return Actor.of(3, "luca", [i.id for i in instances_])


def set_poll(store: Store, instance: Instance, **values: Any) -> None:
    with store.unit_of_work(write=True) as connection:
        IntegrationRepository(connection).save(instance.id, values)


# --- clinics -------------------------------------------------------------------


def test_each_clinic_poller_with_its_lag_and_state(store: Store) -> None:
    healthy, failing, switched_off, hidden = (new_instance(store) for _ in range(4))
    clinic_sync.configure(
        store, healthy.name, wsdl_url="https://his:secret@clinic.example:8443/ws?wsdl"
    )
    set_poll(
        store,
        healthy,
        last_success_at=T0 - timedelta(minutes=3),
        next_poll_at=T0 + timedelta(minutes=2),
    )
    clinic_sync.configure(store, failing.name, wsdl_url="/etc/clinic.wsdl")
    set_poll(
        store,
        failing,
        last_success_at=T0 - timedelta(hours=2),
        next_poll_at=T0 - timedelta(minutes=10),
        consecutive_failures=4,
        last_error="clinic.example:443 did not answer SearchAppointments",
    )
    clinic_sync.configure(
        store, switched_off.name, wsdl_url="https://c.example/ws", poll_enabled=False
    )
    clinic_sync.configure(store, hidden.name, wsdl_url="https://c.example/ws")

    shown = admin_status.clinics(store, operator_of(healthy, failing, switched_off), now=T0)

    by_name = {s.poll.instance_name: s for s in shown}
    assert set(by_name) == {healthy.name, failing.name, switched_off.name}
    ok = by_name[healthy.name]
    assert (ok.state, ok.lag, ok.overdue) == (PollState.OK, timedelta(minutes=3), None)
    assert ok.endpoint_host == "clinic.example:8443"  # never the credentials
    bad = by_name[failing.name]
    assert (bad.state, bad.lag, bad.overdue) == (
        PollState.FAILING,
        timedelta(hours=2),
        timedelta(minutes=10),
    )
    assert bad.poll.consecutive_failures == 4 and bad.poll.last_error is not None
    assert bad.endpoint_host == "local file"
    assert by_name[switched_off.name].state is PollState.OFF
    assert by_name[switched_off.name].lag is None

    # A disabled instance says so, and a poll holding its lease is running.
    admin_actions.disable_instance(store, Actor.of(1, "root", None), healthy.id, now=T0)
    with store.unit_of_work(write=True) as connection:
        IntegrationRepository(connection).acquire(failing.id, "p", T0, T0 + timedelta(minutes=5))
    again = {
        s.poll.instance_name: s.state
        for s in admin_status.clinics(store, operator_of(healthy, failing), now=T0)
    }
    assert again == {healthy.name: PollState.DISABLED, failing.name: PollState.RUNNING}


def test_a_clinic_with_its_centers_and_callback_queue(store: Store) -> None:
    portal, other = new_instance(store), new_instance(store)
    clinic_sync.configure(store, portal.name, wsdl_url="https://c.example/ws", center_lid="C0")
    clinic_sync.configure(store, other.name, wsdl_url="https://d.example/ws")
    with store.unit_of_work(write=True) as connection:
        PortalRepository(connection).put(portal.id, "NORTE", "Centro Norte", portal.id)
        PortalRepository(connection).put(portal.id, "SUR", "Centro Sur", other.id)
        callbacks = CallbackRepository(connection)
        for n, (status, attempts, next_at, error) in enumerate(
            [
                ("PENDING", 0, T0 - timedelta(minutes=1), None),
                ("PENDING", 3, T0 + timedelta(minutes=5), "clinic.example:443 timed out"),
                ("FAILED", 10, T0 - timedelta(days=1), "the clinic refused the cancellation"),
                ("DONE", 1, T0 - timedelta(days=2), None),
            ]
        ):
            callbacks.add(
                {
                    "instance_id": portal.id,
                    "reservation_id": 100 + n,
                    "app_lid": f"A{n}",
                    "user_lid": "PATIENT-77",
                    "action": "CancelAppointment",
                    "status": status,
                    "attempts": attempts,
                    "next_attempt_at": next_at,
                    "last_error": error,
                    "created_at": T0 - timedelta(hours=n + 1),
                    "updated_at": T0 - timedelta(minutes=n),
                }
            )

    detail = admin_status.clinic(store, operator_of(portal), portal.id, now=T0)

    assert [(c.center_lid, c.name, c.via_instance_name) for c in detail.centers] == [
        ("NORTE", "Centro Norte", portal.name),
        ("SUR", "Centro Sur", other.name),
    ]
    s = detail.callbacks
    assert (s.pending, s.due, s.retried, s.failed, s.done) == (2, 1, 1, 1, 1)
    assert s.oldest_pending_at == T0 - timedelta(hours=2)
    assert [(c.app_lid, c.status) for c in detail.open_callbacks] == [
        ("A0", "PENDING"),
        ("A1", "PENDING"),
        ("A2", "FAILED"),
    ]
    assert "PATIENT-77" not in repr(detail)  # the patient's id is not read

    # A plain instance is its own single center; another's clinic is not shown.
    single = admin_status.clinic(store, operator_of(other), other.id, now=T0)
    assert [(c.center_lid, c.via_instance_id) for c in single.centers] == [("", other.id)]
    assert single.callbacks.pending == 0 and single.open_callbacks == []
    with pytest.raises(ForbiddenError):
        admin_status.clinic(store, operator_of(other), portal.id, now=T0)
    plain = new_instance(store)
    with pytest.raises(NotFoundError):
        admin_status.clinic(store, operator_of(plain), plain.id, now=T0)


# --- outbox --------------------------------------------------------------------


def queue(
    store: Store, instance: Instance, count: int, channel: str = "SMS", **extra: Any
) -> list[int]:
    to = "ana@example.com" if channel == "EMAIL" else "612345678"
    items = [
        {"LEGACY_ID": f"{channel}-{n}", "CHANNEL": channel, "TO": to, "TEXT": "hola", **extra}
        for n in range(count)
    ]
    outcome = messages.update_messages(store, instance, items, max_items=100, now=T0)
    return [int(item.message_id) for item in outcome.items]  # type: ignore[arg-type]


def fail(store: Store, ids: list[int], provider: str, error: str, at: datetime) -> None:
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.id.in_(ids))
            .values(status="FAILED", provider=provider, last_error=error, failed_at=at)
        )


def test_outbox_health_per_provider(store: Store) -> None:
    a, b, hidden = new_instance(store), new_instance(store), new_instance(store)
    sms = queue(store, a, 3)  # due at T0
    queue(store, a, 2, "EMAIL", SEND_AT="2027-06-07T18:00:00+00:00", SUBJECT="Cita")  # not due yet
    queue(store, b, 1)
    queue(store, hidden, 5)
    # One of a's SMS was already handed to "sms-gw" and came back for a retry.
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.id == sms[0])
            .values(provider="sms-gw", next_attempt_at=T0 - timedelta(minutes=20))
        )
    failed_a = queue(store, a, 4, "VOICE")
    fail(
        store,
        failed_a[:2],
        "sms-gw",
        "gave up after 6 attempts: HTTP 503",
        T0 - timedelta(minutes=5),
    )
    fail(
        store,
        failed_a[2:3],
        "sms-gw",
        "gave up after 3 attempts: HTTP 503",
        T0 - timedelta(hours=3),
    )
    fail(
        store, failed_a[3:], "mailer", "recipient refused: 550 no such user", T0 - timedelta(days=3)
    )
    fail(store, queue(store, hidden, 1, "VOICE"), "sms-gw", "HTTP 503", T0 - timedelta(minutes=1))

    def route(instance_name: str, channel: str) -> str:
        if instance_name == b.name:
            raise ConfigurationError("no route", field="routes")
        return "mailer" if channel == "EMAIL" else "sms-gw"

    health = admin_status.outbox_health(store, operator_of(a, b), route=route, now=T0)

    by_provider = {q.provider: q for q in health.providers}
    assert list(by_provider) == ["mailer", "sms-gw", None]
    gw = by_provider["sms-gw"]
    assert (gw.queued, gw.sending, gw.due) == (3, 0, 3)
    assert gw.oldest_due_at == T0 - timedelta(minutes=20)
    assert gw.oldest_due_age == timedelta(minutes=20)
    mailer = by_provider["mailer"]
    assert (mailer.queued, mailer.due, mailer.oldest_due_at) == (2, 0, None)
    assert (by_provider[None].queued, by_provider[None].due) == (1, 1)
    assert [(f.provider, f.reason, f.count) for f in health.failures_last_hour] == [
        ("sms-gw", "HTTP 503", 2)
    ]
    assert [(f.provider, f.reason, f.count) for f in health.failures_last_day] == [
        ("sms-gw", "HTTP 503", 3)
    ]

    # A message a worker holds counts as queued and sending, not due.
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.instance_id == b.id)
            .values(status="SENDING", provider="sms-gw", lease_until=T0 + timedelta(minutes=1))
        )
        held = MessageRepository(connection).queue_depth_by_provider(T0, [b.id])
    assert [(d.provider, d.channel, d.queued, d.sending, d.due) for d in held] == [
        ("sms-gw", "SMS", 1, 1, 0)
    ]
