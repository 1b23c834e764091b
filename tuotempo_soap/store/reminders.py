"""SQL of reminders: rules, planned communications, the operator's event log,
and the queue of cancellations to forward to clinics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    and_,
    bindparam,
    case,
    delete,
    desc,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from .columns import columns_of, record_factory
from .records import (
    CallbackRecord,
    CallbackSummary,
    ClinicCallbackRecord,
    ReminderEventRecord,
    ReminderRecord,
    ReminderSettingsRecord,
    SentReminder,
    ids_of,
)
from .tables import (
    answer_link_uses,
    clinic_callbacks,
    instances,
    messages,
    reminder_events,
    reminder_links,
    reminder_settings,
    reminders,
    reply_questions,
)

_SENT = ("SENT", "DELIVERED")
_SETTINGS = select(*columns_of(reminder_settings, ReminderSettingsRecord))
_REMINDER_COLUMNS = columns_of(reminders, ReminderRecord)
_REMINDER = select(*_REMINDER_COLUMNS)
_settings = record_factory(ReminderSettingsRecord)
_reminder = record_factory(ReminderRecord)
_event = record_factory(ReminderEventRecord)
_callback = record_factory(ClinicCallbackRecord)


class ReminderSettingsRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, instance_id: int) -> ReminderSettingsRecord | None:
        query = _SETTINGS.where(reminder_settings.c.instance_id == instance_id)
        row = self.connection.execute(query).first()
        return None if row is None else _settings(row)

    def all(self) -> list[ReminderSettingsRecord]:
        return [_settings(row) for row in self.connection.execute(_SETTINGS)]

    def save(self, instance_id: int, rules_json: str, now: datetime) -> None:
        if self.get(instance_id) is None:
            self.connection.execute(
                insert(reminder_settings).values(
                    instance_id=instance_id, rules_json=rules_json, planner_seq=0, updated_at=now
                )
            )
        else:
            self.connection.execute(
                update(reminder_settings)
                .where(reminder_settings.c.instance_id == instance_id)
                .values(rules_json=rules_json, updated_at=now)
            )

    def lock_for_planning(self, instance_id: int) -> int:
        """Take the instance's planner lock; return where the planner stands.

        A no-op UPDATE is the portable row lock (SQLite's IMMEDIATE transaction
        already serialises writers). Read under it, the position is the one the
        last planner committed, so two workers never plan the same changes.
        """
        c = reminder_settings.c
        self.connection.execute(
            update(reminder_settings)
            .where(c.instance_id == instance_id)
            .values(planner_seq=c.planner_seq)
        )
        query = select(c.planner_seq).where(c.instance_id == instance_id)
        return int(self.connection.execute(query).scalar_one())

    def advance(self, instance_id: int, seq: int) -> None:
        self.connection.execute(
            update(reminder_settings)
            .where(reminder_settings.c.instance_id == instance_id)
            .values(planner_seq=seq)
        )


class ReminderRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def for_reservations(
        self, instance_id: int, reservation_ids: Iterable[int]
    ) -> dict[int, list[ReminderRecord]]:
        """Reminders about each of these reservations, in one query."""
        wanted = sorted(set(reservation_ids))
        found: dict[int, list[ReminderRecord]] = {rid: [] for rid in wanted}
        if not wanted:
            return found
        # Two indexed lookups; as one join SQLite's planner walks every reminder
        # of the instance (measured: seconds for a batch of 1,000).
        pairs = self.connection.execute(
            select(reminder_links.c.reminder_id, reminder_links.c.reservation_id).where(
                reminder_links.c.reservation_id.in_(wanted)
            )
        ).all()
        if not pairs:
            return found
        query = _REMINDER.where(
            reminders.c.instance_id == instance_id,
            reminders.c.id.in_(sorted({int(reminder_id) for reminder_id, _ in pairs})),
        )
        by_id = {row.id: row for row in map(_reminder, self.connection.execute(query))}
        for reminder_id, reservation_id in sorted(pairs):
            row = by_id.get(int(reminder_id))
            if row is not None:
                found[int(reservation_id)].append(row)
        return found

    def by_keys(self, instance_id: int, keys: Iterable[str]) -> dict[str, ReminderRecord]:
        wanted = list(keys)
        if not wanted:
            return {}
        query = _REMINDER.where(reminders.c.instance_id == instance_id, reminders.c.key.in_(wanted))
        return {row.key: row for row in map(_reminder, self.connection.execute(query))}

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Insert reminders and their links to reservations (two statements)."""
        if not rows:
            return
        result = self.connection.execute(
            insert(reminders).returning(reminders.c.id, reminders.c.key), rows
        )
        ids = {key: int(reminder_id) for reminder_id, key in result.all()}
        links = [
            {"reminder_id": ids[row["key"]], "reservation_id": reservation_id}
            for row in rows
            for reservation_id in ids_of(row["reservation_ids"])
        ]
        self.connection.execute(insert(reminder_links), links)

    def replan_many(self, changes: list[dict[str, Any]]) -> None:
        """Update planned reminders and their links in bulk (``row_id`` + columns)."""
        if not changes:
            return
        columns = [key for key in changes[0] if key != "row_id"]
        self.connection.execute(
            update(reminders)
            .where(reminders.c.id == bindparam("row_id"))
            .values({column: bindparam(column) for column in columns}),
            changes,
        )
        ids = [change["row_id"] for change in changes]
        self.connection.execute(delete(reminder_links).where(reminder_links.c.reminder_id.in_(ids)))
        links = [
            {"reminder_id": change["row_id"], "reservation_id": rid}
            for change in changes
            for rid in ids_of(change["reservation_ids"])
        ]
        self.connection.execute(insert(reminder_links), links)

    def change(self, reminder_id: int, values: Mapping[str, Any]) -> None:
        self.connection.execute(
            update(reminders).where(reminders.c.id == reminder_id).values(**values)
        )

    def cancel_planned(self, ids: Iterable[int], reason: str, now: datetime) -> None:
        wanted = list(ids)
        if wanted:
            self.connection.execute(
                update(reminders)
                .where(reminders.c.id.in_(wanted), reminders.c.status == "PLANNED")
                .values(status="CANCELLED", reason=reason, updated_at=now)
            )

    def due(self, now: datetime, limit: int) -> list[ReminderRecord]:
        query = (
            _REMINDER.where(
                reminders.c.status == "PLANNED",
                reminders.c.due_at <= now,
                # A disabled instance's reminders stay planned; once it is on
                # again, those whose appointment is past are skipped as usual.
                reminders.c.instance_id.not_in(
                    select(instances.c.id).where(instances.c.disabled_at.is_not(None))
                ),
            )
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
        )
        return [_reminder(row) for row in self.connection.execute(query)]

    def planned_between(
        self, instance_id: int, start: datetime, end: datetime
    ) -> Sequence[RowMapping]:
        c = reminders.c
        query = (
            select(reminders)
            .where(c.instance_id == instance_id, c.due_at >= start, c.due_at < end)
            .order_by(c.due_at, c.id)
        )
        return self.connection.execute(query).mappings().all()

    def sent_through(
        self,
        provider: str,
        channel: str,
        recipients: Sequence[str],
        kinds: Sequence[str],
        *,
        limit: int = 50,
    ) -> list[SentReminder]:
        """Reminders that went out to this number through this provider on this
        channel, newest first, with their message's ``sent_at`` and sender id or
        number."""
        c, m = reminders.c, messages.c
        query = (
            select(*_REMINDER_COLUMNS, m.sent_at, m.sender)
            .join(messages, and_(m.id == c.message_id, m.instance_id == c.instance_id))
            .where(
                m.provider == provider,
                m.channel == channel,
                m.recipient.in_(recipients),
                m.status.in_(_SENT),
                c.kind.in_(kinds),
            )
            .order_by(desc(m.sent_at), desc(c.id))
            .limit(limit)
        )
        return [
            SentReminder(_reminder(row[:-2]), row[-2], row[-1])
            for row in self.connection.execute(query)
        ]

    def by_reference(
        self,
        provider: str,
        channel: str,
        reference: str,
        kinds: Sequence[str],
        *,
        recipients: Sequence[str] = (),
    ) -> ReminderRecord | None:
        """The reminder whose message went out through this provider on this channel
        under this reference: our random one (also while the worker is still
        recording the send: only the provider can know it), or, for messages sent
        before references existed, our numeric id."""
        c, m = reminders.c, messages.c
        quoted = and_(m.reference == reference, m.status.in_(("SENDING", *_SENT)))
        if reference.isdigit() and len(reference) <= 18:
            quoted = or_(
                quoted,
                and_(m.id == int(reference), m.reference.is_(None), m.status.in_(_SENT)),
            )
        conditions = [m.provider == provider, m.channel == channel, c.kind.in_(kinds), quoted]
        if recipients:
            conditions.append(m.recipient.in_(recipients))
        query = (
            _REMINDER.join(messages, and_(m.id == c.message_id, m.instance_id == c.instance_id))
            .where(*conditions)
            .limit(1)
        )
        row = self.connection.execute(query).first()
        return None if row is None else _reminder(row)

    def get(self, reminder_id: int) -> ReminderRecord | None:
        row = self.connection.execute(_REMINDER.where(reminders.c.id == reminder_id)).first()
        return None if row is None else _reminder(row)

    def for_message(self, instance_id: int, message_id: int) -> list[ReminderRecord]:
        """The reminders that became this message (``ix_reminders_message``)."""
        c = reminders.c
        query = _REMINDER.where(c.message_id == message_id, c.instance_id == instance_id)
        return [_reminder(row) for row in self.connection.execute(query.order_by(c.id))]


class EventRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.connection.execute(insert(reminder_events), rows)

    def for_reservation(self, instance_id: int, reservation_id: int) -> list[ReminderEventRecord]:
        c = reminder_events.c
        query = (
            select(*columns_of(reminder_events, ReminderEventRecord))
            .where(c.instance_id == instance_id, c.reservation_id == reservation_id)
            .order_by(c.at, c.id)
        )
        return [_event(row) for row in self.connection.execute(query)]


class CallbackRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def summary(self, instance_id: int, now: datetime) -> CallbackSummary:
        """Counts by state in one statement."""
        c = clinic_callbacks.c
        pending = c.status == "PENDING"
        query = select(
            func.sum(case((pending, 1), else_=0)),
            func.sum(case((and_(pending, c.next_attempt_at <= now), 1), else_=0)),
            func.sum(case((and_(pending, c.attempts > 0), 1), else_=0)),
            func.sum(case((c.status == "FAILED", 1), else_=0)),
            func.sum(case((c.status == "DONE", 1), else_=0)),
            func.min(case((pending, c.created_at), else_=None)),
        ).where(c.instance_id == instance_id)
        row = self.connection.execute(query).one()
        return CallbackSummary(
            pending=int(row[0] or 0),
            due=int(row[1] or 0),
            retried=int(row[2] or 0),
            failed=int(row[3] or 0),
            done=int(row[4] or 0),
            oldest_pending_at=row[5],
        )

    def open_records(self, instance_id: int, limit: int) -> list[CallbackRecord]:
        """Pending and failed calls, the most recently touched first."""
        c = clinic_callbacks.c
        query = (
            select(
                c.id,
                c.reservation_id,
                c.app_lid,
                c.action,
                c.status,
                c.attempts,
                c.next_attempt_at,
                c.last_error,
                c.created_at,
                c.updated_at,
            )
            .where(c.instance_id == instance_id, c.status.in_(("PENDING", "FAILED")))
            .order_by(c.updated_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [
            CallbackRecord(
                id=int(row["id"]),
                reservation_id=int(row["reservation_id"]),
                app_lid=row["app_lid"],
                action=row["action"],
                status=row["status"],
                attempts=int(row["attempts"]),
                next_attempt_at=row["next_attempt_at"],
                last_error=row["last_error"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
            )
            for row in self.connection.execute(query).mappings()
        ]

    def exists(self, instance_id: int, reservation_id: int, action: str) -> bool:
        c = clinic_callbacks.c
        query = select(c.id).where(
            c.instance_id == instance_id, c.reservation_id == reservation_id, c.action == action
        )
        return self.connection.execute(query).first() is not None

    def add(self, row: dict[str, Any]) -> None:
        self.connection.execute(insert(clinic_callbacks).values(**row))

    def add_new(self, rows: list[dict[str, Any]]) -> None:
        """Queue calls in one statement; one already queued for the same
        reservation and action (also by a concurrent answer) is left as it is."""
        if not rows:
            return
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(clinic_callbacks).on_conflict_do_nothing(
            index_elements=["instance_id", "reservation_id", "action"]
        )
        self.connection.execute(statement, rows)

    def due(self, now: datetime, limit: int) -> list[ClinicCallbackRecord]:
        """Pending calls whose time has come, the earliest first."""
        c = clinic_callbacks.c
        query = (
            select(*columns_of(clinic_callbacks, ClinicCallbackRecord))
            .where(c.status == "PENDING", c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        return [_callback(row) for row in self.connection.execute(query)]

    def record(self, callback_id: int, values: Mapping[str, Any]) -> None:
        self.connection.execute(
            update(clinic_callbacks).where(clinic_callbacks.c.id == callback_id).values(**values)
        )

    def for_instance(self, instance_id: int) -> Sequence[RowMapping]:
        query = select(clinic_callbacks).where(clinic_callbacks.c.instance_id == instance_id)
        return self.connection.execute(query).mappings().all()


class AnswerLinkRepository:
    """Which e-mail answer links were already used (one answer per link)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def claim(self, reminder_id: int, action: str, now: datetime) -> bool:
        """Mark the link used; False when it already was (also by a concurrent request)."""
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(answer_link_uses)
            .values(reminder_id=reminder_id, action=action, used_at=now)
            .on_conflict_do_nothing(index_elements=["reminder_id", "action"])
        )
        return bool(self.connection.execute(statement).rowcount)

    def used(self, reminder_id: int, action: str) -> bool:
        c = answer_link_uses.c
        query = select(c.used_at).where(c.reminder_id == reminder_id, c.action == action)
        return self.connection.execute(query).first() is not None


class ReplyQuestionRepository:
    """Questions "which appointment do you mean?" sent to a number; the newest counts."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(
        self, provider: str, recipient: str, reminder_ids: Sequence[int], now: datetime
    ) -> None:
        self.connection.execute(
            insert(reply_questions).values(
                provider=provider,
                recipient=recipient,
                reminder_ids=",".join(str(i) for i in reminder_ids),
                created_at=now,
            )
        )

    def latest(self, provider: str, recipients: Sequence[str], since: datetime) -> list[int] | None:
        """The reminders listed, in the order the patient saw them, or None."""
        c = reply_questions.c
        query = (
            select(c.reminder_ids)
            .where(c.provider == provider, c.recipient.in_(recipients), c.created_at >= since)
            .order_by(desc(c.created_at), desc(c.id))
            .limit(1)
        )
        found = self.connection.execute(query).scalar()
        return _listed(found) if found else None

    def forget_older_than(self, before: datetime) -> int:
        """Delete the questions asked before ``before`` (no longer answerable:
        they hold the patient's number and nothing else needs them)."""
        statement = delete(reply_questions).where(reply_questions.c.created_at < before)
        return int(self.connection.execute(statement).rowcount)

    def forget_instance(self, instance_id: int) -> int:
        """Delete the questions that list a reminder of ``instance_id``.

        A question may list reminders of several instances (the patient is
        asked which clinic they mean), so it names no instance: the listed
        reminders say whose it is. Only answerable questions are kept
        (``forget_older_than``), so this reads a handful of rows.
        """
        c = reply_questions.c
        asked = {
            int(question_id): _listed(listed)
            for question_id, listed in self.connection.execute(select(c.id, c.reminder_ids))
        }
        listed_ids = sorted({reminder_id for ids in asked.values() for reminder_id in ids})
        if not listed_ids:
            return 0
        theirs = set(
            self.connection.execute(
                select(reminders.c.id).where(
                    reminders.c.instance_id == instance_id, reminders.c.id.in_(listed_ids)
                )
            ).scalars()
        )
        doomed = [question_id for question_id, ids in asked.items() if theirs.intersection(ids)]
        if not doomed:
            return 0
        statement = delete(reply_questions).where(c.id.in_(doomed))
        return int(self.connection.execute(statement).rowcount)


def _listed(reminder_ids: str) -> list[int]:
    """A question's reminders, in the order the patient saw them."""
    return [int(part) for part in reminder_ids.split(",") if part]
