"""What a reservation went through, and what became of a message: the back
office's detail pages, as plain values.

A reservation: its fields now, every recorded change (``reservation_changes``:
who changed what, from what to what), its reminders and notices with the stage
each reached (planned, queued, sent, delivered, answered; or cancelled,
skipped, failed, expired), the planner's and the answers' events, and every
message it caused (reminders, acknowledgements of the patient's answer).

A message: its fields and its timeline (queued, scheduled, each attempt the
provider did not accept with its answer, handed over, sent, delivered or
failed by receipt, expired, cancelled), and the reservations it is about.
Attempts come from ``message_attempts``; a message sent before that table
existed shows the outbox row's count and last answer instead.

Everything is read within the caller's instance: an id of another instance is
``NotFoundError``, exactly like an id that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ..domain.formats import format_date
from ..domain.message import MessageStatus
from ..domain.reservation import FIELDS
from ..errors import NotFoundError
from ..store.records import (
    RECORDED_COLUMNS,
    MessageAttemptRecord,
    MessageRecord,
    ReminderRecord,
    ReservationChangeRecord,
    ids_of,
)
from .instances import Instance
from .unit_of_work import Store

_DATE_COLUMNS = frozenset(s.name.lower() for s in FIELDS if s.kind == "date")
# Wire names of what a change can write: the guide's fields, then ours.
_WIRE = {column: column.upper() for column in RECORDED_COLUMNS}


@dataclass(frozen=True)
class FieldChange:
    field: str  # the wire name: STATUS, APP_START_TIME, PATIENT_ANSWER...
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Change:
    seq: int
    at: datetime
    by: str  # a ChangedBy value: HIS, PATIENT, PLATFORM
    created: bool  # the change that created the reservation
    fields: tuple[FieldChange, ...]  # what it changed (all it set, on creation)


@dataclass(frozen=True)
class Stage:
    """One step a reminder reached: PLANNED, QUEUED, SENDING, SENT, DELIVERED,
    FAILED, EXPIRED, CANCELLED, SKIPPED or ANSWERED; ``detail`` is our own wording."""

    name: str
    at: datetime | None
    detail: str | None = None


@dataclass(frozen=True)
class LinkedMessage:
    id: int
    legacy_id: str
    channel: str
    recipient: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ReminderOutcome:
    id: int
    kind: str  # reminder, change, cancellation, post_visit...
    channel: str
    recipient: str
    due_at: datetime
    status: str  # the reminder's own: PLANNED, QUEUED, CANCELLED, SKIPPED
    reason: str | None
    message: LinkedMessage | None
    stages: tuple[Stage, ...]

    @property
    def reached(self) -> Stage:
        """The furthest stage (the last one)."""
        return self.stages[-1]


@dataclass(frozen=True)
class Event:
    at: datetime
    event: str
    detail: str | None
    reminder_id: int | None
    message_id: int | None


@dataclass(frozen=True)
class ReservationDetail:
    id: int
    app_lid: str
    # Every field of the guide by its wire name, as shown (dates dd/mm/yyyy).
    fields: dict[str, str | None]
    status: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None
    patient_answer: str | None
    patient_answer_channel: str | None
    patient_answer_at: datetime | None
    created_at: datetime
    updated_at: datetime
    changes: tuple[Change, ...]
    # False when changes were made before they were recorded (the first change
    # shown then is not the creation).
    complete_history: bool
    reminders: tuple[ReminderOutcome, ...]
    events: tuple[Event, ...]
    messages: tuple[LinkedMessage, ...]


def _shown(column: str, value: Any) -> str | None:
    """A stored or recorded value as the guide writes it (dates dd/mm/yyyy)."""
    if value is None:
        return None
    if column in _DATE_COLUMNS:
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return format_date(day)
    return str(value)


def _linked(message: MessageRecord) -> LinkedMessage:
    return LinkedMessage(
        id=message.id,
        legacy_id=message.legacy_id,
        channel=message.channel,
        recipient=message.recipient,
        status=message.status,
        attempts=message.attempts,
        created_at=message.created_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        failed_at=message.failed_at,
        last_error=message.last_error,
    )


def _changes(history: list[ReservationChangeRecord]) -> tuple[Change, ...]:
    """Each recorded change with what it changed, against the state before it
    (what earlier recorded changes had written)."""
    state: dict[str, Any] = {}
    out = []
    for recorded in history:
        changed = []
        for column, value in recorded.values.items():
            # On creation, what it set; later, what differs from the state before.
            if column not in _WIRE or value == state.get(column):
                continue
            before = None if recorded.created else _shown(column, state.get(column))
            changed.append(FieldChange(_WIRE[column], before, _shown(column, value)))
        state.update(recorded.values)
        out.append(
            Change(
                seq=recorded.change_seq,
                at=recorded.changed_at,
                by=recorded.changed_by,
                created=recorded.created,
                fields=tuple(changed),
            )
        )
    return tuple(out)


def _stages(
    reminder: ReminderRecord, message: LinkedMessage | None, answers: list[Event]
) -> tuple[Stage, ...]:
    stages = [Stage("PLANNED", reminder.created_at)]
    if reminder.status in ("CANCELLED", "SKIPPED"):
        stages.append(Stage(reminder.status, reminder.updated_at, reminder.reason))
    if message is not None:
        stages.append(Stage("QUEUED", message.created_at))
        if message.status == MessageStatus.SENDING.value:
            stages.append(Stage("SENDING", None))
        if message.sent_at is not None:
            stages.append(Stage("SENT", message.sent_at))
        if message.delivered_at is not None:
            stages.append(Stage("DELIVERED", message.delivered_at))
        if message.status == MessageStatus.FAILED.value:
            stages.append(Stage("FAILED", message.failed_at, message.last_error))
        if message.status in (MessageStatus.EXPIRED.value, MessageStatus.CANCELLED.value):
            stages.append(Stage(message.status, None, message.last_error))
    stages += [Stage("ANSWERED", event.at, event.detail) for event in answers]
    return tuple(stages)


def reservation_detail(store: Store, instance: Instance, reservation_id: int) -> ReservationDetail:
    """Everything the back office shows about one reservation of ``instance``."""
    with store.begin() as uow:
        found = uow.reservations.by_ids(instance.id, [reservation_id])
        if not found:
            raise NotFoundError(f"no reservation {reservation_id}", field="reservation")
        (row,) = found
        history = uow.changes.for_reservation(instance.id, reservation_id)
        reminder_rows = uow.reminders.for_reservations(instance.id, [reservation_id])[
            reservation_id
        ]
        event_rows = uow.events.for_reservation(instance.id, reservation_id)
        message_ids = {r.message_id for r in reminder_rows if r.message_id}
        message_ids |= {e.message_id for e in event_rows if e.message_id}
        message_rows = uow.messages.by_ids(instance.id, message_ids)
    linked = {message.id: message for message in map(_linked, message_rows)}
    events = tuple(Event(e.at, e.event, e.detail, e.reminder_id, e.message_id) for e in event_rows)
    reminders = tuple(
        ReminderOutcome(
            id=r.id,
            kind=r.kind,
            channel=r.channel,
            recipient=r.recipient,
            due_at=r.due_at,
            status=r.status,
            reason=r.reason,
            message=linked.get(r.message_id) if r.message_id else None,
            stages=_stages(
                r,
                linked.get(r.message_id) if r.message_id else None,
                [e for e in events if e.event == "ANSWER" and e.reminder_id == r.id],
            ),
        )
        for r in sorted(reminder_rows, key=lambda r: (r.due_at, r.id))
    )
    changes = _changes(history)
    return ReservationDetail(
        id=row.id,
        app_lid=row.app_lid,
        fields={
            spec.name: _shown(spec.name.lower(), getattr(row, spec.name.lower())) for spec in FIELDS
        },
        status=row.status,
        status_changed_by=row.status_changed_by,
        status_changed_at=row.status_changed_at,
        patient_answer=row.patient_answer,
        patient_answer_channel=row.patient_answer_channel,
        patient_answer_at=row.patient_answer_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        changes=changes,
        complete_history=bool(changes) and changes[0].created,
        reminders=reminders,
        events=events,
        messages=tuple(sorted(linked.values(), key=lambda m: (m.created_at, m.id))),
    )


# --- messages ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One line of a message's timeline: ``name`` is QUEUED, SCHEDULED,
    ATTEMPT, ATTEMPTS, HANDED, SENT, DELIVERED, FAILED, EXPIRED, CANCELLED or
    WAITING; ``values`` fill its sentence (provider, number, count, error)."""

    name: str
    at: datetime | None
    values: dict[str, str]
    bad: bool = False


@dataclass(frozen=True)
class LinkedReservation:
    id: int
    app_lid: str
    app_date: date
    app_start_time: str | None
    resource_lid: str
    status: str | None


@dataclass(frozen=True)
class MessageDetail:
    id: int
    legacy_id: str
    channel: str
    recipient: str
    sender: str | None
    subject: str | None
    body: str
    language: str | None
    segments: int | None
    status: str
    attempts: int
    provider: str | None
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    send_at: datetime | None
    expires_at: datetime | None
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    updated_at: datetime
    steps: tuple[Step, ...]
    reservations: tuple[LinkedReservation, ...]


def _steps(message: MessageRecord, tries: list[MessageAttemptRecord]) -> tuple[Step, ...]:
    status = message.status
    provider = message.provider or ""
    steps = [Step("QUEUED", message.created_at, {})]
    if message.send_at is not None and message.send_at > message.created_at:
        steps.append(Step("SCHEDULED", message.send_at, {}))
    attempts = message.attempts
    last_error = message.last_error
    if tries:
        # Each attempt the provider did not accept, with its answer (the
        # accepted one is the SENT line).
        steps.extend(
            Step(
                "ATTEMPT",
                attempt.at,
                {
                    "number": str(attempt.attempt),
                    "provider": attempt.provider,
                    "error": attempt.error or "",
                },
                bad=True,
            )
            for attempt in tries
            if attempt.outcome != "sent"
        )
    elif attempts > 1 or (attempts and last_error and status != MessageStatus.FAILED.value):
        # Sent before attempts were recorded one by one (message_attempts):
        # Only the count and the last answer are kept: one line for all attempts.
        steps.append(
            Step(
                "ATTEMPTS",
                message.updated_at,
                {"count": str(attempts), "error": last_error or ""},
                bad=bool(last_error),
            )
        )
    if status == MessageStatus.SENDING.value and provider:
        steps.append(Step("HANDED", message.updated_at, {"provider": provider}))
    if message.sent_at is not None:
        steps.append(
            Step(
                "SENT",
                message.sent_at,
                {"provider": provider, "provider_id": message.provider_message_id or ""},
            )
        )
    if message.delivered_at is not None:
        steps.append(Step("DELIVERED", message.delivered_at, {}))
    if status == MessageStatus.FAILED.value:
        steps.append(Step("FAILED", message.failed_at, {"error": last_error or ""}, bad=True))
    elif status in (MessageStatus.EXPIRED.value, MessageStatus.CANCELLED.value):
        steps.append(Step(status, message.updated_at, {"error": last_error or ""}, bad=True))
    elif status == MessageStatus.QUEUED.value:
        steps.append(Step("WAITING", message.next_attempt_at, {}))
    return tuple(steps)


# services/answers.py queues the acknowledgement of an answer to reminder N as ack-N-<random>.
_ACK = re.compile(r"ack-([0-9]{1,18})-")


def message_detail(store: Store, instance: Instance, message_id: int) -> MessageDetail:
    """Everything the back office shows about one message of ``instance``."""
    with store.begin() as uow:
        message = uow.messages.get(instance.id, message_id)
        if message is None:
            raise NotFoundError(f"no message {message_id}", field="message")
        tries = uow.messages.attempts(instance.id, message_id)
        about = uow.reminders.for_message(instance.id, message_id)
        acknowledged = _ACK.match(message.legacy_id)
        if acknowledged:  # an acknowledgement names the reminder that was answered
            answered = uow.reminders.get(int(acknowledged.group(1)))
            if answered is not None:  # its reservations are read within the instance below
                about.append(answered)
        reservation_ids = {rid for reminder in about for rid in ids_of(reminder.reservation_ids)}
        booked = sorted(
            uow.reservations.by_ids(instance.id, reservation_ids),
            key=lambda r: (r.app_date, r.app_start_time or "", r.id),  # by appointment time
        )
    return MessageDetail(
        id=message.id,
        legacy_id=message.legacy_id,
        channel=message.channel,
        recipient=message.recipient,
        sender=message.sender,
        subject=message.subject,
        body=message.body,
        language=message.language,
        segments=message.segments,
        status=message.status,
        attempts=message.attempts,
        provider=message.provider,
        provider_message_id=message.provider_message_id,
        last_error=message.last_error,
        created_at=message.created_at,
        send_at=message.send_at,
        expires_at=message.expires_at,
        next_attempt_at=message.next_attempt_at,
        sent_at=message.sent_at,
        delivered_at=message.delivered_at,
        failed_at=message.failed_at,
        updated_at=message.updated_at,
        steps=_steps(message, tries),
        reservations=tuple(
            LinkedReservation(
                id=r.id,
                app_lid=r.app_lid,
                app_date=r.app_date,
                app_start_time=r.app_start_time,
                resource_lid=r.resource_lid,
                status=r.status,
            )
            for r in booked
        ),
    )
