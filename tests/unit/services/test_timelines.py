"""The back office's reservation and message pages on the in-memory unit of
work: a reservation booked, moved and reminded; a message refused twice, then
sent; ids of another instance are not found."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tuotempo_soap.errors import NotFoundError
from tuotempo_soap.services import instances, messages, reminders, reservations, timelines
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.links import LinkSigner
from tuotempo_soap.services.timelines import FieldChange
from tuotempo_soap.store.records import MessageAttemptRecord

from .fakes import FakeUnitOfWork

BOOKED = datetime(2027, 3, 1, 9, 0)
MOVED = BOOKED + timedelta(hours=1)
DUE = datetime(2027, 3, 10, 9, 0)  # the 24-hour reminder of 11/03/2027 10:00 in Madrid
SENT = DUE + timedelta(minutes=3)


def appointment(**fields: str) -> dict[str, object]:
    return {
        "APP_LID": "A1",
        "APP_DATE": "10/03/2027",
        "APP_START_TIME": "10:00",
        "RESOURCE_LID": "DR1",
        "USER_LID": "patient-1",
        "USER_MOBILE_PHONE": "612345678",
        "STATUS": "APPROVED",
        **fields,
    }


@pytest.fixture
def reminded(uow: FakeUnitOfWork, instance: Instance) -> tuple[int, int]:
    """A1 booked, moved a day later, its reminder queued, refused twice and sent:
    (reservation id, message id)."""
    reminders.set_rules(uow, instance.name, {"offsets_hours": [24]})
    for at, item in ((BOOKED, appointment()), (MOVED, appointment(APP_DATE="11/03/2027"))):
        done = reservations.update_reservations(uow, instance, [item], max_items=10, now=at)
        assert done.result == "OK"
    reminders.plan_changes(uow, now=MOVED)
    assert reminders.queue_due(uow, signer=LinkSigner("k" * 32), public_url=None, now=DUE) == 1
    [message] = uow.tables.messages.values()
    uow.tables.messages[message.id] = replace(
        message, status="SENT", attempts=3, provider="sms", sent_at=SENT, provider_message_id="p-9"
    )
    uow.tables.attempts.extend(
        MessageAttemptRecord(n, instance.id, message.id, n, DUE + timedelta(minutes=n), "sms", *end)
        for n, end in (
            (1, ("retry", None, "HTTP 503")),
            (2, ("retry", None, "timed out")),
            (3, ("sent", "p-9", None)),
        )
    )
    [reservation] = uow.tables.reservations.values()
    return reservation.id, message.id


def test_a_reservation_shows_what_each_change_changed_and_its_reminder(
    uow: FakeUnitOfWork, instance: Instance, reminded: tuple[int, int]
) -> None:
    reservation_id, message_id = reminded

    detail = timelines.reservation_detail(uow, instance, reservation_id)

    assert detail.app_lid == "A1" and detail.fields["APP_DATE"] == "11/03/2027"
    created, moved = detail.changes
    assert created.created and detail.complete_history
    assert FieldChange("APP_DATE", None, "10/03/2027") in created.fields
    assert moved.fields == (FieldChange("APP_DATE", "10/03/2027", "11/03/2027"),)
    [reminder] = detail.reminders
    assert reminder.message is not None and reminder.message.id == message_id
    assert [stage.name for stage in reminder.stages] == ["PLANNED", "QUEUED", "SENT"]
    assert reminder.reached.at == SENT
    assert [m.id for m in detail.messages] == [message_id]


def test_a_message_shows_each_refused_attempt_and_its_reservation(
    uow: FakeUnitOfWork, instance: Instance, reminded: tuple[int, int]
) -> None:
    reservation_id, message_id = reminded

    detail = timelines.message_detail(uow, instance, message_id)

    steps = [(step.name, step.values.get("error")) for step in detail.steps]
    assert steps == [
        ("QUEUED", None),
        ("ATTEMPT", "HTTP 503"),
        ("ATTEMPT", "timed out"),
        ("SENT", None),
    ]
    assert detail.steps[-1].values == {"provider": "sms", "provider_id": "p-9"}
    assert [(r.id, r.app_lid) for r in detail.reservations] == [(reservation_id, "A1")]


def test_a_message_sent_before_attempts_were_kept_shows_their_count(
    uow: FakeUnitOfWork, instance: Instance, reminded: tuple[int, int]
) -> None:
    _, message_id = reminded
    uow.tables.attempts.clear()
    message = uow.tables.messages[message_id]
    uow.tables.messages[message_id] = replace(message, last_error="timed out")

    steps = timelines.message_detail(uow, instance, message_id).steps

    assert [(s.name, s.values.get("count")) for s in steps][1] == ("ATTEMPTS", "3")


def test_another_instance_finds_nothing(
    uow: FakeUnitOfWork, instance: Instance, reminded: tuple[int, int]
) -> None:
    reservation_id, message_id = reminded
    other = instances.create_instance(uow, "tt_other", timezone="Europe/Madrid", country="ES")

    with pytest.raises(NotFoundError) as reservation:
        timelines.reservation_detail(uow, other, reservation_id)
    with pytest.raises(NotFoundError) as message:
        timelines.message_detail(uow, other, message_id)
    assert (reservation.value.field, message.value.field) == ("reservation", "message")


def test_an_acknowledgement_names_the_reservation_its_answer_was_about(
    uow: FakeUnitOfWork, instance: Instance, reminded: tuple[int, int]
) -> None:
    reservation_id, _ = reminded
    [reminder] = uow.tables.reminders.values()
    item = {"LEGACY_ID": f"ack-{reminder.id}-x1", "CHANNEL": "SMS", "TO": "612345678"}
    queued = messages.update_messages(
        uow, instance, [{**item, "TEXT": "Gracias"}], max_items=1, now=SENT
    )
    ack_id = queued.items[0].message_id
    assert ack_id is not None

    detail = timelines.message_detail(uow, instance, ack_id)

    assert [r.id for r in detail.reservations] == [reservation_id]
