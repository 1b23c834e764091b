"""The unit of work the services speak to: one transaction and its repositories.

Services never see SQL. They take a ``Store`` (anything that begins units of
work), run each transaction as::

    with store.begin(write=True) as uow:
        existing = uow.messages.by_legacy_ids(instance.id, ids)
        ...
        uow.commit()

and read typed records (``store.records``). Leaving the block without
``commit()`` rolls back, so an exception (or a forgotten commit, which a test
sees) never half-writes a batch. ``store.engine.Store`` is the SQL
implementation (``store.unit_of_work.SqlUnitOfWork``); the unit tests of
``tests/unit/services`` pass an in-memory one.

The repositories below are the part of ``store/`` the converted services use,
method for method. They are batch-shaped on purpose (lists in, dicts out):
whatever their implementation, a batch is a statement, never a loop of them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from ..store.records import (
    ApiUserRecord,
    AuditEntry,
    CallbackRecord,
    CallbackSummary,
    CenterRecord,
    ClinicCallbackRecord,
    FailureCount,
    InstanceIntegration,
    InstanceRecord,
    IntegrationRecord,
    MessageAttemptRecord,
    MessageHit,
    MessageQuery,
    MessageRecord,
    MessageSearch,
    NewAuditEntry,
    OperatorRecord,
    PollStatus,
    QueueDepth,
    ReminderEventRecord,
    ReminderRecord,
    ReminderSettingsRecord,
    ReservationChangeRecord,
    ReservationHit,
    ReservationQuery,
    ReservationRecord,
    ReservationSearch,
    SentReminder,
)

Row = Mapping[str, Any]


class InstanceRepository(Protocol):
    def add(self, values: Row) -> int: ...

    def update(self, instance_id: int, values: Row) -> None: ...

    def by_name(self, name: str) -> InstanceRecord | None: ...

    def by_id(self, instance_id: int) -> InstanceRecord | None: ...

    def set_disabled(self, instance_id: int, at: datetime | None) -> bool:
        """Switch off (``at``: since when) or back on (None); False when it already was."""
        ...

    def countries(self) -> list[str]: ...

    def list(self) -> Sequence[InstanceRecord]: ...

    def lock_for_changes(self, instance_id: int) -> int:
        """Take the instance's change lock (held until the unit of work ends) and
        return its last change sequence number."""
        ...

    def advance_seq(self, instance_id: int, new_seq: int) -> None: ...

    def current_seq(self, instance_id: int) -> int: ...


class ApiUserRepository(Protocol):
    def add(self, instance_id: int, username: str, password_hash: str, now: datetime) -> None:
        """``ConflictError`` when the instance already has a user of that name."""
        ...

    def login(self, instance_name: str, username: str) -> tuple[InstanceRecord | None, str | None]:
        """The instance named and the password hash of its user ``username``."""
        ...

    def get(self, instance_id: int, username: str) -> ApiUserRecord | None: ...

    def usernames(self, instance_id: int) -> list[str]: ...

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None: ...

    def remove(self, user_id: int) -> None: ...


class PortalRepository(Protocol):
    def routed_through(self, via_instance_id: int) -> list[tuple[str, str]]:
        """(portal name, CENTER_LID) of other portals' centers reached through
        this instance's clinic integration."""
        ...

    def center_records(self, portal_instance_id: int) -> list[CenterRecord]:
        """A portal instance's centers and the instance each is reached through,
        by CENTER_LID."""
        ...

    def put(self, portal_instance_id: int, center_lid: str, name: str | None, via: int) -> None:
        """Add the center, or replace the one with this CENTER_LID."""
        ...

    def remove(self, portal_instance_id: int, center_lid: str) -> bool:
        """False when the portal had no such center."""
        ...

    def remove_routed_through_itself(self, instance_id: int) -> int:
        """Forget the instance's own centers reached through its own integration."""
        ...


class IntegrationRepository(Protocol):
    def configured(self, instance_id: int) -> bool:
        """Whether the instance reaches its clinic through the clinic's web services."""
        ...

    def get(self, instance_id: int) -> IntegrationRecord | None: ...

    def save(self, instance_id: int, values: Row) -> None:
        """Create the instance's integration, or change the columns ``values`` name."""
        ...

    def remove(self, instance_id: int) -> bool:
        """Forget the integration and the key entities read through it; False
        when there was none."""
        ...

    def due(self, now: datetime) -> list[InstanceIntegration]:
        """Enabled integrations whose next poll is due at ``now``, the most overdue first."""
        ...

    def acquire(self, instance_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take (or renew) the instance's poll lease until ``until`` unless another
        owner holds a live one."""
        ...

    def finish(self, instance_id: int, owner: str, values: Row) -> bool:
        """Record a poll's outcome (``values``) and release the lease; only its holder may."""
        ...

    def statuses(self, instance_ids: Collection[int] | None = None) -> list[PollStatus]:
        """Every integration's poller state, by instance name; ``instance_ids``
        narrows to those instances (None: all)."""
        ...

    def status(self, instance_id: int) -> PollStatus | None:
        """The instance's poller state (None: no clinic web services configured)."""
        ...

    def schedule_now(self, instance_id: int, now: datetime) -> bool:
        """Make the next poll due at ``now``; False when polling is off or a poll
        is running (compare-and-set)."""
        ...


class InstanceRemovalRepository(Protocol):
    def owned_tables(self) -> list[str]:
        """Every table holding an instance's rows, in the order to empty them."""
        ...

    def count(self, table: str, instance_id: int) -> int: ...

    def delete_batch(self, table: str, instance_id: int, limit: int) -> int: ...

    def delete_instance(self, instance_id: int) -> bool: ...


class ReservationRepository(Protocol):
    def by_app_lids(
        self, instance_id: int, app_lids: Iterable[str]
    ) -> dict[str, ReservationRecord]:
        """The stored reservations with these APP_LIDs, in one read."""
        ...

    def offer_new(
        self, instance_id: int, rows: list[dict[str, Any]], *, at: datetime, by: str
    ) -> tuple[int, dict[str, int]]:
        """Take the instance's change lock, number the ``rows`` in order from the
        next change number (``change_seq``), insert those whose APP_LID the
        instance does not have yet, record each in the history as created (``at``,
        by ``by``) and move the sequence past every row offered, at once; the
        first number and the inserted rows' ids by APP_LID (a row whose APP_LID is
        taken is skipped: the caller sets the sequence back to the last number it
        used with ``InstanceRepository.advance_seq``)."""
        ...

    def write_batch(
        self,
        instance_id: int,
        new_rows: list[dict[str, Any]],
        changed_rows: list[dict[str, Any]],
        *,
        last_seq: int,
        at: datetime,
        by: str,
    ) -> dict[str, int]:
        """Insert ``new_rows``, update ``changed_rows`` (by ``row_id``), record each
        change in the history and set the instance's sequence to ``last_seq``, all
        at once; the new rows' ids by APP_LID."""
        ...

    def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Update by ``row_id``; every row carries the same columns."""
        ...

    def query(self, q: ReservationQuery) -> Sequence[ReservationRecord]:
        """Reservations changed in (after_seq, upto_seq] matching the filters, in change order."""
        ...

    def by_ids(self, instance_id: int, ids: Iterable[int]) -> list[ReservationRecord]: ...

    def on_days(self, instance_id: int, days: Iterable[date]) -> list[ReservationRecord]: ...


class ReservationChangeRepository(Protocol):
    def record(self, instance_id: int, rows: Sequence[Row], *, at: datetime, by: str) -> None:
        """Add to the change history the writes ``rows`` (each with ``row_id``,
        ``change_seq`` and the columns written) made ``at``, by ``by``."""
        ...

    def for_reservation(
        self, instance_id: int, reservation_id: int
    ) -> list[ReservationChangeRecord]:
        """Every recorded change of one reservation, oldest first."""
        ...


class MessageRepository(Protocol):
    def by_legacy_ids(
        self, instance_id: int, legacy_ids: Iterable[str]
    ) -> dict[str, MessageRecord]: ...

    def insert_new(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert at once; rows whose legacy id the instance already has are
        skipped (also when a concurrent call inserted it). Ids by legacy id."""
        ...

    def search(self, q: MessageQuery) -> Sequence[MessageRecord]: ...

    def for_receipt(
        self, provider: str, provider_message_id: str | None, reference: str | None
    ) -> MessageRecord | None:
        """The message a receipt of ``provider`` is about, if it went out through it."""
        ...

    def move(self, message_id: int, from_status: str, values: Row) -> bool:
        """Change a message still in ``from_status``; False when it no longer is."""
        ...

    def get(self, instance_id: int, message_id: int) -> MessageRecord | None:
        """One message of one instance (another instance's id finds nothing)."""
        ...

    def by_ids(self, instance_id: int, message_ids: Iterable[int]) -> list[MessageRecord]:
        """These messages of one instance, by id."""
        ...

    def attempts(self, instance_id: int, message_id: int) -> list[MessageAttemptRecord]:
        """A message's send attempts, in the order they were made."""
        ...

    def requeue_failed(self, message_id: int, now: datetime) -> bool:
        """FAILED back to QUEUED, due ``now``, with a fresh round of attempts and
        the same reference; False if the message moved meanwhile (compare-and-set)."""
        ...

    def cancel_queued(self, message_id: int, now: datetime, reason: str) -> bool:
        """QUEUED to CANCELLED with ``reason``; False if a worker claimed it (or it
        moved) meanwhile: the status check is in the write itself."""
        ...

    def queue_depth_by_provider(
        self, now: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[QueueDepth]:
        """Queued and in-flight messages per (provider, instance, channel);
        ``instance_ids`` narrows to those instances (None: all)."""
        ...

    def failures_by_reason(
        self, since: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[FailureCount]:
        """Messages that ended FAILED since ``since``, per provider and reason,
        most frequent first."""
        ...


class ReminderSettingsRepository(Protocol):
    def get(self, instance_id: int) -> ReminderSettingsRecord | None: ...

    def all(self) -> Sequence[ReminderSettingsRecord]: ...

    def save(self, instance_id: int, rules_json: str, now: datetime) -> None: ...

    def lock_for_planning(self, instance_id: int) -> int:
        """Take the instance's planner lock; where its planner stands."""
        ...

    def advance(self, instance_id: int, seq: int) -> None: ...


class ReminderRepository(Protocol):
    def for_reservations(
        self, instance_id: int, reservation_ids: Iterable[int]
    ) -> dict[int, list[ReminderRecord]]: ...

    def by_keys(self, instance_id: int, keys: Iterable[str]) -> dict[str, ReminderRecord]: ...

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Insert reminders (and their links to reservations)."""
        ...

    def replan_many(self, changes: list[dict[str, Any]]) -> None:
        """Update planned reminders (``row_id`` + columns) and their links."""
        ...

    def change(self, reminder_id: int, values: Row) -> None: ...

    def cancel_planned(self, ids: Iterable[int], reason: str, now: datetime) -> None: ...

    def due(self, now: datetime, limit: int) -> Sequence[ReminderRecord]:
        """Planned reminders due by ``now`` (not those of disabled instances), oldest first."""
        ...

    def sent_through(
        self,
        provider: str,
        channel: str,
        recipients: Sequence[str],
        kinds: Sequence[str],
        *,
        limit: int = 50,
    ) -> Sequence[SentReminder]:
        """Reminders that went out to one of ``recipients`` through this provider
        on this channel, newest first."""
        ...

    def by_reference(
        self,
        provider: str,
        channel: str,
        reference: str,
        kinds: Sequence[str],
        *,
        recipients: Sequence[str] = (),
    ) -> ReminderRecord | None: ...

    def get(self, reminder_id: int) -> ReminderRecord | None: ...

    def for_message(self, instance_id: int, message_id: int) -> list[ReminderRecord]:
        """The reminders that became this message."""
        ...


class EventRepository(Protocol):
    def add(self, rows: list[dict[str, Any]]) -> None: ...

    def for_reservation(
        self, instance_id: int, reservation_id: int
    ) -> Sequence[ReminderEventRecord]: ...


class CallbackRepository(Protocol):
    def add_new(self, rows: list[dict[str, Any]]) -> None:
        """Queue calls to the clinic; one already queued for the same reservation
        and action is left as it is."""
        ...

    def due(self, now: datetime, limit: int) -> list[ClinicCallbackRecord]:
        """At most ``limit`` pending calls whose time has come, the earliest first."""
        ...

    def record(self, callback_id: int, values: Row) -> None:
        """Record an attempt's outcome (status, attempts, next time, error)."""
        ...

    def summary(self, instance_id: int, now: datetime) -> CallbackSummary:
        """The instance's calls counted by state."""
        ...

    def open_records(self, instance_id: int, limit: int) -> list[CallbackRecord]:
        """Pending and failed calls, the most recently touched first."""
        ...


class EntityRepository(Protocol):
    """The clinic's key entities (resources, activities, insurances, locations
    and their relations), read from its web services."""

    def replace(self, instance_id: int, tables: Mapping[str, list[dict[str, Any]]]) -> None:
        """Replace the instance's entities as a whole, table by table."""
        ...

    def counts(self, instance_id: int) -> dict[str, int]:
        """How many of each the instance holds, by table name."""
        ...


class AnswerLinkRepository(Protocol):
    def claim(self, reminder_id: int, action: str, now: datetime) -> bool:
        """Mark the link used; False when it already was (also by a concurrent request)."""
        ...

    def used(self, reminder_id: int, action: str) -> bool: ...


class ReplyQuestionRepository(Protocol):
    def add(
        self, provider: str, recipient: str, reminder_ids: Sequence[int], now: datetime
    ) -> None: ...

    def latest(
        self, provider: str, recipients: Sequence[str], since: datetime
    ) -> list[int] | None: ...

    def forget_older_than(self, before: datetime) -> int: ...

    def forget_instance(self, instance_id: int) -> int: ...


class SearchRepository(Protocol):
    """The back office's searches: keyset pages, newest first."""

    def reservations(self, q: ReservationSearch) -> list[ReservationHit]:
        """At most ``q.limit`` matching reservations, highest id first (with a
        date range: latest appointment first, below ``q.before_day``)."""
        ...

    def messages(self, q: MessageSearch) -> list[MessageHit]:
        """At most ``q.limit`` matching messages, highest id first."""
        ...


class OperatorRepository(Protocol):
    def add(self, username: str, password_hash: str, all_instances: bool, now: datetime) -> int:
        """The new operator's id; ``ConflictError`` when the name is taken."""
        ...

    def by_username(self, username: str) -> OperatorRecord | None: ...

    def by_id(self, operator_id: int) -> OperatorRecord | None: ...

    def all(self) -> list[OperatorRecord]:
        """Every operator, by name."""
        ...

    def set_password(self, operator_id: int, password_hash: str, now: datetime) -> None: ...

    def set_all_instances(self, operator_id: int, all_instances: bool, now: datetime) -> None: ...

    def grant(self, operator_id: int, instance_id: int, now: datetime) -> bool:
        """Grant an instance; False when it already was granted."""
        ...

    def revoke(self, operator_id: int, instance_id: int) -> bool:
        """Take an instance back; False when it was not granted."""
        ...

    def remove(self, operator_id: int) -> None:
        """Delete the operator and its grants."""
        ...


class AuditRepository(Protocol):
    def add(self, entry: NewAuditEntry) -> int:
        """Write one row; its id."""
        ...

    def page(
        self,
        *,
        instance_ids: Collection[int] | None,
        instance_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Newest first, ids below ``before_id``; ``instance_ids`` is what the
        reader may see (None: everything), ``instance_id`` narrows to one."""
        ...

    def for_target(self, instance_id: int, target_kind: str, target_id: int) -> list[AuditEntry]:
        """Every row about one thing of an instance, newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: the repositories working inside it, ``commit``, and a
    context manager that rolls back whatever was not committed."""

    @property
    def instances(self) -> InstanceRepository: ...

    @property
    def users(self) -> ApiUserRepository: ...

    @property
    def portals(self) -> PortalRepository: ...

    @property
    def integrations(self) -> IntegrationRepository: ...

    @property
    def removal(self) -> InstanceRemovalRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    @property
    def changes(self) -> ReservationChangeRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    @property
    def reminder_settings(self) -> ReminderSettingsRepository: ...

    @property
    def reminders(self) -> ReminderRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def callbacks(self) -> CallbackRepository: ...

    @property
    def answer_links(self) -> AnswerLinkRepository: ...

    @property
    def reply_questions(self) -> ReplyQuestionRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def operators(self) -> OperatorRepository: ...

    @property
    def search(self) -> SearchRepository: ...

    @property
    def entities(self) -> EntityRepository: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class Store(Protocol):
    """What services need of a store: units of work, one transaction each.

    ``write=True`` for a unit of work that writes: on SQLite it takes the write
    lock before its first read, so it never fails later with "database is locked".
    """

    def begin(self, *, write: bool = False) -> UnitOfWork: ...
