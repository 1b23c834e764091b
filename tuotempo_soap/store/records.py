"""Typed records: what the repositories of the unit of work return, and the
query specs they take.

Plain frozen dataclasses, without SQLAlchemy, so the services (and the
in-memory fakes their unit tests run on) use them without a database. Each
record's fields are the table's columns, named and ordered alike
(``tests/unit/store/test_records.py`` holds them equal); a repository selects
exactly those columns, in that order, and builds a record from each row
positionally (``store.columns.record_factory``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from ..domain.reservation import FIELDS

# What a provider may quote back of a message: our random references, and
# (messages sent before references existed) our numeric ids.
REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The guide's fields as columns (``APP_LID`` -> ``app_lid``), in the guide's order.
RESERVATION_FIELD_NAMES: tuple[str, ...] = tuple(spec.name.lower() for spec in FIELDS)
# What a reservation's change history records of each change: the guide's
# fields and who answered or changed the status; not the bookkeeping columns
# (times, sequence), which are the row's own.
RECORDED_COLUMNS: tuple[str, ...] = (
    *RESERVATION_FIELD_NAMES,
    "status_changed_by",
    "patient_answer",
    "patient_answer_channel",
)


def field_names(record_type: type) -> tuple[str, ...]:
    """The columns a record type holds, in order."""
    return tuple(f.name for f in fields(record_type))


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    id: int
    name: str
    timezone: str
    country: str
    language: str
    store_patient_identity: bool
    email_from: str | None
    email_reply_to: str | None
    change_seq: int
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class ApiUserRecord:
    id: int
    instance_id: int
    username: str
    password_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """One stored reservation: the guide's fields, who changed the status and
    what the patient answered, and the bookkeeping."""

    id: int
    instance_id: int
    app_lid: str
    app_tid: str | None
    app_date: date
    app_start_time: str | None
    app_end_time: str | None
    user_lid: str | None
    user_tid: str | None
    user_first_name: str | None
    user_second_name: str | None
    user_third_name: str | None
    user_id_number: str | None
    user_landline_phone: str | None
    user_mobile_phone: str | None
    user_work_phone: str | None
    user_email: str | None
    privacy: str | None
    communication_preferences: str | None
    user_date_of_birth: date | None
    user_gender: str | None
    user_zip_code: str | None
    user_language: str | None
    notes: str | None
    resource_lid: str
    resource_name: str | None
    resource_mobile_phone: str | None
    resource_email: str | None
    activity_lid: str | None
    insurance_lid: str | None
    location_lid: str | None
    location_name: str | None
    status: str | None
    app_owner_lid: str | None
    app_owner_tid: str | None
    app_owner_name: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None
    patient_answer: str | None
    patient_answer_channel: str | None
    patient_answer_at: datetime | None
    created_at: datetime
    updated_at: datetime
    change_seq: int

    def columns(self) -> dict[str, Any]:
        """Column name -> value (what the domain's readers of stored rows take)."""
        return {name: getattr(self, name) for name in _RESERVATION_COLUMNS}


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message of the outbox, and what became of it."""

    id: int
    instance_id: int
    legacy_id: str
    channel: str
    recipient: str
    sender: str | None
    subject: str | None
    body: str
    language: str | None
    segments: int | None
    send_at: datetime | None
    expires_at: datetime | None
    status: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    claimed_by: str | None
    provider: str | None
    provider_message_id: str | None
    reference: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReminderSettingsRecord:
    instance_id: int
    rules_json: str
    planner_seq: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    """One planned communication (reminder, change or cancellation notice...)."""

    id: int
    instance_id: int
    key: str
    kind: str
    reservation_ids: str  # ",12,15,": see store.reminders.ids_text
    day: date | None
    offset_hours: int | None
    due_at: datetime
    channel: str
    recipient: str
    language: str | None
    status: str
    message_id: int | None
    snapshot: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SentReminder:
    """A reminder whose message went out, with when and from which sender id or
    number (what a patient's reply is matched against)."""

    reminder: ReminderRecord
    sent_at: datetime | None
    sender: str | None


@dataclass(frozen=True, slots=True)
class ReminderEventRecord:
    """One line of the operator's log of what was planned, sent, answered."""

    id: int
    instance_id: int
    reservation_id: int | None
    reminder_id: int | None
    event: str
    detail: str | None
    at: datetime
    message_id: int | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the back office's audit log. ``detail`` is our own wording
    (an error code, a count), never a value a patient or a HIS sent."""

    id: int
    at: datetime
    operator_id: int | None
    operator_name: str
    instance_id: int | None
    instance_name: str | None
    action: str
    target_kind: str | None
    target_id: int | None
    outcome: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class PollStatus:
    """Where one instance's clinic poller stands (the back office's clinics page):
    its integration's settings and state, with its instance's name.

    ``poll_lease_until`` in the future means a poll is running now.
    """

    instance_id: int
    instance_name: str
    instance_disabled_at: datetime | None
    wsdl_url: str
    endpoint_url: str | None
    center_lid: str | None
    poll_enabled: bool
    poll_interval_seconds: int
    last_success_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    key_entities_at: datetime | None
    poll_lease_until: datetime | None

    @classmethod
    def of(cls, found: InstanceIntegration) -> PollStatus:
        """What the back office shows of an integration (no user name, no
        password variable)."""
        row = found.integration
        return cls(
            instance_id=row.instance_id,
            instance_name=found.instance_name,
            instance_disabled_at=found.instance_disabled_at,
            wsdl_url=row.wsdl_url,
            endpoint_url=row.endpoint_url,
            center_lid=row.center_lid,
            poll_enabled=row.poll_enabled,
            poll_interval_seconds=row.poll_interval_seconds,
            last_success_at=row.last_success_at,
            next_poll_at=row.next_poll_at,
            consecutive_failures=row.consecutive_failures,
            last_error=row.last_error,
            key_entities_at=row.key_entities_at,
            poll_lease_until=row.poll_lease_until,
        )


@dataclass(frozen=True, slots=True)
class MessageAttemptRecord:
    """One send attempt of a message and the provider's answer."""

    id: int
    instance_id: int
    message_id: int
    attempt: int  # 1 for the first send (a retried FAILED message counts anew)
    at: datetime
    provider: str
    outcome: str  # sent, retry, permanent
    provider_message_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class ReservationChangeRecord:
    """One recorded change of a reservation: who made it, when, and the
    recorded columns (``RECORDED_COLUMNS``) it wrote, dates as ISO text."""

    change_seq: int
    changed_at: datetime
    changed_by: str  # a domain.reservation.ChangedBy value
    created: bool  # the change that created the reservation
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    """One back-office operator as stored, with the ids and names of the
    instances granted to it (by name)."""

    id: int
    username: str
    password_hash: str
    all_instances: bool
    created_at: datetime
    updated_at: datetime
    granted: tuple[tuple[int, str], ...]  # (instance id, instance name)


@dataclass(frozen=True, slots=True)
class IntegrationRecord:
    """How an instance reaches its clinic's own web services, and where its
    poller stands (``poll_owner`` holds the lease until ``poll_lease_until``).
    Secrets are not stored: ``password_env`` names the variable holding one."""

    instance_id: int
    wsdl_url: str
    endpoint_url: str | None
    username: str | None
    password_env: str | None
    center_lid: str | None
    timeout_seconds: int
    poll_enabled: bool
    poll_interval_seconds: int
    last_success_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    key_entities_at: datetime | None
    poll_owner: str | None
    poll_lease_until: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InstanceIntegration:
    """An integration with its instance's name and since when an operator
    disabled the instance (None: enabled): what the poller and the back
    office's clinics page read."""

    integration: IntegrationRecord
    instance_name: str
    instance_disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClinicCallbackRecord:
    """A call to the clinic queued for a patient's answer (CancelAppointment)."""

    id: int
    instance_id: int
    reservation_id: int
    app_lid: str
    user_lid: str | None
    action: str
    status: str  # PENDING, DONE, FAILED
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime


# What the back office shows of the machinery (``services/admin_status.py``).
@dataclass(frozen=True, slots=True)
class CenterRecord:
    """A center of a portal instance and the instance whose integration reaches it."""

    center_lid: str
    name: str | None
    via_instance_id: int
    via_instance_name: str


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Messages waiting for one provider from one instance on one channel.

    ``provider`` is None for messages no worker has claimed yet: the route
    (instance, channel) decides where they will go. ``due`` counts queued
    messages whose time has come; ``oldest_due_at`` is the earliest of their
    due times, so ``now - oldest_due_at`` is how long the queue is behind.
    """

    provider: str | None
    instance_id: int
    channel: str
    queued: int
    sending: int
    due: int
    oldest_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class FailureCount:
    provider: str | None
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class CallbackSummary:
    """An instance's queue of calls to its clinic: ``retried`` are pending ones
    that failed at least once; ``oldest_pending_at`` is when the oldest pending
    one was queued."""

    pending: int
    due: int
    retried: int
    failed: int
    done: int
    oldest_pending_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """One queued call to the clinic, without the patient's id (USER_LID)."""

    id: int
    reservation_id: int
    app_lid: str
    action: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime


_RESERVATION_COLUMNS = field_names(ReservationRecord)


def ids_text(ids: Iterable[int]) -> str:
    """Reservation ids as a reminder stores them: ``,12,15,`` so a LIKE '%,12,%'
    finds one exactly."""
    return "," + ",".join(str(i) for i in sorted(set(ids))) + ","


def ids_of(text: str) -> list[int]:
    """The reservation ids of ``ids_text``."""
    return [int(part) for part in text.strip(",").split(",") if part]


# --- what the repositories are asked -------------------------------------------


@dataclass(frozen=True, slots=True)
class ReservationQuery:
    """Filters of getReservations; ``after_seq``/``upto_seq`` bound the change window."""

    instance_id: int
    after_seq: int
    upto_seq: int
    limit: int
    app_lid: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    resource_lid: str | None = None
    status: str | None = None
    changed_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """An audit row to write (its id is the database's)."""

    at: datetime
    operator_id: int | None
    operator_name: str
    instance_id: int | None
    instance_name: str | None
    action: str
    target_kind: str | None
    target_id: int | None
    outcome: str
    detail: str | None = None


# The back office's searches (``services/search.py``, ``store/search.py``).
NO_ANSWER = "NONE"  # ``patient_answer`` filter: the patient has not answered


@dataclass(frozen=True, slots=True)
class ReservationSearch:
    """Filters of a reservation search; every one given must hold (AND)."""

    instance_id: int
    limit: int
    before_id: int | None = None
    # With a date range the order is the appointment's (latest first), a page at a
    # time below (app_date, change_seq) of the previous page's last row.
    before_day: tuple[date, int] | None = None
    app_lid: str | None = None
    date_from: date | None = None  # APP_DATE, inclusive
    date_to: date | None = None
    resource_lid: str | None = None
    status: str | None = None  # a stored STATUS value
    patient_answer: str | None = None  # CONFIRMED, CANCELLED or NO_ANSWER
    # Stored spellings of one number, matched against the numbers messages go to
    # (mobile: SMS; landline: calls), each served by its (instance, number) index.
    phones: tuple[str, ...] = ()
    email: str | None = None  # compared without regard to case (lower(): ix_..._email)


@dataclass(frozen=True, slots=True)
class ReservationHit:
    """A reservation as an operator's search lists it."""

    id: int
    app_lid: str
    app_date: date
    app_start_time: str | None
    app_end_time: str | None
    resource_lid: str
    resource_name: str | None
    activity_lid: str | None
    location_lid: str | None
    status: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None
    patient_answer: str | None
    patient_answer_channel: str | None
    patient_answer_at: datetime | None
    user_lid: str | None
    user_first_name: str | None
    user_second_name: str | None
    user_mobile_phone: str | None
    user_landline_phone: str | None
    user_email: str | None
    created_at: datetime
    updated_at: datetime
    change_seq: int = 0


@dataclass(frozen=True, slots=True)
class MessageSearch:
    """Filters of a message search; times are naive UTC, ``created_to`` exclusive."""

    instance_id: int
    limit: int
    before_id: int | None = None
    legacy_id: str | None = None
    recipients: tuple[str, ...] = ()  # stored spellings of one number or address
    channel: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A message as an operator's search lists it."""

    id: int
    legacy_id: str
    channel: str
    recipient: str
    status: str
    attempts: int
    provider: str | None
    last_error: str | None
    created_at: datetime
    send_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters of searchMessages: messages with ids above ``after_id``, ``limit`` of them."""

    instance_id: int
    after_id: int
    limit: int
    legacy_id: str | None = None
    recipients: tuple[str, ...] = ()
    channel: str | None = None
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    sent_from: datetime | None = None
    sent_to: datetime | None = None
