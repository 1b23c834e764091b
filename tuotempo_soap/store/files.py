"""SQL of data export files (guide A.1): each instance's folder settings and the
lease of its round, the files seen and imported, the appointments that came
from files, and the cancellations files written.

Repositories take an open connection and answer with the dataclasses below,
never with rows. Batches are one statement: the file appointments of a batch
of rows are marked with one upsert.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .tables import (
    RESERVATION_FIELD_COLUMNS,
    file_appointments,
    file_exports,
    file_imports,
    file_sources,
    instances,
    reservation_changes,
    reservations,
)

# States of file_imports.
SEEN = "SEEN"
IMPORTING = "IMPORTING"
DONE = "DONE"
REJECTED = "REJECTED"
INTERRUPTED = "INTERRUPTED"
FINISHED = (DONE, REJECTED)


@dataclass(frozen=True)
class FileSourceRecord:
    """One instance's folder settings and where its round stands."""

    instance_id: int
    instance_name: str
    instance_disabled_at: datetime | None
    url: str
    username: str | None
    password_env: str | None
    key_file: str | None
    host_key: str | None
    ca_file: str | None
    pattern: str
    completion: str
    delimiter: str | None
    encoding: str | None
    date_format: str | None
    window_ahead_hours: int
    window_past_hours: int
    window_margin_minutes: int
    on_missing: str
    max_missing_percent: int
    export_enabled: bool
    export_dir: str | None
    export_prefix: str
    export_confirmations: bool
    export_cursor: int
    poll_enabled: bool
    poll_interval_seconds: int
    next_poll_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    lease_owner: str | None
    lease_until: datetime | None


@dataclass(frozen=True)
class FileImportRecord:
    id: int
    instance_id: int
    name: str
    size: int
    modified_at: datetime | None
    sha256: str | None
    state: str
    seen_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows: int | None
    accepted: int | None
    rejected: int | None
    created: int | None
    updated: int | None
    unchanged: int | None
    cancelled: int | None
    encoding: str | None
    delimiter: str | None
    date_format: str | None
    window_start: datetime | None
    window_end: datetime | None
    error: str | None


@dataclass(frozen=True)
class StoredAppointment:
    """A reservation as stored: the guide's fields by wire name (dates as dates)."""

    app_lid: str
    app_date: date
    app_start_time: str | None
    status: str | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class PatientChange:
    """A change a patient made (an answer, a cancellation), with the reservation's
    contact fields as they are now."""

    change_seq: int
    changed_at: datetime
    app_lid: str
    user_landline_phone: str | None
    user_mobile_phone: str | None
    user_email: str | None
    resource_lid: str
    values: dict[str, Any]  # the columns the change wrote


@dataclass(frozen=True)
class FileExportRecord:
    id: int
    instance_id: int
    name: str
    after_seq: int
    upto_seq: int
    rows: int
    started_at: datetime
    finished_at: datetime | None


def _source(row: RowMapping) -> FileSourceRecord:
    values = {key: row[key] for key in FileSourceRecord.__dataclass_fields__}
    for flag in ("export_enabled", "export_confirmations", "poll_enabled"):
        values[flag] = bool(values[flag])
    return FileSourceRecord(**values)


def _import(row: RowMapping) -> FileImportRecord:
    return FileImportRecord(**{key: row[key] for key in FileImportRecord.__dataclass_fields__})


def _export(row: RowMapping) -> FileExportRecord:
    return FileExportRecord(**{key: row[key] for key in FileExportRecord.__dataclass_fields__})


class FileSourceRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _select(self) -> Any:
        return select(
            file_sources,
            instances.c.name.label("instance_name"),
            instances.c.disabled_at.label("instance_disabled_at"),
        ).join(instances, instances.c.id == file_sources.c.instance_id)

    def get(self, instance_id: int) -> FileSourceRecord | None:
        query = self._select().where(file_sources.c.instance_id == instance_id)
        row = self.connection.execute(query).mappings().first()
        return _source(row) if row is not None else None

    def every(self, instance_ids: Collection[int] | None = None) -> list[FileSourceRecord]:
        query = self._select().order_by(instances.c.name)
        if instance_ids is not None:
            query = query.where(file_sources.c.instance_id.in_(sorted(instance_ids)))
        return [_source(row) for row in self.connection.execute(query).mappings()]

    def due(self, now: datetime) -> list[FileSourceRecord]:
        """Enabled sources of enabled instances whose next round is due."""
        c = file_sources.c
        query = (
            self._select()
            .where(
                c.poll_enabled.is_(True),
                instances.c.disabled_at.is_(None),
                or_(c.next_poll_at.is_(None), c.next_poll_at <= now),
            )
            .order_by(instances.c.name)
        )
        return [_source(row) for row in self.connection.execute(query).mappings()]

    def save(self, instance_id: int, values: Mapping[str, Any]) -> None:
        exists = self.connection.execute(
            select(file_sources.c.instance_id).where(file_sources.c.instance_id == instance_id)
        ).first()
        if exists is None:
            self.connection.execute(insert(file_sources).values(instance_id=instance_id, **values))
        else:
            self.connection.execute(
                update(file_sources)
                .where(file_sources.c.instance_id == instance_id)
                .values(**values)
            )

    def remove(self, instance_id: int) -> bool:
        statement = delete(file_sources).where(file_sources.c.instance_id == instance_id)
        return bool(self.connection.execute(statement).rowcount)

    def acquire(self, instance_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take the instance's round lease if nobody holds a live one."""
        c = file_sources.c
        statement = (
            update(file_sources)
            .where(
                c.instance_id == instance_id,
                or_(c.lease_until.is_(None), c.lease_until < now, c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=until)
        )
        return bool(self.connection.execute(statement).rowcount)

    def renew(self, instance_id: int, owner: str, until: datetime) -> bool:
        c = file_sources.c
        statement = (
            update(file_sources)
            .where(c.instance_id == instance_id, c.lease_owner == owner)
            .values(lease_until=until)
        )
        return bool(self.connection.execute(statement).rowcount)

    def release(self, instance_id: int, owner: str, values: Mapping[str, Any]) -> None:
        """End the round: give the lease back and record how it went."""
        c = file_sources.c
        self.connection.execute(
            update(file_sources)
            .where(c.instance_id == instance_id, c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None, **values)
        )

    def set_cursor(self, instance_id: int, seq: int) -> None:
        self.connection.execute(
            update(file_sources)
            .where(file_sources.c.instance_id == instance_id)
            .values(export_cursor=seq)
        )


class FileImportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def of_instance(self, instance_id: int, names: Collection[str]) -> list[FileImportRecord]:
        """Every record of these file names (any state), oldest first."""
        if not names:
            return []
        c = file_imports.c
        query = (
            select(file_imports)
            .where(c.instance_id == instance_id, c.name.in_(sorted(names)))
            .order_by(c.id)
        )
        return [_import(row) for row in self.connection.execute(query).mappings()]

    def recent(self, instance_id: int, limit: int) -> list[FileImportRecord]:
        c = file_imports.c
        query = (
            select(file_imports)
            .where(c.instance_id == instance_id, c.state != SEEN)
            .order_by(c.id.desc())
            .limit(limit)
        )
        return [_import(row) for row in self.connection.execute(query).mappings()]

    def get(self, import_id: int) -> FileImportRecord | None:
        row = (
            self.connection.execute(select(file_imports).where(file_imports.c.id == import_id))
            .mappings()
            .first()
        )
        return _import(row) if row is not None else None

    def note_seen(
        self, instance_id: int, name: str, size: int, modified: datetime | None, now: datetime
    ) -> None:
        """Remember this listing of a file not yet complete (one SEEN row per name)."""
        c = file_imports.c
        mine = and_(c.instance_id == instance_id, c.name == name, c.state == SEEN)
        updated = self.connection.execute(
            update(file_imports).where(mine).values(size=size, modified_at=modified, seen_at=now)
        ).rowcount
        if not updated:
            self.connection.execute(
                insert(file_imports).values(
                    instance_id=instance_id,
                    name=name,
                    size=size,
                    modified_at=modified,
                    state=SEEN,
                    seen_at=now,
                )
            )

    def forget_seen(self, instance_id: int, keep: Collection[str]) -> None:
        """Drop the SEEN rows of files no longer listed."""
        c = file_imports.c
        statement = delete(file_imports).where(c.instance_id == instance_id, c.state == SEEN)
        if keep:
            statement = statement.where(c.name.not_in(sorted(keep)))
        self.connection.execute(statement)

    def start(
        self,
        instance_id: int,
        *,
        name: str,
        size: int,
        modified: datetime | None,
        sha256: str,
        now: datetime,
    ) -> int:
        c = file_imports.c
        self.connection.execute(
            delete(file_imports).where(
                c.instance_id == instance_id, c.name == name, c.state == SEEN
            )
        )
        result = self.connection.execute(
            insert(file_imports).values(
                instance_id=instance_id,
                name=name,
                size=size,
                modified_at=modified,
                sha256=sha256,
                state=IMPORTING,
                seen_at=now,
                started_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish(self, import_id: int, values: Mapping[str, Any]) -> None:
        self.connection.execute(
            update(file_imports).where(file_imports.c.id == import_id).values(**values)
        )

    def touch(self, import_id: int, modified: datetime | None) -> None:
        """A finished file listed again with another time stamp but the same bytes."""
        self.connection.execute(
            update(file_imports).where(file_imports.c.id == import_id).values(modified_at=modified)
        )

    def interrupt_stale(self, instance_id: int, now: datetime) -> int:
        """IMPORTING rows left by a round that stopped (the caller holds the lease,
        so none is running): INTERRUPTED, so the file is read again."""
        c = file_imports.c
        statement = (
            update(file_imports)
            .where(c.instance_id == instance_id, c.state == IMPORTING)
            .values(state=INTERRUPTED, finished_at=now, error="interrupted; read again")
        )
        return int(self.connection.execute(statement).rowcount)


class FileAppointmentRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def mark_seen(self, instance_id: int, import_id: int, app_lids: Sequence[str]) -> set[str]:
        """Record that import ``import_id`` holds these APP_LIDs (distinct); the
        ones it did not hold before (the others appeared earlier in the same file).
        One statement."""
        if not app_lids:
            return set()
        dialect = self.connection.dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(file_appointments)
        upsert = statement.on_conflict_do_update(
            index_elements=[file_appointments.c.instance_id, file_appointments.c.app_lid],
            set_={"last_import_id": statement.excluded.last_import_id},
            where=file_appointments.c.last_import_id != statement.excluded.last_import_id,
        ).returning(file_appointments.c.app_lid)
        rows = [
            {"instance_id": instance_id, "app_lid": lid, "last_import_id": import_id}
            for lid in app_lids
        ]
        return {str(lid) for lid in self.connection.execute(upsert, rows).scalars()}

    def with_status(self, instance_id: int, app_lids: Sequence[str], status: str) -> set[str]:
        """Which of these APP_LIDs of the instance have ``status`` now (one statement)."""
        if not app_lids:
            return set()
        r = reservations.c
        query = select(r.app_lid).where(
            r.instance_id == instance_id, r.app_lid.in_(list(app_lids)), r.status == status
        )
        return {str(lid) for lid in self.connection.execute(query).scalars()}

    def _missing(self, instance_id: int, import_id: int, first: date, last: date) -> Any:
        f, r = file_appointments.c, reservations.c
        return and_(
            f.instance_id == instance_id,
            f.last_import_id < import_id,
            r.instance_id == instance_id,
            r.app_lid == f.app_lid,
            r.app_date >= first,
            r.app_date <= last,
        )

    def missing(
        self,
        instance_id: int,
        import_id: int,
        first: date,
        last: date,
        *,
        skip_statuses: Collection[str],
        after_lid: str,
        limit: int,
    ) -> list[StoredAppointment]:
        """Reservations from earlier files of the instance, not in import
        ``import_id``, on days ``first``..``last``, not in ``skip_statuses``: a
        page by APP_LID after ``after_lid``."""
        r = reservations.c
        query = (
            select(reservations)
            .select_from(
                file_appointments.join(
                    reservations,
                    and_(
                        reservations.c.instance_id == file_appointments.c.instance_id,
                        reservations.c.app_lid == file_appointments.c.app_lid,
                    ),
                )
            )
            .where(
                self._missing(instance_id, import_id, first, last),
                or_(r.status.is_(None), r.status.not_in(sorted(skip_statuses))),
                r.app_lid > after_lid,
            )
            .order_by(r.app_lid)
            .limit(limit)
        )
        found = []
        for row in self.connection.execute(query).mappings():
            fields = {column.upper(): row[column] for column in RESERVATION_FIELD_COLUMNS}
            found.append(
                StoredAppointment(
                    app_lid=row["app_lid"],
                    app_date=row["app_date"],
                    app_start_time=row["app_start_time"],
                    status=row["status"],
                    fields=fields,
                )
            )
        return found

    def held(self, instance_id: int, import_id: int, first: date, last: date) -> int:
        """How many reservations on days ``first``..``last`` import ``import_id`` holds."""
        f, r = file_appointments.c, reservations.c
        query = (
            select(func.count())
            .select_from(
                file_appointments.join(
                    reservations,
                    and_(r.instance_id == f.instance_id, r.app_lid == f.app_lid),
                )
            )
            .where(
                f.instance_id == instance_id,
                f.last_import_id == import_id,
                r.app_date >= first,
                r.app_date <= last,
            )
        )
        return int(self.connection.execute(query).scalar_one())


class FileExportRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def patient_changes(
        self, instance_id: int, after_seq: int, upto_seq: int, *, by: Iterable[str], limit: int
    ) -> list[PatientChange]:
        """Changes made by ``by`` (``ChangedBy`` values) numbered in (after, upto],
        in order, with their reservation's contact fields: a page of ``limit``."""
        ch, r = reservation_changes.c, reservations.c
        query = (
            select(
                ch.change_seq,
                ch.changed_at,
                ch.fields,
                r.app_lid,
                r.user_landline_phone,
                r.user_mobile_phone,
                r.user_email,
                r.resource_lid,
            )
            .select_from(
                reservation_changes.join(
                    reservations,
                    and_(r.id == ch.reservation_id, r.instance_id == ch.instance_id),
                )
            )
            .where(
                ch.instance_id == instance_id,
                ch.change_seq > after_seq,
                ch.change_seq <= upto_seq,
                ch.changed_by.in_(sorted(by)),
            )
            .order_by(ch.change_seq)
            .limit(limit)
        )
        return [
            PatientChange(
                change_seq=int(row["change_seq"]),
                changed_at=row["changed_at"],
                app_lid=row["app_lid"],
                user_landline_phone=row["user_landline_phone"],
                user_mobile_phone=row["user_mobile_phone"],
                user_email=row["user_email"],
                resource_lid=row["resource_lid"],
                values=dict(json.loads(row["fields"])),
            )
            for row in self.connection.execute(query).mappings()
        ]

    def unfinished(self, instance_id: int) -> FileExportRecord | None:
        c = file_exports.c
        query = (
            select(file_exports)
            .where(c.instance_id == instance_id, c.finished_at.is_(None))
            .order_by(c.id)
            .limit(1)
        )
        row = self.connection.execute(query).mappings().first()
        return _export(row) if row is not None else None

    def start(
        self,
        instance_id: int,
        *,
        name: str,
        after_seq: int,
        upto_seq: int,
        rows: int,
        now: datetime,
    ) -> int:
        result = self.connection.execute(
            insert(file_exports).values(
                instance_id=instance_id,
                name=name,
                after_seq=after_seq,
                upto_seq=upto_seq,
                rows=rows,
                started_at=now,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def finish(self, export_id: int, now: datetime) -> None:
        self.connection.execute(
            update(file_exports).where(file_exports.c.id == export_id).values(finished_at=now)
        )

    def recent(self, instance_id: int, limit: int) -> list[FileExportRecord]:
        c = file_exports.c
        query = (
            select(file_exports)
            .where(c.instance_id == instance_id)
            .order_by(c.id.desc())
            .limit(limit)
        )
        return [_export(row) for row in self.connection.execute(query).mappings()]
