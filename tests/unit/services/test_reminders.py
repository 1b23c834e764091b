"""Reminder planning on reservation changes, and due reminders to the outbox,
on the in-memory unit of work."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tuotempo_soap.errors import NotFoundError, RequestValidationError
from tuotempo_soap.services import reminders, reservations
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.links import LinkSigner
from tuotempo_soap.store.records import ReminderRecord

from .fakes import FakeUnitOfWork

BOOKED = datetime(2027, 3, 1, 9, 0)  # naive UTC, as the store keeps it
# 10/03/2027 10:00 in Madrid is 09:00 UTC; the 24-hour reminder is due a day before.
DUE = datetime(2027, 3, 9, 9, 0)
SIGNER = LinkSigner("k" * 32)


def appointment(lid: str = "A1", **fields: str) -> dict[str, object]:
    return {
        "APP_LID": lid,
        "APP_DATE": "10/03/2027",
        "APP_START_TIME": "10:00",
        "RESOURCE_LID": "DR1",
        "USER_LID": f"patient-{lid}",
        "USER_MOBILE_PHONE": "612345678",
        "STATUS": "APPROVED",
        **fields,
    }


def book(
    uow: FakeUnitOfWork, instance: Instance, *items: dict[str, object], now: datetime = BOOKED
) -> None:
    done = reservations.update_reservations(uow, instance, list(items), max_items=100, now=now)
    assert done.result == "OK", [item.error for item in done.items]


@pytest.fixture
def rules_on(uow: FakeUnitOfWork, instance: Instance) -> Instance:
    reminders.set_rules(uow, instance.name, {"offsets_hours": [24]})
    return instance


def planned(uow: FakeUnitOfWork) -> list[ReminderRecord]:
    return sorted(uow.tables.reminders.values(), key=lambda r: r.id)


def events(uow: FakeUnitOfWork) -> list[tuple[int | None, str]]:
    return [(e.reservation_id, e.event) for e in uow.tables.events]


def test_rules_are_validated_and_stored(uow: FakeUnitOfWork, instance: Instance) -> None:
    assert reminders.get_rules(uow, instance) is None
    with pytest.raises(RequestValidationError) as raised:
        reminders.set_rules(uow, instance.name, {"offsets_hours": "soon"})
    assert raised.value.field == "rules"
    reminders.set_rules(uow, instance.name, {"offsets_hours": [48, 2]})
    rules = reminders.get_rules(uow, instance)
    assert rules is not None and rules.offsets_hours == (48, 2)


def test_a_new_reservation_is_planned_once(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, appointment())

    outcome = reminders.plan_changes(uow, now=BOOKED)

    assert (outcome.instances, outcome.reservations, outcome.planned) == (1, 1, 1)
    [reminder] = planned(uow)
    assert (reminder.kind, reminder.status, reminder.channel) == ("reminder", "PLANNED", "SMS")
    assert reminder.due_at == DUE and reminder.recipient == "+34612345678"
    [reservation] = uow.tables.reservations.values()
    assert reminder.reservation_ids == f",{reservation.id},"
    assert events(uow) == [(reservation.id, "PLANNED")]
    # The planner moved on: nothing changed since, nothing to plan.
    again = reminders.plan_changes(uow, now=BOOKED)
    assert (again.reservations, again.planned) == (0, 0)
    assert len(planned(uow)) == 1


def test_a_moved_appointment_moves_its_reminder(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, appointment())
    reminders.plan_changes(uow, now=BOOKED)
    book(uow, rules_on, appointment(APP_DATE="12/03/2027"), now=BOOKED + timedelta(hours=1))

    reminders.plan_changes(uow, now=BOOKED + timedelta(hours=1))

    live = [r for r in planned(uow) if r.status == "PLANNED"]
    assert [r.due_at for r in live] == [DUE + timedelta(days=2)]
    assert all(r.status == "CANCELLED" for r in planned(uow) if r not in live)


def test_a_cancelled_appointment_cancels_its_reminder(
    uow: FakeUnitOfWork, rules_on: Instance
) -> None:
    book(uow, rules_on, appointment())
    reminders.plan_changes(uow, now=BOOKED)
    book(uow, rules_on, appointment(STATUS="CANCELLED_BY_ADMIN"), now=BOOKED)

    outcome = reminders.plan_changes(uow, now=BOOKED)

    assert outcome.cancelled == 1
    assert [r.status for r in planned(uow)] == ["CANCELLED"]
    assert events(uow)[-1][1] == "CANCELLED"


def test_a_patient_nobody_can_reach_is_skipped_with_the_reason(
    uow: FakeUnitOfWork, rules_on: Instance
) -> None:
    book(uow, rules_on, appointment(USER_MOBILE_PHONE=""))

    reminders.plan_changes(uow, now=BOOKED)

    assert planned(uow) == []
    [skipped] = uow.tables.events
    assert skipped.event == "SKIPPED" and skipped.detail


def test_one_transaction_per_page_of_changes(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, *(appointment(f"A{n}") for n in range(30)))
    uow.calls.clear()

    reminders.plan_changes(uow, now=BOOKED)

    # However many reservations changed: one query of them, one of their days,
    # one insert of the reminders, one of the events.
    assert uow.calls["FakeReservationRepository.query"] == 1
    assert uow.calls["FakeReservationRepository.on_days"] == 1
    assert uow.calls["FakeReminderRepository.add"] == 1
    assert uow.calls["FakeEventRepository.add"] == 1
    assert len(planned(uow)) == 30


def test_due_reminders_are_queued_once(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, appointment())
    reminders.plan_changes(uow, now=BOOKED)

    assert reminders.queue_due(uow, signer=SIGNER, public_url=None, now=DUE) == 1
    assert reminders.queue_due(uow, signer=SIGNER, public_url=None, now=DUE) == 0

    [reminder] = planned(uow)
    [message] = uow.tables.messages.values()
    assert reminder.status == "QUEUED" and reminder.message_id == message.id
    assert message.legacy_id == f"rem-{reminder.id}"
    assert message.channel == "SMS" and message.recipient == "+34612345678"
    assert "10/03/2027" in message.body
    assert events(uow)[-1][1] == "QUEUED"


def test_a_reminder_of_an_appointment_cancelled_since_is_skipped(
    uow: FakeUnitOfWork, rules_on: Instance
) -> None:
    book(uow, rules_on, appointment())
    reminders.plan_changes(uow, now=BOOKED)
    # Cancelled, and the planner has not looked again yet.
    book(uow, rules_on, appointment(STATUS="CANCELLED_BY_ADMIN"), now=BOOKED)

    assert reminders.queue_due(uow, signer=SIGNER, public_url=None, now=DUE) == 0

    [reminder] = planned(uow)
    assert reminder.status == "SKIPPED" and reminder.reason == "the appointment was cancelled"
    assert uow.tables.messages == {}


def test_preview_changes_nothing(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, appointment(), appointment("A2", USER_MOBILE_PHONE=""))
    before = uow.tables.saved()

    wanted, skipped = reminders.preview(
        uow, rules_on.name, DUE.date(), DUE.date() + timedelta(days=2), now=BOOKED
    )

    assert [p.kind for p in wanted] == ["reminder"]
    assert len(skipped) == 1
    assert uow.tables.saved() == before


def test_reservation_history(uow: FakeUnitOfWork, rules_on: Instance) -> None:
    book(uow, rules_on, appointment())
    reminders.plan_changes(uow, now=BOOKED)
    [reservation] = uow.tables.reservations.values()

    history = reminders.reservation_history(uow, rules_on, reservation.id)

    assert [e.event for e in history] == ["PLANNED"]
    with pytest.raises(NotFoundError) as raised:
        reminders.reservation_history(uow, rules_on, reservation.id + 1000)
    assert raised.value.field == "reservation"
