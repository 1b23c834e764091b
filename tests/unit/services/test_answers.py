"""Patients' answers to reminders (SMS replies, e-mail links, keypad) on the
in-memory unit of work: what they change, what they queue, whom they reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tuotempo_soap.services import answers, instances, reminders
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.records import MessageRecord, ReminderRecord, ReservationRecord

from .fakes import FakeUnitOfWork, integration_row
from .test_reminders import BOOKED, DUE, SIGNER, appointment, book

NUMBER = "+34612345678"
REPLIED = DUE + timedelta(hours=1)


def remind(uow: FakeUnitOfWork, instance: Instance, *, channel: str = "SMS") -> ReminderRecord:
    """Book an appointment, plan and queue its reminder, and have ``gw`` send it."""
    reminders.set_rules(uow, instance.name, {"offsets_hours": [24], "channel_order": [channel]})
    lid = f"{instance.name}-A1"
    book(uow, instance, appointment(lid, USER_EMAIL="ana@example.com"))
    reminders.plan_changes(uow, now=BOOKED)
    assert reminders.queue_due(uow, signer=SIGNER, public_url=None, now=DUE) == 1
    [reminder] = [r for r in uow.tables.reminders.values() if r.instance_id == instance.id]
    assert reminder.message_id is not None
    message = uow.tables.messages[reminder.message_id]
    uow.tables.messages[message.id] = replace(
        message, status="SENT", provider="gw", reference=f"ref{message.id}", sent_at=DUE
    )
    return reminder


def reservation_of(uow: FakeUnitOfWork, reminder: ReminderRecord) -> ReservationRecord:
    [found] = [r for r in uow.tables.reservations.values() if r.instance_id == reminder.instance_id]
    return found


def queued(uow: FakeUnitOfWork, prefix: str) -> list[MessageRecord]:
    return [m for m in uow.tables.messages.values() if m.legacy_id.startswith(prefix)]


def test_a_yes_by_sms_confirms_and_is_acknowledged(uow: FakeUnitOfWork, instance: Instance) -> None:
    reminder = remind(uow, instance)
    seq = instances.get_instance(uow, instance.name)
    before = uow.tables.instances[seq.id].change_seq

    result = answers.sms_reply(uow, "gw", NUMBER, "Sí, allí estaré", now=REPLIED)

    assert result.outcome == "CONFIRMED"
    assert result.instance == instance.name
    stored = reservation_of(uow, reminder)
    assert (stored.patient_answer, stored.patient_answer_channel) == ("CONFIRMED", "SMS")
    assert stored.status == "APPROVED"
    # A change like any other: the next number of the sequence, in the history.
    assert stored.change_seq == before + 1
    assert uow.tables.instances[seq.id].change_seq == before + 1
    assert uow.tables.changes[-1]["changed_by"] == "PATIENT"
    [ack] = queued(uow, f"ack-{reminder.id}-")
    assert ack.recipient == NUMBER and ack.body == result.acknowledgement
    assert [e.event for e in uow.tables.events][-2:] == ["ANSWER", "ACKNOWLEDGED"]


def test_a_no_cancels_and_tells_an_integrated_clinic(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    reminder = remind(uow, instance)
    uow.tables.integrations[instance.id] = integration_row(instance.id)

    result = answers.sms_reply(uow, "gw", NUMBER, "NO", now=REPLIED)
    again = answers.sms_reply(uow, "gw", NUMBER, "no puedo", now=REPLIED)

    assert (result.outcome, again.outcome) == ("CANCELLED", "ALREADY_CANCELLED")
    stored = reservation_of(uow, reminder)
    assert (stored.status, stored.status_changed_by) == ("CANCELLED by USER", "PATIENT")
    assert [(c["reservation_id"], c["action"]) for c in uow.tables.callbacks] == [
        (stored.id, "CancelAppointment")
    ]


def test_a_clinic_without_web_services_gets_no_call(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    remind(uow, instance)

    assert answers.sms_reply(uow, "gw", NUMBER, "NO", now=REPLIED).outcome == "CANCELLED"
    assert uow.tables.callbacks == []


def test_a_reply_from_elsewhere_changes_nothing(uow: FakeUnitOfWork, instance: Instance) -> None:
    reminder = remind(uow, instance)
    before = uow.tables.saved()

    stranger = answers.sms_reply(uow, "gw", "+34699999999", "NO", now=REPLIED)
    other_gateway = answers.sms_reply(uow, "other-gw", NUMBER, "NO", now=REPLIED)

    assert stranger.outcome == other_gateway.outcome == "UNKNOWN_SENDER"
    assert uow.tables.saved() == before
    assert reservation_of(uow, reminder).patient_answer is None


def test_the_reference_a_gateway_quotes_picks_the_conversation(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    reminder = remind(uow, instance)
    assert reminder.message_id is not None
    reference = uow.tables.messages[reminder.message_id].reference

    result = answers.sms_reply(uow, "gw", NUMBER, "SI", reply_reference=reference, now=REPLIED)

    assert result.outcome == "CONFIRMED"


def test_a_number_with_appointments_at_two_clinics_is_asked_which(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    other = instances.create_instance(uow, "tt_other_clinic")
    mine = remind(uow, instance)
    theirs = remind(uow, other)

    asked = answers.sms_reply(uow, "gw", NUMBER, "NO", now=REPLIED)

    assert asked.outcome == answers.ASK_WHICH
    assert reservation_of(uow, mine).status == reservation_of(uow, theirs).status == "APPROVED"
    [question] = queued(uow, "which-")
    assert question.recipient == NUMBER and question.body == asked.acknowledgement
    # Both appointments are at the same time: listed in the order the reminders
    # were found (newest first), the answer "2 NO" means the second one.
    listed = uow.tables.reply_questions[-1][3]
    answered = answers.sms_reply(uow, "gw", NUMBER, "2 NO", now=REPLIED)
    chosen = mine if listed[1] == mine.id else theirs
    assert answered.outcome == "CANCELLED"
    assert reservation_of(uow, chosen).status == "CANCELLED by USER"
    untouched = theirs if chosen is mine else mine
    assert reservation_of(uow, untouched).status == "APPROVED"


def test_questions_are_forgotten_when_unanswerable_or_with_their_clinic(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    other = instances.create_instance(uow, "tt_other_clinic")
    remind(uow, instance)
    remind(uow, other)
    assert answers.sms_reply(uow, "gw", NUMBER, "NO", now=REPLIED).outcome == answers.ASK_WHICH
    expires = REPLIED + answers.QUESTION_VALID_FOR
    assert answers.forget_old_questions(uow, now=expires) == 0
    assert len(uow.tables.reply_questions) == 1
    assert answers.forget_old_questions(uow, now=expires + timedelta(seconds=1)) == 1
    assert uow.tables.reply_questions == []

    assert answers.sms_reply(uow, "gw", NUMBER, "NO", now=REPLIED).outcome == answers.ASK_WHICH
    assert instances.remove_instance(uow, other.name)["reply_questions"] == 1
    assert uow.tables.reply_questions == []


def test_an_email_link_answers_once(uow: FakeUnitOfWork, instance: Instance) -> None:
    reminder = remind(uow, instance, channel="EMAIL")

    first = answers.link_answer(uow, reminder.id, "confirm", now=REPLIED)
    second = answers.link_answer(uow, reminder.id, "cancel", now=REPLIED)
    reused = answers.link_answer(uow, reminder.id, "confirm", now=REPLIED)

    assert (first.outcome, second.outcome, reused.outcome) == (
        "CONFIRMED",
        "CANCELLED",
        answers.ALREADY_USED,
    )
    assert answers.link_used(uow, reminder.id, "confirm")
    stored = reservation_of(uow, reminder)
    assert (stored.patient_answer, stored.patient_answer_channel) == ("CANCELLED", "EMAIL")
    found = answers.appointments_of(uow, reminder.id)
    assert found is not None and found[0].name == instance.name
    assert [view.reservation_id for view in found[1]] == [stored.id]


def test_a_link_of_an_sms_reminder_is_nobodys(uow: FakeUnitOfWork, instance: Instance) -> None:
    reminder = remind(uow, instance)

    assert answers.link_answer(uow, reminder.id, "cancel", now=REPLIED).outcome == "UNKNOWN_SENDER"
    assert answers.appointments_of(uow, reminder.id) is None


def test_a_keypad_answer_reaches_its_call(uow: FakeUnitOfWork, instance: Instance) -> None:
    reminder = remind(uow, instance)
    assert reminder.message_id is not None
    message = uow.tables.messages[reminder.message_id]
    uow.tables.messages[message.id] = replace(message, channel="VOICE")
    assert message.reference is not None

    assert answers.voice_answer(uow, "gw", "unknown-ref", "2", now=REPLIED).outcome == (
        "UNKNOWN_SENDER"
    )
    result = answers.voice_answer(uow, "gw", message.reference, "2", now=REPLIED)

    assert result.outcome == "CANCELLED"
    assert reservation_of(uow, reminder).patient_answer_channel == "VOICE"
    assert queued(uow, "ack-") == []  # a call is not answered by SMS


@pytest.mark.parametrize("text", ["SI", "NO"])
def test_nothing_changes_once_the_appointment_started(
    uow: FakeUnitOfWork, instance: Instance, text: str
) -> None:
    reminder = remind(uow, instance)
    late = datetime(2027, 3, 10, 9, 30)  # 10:30 in Madrid, the appointment began at 10:00

    result = answers.sms_reply(uow, "gw", NUMBER, text, now=late)

    assert result.outcome == "TOO_LATE"
    assert reservation_of(uow, reminder).patient_answer is None
