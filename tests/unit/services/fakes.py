"""In-memory repositories and a unit of work for the services' unit tests.

``FakeUnitOfWork`` is both what services take (a store: ``begin()``) and the
unit of work it begins, on one set of in-memory tables (``FakeTables``). It
behaves like the SQL one where the services can tell: what a block did not
commit is rolled back when the block ends, an exception included; a write
in a unit of work begun without ``write=True`` is an error (on SQLite it
would run without the write lock); units of work do not nest. It also
counts every repository call (``calls``), so a test can hold a service to
one read per batch whatever its size: the SQL implementation behind the
same method is one statement, never a loop.

The repositories follow their SQL counterparts' contracts (docstrings in
``tuotempo_soap.services.unit_of_work``), not their plans.
"""

from __future__ import annotations

import copy
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from tuotempo_soap.errors import ConflictError
from tuotempo_soap.services import unit_of_work
from tuotempo_soap.store.changes import recorded_fields, recorded_values
from tuotempo_soap.store.outbox import failure_reason
from tuotempo_soap.store.records import (
    NO_ANSWER,
    REFERENCE_PATTERN,
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
    field_names,
    ids_of,
)

_SENT = ("SENT", "DELIVERED")
_R = TypeVar("_R")
_P = ParamSpec("_P")


def _record(record_type: Callable[..., _R], names: Sequence[str], values: Mapping[str, Any]) -> _R:
    """A record from a row of column values (columns not given are None, as in SQL)."""
    return record_type(**{name: values.get(name) for name in names})


def _changed(record: _R, values: Mapping[str, Any]) -> _R:
    return replace(record, **{k: v for k, v in values.items() if k != "row_id"})  # type: ignore[type-var]


@dataclass
class FakeTables:
    """The rows, by table; ids are handed out by ``next_id``."""

    instances: dict[int, InstanceRecord] = field(default_factory=dict)
    users: dict[int, ApiUserRecord] = field(default_factory=dict)
    reservations: dict[int, ReservationRecord] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    reminder_settings: dict[int, ReminderSettingsRecord] = field(default_factory=dict)
    reminders: dict[int, ReminderRecord] = field(default_factory=dict)
    events: list[ReminderEventRecord] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    answer_links: dict[tuple[int, str], datetime] = field(default_factory=dict)
    reply_questions: list[tuple[int, str, str, list[int], datetime]] = field(default_factory=list)
    # How instances reach their clinic's web services, and their pollers' state.
    integrations: dict[int, IntegrationRecord] = field(default_factory=dict)
    # The clinic's key entities read through an integration, by table name.
    entities: dict[int, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    attempts: list[MessageAttemptRecord] = field(default_factory=list)
    # Operators without their grants (``granted`` is read from ``grants``).
    operators: dict[int, OperatorRecord] = field(default_factory=dict)
    grants: set[tuple[int, int]] = field(default_factory=set)  # (operator id, instance id)
    # A portal instance's centers.
    centers: dict[int, list[CenterRecord]] = field(default_factory=dict)
    last_id: int = 0

    def next_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def saved(self) -> dict[str, Any]:
        # Records are frozen and rows are never changed in place once stored:
        # a copy of each container is a snapshot.
        return {name: copy.copy(value) for name, value in vars(self).items()}

    def restore(self, saved: dict[str, Any]) -> None:
        vars(self).update(saved)


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    @property
    def tables(self) -> FakeTables:
        return self.uow.tables


def _counted(write: bool = False) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Count the call (``<repository>.<method>``); check a write is in a write unit."""

    def wrap(method: Callable[_P, _R]) -> Callable[_P, _R]:
        def counted(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            repo = args[0]
            assert isinstance(repo, _Repository)
            repo.uow.enter_call(f"{type(repo).__name__}.{method.__name__}", write=write)
            return method(*args, **kwargs)

        return counted

    return wrap


_INSTANCE = field_names(InstanceRecord)
_RESERVATION = field_names(ReservationRecord)
_MESSAGE = field_names(MessageRecord)
_REMINDER = field_names(ReminderRecord)
_EVENT = field_names(ReminderEventRecord)


class FakeInstanceRepository(_Repository):
    @_counted(write=True)
    def add(self, values: Mapping[str, Any]) -> int:
        if any(i.name == values["name"] for i in self.tables.instances.values()):
            raise ConflictError(f"instance {values['name']} already exists", field="name")
        new_id = self.tables.next_id()
        self.tables.instances[new_id] = _record(
            InstanceRecord, _INSTANCE, {**values, "id": new_id, "change_seq": 0}
        )
        return new_id

    @_counted(write=True)
    def update(self, instance_id: int, values: Mapping[str, Any]) -> None:
        found = self.tables.instances[instance_id]
        self.tables.instances[instance_id] = _changed(found, values)

    @_counted()
    def by_name(self, name: str) -> InstanceRecord | None:
        return next((i for i in self.tables.instances.values() if i.name == name), None)

    @_counted()
    def by_id(self, instance_id: int) -> InstanceRecord | None:
        return self.tables.instances.get(instance_id)

    @_counted(write=True)
    def set_disabled(self, instance_id: int, at: datetime | None) -> bool:
        found = self.tables.instances.get(instance_id)
        if found is None or (found.disabled_at is None) == (at is None):
            return False
        self.tables.instances[instance_id] = replace(found, disabled_at=at)
        return True

    @_counted()
    def countries(self) -> list[str]:
        return sorted({i.country for i in self.tables.instances.values()})

    @_counted()
    def list(self) -> list[InstanceRecord]:
        return sorted(self.tables.instances.values(), key=lambda i: i.name)

    @_counted(write=True)
    def lock_for_changes(self, instance_id: int) -> int:
        return self.tables.instances[instance_id].change_seq

    @_counted(write=True)
    def advance_seq(self, instance_id: int, new_seq: int) -> None:
        found = self.tables.instances[instance_id]
        self.tables.instances[instance_id] = replace(found, change_seq=new_seq)

    @_counted()
    def current_seq(self, instance_id: int) -> int:
        return self.tables.instances[instance_id].change_seq


class FakeApiUserRepository(_Repository):
    @_counted(write=True)
    def add(self, instance_id: int, username: str, password_hash: str, now: datetime) -> None:
        if self._find(instance_id, username) is not None:
            raise ConflictError(f"user {username} already exists", field="username")
        new_id = self.tables.next_id()
        self.tables.users[new_id] = ApiUserRecord(
            new_id, instance_id, username, password_hash, now, now
        )

    def _find(self, instance_id: int, username: str) -> ApiUserRecord | None:
        return next(
            (
                u
                for u in self.tables.users.values()
                if u.instance_id == instance_id and u.username == username
            ),
            None,
        )

    @_counted()
    def login(self, instance_name: str, username: str) -> tuple[InstanceRecord | None, str | None]:
        found = next((i for i in self.tables.instances.values() if i.name == instance_name), None)
        if found is None:
            return None, None
        user = self._find(found.id, username)
        return found, None if user is None else user.password_hash

    @_counted()
    def get(self, instance_id: int, username: str) -> ApiUserRecord | None:
        return self._find(instance_id, username)

    @_counted()
    def usernames(self, instance_id: int) -> list[str]:
        return sorted(
            u.username for u in self.tables.users.values() if u.instance_id == instance_id
        )

    @_counted(write=True)
    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        user = self.tables.users[user_id]
        self.tables.users[user_id] = replace(user, password_hash=password_hash, updated_at=now)

    @_counted(write=True)
    def remove(self, user_id: int) -> None:
        del self.tables.users[user_id]


class FakePortalRepository(_Repository):
    @_counted()
    def routed_through(self, via_instance_id: int) -> list[tuple[str, str]]:
        return sorted(
            (self.tables.instances[portal_id].name, center.center_lid)
            for portal_id, centers in self.tables.centers.items()
            if portal_id != via_instance_id
            for center in centers
            if center.via_instance_id == via_instance_id
        )

    @_counted()
    def center_records(self, portal_instance_id: int) -> list[CenterRecord]:
        return list(self.tables.centers.get(portal_instance_id, []))

    @_counted(write=True)
    def put(self, portal_instance_id: int, center_lid: str, name: str | None, via: int) -> None:
        others = [
            c for c in self.tables.centers.get(portal_instance_id, []) if c.center_lid != center_lid
        ]
        center = CenterRecord(center_lid, name, via, self.tables.instances[via].name)
        self.tables.centers[portal_instance_id] = sorted(
            [*others, center], key=lambda c: c.center_lid
        )

    @_counted(write=True)
    def remove(self, portal_instance_id: int, center_lid: str) -> bool:
        mine = self.tables.centers.get(portal_instance_id, [])
        kept = [c for c in mine if c.center_lid != center_lid]
        self.tables.centers[portal_instance_id] = kept
        return len(kept) < len(mine)

    @_counted(write=True)
    def remove_routed_through_itself(self, instance_id: int) -> int:
        mine = self.tables.centers.get(instance_id, [])
        kept = [c for c in mine if c.via_instance_id != instance_id]
        self.tables.centers[instance_id] = kept
        return len(mine) - len(kept)


class FakeIntegrationRepository(_Repository):
    @_counted()
    def configured(self, instance_id: int) -> bool:
        return instance_id in self.tables.integrations

    @_counted()
    def get(self, instance_id: int) -> IntegrationRecord | None:
        return self.tables.integrations.get(instance_id)

    @_counted(write=True)
    def save(self, instance_id: int, values: Mapping[str, Any]) -> None:
        found = self.tables.integrations.get(instance_id)
        if found is None:
            found = integration_row(instance_id, wsdl_url=values["wsdl_url"])
        self.tables.integrations[instance_id] = replace(found, **values)

    @_counted(write=True)
    def remove(self, instance_id: int) -> bool:
        self.tables.entities.pop(instance_id, None)
        return self.tables.integrations.pop(instance_id, None) is not None

    def _named(self, row: IntegrationRecord) -> InstanceIntegration:
        instance = self.tables.instances[row.instance_id]
        return InstanceIntegration(row, instance.name, instance.disabled_at)

    @_counted()
    def due(self, now: datetime) -> list[InstanceIntegration]:
        due = [
            r
            for r in self.tables.integrations.values()
            if r.poll_enabled and (r.next_poll_at is None or r.next_poll_at <= now)
        ]
        due.sort(key=lambda r: (r.next_poll_at is not None, r.next_poll_at or now))
        return [self._named(r) for r in due]

    @_counted(write=True)
    def acquire(self, instance_id: int, owner: str, now: datetime, until: datetime) -> bool:
        found = self.tables.integrations.get(instance_id)
        if found is None:
            return False
        live = found.poll_lease_until is not None and found.poll_lease_until >= now
        if live and found.poll_owner != owner:
            return False
        self.tables.integrations[instance_id] = replace(
            found, poll_owner=owner, poll_lease_until=until
        )
        return True

    @_counted(write=True)
    def finish(self, instance_id: int, owner: str, values: Mapping[str, Any]) -> bool:
        found = self.tables.integrations.get(instance_id)
        if found is None or found.poll_owner != owner:
            return False
        self.tables.integrations[instance_id] = replace(
            found, poll_owner=None, poll_lease_until=None, **values
        )
        return True

    def _status(self, row: IntegrationRecord) -> PollStatus:
        return PollStatus.of(self._named(row))

    @_counted()
    def statuses(self, instance_ids: Collection[int] | None = None) -> list[PollStatus]:
        found = [
            self._status(r)
            for r in self.tables.integrations.values()
            if instance_ids is None or r.instance_id in instance_ids
        ]
        return sorted(found, key=lambda p: p.instance_name)

    @_counted()
    def status(self, instance_id: int) -> PollStatus | None:
        found = self.tables.integrations.get(instance_id)
        return None if found is None else self._status(found)

    @_counted(write=True)
    def schedule_now(self, instance_id: int, now: datetime) -> bool:
        found = self.tables.integrations.get(instance_id)
        if found is None or not found.poll_enabled:
            return False
        if found.poll_lease_until is not None and found.poll_lease_until >= now:
            return False  # a poll is running
        self.tables.integrations[instance_id] = replace(found, next_poll_at=now, updated_at=now)
        return True


class FakeEntityRepository(_Repository):
    @_counted(write=True)
    def replace(self, instance_id: int, tables: Mapping[str, list[dict[str, Any]]]) -> None:
        self.tables.entities[instance_id] = {name: list(rows) for name, rows in tables.items()}

    @_counted()
    def counts(self, instance_id: int) -> dict[str, int]:
        mine = self.tables.entities.get(instance_id, {})
        names = ("resources", "activities", "insurances", "locations", "relations")
        return {name: len(mine.get(name, [])) for name in names}


# Each fake table holding an instance's rows, and how to tell whose a row is.
_OWNED: dict[str, Callable[[Any], int]] = {
    "users": lambda r: r.instance_id,
    "reservations": lambda r: r.instance_id,
    "changes": lambda r: r["instance_id"],
    "messages": lambda r: r.instance_id,
    "reminder_settings": lambda r: r.instance_id,
    "reminders": lambda r: r.instance_id,
    "events": lambda r: r.instance_id,
    "callbacks": lambda r: r["instance_id"],
}


class FakeInstanceRemovalRepository(_Repository):
    @_counted()
    def owned_tables(self) -> list[str]:
        return list(_OWNED)

    def _rows(self, table: str) -> list[Any]:
        container = getattr(self.tables, table)
        return list(container.values() if isinstance(container, dict) else container)

    @_counted()
    def count(self, table: str, instance_id: int) -> int:
        return sum(1 for row in self._rows(table) if _OWNED[table](row) == instance_id)

    @_counted(write=True)
    def delete_batch(self, table: str, instance_id: int, limit: int) -> int:
        container = getattr(self.tables, table)
        owner = _OWNED[table]
        if isinstance(container, dict):
            keys = [k for k, row in container.items() if owner(row) == instance_id][:limit]
            for key in keys:
                del container[key]
            return len(keys)
        doomed = [row for row in container if owner(row) == instance_id][:limit]
        setattr(self.tables, table, [row for row in container if row not in doomed])
        return len(doomed)

    @_counted(write=True)
    def delete_instance(self, instance_id: int) -> bool:
        return self.tables.instances.pop(instance_id, None) is not None


class FakeReservationRepository(_Repository):
    def _mine(self, instance_id: int) -> list[ReservationRecord]:
        return [r for r in self.tables.reservations.values() if r.instance_id == instance_id]

    @_counted()
    def by_app_lids(
        self, instance_id: int, app_lids: Iterable[str]
    ) -> dict[str, ReservationRecord]:
        wanted = set(app_lids)
        return {r.app_lid: r for r in self._mine(instance_id) if r.app_lid in wanted}

    def _insert(self, row: Mapping[str, Any]) -> int:
        new_id = self.tables.next_id()
        self.tables.reservations[new_id] = _record(
            ReservationRecord, _RESERVATION, {**row, "id": new_id}
        )
        return new_id

    def _history(
        self, instance_id: int, rows: Iterable[tuple[int, Mapping[str, Any]]], at: datetime, by: str
    ) -> None:
        for reservation_id, row in rows:
            self.tables.changes.append(
                {
                    "instance_id": instance_id,
                    "change_seq": row["change_seq"],
                    "reservation_id": reservation_id,
                    "changed_at": at,
                    "changed_by": by,
                    "created": "row_id" not in row,
                    "values": dict(row),
                }
            )

    def _advance(self, instance_id: int, seq: int) -> None:
        found = self.tables.instances[instance_id]
        self.tables.instances[instance_id] = replace(found, change_seq=seq)

    @_counted(write=True)
    def offer_new(
        self, instance_id: int, rows: list[dict[str, Any]], *, at: datetime, by: str
    ) -> tuple[int, dict[str, int]]:
        first = self.tables.instances[instance_id].change_seq + 1
        numbered = [{**row, "change_seq": seq} for seq, row in enumerate(rows, start=first)]
        taken = {r.app_lid for r in self._mine(instance_id)}
        ids = {row["app_lid"]: self._insert(row) for row in numbered if row["app_lid"] not in taken}
        inserted = [row for row in numbered if row["app_lid"] in ids]
        self._history(instance_id, ((ids[row["app_lid"]], row) for row in inserted), at, by)
        self._advance(instance_id, first + len(rows) - 1)
        return first, ids

    @_counted(write=True)
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
        taken = {r.app_lid for r in self._mine(instance_id)}
        if any(row["app_lid"] in taken for row in new_rows):
            raise AssertionError("write_batch: an APP_LID of new_rows is taken (unique key)")
        ids = {row["app_lid"]: self._insert(row) for row in new_rows}
        self._update(changed_rows)
        self._history(instance_id, ((ids[row["app_lid"]], row) for row in new_rows), at, by)
        self._history(instance_id, ((row["row_id"], row) for row in changed_rows), at, by)
        self._advance(instance_id, last_seq)
        return ids

    def _update(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows and len({frozenset(row) for row in rows}) != 1:
            raise AssertionError("update_many: every row carries the same columns")
        for row in rows:
            found = self.tables.reservations[row["row_id"]]
            self.tables.reservations[found.id] = _changed(found, row)

    @_counted(write=True)
    def update_many(self, rows: list[dict[str, Any]]) -> None:
        self._update(rows)

    @_counted()
    def query(self, q: ReservationQuery) -> list[ReservationRecord]:
        def wanted(r: ReservationRecord) -> bool:
            return (
                q.after_seq < r.change_seq <= q.upto_seq
                and (q.app_lid is None or r.app_lid == q.app_lid)
                and (q.start_date is None or r.app_date >= q.start_date)
                and (q.end_date is None or r.app_date <= q.end_date)
                and (q.resource_lid is None or r.resource_lid == q.resource_lid)
                and (q.status is None or r.status == q.status)
                and (q.changed_since is None or r.updated_at >= q.changed_since)
            )

        found = sorted(filter(wanted, self._mine(q.instance_id)), key=lambda r: r.change_seq)
        return found[: q.limit]

    @_counted()
    def by_ids(self, instance_id: int, ids: Iterable[int]) -> list[ReservationRecord]:
        wanted = set(ids)
        return [r for r in self._mine(instance_id) if r.id in wanted]

    @_counted()
    def on_days(self, instance_id: int, days: Iterable[date]) -> list[ReservationRecord]:
        wanted = set(days)
        return [r for r in self._mine(instance_id) if r.app_date in wanted]


class FakeReservationChangeRepository(_Repository):
    @_counted(write=True)
    def record(
        self, instance_id: int, rows: Sequence[Mapping[str, Any]], *, at: datetime, by: str
    ) -> None:
        for row in rows:
            self.tables.changes.append(
                {
                    "instance_id": instance_id,
                    "change_seq": row["change_seq"],
                    "reservation_id": row["row_id"],
                    "changed_at": at,
                    "changed_by": by,
                    "created": False,
                    "values": dict(row),
                }
            )

    @_counted()
    def for_reservation(
        self, instance_id: int, reservation_id: int
    ) -> list[ReservationChangeRecord]:
        mine = sorted(
            (
                c
                for c in self.tables.changes
                if (c["instance_id"], c["reservation_id"]) == (instance_id, reservation_id)
            ),
            key=lambda c: c["change_seq"],
        )
        return [
            ReservationChangeRecord(
                change_seq=c["change_seq"],
                changed_at=c["changed_at"],
                changed_by=c["changed_by"],
                created=c["created"],
                # As stored: the recorded columns only, dates as ISO text.
                values=recorded_values(recorded_fields(c["values"])),
            )
            for c in mine
        ]


def _message_matches(m: MessageRecord, q: MessageQuery | MessageSearch) -> bool:
    """The filters searchMessages and the back office's search share."""
    return (
        m.instance_id == q.instance_id
        and (q.legacy_id is None or m.legacy_id == q.legacy_id)
        and (not q.recipients or m.recipient in q.recipients)
        and (q.channel is None or m.channel == q.channel)
        and (q.status is None or m.status == q.status)
        and (q.created_from is None or m.created_at >= q.created_from)
        and (q.created_to is None or m.created_at < q.created_to)
    )


class FakeMessageRepository(_Repository):
    @_counted()
    def by_legacy_ids(
        self, instance_id: int, legacy_ids: Iterable[str]
    ) -> dict[str, MessageRecord]:
        wanted = set(legacy_ids)
        return {
            m.legacy_id: m
            for m in self.tables.messages.values()
            if m.instance_id == instance_id and m.legacy_id in wanted
        }

    @_counted(write=True)
    def insert_new(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for row in rows:
            taken = any(
                m.instance_id == row["instance_id"] and m.legacy_id == row["legacy_id"]
                for m in self.tables.messages.values()
            )
            if taken:
                continue
            new_id = self.tables.next_id()
            self.tables.messages[new_id] = _record(
                MessageRecord,
                _MESSAGE,
                {"reference": secrets.token_hex(12), **row, "id": new_id},
            )
            ids[row["legacy_id"]] = new_id
        return ids

    @_counted()
    def search(self, q: MessageQuery) -> list[MessageRecord]:
        def wanted(m: MessageRecord) -> bool:
            sent = m.sent_at
            return (
                _message_matches(m, q)
                and m.id > q.after_id
                and (q.sent_from is None or (sent is not None and sent >= q.sent_from))
                and (q.sent_to is None or (sent is not None and sent < q.sent_to))
            )

        return sorted(filter(wanted, self.tables.messages.values()), key=lambda m: m.id)[: q.limit]

    @_counted()
    def for_receipt(
        self, provider: str, provider_message_id: str | None, reference: str | None
    ) -> MessageRecord | None:
        handed = [
            m
            for m in self.tables.messages.values()
            if m.provider == provider and m.status != "QUEUED"
        ]
        if provider_message_id:
            found = next((m for m in handed if m.provider_message_id == provider_message_id), None)
            if found is not None:
                return found
        if not reference or not REFERENCE_PATTERN.fullmatch(reference):
            return None
        found = next((m for m in handed if m.reference == reference), None)
        if found is None and reference.isdigit() and len(reference) <= 18:
            found = next(
                (
                    m
                    for m in handed
                    if m.id == int(reference) and m.reference is None and m.sent_at is not None
                ),
                None,
            )
        return found

    @_counted(write=True)
    def move(self, message_id: int, from_status: str, values: Mapping[str, Any]) -> bool:
        return self._move(message_id, from_status, values)

    def _move(self, message_id: int, from_status: str, values: Mapping[str, Any]) -> bool:
        found = self.tables.messages.get(message_id)
        if found is None or found.status != from_status:
            return False
        self.tables.messages[message_id] = _changed(found, values)
        return True

    @_counted()
    def get(self, instance_id: int, message_id: int) -> MessageRecord | None:
        found = self.tables.messages.get(message_id)
        return found if found is not None and found.instance_id == instance_id else None

    @_counted()
    def by_ids(self, instance_id: int, message_ids: Iterable[int]) -> list[MessageRecord]:
        found = (self.tables.messages.get(i) for i in sorted(set(message_ids)))
        return [m for m in found if m is not None and m.instance_id == instance_id]

    @_counted()
    def attempts(self, instance_id: int, message_id: int) -> list[MessageAttemptRecord]:
        return [
            a
            for a in self.tables.attempts
            if (a.instance_id, a.message_id) == (instance_id, message_id)
        ]

    @_counted(write=True)
    def requeue_failed(self, message_id: int, now: datetime) -> bool:
        values = {
            "status": "QUEUED",
            "next_attempt_at": now,
            "attempts": 0,
            "failed_at": None,
            "lease_until": None,
            "claimed_by": None,
            "updated_at": now,
        }
        return self._move(message_id, "FAILED", values)

    @_counted(write=True)
    def cancel_queued(self, message_id: int, now: datetime, reason: str) -> bool:
        values = {
            "status": "CANCELLED",
            "last_error": reason,
            "lease_until": None,
            "updated_at": now,
        }
        return self._move(message_id, "QUEUED", values)

    @_counted()
    def queue_depth_by_provider(
        self, now: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[QueueDepth]:
        wanted = None if instance_ids is None else set(instance_ids)
        groups: dict[tuple[str | None, int, str], list[MessageRecord]] = {}
        for m in self.tables.messages.values():
            if m.status in ("QUEUED", "SENDING") and (wanted is None or m.instance_id in wanted):
                groups.setdefault((m.provider, m.instance_id, m.channel), []).append(m)
        out = []
        for (provider, instance_id, channel), group in groups.items():
            due = [
                m.next_attempt_at
                for m in group
                if m.status == "QUEUED"
                and m.next_attempt_at <= now
                and (m.expires_at is None or m.expires_at > now)
            ]
            sending = sum(1 for m in group if m.status == "SENDING")
            out.append(
                QueueDepth(
                    provider,
                    instance_id,
                    channel,
                    len(group),
                    sending,
                    len(due),
                    min(due, default=None),
                )
            )
        return sorted(out, key=lambda q: (q.provider or "", q.instance_id, q.channel))

    @_counted()
    def failures_by_reason(
        self, since: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[FailureCount]:
        wanted = None if instance_ids is None else set(instance_ids)
        counts: Counter[tuple[str | None, str]] = Counter(
            (m.provider, failure_reason(m.last_error))
            for m in self.tables.messages.values()
            if m.status == "FAILED"
            and m.failed_at is not None
            and m.failed_at >= since
            and (wanted is None or m.instance_id in wanted)
        )
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1]))
        return [FailureCount(provider, reason, n) for (provider, reason), n in ordered]


class FakeAuditRepository(_Repository):
    @_counted(write=True)
    def add(self, entry: NewAuditEntry) -> int:
        new_id = self.tables.next_id()
        self.tables.audit.append(AuditEntry(new_id, *astuple(entry)))
        return new_id

    @_counted()
    def page(
        self,
        *,
        instance_ids: Collection[int] | None,
        instance_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        def wanted(e: AuditEntry) -> bool:
            return (
                (instance_ids is None or e.instance_id in instance_ids)
                and (instance_id is None or e.instance_id == instance_id)
                and (before_id is None or e.id < before_id)
            )

        return sorted(filter(wanted, self.tables.audit), key=lambda e: -e.id)[:limit]

    @_counted()
    def for_target(self, instance_id: int, target_kind: str, target_id: int) -> list[AuditEntry]:
        mine = (
            e
            for e in self.tables.audit
            if (e.instance_id, e.target_kind, e.target_id) == (instance_id, target_kind, target_id)
        )
        return sorted(mine, key=lambda e: -e.id)


class FakeSearchRepository(_Repository):
    @_counted()
    def reservations(self, q: ReservationSearch) -> list[ReservationHit]:
        def wanted(r: ReservationRecord) -> bool:
            answer = q.patient_answer
            return (
                r.instance_id == q.instance_id
                and (q.app_lid is None or r.app_lid == q.app_lid)
                and (q.date_from is None or r.app_date >= q.date_from)
                and (q.date_to is None or r.app_date <= q.date_to)
                and (q.resource_lid is None or r.resource_lid == q.resource_lid)
                and (q.status is None or r.status == q.status)
                and (
                    answer is None
                    or (
                        r.patient_answer is None
                        if answer == NO_ANSWER
                        else r.patient_answer == answer
                    )
                )
                and (
                    not q.phones
                    or r.user_mobile_phone in q.phones
                    or r.user_landline_phone in q.phones
                )
                and (q.email is None or (r.user_email or "").lower() == q.email.lower())
            )

        found = list(filter(wanted, self.tables.reservations.values()))
        if q.date_from is not None or q.date_to is not None:
            if q.before_day is not None:
                found = [r for r in found if (r.app_date, r.change_seq) < q.before_day]
            found.sort(key=lambda r: (r.app_date, r.change_seq), reverse=True)
        else:
            found = [r for r in found if q.before_id is None or r.id < q.before_id]
            found.sort(key=lambda r: r.id, reverse=True)
        names = field_names(ReservationHit)
        return [ReservationHit(**{n: getattr(r, n) for n in names}) for r in found[: q.limit]]

    @_counted()
    def messages(self, q: MessageSearch) -> list[MessageHit]:
        found = [m for m in self.tables.messages.values() if _message_matches(m, q)]
        found.sort(key=lambda m: -m.id)
        if q.before_id is not None:
            found = [m for m in found if m.id < q.before_id]
        names = field_names(MessageHit)
        return [MessageHit(**{n: getattr(m, n) for n in names}) for m in found[: q.limit]]


class FakeOperatorRepository(_Repository):
    def _granted(self, found: OperatorRecord) -> OperatorRecord:
        names = {i.id: i.name for i in self.tables.instances.values()}
        granted = [(i, names[i]) for op, i in self.tables.grants if op == found.id]
        return replace(found, granted=tuple(sorted(granted, key=lambda grant: grant[1])))

    @_counted(write=True)
    def add(self, username: str, password_hash: str, all_instances: bool, now: datetime) -> int:
        if any(o.username == username for o in self.tables.operators.values()):
            raise ConflictError(f"operator {username} already exists", field="username")
        new_id = self.tables.next_id()
        self.tables.operators[new_id] = OperatorRecord(
            new_id, username, password_hash, all_instances, now, now, ()
        )
        return new_id

    @_counted()
    def by_username(self, username: str) -> OperatorRecord | None:
        found = [o for o in self.tables.operators.values() if o.username == username]
        return self._granted(found[0]) if found else None

    @_counted()
    def by_id(self, operator_id: int) -> OperatorRecord | None:
        found = self.tables.operators.get(operator_id)
        return self._granted(found) if found is not None else None

    @_counted()
    def all(self) -> list[OperatorRecord]:
        everyone = sorted(self.tables.operators.values(), key=lambda o: o.username)
        return [self._granted(o) for o in everyone]

    @_counted(write=True)
    def set_password(self, operator_id: int, password_hash: str, now: datetime) -> None:
        found = self.tables.operators[operator_id]
        self.tables.operators[operator_id] = replace(
            found, password_hash=password_hash, updated_at=now
        )

    @_counted(write=True)
    def set_all_instances(self, operator_id: int, all_instances: bool, now: datetime) -> None:
        found = self.tables.operators[operator_id]
        self.tables.operators[operator_id] = replace(
            found, all_instances=all_instances, updated_at=now
        )

    @_counted(write=True)
    def grant(self, operator_id: int, instance_id: int, now: datetime) -> bool:
        if (operator_id, instance_id) in self.tables.grants:
            return False
        self.tables.grants = self.tables.grants | {(operator_id, instance_id)}
        return True

    @_counted(write=True)
    def revoke(self, operator_id: int, instance_id: int) -> bool:
        if (operator_id, instance_id) not in self.tables.grants:
            return False
        self.tables.grants = self.tables.grants - {(operator_id, instance_id)}
        return True

    @_counted(write=True)
    def remove(self, operator_id: int) -> None:
        self.tables.operators.pop(operator_id, None)
        self.tables.grants = {g for g in self.tables.grants if g[0] != operator_id}


class FakeReminderSettingsRepository(_Repository):
    @_counted()
    def get(self, instance_id: int) -> ReminderSettingsRecord | None:
        return self.tables.reminder_settings.get(instance_id)

    @_counted()
    def all(self) -> list[ReminderSettingsRecord]:
        return list(self.tables.reminder_settings.values())

    @_counted(write=True)
    def save(self, instance_id: int, rules_json: str, now: datetime) -> None:
        found = self.tables.reminder_settings.get(instance_id)
        self.tables.reminder_settings[instance_id] = (
            ReminderSettingsRecord(instance_id, rules_json, 0, now)
            if found is None
            else replace(found, rules_json=rules_json, updated_at=now)
        )

    @_counted(write=True)
    def lock_for_planning(self, instance_id: int) -> int:
        return self.tables.reminder_settings[instance_id].planner_seq

    @_counted(write=True)
    def advance(self, instance_id: int, seq: int) -> None:
        found = self.tables.reminder_settings[instance_id]
        self.tables.reminder_settings[instance_id] = replace(found, planner_seq=seq)


class FakeReminderRepository(_Repository):
    def _mine(self, instance_id: int) -> list[ReminderRecord]:
        return sorted(
            (r for r in self.tables.reminders.values() if r.instance_id == instance_id),
            key=lambda r: r.id,
        )

    @_counted()
    def for_reservations(
        self, instance_id: int, reservation_ids: Iterable[int]
    ) -> dict[int, list[ReminderRecord]]:
        found: dict[int, list[ReminderRecord]] = {rid: [] for rid in sorted(set(reservation_ids))}
        for reminder in self._mine(instance_id):
            for rid in ids_of(reminder.reservation_ids):
                if rid in found:
                    found[rid].append(reminder)
        return found

    @_counted()
    def by_keys(self, instance_id: int, keys: Iterable[str]) -> dict[str, ReminderRecord]:
        wanted = set(keys)
        return {r.key: r for r in self._mine(instance_id) if r.key in wanted}

    @_counted(write=True)
    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if any(r.key == row["key"] for r in self._mine(row["instance_id"])):
                raise AssertionError(f"reminder key {row['key']} is taken (unique key)")
            new_id = self.tables.next_id()
            self.tables.reminders[new_id] = _record(
                ReminderRecord, _REMINDER, {**row, "id": new_id}
            )

    @_counted(write=True)
    def replan_many(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            found = self.tables.reminders[change["row_id"]]
            self.tables.reminders[found.id] = _changed(found, change)

    @_counted(write=True)
    def change(self, reminder_id: int, values: Mapping[str, Any]) -> None:
        found = self.tables.reminders[reminder_id]
        self.tables.reminders[reminder_id] = _changed(found, values)

    @_counted(write=True)
    def cancel_planned(self, ids: Iterable[int], reason: str, now: datetime) -> None:
        for reminder_id in ids:
            found = self.tables.reminders[reminder_id]
            if found.status == "PLANNED":
                self.tables.reminders[reminder_id] = replace(
                    found, status="CANCELLED", reason=reason, updated_at=now
                )

    @_counted()
    def due(self, now: datetime, limit: int) -> list[ReminderRecord]:
        disabled = {i.id for i in self.tables.instances.values() if i.disabled_at is not None}
        found = [
            r
            for r in self.tables.reminders.values()
            if r.status == "PLANNED" and r.due_at <= now and r.instance_id not in disabled
        ]
        return sorted(found, key=lambda r: (r.due_at, r.id))[:limit]

    def _message(self, reminder: ReminderRecord) -> MessageRecord | None:
        found = self.tables.messages.get(reminder.message_id or 0)
        if found is None or found.instance_id != reminder.instance_id:
            return None
        return found

    @_counted()
    def sent_through(
        self,
        provider: str,
        channel: str,
        recipients: Sequence[str],
        kinds: Sequence[str],
        *,
        limit: int = 50,
    ) -> list[SentReminder]:
        found = []
        for reminder in self.tables.reminders.values():
            message = self._message(reminder)
            if (
                message is not None
                and message.provider == provider
                and message.channel == channel
                and message.recipient in recipients
                and message.status in _SENT
                and reminder.kind in kinds
            ):
                found.append(SentReminder(reminder, message.sent_at, message.sender))
        found.sort(key=lambda s: (s.sent_at or datetime.min, s.reminder.id), reverse=True)
        return found[:limit]

    @_counted()
    def by_reference(
        self,
        provider: str,
        channel: str,
        reference: str,
        kinds: Sequence[str],
        *,
        recipients: Sequence[str] = (),
    ) -> ReminderRecord | None:
        for reminder in self.tables.reminders.values():
            m = self._message(reminder)
            if m is None or m.provider != provider or m.channel != channel:
                continue
            if reminder.kind not in kinds or (recipients and m.recipient not in recipients):
                continue
            quoted = m.reference == reference and m.status in ("SENDING", *_SENT)
            legacy = (
                reference.isdigit()
                and len(reference) <= 18
                and m.id == int(reference)
                and m.reference is None
                and m.status in _SENT
            )
            if quoted or legacy:
                return reminder
        return None

    @_counted()
    def get(self, reminder_id: int) -> ReminderRecord | None:
        return self.tables.reminders.get(reminder_id)

    @_counted()
    def for_message(self, instance_id: int, message_id: int) -> list[ReminderRecord]:
        return [r for r in self._mine(instance_id) if r.message_id == message_id]


class FakeEventRepository(_Repository):
    @_counted(write=True)
    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.tables.events.append(
                _record(ReminderEventRecord, _EVENT, {**row, "id": self.tables.next_id()})
            )

    @_counted()
    def for_reservation(self, instance_id: int, reservation_id: int) -> list[ReminderEventRecord]:
        found = [
            e
            for e in self.tables.events
            if e.instance_id == instance_id and e.reservation_id == reservation_id
        ]
        return sorted(found, key=lambda e: (e.at, e.id))


class FakeCallbackRepository(_Repository):
    @_counted(write=True)
    def add_new(self, rows: list[dict[str, Any]]) -> None:
        def key(row: Mapping[str, Any]) -> tuple[Any, ...]:
            return row["instance_id"], row["reservation_id"], row["action"]

        queued = {key(row) for row in self.tables.callbacks}
        for row in rows:
            if key(row) not in queued:
                self.tables.callbacks.append(
                    {"id": self.tables.next_id(), "last_error": None, **row}
                )
                queued.add(key(row))

    def _mine(self, instance_id: int) -> list[dict[str, Any]]:
        return [row for row in self.tables.callbacks if row["instance_id"] == instance_id]

    @_counted()
    def due(self, now: datetime, limit: int) -> list[ClinicCallbackRecord]:
        due = [
            row
            for row in self.tables.callbacks
            if row["status"] == "PENDING" and row["next_attempt_at"] <= now
        ]
        due.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
        names = field_names(ClinicCallbackRecord)
        return [ClinicCallbackRecord(**{n: row.get(n) for n in names}) for row in due[:limit]]

    @_counted(write=True)
    def record(self, callback_id: int, values: Mapping[str, Any]) -> None:
        self.tables.callbacks = [
            {**row, **values} if row["id"] == callback_id else row for row in self.tables.callbacks
        ]

    @_counted()
    def summary(self, instance_id: int, now: datetime) -> CallbackSummary:
        mine = self._mine(instance_id)
        pending = [row for row in mine if row["status"] == "PENDING"]
        return CallbackSummary(
            pending=len(pending),
            due=sum(1 for row in pending if row["next_attempt_at"] <= now),
            retried=sum(1 for row in pending if row["attempts"] > 0),
            failed=sum(1 for row in mine if row["status"] == "FAILED"),
            done=sum(1 for row in mine if row["status"] == "DONE"),
            oldest_pending_at=min((row["created_at"] for row in pending), default=None),
        )

    @_counted()
    def open_records(self, instance_id: int, limit: int) -> list[CallbackRecord]:
        mine = [row for row in self._mine(instance_id) if row["status"] in ("PENDING", "FAILED")]
        mine.sort(key=lambda row: (row["updated_at"], row["id"]), reverse=True)
        names = field_names(CallbackRecord)
        return [CallbackRecord(**{n: row.get(n) for n in names}) for row in mine[:limit]]


class FakeAnswerLinkRepository(_Repository):
    @_counted(write=True)
    def claim(self, reminder_id: int, action: str, now: datetime) -> bool:
        if (reminder_id, action) in self.tables.answer_links:
            return False
        self.tables.answer_links[reminder_id, action] = now
        return True

    @_counted()
    def used(self, reminder_id: int, action: str) -> bool:
        return (reminder_id, action) in self.tables.answer_links


class FakeReplyQuestionRepository(_Repository):
    @_counted(write=True)
    def add(
        self, provider: str, recipient: str, reminder_ids: Sequence[int], now: datetime
    ) -> None:
        self.tables.reply_questions.append(
            (self.tables.next_id(), provider, recipient, list(reminder_ids), now)
        )

    @_counted()
    def latest(self, provider: str, recipients: Sequence[str], since: datetime) -> list[int] | None:
        asked = [
            (created, qid, ids)
            for qid, p, recipient, ids, created in self.tables.reply_questions
            if p == provider and recipient in recipients and created >= since
        ]
        return max(asked)[2] if asked else None

    @_counted(write=True)
    def forget_older_than(self, before: datetime) -> int:
        kept = [row for row in self.tables.reply_questions if row[4] >= before]
        gone = len(self.tables.reply_questions) - len(kept)
        self.tables.reply_questions = kept
        return gone

    @_counted(write=True)
    def forget_instance(self, instance_id: int) -> int:
        theirs = {r.id for r in self.tables.reminders.values() if r.instance_id == instance_id}
        kept = [row for row in self.tables.reply_questions if not theirs.intersection(row[3])]
        gone = len(self.tables.reply_questions) - len(kept)
        self.tables.reply_questions = kept
        return gone


def integration_row(instance_id: int, **values: Any) -> IntegrationRecord:
    """A clinic integration for ``FakeTables.integrations``: polling on, every 5
    minutes, never polled yet, unless ``values`` say otherwise."""
    defaults: dict[str, Any] = {
        "wsdl_url": "http://clinic.invalid/wsdl",
        "endpoint_url": None,
        "username": None,
        "password_env": None,
        "center_lid": None,
        "timeout_seconds": 10,
        "poll_enabled": True,
        "poll_interval_seconds": 300,
        "last_success_at": None,
        "next_poll_at": None,
        "consecutive_failures": 0,
        "last_error": None,
        "key_entities_at": None,
        "poll_owner": None,
        "poll_lease_until": None,
        "updated_at": datetime(2027, 1, 1),
    }
    return IntegrationRecord(instance_id, **{**defaults, **values})


class FakeUnitOfWork:
    """An in-memory store and the unit of work it begins (one object: the
    repositories always work on ``tables``)."""

    def __init__(self, tables: FakeTables | None = None) -> None:
        self.tables = tables or FakeTables()
        self.calls: Counter[str] = Counter()
        self.commits = 0
        self.rollbacks = 0
        self._saved: dict[str, Any] | None = None
        self._write = False
        self._active = False
        self.instances = FakeInstanceRepository(self)
        self.users = FakeApiUserRepository(self)
        self.portals = FakePortalRepository(self)
        self.integrations = FakeIntegrationRepository(self)
        self.removal = FakeInstanceRemovalRepository(self)
        self.reservations = FakeReservationRepository(self)
        self.changes = FakeReservationChangeRepository(self)
        self.messages = FakeMessageRepository(self)
        self.reminder_settings = FakeReminderSettingsRepository(self)
        self.reminders = FakeReminderRepository(self)
        self.events = FakeEventRepository(self)
        self.callbacks = FakeCallbackRepository(self)
        self.answer_links = FakeAnswerLinkRepository(self)
        self.reply_questions = FakeReplyQuestionRepository(self)
        self.audit = FakeAuditRepository(self)
        self.operators = FakeOperatorRepository(self)
        self.search = FakeSearchRepository(self)
        self.entities = FakeEntityRepository(self)

    # --- the store -------------------------------------------------------------

    def begin(self, *, write: bool = False) -> FakeUnitOfWork:
        if self._active:
            raise AssertionError("a unit of work began inside another one")
        self._write = write
        return self

    # --- the unit of work ------------------------------------------------------

    def __enter__(self) -> FakeUnitOfWork:
        if self._active:
            raise AssertionError("a unit of work entered twice")
        self._active = True
        self._saved = self.tables.saved()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.rollback()
        self._active = False
        self._saved = None

    def commit(self) -> None:
        if not self._active:
            raise AssertionError("commit() outside a unit of work")
        self.commits += 1
        self._saved = self.tables.saved()

    def rollback(self) -> None:
        if self._saved is not None and self._saved != self.tables.saved():
            self.rollbacks += 1
            self.tables.restore(self._saved)
            self._saved = self.tables.saved()

    def enter_call(self, name: str, *, write: bool) -> None:
        if not self._active:
            raise AssertionError(f"{name} called outside a unit of work")
        if write and not self._write:
            raise AssertionError(f"{name} writes in a unit of work begun without write=True")
        self.calls[name] += 1


def conforms(fake: FakeUnitOfWork) -> unit_of_work.Store:
    """For mypy: the fake is a store whose units of work are the services' ``UnitOfWork``."""
    return fake
