"""Patients' answers to reminders (SMS replies, e-mail links, voice keypad) and
what follows: the reservation's answer and status, an acknowledgement to the
patient, and the clinic told of cancellations.

An answer is written like any other change of the reservation (a new number in
the instance's change sequence), so it reaches the HIS through getReservations
deltas; clinics with web services also get CancelAppointment (A.4.2), queued in
``clinic_callbacks`` (``clinic_sync.process_callbacks`` calls and retries it until
it succeeds or is marked FAILED); and an instance
may ask for an e-mail to the center on every cancellation (A.1.2.2).

The rule for contradicting answers is ``domain.reminders.replies.decide``: the
first cancellation is final (the slot may be given away), a later "yes" is
answered "already cancelled, call the clinic"; a cancellation after a
confirmation applies; nothing changes after the appointment has started.

Tenants stay apart: an answer received through a provider only ever reaches
messages that went out through that provider on that channel (SMS replies to
SMS reminders, keypad results to voice calls), found by the random reference
the provider got from us or by the patient's number, never by a guessable id;
a number with open reminders of several clinics is asked which one it means
(``sms_reply``). An e-mail link answers once.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, ParamSpec

from ..domain.message import Channel, normalise_recipient
from ..domain.reminders.planning import AppointmentView, compose_message
from ..domain.reminders.questions import Choice, read_choice, which_appointment
from ..domain.reminders.replies import (
    Decision,
    ReplyIntent,
    decide,
    parse_keypad,
    parse_reply,
)
from ..domain.reminders.rules import ReminderRules
from ..domain.reservation import AnswerChannel, ChangedBy, Status
from ..observability import metrics
from ..store.records import (
    REFERENCE_PATTERN,
    ReminderRecord,
    ReservationRecord,
    SentReminder,
    ids_of,
)
from . import messages
from .instances import Instance, get_instance_by_id, known_countries, utcnow
from .reminders import get_rules
from .unit_of_work import Store, UnitOfWork

log = logging.getLogger(__name__)

ANSWERABLE = ("reminder", "change")
# Outcomes beyond the decision rule's: a reply matching appointments at several
# clinics (a question was sent), and an e-mail link used a second time.
ASK_WHICH = "ASK_WHICH"
ALREADY_USED = "ALREADY_USED"
# How long "1 NO" still refers to the numbered list the patient was sent.
QUESTION_VALID_FOR = timedelta(days=7)
_CANCELLED = (Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value)


@dataclass
class AnswerResult:
    outcome: str  # an Outcome value, or UNKNOWN_SENDER
    decision: Decision | None = None
    instance: str | None = None
    reservation_ids: tuple[int, ...] = ()
    acknowledgement: str | None = None  # the text sent (or shown) to the patient


def _rules(store: Store, instance: Instance) -> ReminderRules:
    return get_rules(store, instance) or ReminderRules()


def _number_forms(store: Store, sender: str) -> list[str]:
    # Gateways usually send the number in international form; when not, read it
    # as a number of each country our instances serve.
    forms = {sender.strip()}
    for region in known_countries(store):
        try:
            forms.add(normalise_recipient(Channel.SMS, sender, region))
        except ValueError:
            continue
    return sorted(forms)


def _same_address(ours: str | None, theirs: str, forms: Sequence[str]) -> bool:
    """Whether the sender id or number a message went out from is the one a reply
    was sent to (``forms``: that ``to`` read as a number of each of our countries)."""
    if not ours:
        return False
    return ours.strip().casefold() == theirs.strip().casefold() or ours.strip() in forms


Upcoming = list[tuple[datetime, ReservationRecord]]


def _upcoming(store: Store, reminder: ReminderRecord, now: datetime) -> Upcoming:
    """The reminder's appointments still worth an answer (neither cancelled nor
    started), earliest first, with their start in UTC."""
    instance = get_instance_by_id(store, reminder.instance_id)
    with store.begin() as uow:
        rows = uow.reservations.by_ids(instance.id, ids_of(reminder.reservation_ids))
    live = [
        (_start_utc(instance, r), r)
        for r in rows
        if r.status not in _CANCELLED and r.patient_answer != "CANCELLED"
    ]
    return sorted((item for item in live if item[0] > now), key=lambda item: item[0])


_P = ParamSpec("_P")


def _counted(
    channel: str,
) -> Callable[[Callable[_P, AnswerResult]], Callable[_P, AnswerResult]]:
    """Count each answer received on ``channel`` by its outcome, once, whichever
    way the function returns."""

    def wrap(function: Callable[_P, AnswerResult]) -> Callable[_P, AnswerResult]:
        @functools.wraps(function)
        def counted(*args: _P.args, **kwargs: _P.kwargs) -> AnswerResult:
            result = function(*args, **kwargs)
            metrics.count_answer(channel, result.outcome)
            return result

        return counted

    return wrap


@_counted("sms")
def sms_reply(
    store: Store,
    provider: str,
    sender: str,
    text: str,
    *,
    to: str | None = None,
    reply_reference: str | None = None,
    now: datetime | None = None,
) -> AnswerResult:
    """An SMS from a patient, received through ``provider``.

    Only reminders that went out to this number as SMS through this same
    provider are considered. The conversation is the one the provider names,
    when it does (the reference of our message it answers, or the sender id or
    number it was sent to); otherwise the latest reminder of each instance
    counts, and when more than one instance still has an open appointment the
    patient is asked which one (a numbered list, answered "1 NO"): nothing is
    applied across clinics on a guess.
    """
    now = now or utcnow()
    forms = _number_forms(store, sender)
    with store.begin() as uow:
        referenced = None
        if reply_reference and REFERENCE_PATTERN.fullmatch(reply_reference):
            referenced = uow.reminders.by_reference(
                provider, Channel.SMS.value, reply_reference, ANSWERABLE, recipients=forms
            )
        sent = uow.reminders.sent_through(provider, Channel.SMS.value, forms, ANSWERABLE)
        asked = uow.reply_questions.latest(provider, forms, now - QUESTION_VALID_FOR)
    if referenced is not None:
        return _sms_answer(store, referenced, parse_reply(text, referenced.language), now)
    if not sent:
        log.info("SMS reply from a number we sent no reminder to through %s: ignored", provider)
        return AnswerResult("UNKNOWN_SENDER")
    by_id = {found.reminder.id: found.reminder for found in sent}
    if asked:
        choice = read_choice(text, len(asked))
        if choice is not None and asked[choice[0]] in by_id:
            chosen = by_id[asked[choice[0]]]
            return _sms_answer(store, chosen, parse_reply(choice[1], chosen.language), now)
    latest: dict[int, SentReminder] = {}
    for found in sent:  # newest first: each instance's latest reminder to this number
        latest.setdefault(found.reminder.instance_id, found)
    candidates = list(latest.values())
    if to:
        to_forms = _number_forms(store, to)
        named = [s for s in candidates if _same_address(s.sender, to, to_forms)]
        candidates = named or candidates
    if len(candidates) > 1:
        upcoming = [
            (s.reminder, ahead) for s in candidates if (ahead := _upcoming(store, s.reminder, now))
        ]
        if len(upcoming) > 1:
            return _ask_which(store, provider, upcoming, now)
        reminder = upcoming[0][0] if upcoming else candidates[0].reminder
    else:
        reminder = candidates[0].reminder
    return _sms_answer(store, reminder, parse_reply(text, reminder.language), now)


def forget_old_questions(store: Store, now: datetime | None = None) -> int:
    """Delete the "which appointment?" questions that can no longer be answered
    (asked over ``QUESTION_VALID_FOR`` ago): each holds a patient's number. Run
    by the worker's housekeeping."""
    now = now or utcnow()
    with store.begin(write=True) as uow:
        forgotten = uow.reply_questions.forget_older_than(now - QUESTION_VALID_FOR)
        uow.commit()
    return forgotten


def _sms_answer(
    store: Store, reminder: ReminderRecord, intent: ReplyIntent, now: datetime
) -> AnswerResult:
    return _answer(store, reminder, intent, AnswerChannel.SMS, now, reply_channel=Channel.SMS)


def _ask_which(
    store: Store,
    provider: str,
    candidates: Sequence[tuple[ReminderRecord, Upcoming]],
    now: datetime,
) -> AnswerResult:
    """Ask the patient which appointment they mean (each reminder's next one, in
    time order); change nothing."""
    listed: list[tuple[datetime, ReminderRecord, Choice]] = []
    for reminder, upcoming in candidates:
        starts_at, first = upcoming[0]
        start = (
            datetime.strptime(first.app_start_time, "%H:%M").time()
            if first.app_start_time
            else None
        )
        instance = get_instance_by_id(store, reminder.instance_id)
        clinic = _rules(store, instance).clinic_name
        listed.append((starts_at, reminder, Choice(first.app_date, start, clinic)))
    listed.sort(key=lambda item: item[0])
    latest = candidates[0][0]  # newest first: the clinic that wrote last asks
    instance = get_instance_by_id(store, latest.instance_id)
    text = which_appointment(latest.language or instance.language, [c for _, _, c in listed])
    with store.begin(write=True) as uow:
        uow.reply_questions.add(provider, latest.recipient, [r.id for _, r, _ in listed], now)
        uow.events.add(
            [
                {
                    "instance_id": r.instance_id,
                    "reservation_id": rid,
                    "reminder_id": r.id,
                    "event": "ANSWER",
                    "detail": "SMS reply from a number with appointments at several clinics: "
                    "asked which one, nothing changed",
                    "at": now,
                }
                for _, r, _ in listed
                for rid in ids_of(r.reservation_ids)
            ]
        )
        uow.commit()
    messages.update_messages(
        store,
        instance,
        [
            {
                "LEGACY_ID": f"which-{uuid.uuid4().hex[:16]}",
                "CHANNEL": Channel.SMS.value,
                "TO": latest.recipient,
                "TEXT": text,
            }
        ],
        max_items=1,
        now=now,
    )
    log.info("SMS reply via %s matches %d clinics: asked which", provider, len(listed))
    return AnswerResult(ASK_WHICH, acknowledgement=text)


@_counted("voice")
def voice_answer(
    store: Store, provider: str, reference: str, digit: str, *, now: datetime | None = None
) -> AnswerResult:
    """A voice call's keypad result, for a call placed through ``provider``
    (``reference``: the one that provider got from us for that call)."""
    now = now or utcnow()
    with store.begin() as uow:
        reminder = uow.reminders.by_reference(provider, Channel.VOICE.value, reference, ANSWERABLE)
    if reminder is None:
        return AnswerResult("UNKNOWN_SENDER")
    return _answer(
        store, reminder, parse_keypad(digit), AnswerChannel.VOICE, now, reply_channel=None
    )


@_counted("email")
def link_answer(
    store: Store, reminder_id: int, action: str, *, now: datetime | None = None
) -> AnswerResult:
    """A confirm or cancel link from an e-mail (its token already verified).

    A link answers once: the second use changes nothing (``ALREADY_USED``).
    """
    now = now or utcnow()
    with store.begin() as uow:
        reminder = uow.reminders.get(reminder_id)
    if reminder is None or reminder.channel != Channel.EMAIL.value:
        return AnswerResult("UNKNOWN_SENDER")
    intent = ReplyIntent.CONFIRM if action == "confirm" else ReplyIntent.CANCEL
    return _answer(
        store, reminder, intent, AnswerChannel.EMAIL, now, reply_channel=None, link=action
    )


def link_used(store: Store, reminder_id: int, action: str) -> bool:
    with store.begin() as uow:
        return uow.answer_links.used(reminder_id, action)


def appointments_of(
    store: Store, reminder_id: int
) -> tuple[Instance, list[AppointmentView]] | None:
    """For the answer page: the appointments a reminder was about."""
    with store.begin() as uow:
        reminder = uow.reminders.get(reminder_id)
        if reminder is None or reminder.channel != Channel.EMAIL.value:
            return None
        rows = uow.reservations.by_ids(reminder.instance_id, ids_of(reminder.reservation_ids))
    instance = get_instance_by_id(store, reminder.instance_id)
    return instance, [_view(r) for r in rows]


def _view(row: ReservationRecord) -> AppointmentView:
    return AppointmentView.from_record(row.id, row.columns())


def _start_utc(instance: Instance, row: ReservationRecord) -> datetime:
    start = (
        datetime.strptime(row.app_start_time, "%H:%M").time() if row.app_start_time else time(8, 0)
    )
    local = datetime.combine(row.app_date, start).replace(tzinfo=instance.zone)
    return local.astimezone(UTC).replace(tzinfo=None)


def _answer(
    store: Store,
    reminder: ReminderRecord,
    intent: ReplyIntent,
    channel: AnswerChannel,
    now: datetime,
    *,
    reply_channel: Channel | None,
    link: str | None = None,
) -> AnswerResult:
    """Apply an answer; ``link``: the action of the e-mail link used, marked used
    in the same transaction, so two clicks at once answer once."""
    instance = get_instance_by_id(store, reminder.instance_id)
    ids = ids_of(reminder.reservation_ids)
    with store.begin(write=True) as uow:
        seq = uow.instances.lock_for_changes(instance.id)
        if link is not None and not uow.answer_links.claim(reminder.id, link, now):
            return AnswerResult(ALREADY_USED, instance=instance.name, reservation_ids=tuple(ids))
        rows = sorted(
            uow.reservations.by_ids(instance.id, ids), key=lambda r: _start_utc(instance, r)
        )
        if not rows:  # the HIS can no longer see them either: nothing to answer
            uow.commit()  # the link is used all the same
            return AnswerResult("UNKNOWN_SENDER")
        live = [r for r in rows if _start_utc(instance, r) > now] or rows
        first = live[0]
        decision = decide(
            first.status, first.patient_answer, intent, _start_utc(instance, first), now
        )
        changed: list[dict[str, Any]] = []
        if decision.changes and decision.answer is not None:
            for row in live:
                if row.status in _CANCELLED:
                    continue
                seq += 1
                values = {
                    "row_id": row.id,
                    "patient_answer": decision.answer.value,
                    "patient_answer_channel": channel.value,
                    "patient_answer_at": now,
                    "status": row.status,
                    "status_changed_by": row.status_changed_by,
                    "status_changed_at": row.status_changed_at,
                    "updated_at": now,
                    "change_seq": seq,
                }
                if decision.cancels:
                    values.update(
                        status=Status.CANCELLED_BY_USER.value,
                        status_changed_by=ChangedBy.PATIENT.value,
                        status_changed_at=now,
                    )
                changed.append(values)
        if changed:
            uow.reservations.update_many(changed)
            uow.changes.record(instance.id, changed, at=now, by=ChangedBy.PATIENT.value)
            uow.instances.advance_seq(instance.id, seq)
        uow.events.add(
            [
                {
                    "instance_id": instance.id,
                    "reservation_id": row.id,
                    "reminder_id": reminder.id,
                    "event": "ANSWER",
                    "detail": f"{channel.value} answer read as {intent.value}: "
                    f"{decision.outcome.value}",
                    "at": now,
                }
                for row in rows
            ]
        )
        if decision.cancels and changed:
            cancelled = {values["row_id"] for values in changed}
            _remember_cancellations(uow, instance, [r for r in live if r.id in cancelled], now)
        uow.commit()
    rules = _rules(store, instance)
    views = [_view(r) for r in live]
    language = reminder.language or instance.language
    ack_channel = reply_channel or Channel.EMAIL
    ack = compose_message(decision.ack_kind, views, rules, channel=ack_channel, language=language)
    if reply_channel is not None:
        acknowledged = messages.update_messages(
            store,
            instance,
            [
                {
                    "LEGACY_ID": f"ack-{reminder.id}-{uuid.uuid4().hex[:10]}",
                    "CHANNEL": reply_channel.value,
                    "TO": reminder.recipient,
                    "TEXT": ack.body,
                    "SUBJECT": ack.subject,
                }
            ],
            max_items=1,
            now=now,
        ).items[0]
        if acknowledged.message_id is not None:
            # So each reservation's page lists the acknowledgement among its messages.
            with store.begin(write=True) as uow:
                uow.events.add(
                    [
                        {
                            "instance_id": instance.id,
                            "reservation_id": row.id,
                            "reminder_id": reminder.id,
                            "event": "ACKNOWLEDGED",
                            "detail": f"answer acknowledged by {reply_channel.value}",
                            "at": now,
                            "message_id": acknowledged.message_id,
                        }
                        for row in rows
                    ]
                )
                uow.commit()
    if decision.cancels and changed and rules.cancellation_email:
        _email_center(store, instance, rules, views, now)
    return AnswerResult(
        decision.outcome.value,
        decision,
        instance.name,
        tuple(ids),
        ack.body,
    )


def _remember_cancellations(
    uow: UnitOfWork, instance: Instance, rows: Sequence[ReservationRecord], now: datetime
) -> None:
    """Queue CancelAppointment for clinics integrated by web services
    (``clinic_sync.process_callbacks`` makes the calls)."""
    if not uow.integrations.configured(instance.id):
        return
    uow.callbacks.add_new(
        [
            {
                "instance_id": instance.id,
                "reservation_id": row.id,
                "app_lid": row.app_lid,
                "user_lid": row.user_lid,
                "action": "CancelAppointment",
                "status": "PENDING",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for row in rows
        ]
    )


def _email_center(
    store: Store,
    instance: Instance,
    rules: ReminderRules,
    views: list[AppointmentView],
    now: datetime,
) -> None:
    lines = [
        f"{v.app_lid}: {v.day:%d/%m/%Y} {v.start:%H:%M}"
        if v.start
        else f"{v.app_lid}: {v.day:%d/%m/%Y}"
        for v in views
    ]
    messages.update_messages(
        store,
        instance,
        [
            {
                "LEGACY_ID": f"center-cancel-{'-'.join(str(v.reservation_id) for v in views)}",
                "CHANNEL": "EMAIL",
                "TO": rules.cancellation_email,
                "SUBJECT": "Appointment cancelled by the patient",
                "TEXT": "Cancelled by the patient:\n" + "\n".join(lines),
            }
        ],
        max_items=1,
        now=now,
    )
