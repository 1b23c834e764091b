"""What the back office and the metrics scrape show of the machinery, on the
in-memory unit of work: each clinic poller's state and lag, a clinic's centers
and callback queue, the outbox per provider."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tuotempo_soap.errors import ForbiddenError, NotFoundError, TuotempoError
from tuotempo_soap.services import admin_status, instances, messages, monitoring
from tuotempo_soap.services.admin_status import PollState
from tuotempo_soap.services.audit import Actor
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.records import CenterRecord

from .fakes import FakeUnitOfWork, integration_row

NOW = datetime(2027, 5, 3, 9, 0)
ADMIN = Actor.of(1, "ana", None)


def test_each_poller_with_its_state_lag_and_what_the_operator_may_see(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    other = instances.create_instance(uow, "tt_aaa", timezone="Europe/Madrid", country="ES")
    uow.tables.integrations[instance.id] = integration_row(
        instance.id,
        endpoint_url="https://user:secret@clinic.example:8443/ws",
        last_success_at=NOW - timedelta(minutes=7),
        next_poll_at=NOW - timedelta(minutes=2),
        consecutive_failures=3,
    )
    uow.tables.integrations[other.id] = integration_row(other.id, poll_enabled=False)

    shown = admin_status.clinics(uow, ADMIN, now=NOW)
    mine = admin_status.clinics(uow, Actor.of(2, "bea", [instance.id]), now=NOW)

    assert [(c.poll.instance_name, c.state) for c in shown] == [
        ("tt_aaa", PollState.OFF),
        ("tt_clinic", PollState.FAILING),
    ]
    failing = shown[1]
    assert failing.endpoint_host == "clinic.example:8443"  # never the credentials
    assert (failing.lag, failing.overdue) == (timedelta(minutes=7), timedelta(minutes=2))
    assert [c.poll.instance_name for c in mine] == ["tt_clinic"]
    assert monitoring.clinic_polls(uow) == [
        monitoring.ClinicPoll("tt_clinic", NOW - timedelta(minutes=7), 3)
    ]


def test_a_clinic_with_its_centers_and_callback_queue(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    with pytest.raises(NotFoundError):
        admin_status.clinic(uow, ADMIN, instance.id, now=NOW)
    uow.tables.integrations[instance.id] = integration_row(instance.id, center_lid="C1")
    uow.tables.callbacks += [
        {
            "id": n,
            "instance_id": instance.id,
            "reservation_id": 10 + n,
            "app_lid": f"A{n}",
            "action": "CancelAppointment",
            "status": status,
            "attempts": attempts,
            "next_attempt_at": NOW + timedelta(minutes=due_in),
            "last_error": None,
            "created_at": NOW - timedelta(hours=n),
            "updated_at": NOW - timedelta(minutes=n),
        }
        for n, status, attempts, due_in in (
            (1, "PENDING", 0, -1),
            (2, "PENDING", 2, 5),
            (3, "FAILED", 6, 0),
            (4, "DONE", 1, 0),
        )
    ]

    detail = admin_status.clinic(uow, ADMIN, instance.id, now=NOW)

    # A plain instance is a portal of its own one center.
    assert detail.centers == [CenterRecord("C1", None, instance.id, instance.name)]
    summary = detail.callbacks
    assert (summary.pending, summary.due, summary.retried, summary.failed, summary.done) == (
        2,
        1,
        1,
        1,
        1,
    )
    assert summary.oldest_pending_at == NOW - timedelta(hours=2)
    assert [c.app_lid for c in detail.open_callbacks] == ["A1", "A2", "A3"]  # latest touched first
    with pytest.raises(ForbiddenError):
        admin_status.clinic(uow, Actor.of(2, "bea", []), instance.id, now=NOW)


def test_the_outbox_per_provider_with_unclaimed_messages_routed(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    items = [
        {"LEGACY_ID": f"m{n}", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"}
        for n in range(4)
    ]
    queued = messages.update_messages(uow, instance, items, max_items=10, now=NOW)
    ids = [item.message_id for item in queued.items]
    table = uow.tables.messages
    table[ids[1]] = replace(table[ids[1]], status="SENDING", provider="gw")
    table[ids[2]] = replace(
        table[ids[2]], status="FAILED", provider="gw", failed_at=NOW, last_error="HTTP 400"
    )
    table[ids[3]] = replace(table[ids[3]], next_attempt_at=NOW + timedelta(hours=1))

    def route(instance_name: str, channel: str) -> str:
        if channel != "SMS":
            raise TuotempoError("no route")
        return "gw"

    health = admin_status.outbox_health(uow, ADMIN, route=route, now=NOW + timedelta(minutes=5))
    depth = monitoring.outbox_depth(uow, route, now=NOW + timedelta(minutes=5))

    [gateway] = health.providers
    assert (gateway.provider, gateway.queued, gateway.sending, gateway.due) == ("gw", 3, 1, 1)
    assert gateway.oldest_due_age == timedelta(minutes=5)
    assert [(f.provider, f.reason, f.count) for f in health.failures_last_hour] == [
        ("gw", "HTTP 400", 1)
    ]
    assert [(d.provider, d.waiting, d.due) for d in depth] == [("gw", 3, 1)]
    assert admin_status.outbox_health(uow, Actor.of(2, "bea", []), now=NOW).providers == []
