"""SQL of the message outbox: idempotent inserts, search, claiming and completion.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING`` on PostgreSQL, so any number of workers share the queue without
ever holding the same row; on SQLite the write transaction itself serialises
claimers (one worker is the supported setup there).
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import Update

from ..domain.message import MessageStatus
from .columns import columns_of, record_factory
from .records import (
    REFERENCE_PATTERN,
    FailureCount,
    MessageAttemptRecord,
    MessageQuery,
    MessageRecord,
    QueueDepth,
)
from .tables import instances, message_attempts, messages

_CLAIMABLE = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
_MESSAGE = select(*columns_of(messages, MessageRecord))
_message = record_factory(MessageRecord)
_ATTEMPT = select(*columns_of(message_attempts, MessageAttemptRecord))
_attempt = record_factory(MessageAttemptRecord)
# Instances an operator switched off (``instances.disabled_at``): few or none.
_DISABLED_INSTANCES = select(instances.c.id).where(instances.c.disabled_at.is_not(None))


def new_reference() -> str:
    """96 random bits in hex: accepted by any gateway's reference field, never guessable."""
    return secrets.token_hex(12)


def _due(now: Any, status: ColumnElement[bool] | None = None) -> list[ColumnElement[bool]]:
    """What makes a message claimable at ``now`` (a datetime or a bound parameter):
    queued, or claimed by a worker whose lease has run out; ``status`` narrows
    that to one of the two."""
    c = messages.c
    if status is None:
        status = or_(_QUEUED, _lapsed(now))
    return [
        status,
        c.next_attempt_at <= now,
        or_(c.expires_at.is_(None), c.expires_at > now),
        # A disabled instance sends nothing: its messages wait, queued.
        c.instance_id.not_in(_DISABLED_INSTANCES),
    ]


_QUEUED = messages.c.status == MessageStatus.QUEUED.value


def _lapsed(now: Any) -> ColumnElement[bool]:
    return and_(messages.c.status == MessageStatus.SENDING.value, messages.c.lease_until < now)


def _array(name: str, column: str) -> ColumnElement[Any]:
    """A bound list, cast to an array of ``column``'s type (an array of only NULLs
    would otherwise be text[])."""
    return cast(bindparam(name), postgresql.ARRAY(messages.c[column].type))


def _lock_due(status: ColumnElement[bool]) -> Select[Any]:
    """Lock (SKIP LOCKED) up to ``_limit`` due messages of one ``status``, oldest
    first, with their instance's name and e-mail settings.

    One status per statement: then the (status, next_attempt_at) index hands
    the rows over in order and the scan stops at the limit, where an OR of
    the two made PostgreSQL read and sort every due message of the backlog
    at each claim (8 ms at 10,000 queued, growing with the backlog). The
    instance is joined to the locked rows only, not to the backlog.
    """
    c = messages.c
    locked = (
        select(c.id, c.channel, c.reference, c.instance_id)
        .where(*_due(bindparam("_now"), status))
        .order_by(c.next_attempt_at, c.id)
        .limit(bindparam("_limit"))
        .with_for_update(skip_locked=True)
        .subquery("locked")
    )
    return select(
        locked.c.id,
        locked.c.channel,
        locked.c.reference,
        instances.c.name,
        instances.c.email_from,
        instances.c.email_reply_to,
    ).join_from(locked, instances, locked.c.instance_id == instances.c.id)


# The worker's statements on PostgreSQL, built once: their values are bound
# parameters, so SQLAlchemy neither rebuilds them nor recomputes their cache
# key on every batch.
_LOCK_LAPSED = _lock_due(_lapsed(bindparam("_now")))  # few: only crashed workers leave them
_LOCK_QUEUED = _lock_due(_QUEUED)
_STAMPS = (
    func.unnest(
        _array("_ids", "id"), _array("_providers", "provider"), _array("_refs", "reference")
    )
    .table_valued("row_id", "provider", "reference")
    .render_derived(name="stamps")
)
_CLAIM_LOCKED = (
    update(messages)
    .where(messages.c.id == _STAMPS.c.row_id)
    .values(
        status=MessageStatus.SENDING.value,
        claimed_by=bindparam("_worker"),
        lease_until=bindparam("_lease_until"),
        attempts=messages.c.attempts + 1,
        updated_at=bindparam("_now"),
        provider=_STAMPS.c.provider,
        reference=_STAMPS.c.reference,
    )
    .returning(*messages.c)
)


@functools.cache
def _finish_from_arrays(keys: tuple[str, ...]) -> Update:
    """``finish`` for a group of messages sharing the columns ``keys``: one UPDATE
    ... FROM unnest(one array per column), returning the ids it finished."""
    c = messages.c
    given = (
        func.unnest(_array("_row_ids", "id"), *(_array(f"_new_{key}", key) for key in keys))
        .table_valued("row_id", *keys)
        .render_derived(name="given")
    )
    return (
        update(messages)
        .where(
            c.id == given.c.row_id,
            c.claimed_by == bindparam("_worker"),
            c.status == MessageStatus.SENDING.value,
        )
        .values({**{key: given.c[key] for key in keys}, "lease_until": None})
        .returning(c.id)
    )


# "gave up after 5 attempts: HTTP 503" and "... 3 attempts: HTTP 503" are one reason.
_GAVE_UP = re.compile(r"^gave up after \d+ attempts: ")
_REASON_LENGTH = 120


def failure_reason(last_error: str | None) -> str:
    """The reason a failure is counted under: the attempt count left out, cut short."""
    if not last_error:
        return "unknown"
    return _GAVE_UP.sub("", last_error)[:_REASON_LENGTH]


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self) -> Any:
        if self.connection.dialect.name == "postgresql":
            return postgresql.insert(messages)
        return sqlite.insert(messages)

    def by_legacy_ids(
        self, instance_id: int, legacy_ids: Iterable[str]
    ) -> dict[str, MessageRecord]:
        ids = list(legacy_ids)
        if not ids:
            return {}
        query = _MESSAGE.where(messages.c.instance_id == instance_id, messages.c.legacy_id.in_(ids))
        found = (_message(row) for row in self.connection.execute(query))
        return {record.legacy_id: record for record in found}

    def insert_new(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert in one statement; rows whose legacy id already exists are skipped.

        ON CONFLICT DO NOTHING makes two concurrent calls with the same legacy
        id queue one message: the loser simply gets no id back and reads the
        winner's afterwards.
        """
        if not rows:
            return {}
        rows = [{**row, "reference": row.get("reference") or new_reference()} for row in rows]
        statement = (
            self._insert()
            .on_conflict_do_nothing(index_elements=["instance_id", "legacy_id"])
            .returning(messages.c.legacy_id, messages.c.id)
        )
        result = self.connection.execute(statement, rows)
        return {legacy_id: int(row_id) for legacy_id, row_id in result.all()}

    def search(self, q: MessageQuery) -> list[MessageRecord]:
        c = messages.c
        conditions = [c.instance_id == q.instance_id, c.id > q.after_id]
        if q.legacy_id is not None:
            conditions.append(c.legacy_id == q.legacy_id)
        if q.recipients:
            conditions.append(c.recipient.in_(q.recipients))
        if q.channel is not None:
            conditions.append(c.channel == q.channel)
        if q.status is not None:
            conditions.append(c.status == q.status)
        if q.created_from is not None:
            conditions.append(c.created_at >= q.created_from)
        if q.created_to is not None:
            conditions.append(c.created_at < q.created_to)
        if q.sent_from is not None:
            conditions.append(c.sent_at >= q.sent_from)
        if q.sent_to is not None:
            conditions.append(c.sent_at < q.sent_to)
        statement = _MESSAGE.where(and_(*conditions)).order_by(c.id).limit(q.limit)
        return [_message(row) for row in self.connection.execute(statement)]

    def expire_due(self, now: datetime) -> int:
        """Messages past their expiry are never sent: mark them EXPIRED."""
        c = messages.c
        statement = (
            update(messages)
            .where(
                c.expires_at <= now,
                or_(
                    c.status == MessageStatus.QUEUED.value,
                    and_(c.status == MessageStatus.SENDING.value, c.lease_until < now),
                ),
            )
            .values(
                status=MessageStatus.EXPIRED.value,
                updated_at=now,
                lease_until=None,
                last_error="expired before it could be sent",
            )
        )
        return int(self.connection.execute(statement).rowcount)

    def claim(
        self, now: datetime, worker: str, lease_until: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` due messages for ``worker`` and return them with
        their instance's name and e-mail settings."""
        c = messages.c
        due = (
            select(c.id)
            .where(*_due(now))
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            update(messages)
            .where(c.id.in_(due))
            .values(
                status=MessageStatus.SENDING.value,
                claimed_by=worker,
                lease_until=lease_until,
                attempts=c.attempts + 1,
                updated_at=now,
            )
            .returning(*messages.c)
        )
        claimed = [dict(row) for row in self.connection.execute(statement).mappings()]
        if not claimed:
            return []
        owners = {row["instance_id"] for row in claimed}
        query = select(
            instances.c.id, instances.c.name, instances.c.email_from, instances.c.email_reply_to
        ).where(instances.c.id.in_(owners))
        by_id = {row["id"]: row for row in self.connection.execute(query).mappings()}
        for row in claimed:
            owner = by_id[row["instance_id"]]
            row["instance_name"] = owner["name"]
            row["email_from"] = owner["email_from"]
            row["email_reply_to"] = owner["email_reply_to"]
        claimed.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
        return claimed

    def claim_for_sending(
        self,
        now: datetime,
        worker: str,
        lease_until: datetime,
        limit: int,
        route: Callable[[str, str], str | None],
    ) -> list[dict[str, Any]]:
        """``claim`` and ``stamp_claimed`` at once: each row comes back with its
        ``provider`` (``route(instance name, channel)``) and ``reference`` set.

        On PostgreSQL that is two statements whatever the batch: a SELECT ...
        FOR UPDATE SKIP LOCKED of the due messages (their instance joined), then
        one UPDATE ... FROM unnest(ids, providers, references) that claims and
        stamps them, leaving one new row version per message instead of two.
        """
        if self.connection.dialect.name != "postgresql":
            claimed = self.claim(now, worker, lease_until, limit)
            providers = {
                int(row["id"]): route(row["instance_name"], row["channel"]) for row in claimed
            }
            references = self.stamp_claimed(
                worker, providers, {int(row["id"]): row["reference"] for row in claimed}
            )
            for row in claimed:
                row["provider"] = providers[int(row["id"])]
                row["reference"] = references[int(row["id"])]
            return claimed
        # Messages of a worker whose lease ran out first (they are the oldest),
        # then queued ones for the rest of the batch.
        locked = list(self.connection.execute(_LOCK_LAPSED, {"_now": now, "_limit": limit}))
        if len(locked) < limit:
            wanted = {"_now": now, "_limit": limit - len(locked)}
            locked += self.connection.execute(_LOCK_QUEUED, wanted).all()
        if not locked:
            return []
        owners = {int(row.id): row for row in locked}
        params = {
            "_now": now,
            "_worker": worker,
            "_lease_until": lease_until,
            "_ids": list(owners),
            "_providers": [route(row.name, row.channel) for row in locked],
            "_refs": [row.reference or new_reference() for row in locked],
        }
        claimed = [dict(row) for row in self.connection.execute(_CLAIM_LOCKED, params).mappings()]
        for row in claimed:
            owner = owners[int(row["id"])]
            row["instance_name"] = owner.name
            row["email_from"] = owner.email_from
            row["email_reply_to"] = owner.email_reply_to
        claimed.sort(key=lambda row: (row["next_attempt_at"], row["id"]))
        return claimed

    def stamp_claimed(
        self,
        worker: str,
        providers: Mapping[int, str | None],
        references: Mapping[int, str | None] | None = None,
    ) -> dict[int, str]:
        """Record which provider each claimed message goes to, before it is handed over,
        and give a reference to rows queued before references existed.

        Receipts and answers are then accepted only from that provider. Returns
        every message's reference. ``references`` (what ``claim`` returned, by
        id) spares reading them again: then one UPDATE per provider is all,
        whatever the number of messages.
        """
        if not providers:
            return {}
        c = messages.c
        ids = sorted(providers)
        if references is None:
            query = select(c.id, c.reference).where(c.id.in_(ids))
            references = {int(row_id): ref for row_id, ref in self.connection.execute(query).all()}
        known = {message_id: ref for message_id, ref in references.items() if ref}
        missing = [message_id for message_id in ids if message_id not in known]
        if missing:
            fresh = {message_id: new_reference() for message_id in missing}
            self.connection.execute(
                update(messages)
                .where(c.id == bindparam("_row_id"))
                .values(reference=bindparam("_reference")),
                [{"_row_id": mid, "_reference": ref} for mid, ref in fresh.items()],
            )
            known.update(fresh)
        by_provider: dict[str | None, list[int]] = {}
        for message_id, provider in providers.items():
            by_provider.setdefault(provider, []).append(message_id)
        for provider, message_ids in by_provider.items():
            self.connection.execute(
                update(messages)
                .where(
                    c.id.in_(sorted(message_ids)),
                    c.claimed_by == worker,
                    c.status == MessageStatus.SENDING.value,
                )
                .values(provider=provider)
            )
        return {message_id: known[message_id] for message_id in ids}

    def finish(self, message_id: int, worker: str, values: dict[str, Any]) -> bool:
        """Record a send attempt's outcome, only if this worker still holds the message.

        False means the lease ran out and someone else took it, or a receipt
        already moved it on; the caller then changes nothing.
        """
        c = messages.c
        statement = (
            update(messages)
            .where(
                c.id == message_id,
                c.claimed_by == worker,
                c.status == MessageStatus.SENDING.value,
            )
            .values(**values, lease_until=None)
        )
        return bool(self.connection.execute(statement).rowcount)

    def finish_many(self, worker: str, outcomes: Sequence[tuple[int, dict[str, Any]]]) -> set[int]:
        """``finish`` for many messages: one statement per shape of values (all
        sent: one statement), instead of one statement and transaction each.

        On PostgreSQL the statement is one ``UPDATE ... FROM unnest(arrays)``:
        one parse and one plan for the whole group, and ``RETURNING`` says
        exactly which rows were ours. Elsewhere it is an executemany.

        Returns the ids that may not have been finished (a receipt got there
        first, or the lease ran out); empty when all were ours. The caller
        treats those as ``finish`` answering False.
        """
        shapes: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
        for message_id, values in outcomes:
            shapes.setdefault(tuple(sorted(values)), []).append((message_id, values))
        unsure: set[int] = set()
        for keys, group in shapes.items():
            if self.connection.dialect.name == "postgresql":
                finished = self._finish_from_arrays(worker, keys, group)
                unsure.update(message_id for message_id, _ in group if message_id not in finished)
            else:
                unsure.update(self._finish_each(worker, keys, group))
        return unsure

    def _finish_from_arrays(
        self, worker: str, keys: tuple[str, ...], group: Sequence[tuple[int, dict[str, Any]]]
    ) -> set[int]:
        params: dict[str, Any] = {
            "_worker": worker,
            "_row_ids": [message_id for message_id, _ in group],
        }
        for key in keys:
            params[f"_new_{key}"] = [values[key] for _, values in group]
        result = self.connection.execute(_finish_from_arrays(keys), params)
        return {int(row_id) for row_id in result.scalars()}

    def _finish_each(
        self, worker: str, keys: tuple[str, ...], group: Sequence[tuple[int, dict[str, Any]]]
    ) -> set[int]:
        """One executemany; the ids it may not have finished."""
        c = messages.c
        # Bound names differ from the column names: SQLAlchemy reserves those in SET.
        statement = (
            update(messages)
            .where(
                c.id == bindparam("_row_id"),
                c.claimed_by == worker,
                c.status == MessageStatus.SENDING.value,
            )
            .values({**{key: bindparam(f"_new_{key}") for key in keys}, "lease_until": None})
        )
        params = [
            {"_row_id": message_id, **{f"_new_{key}": values[key] for key in keys}}
            for message_id, values in group
        ]
        result = self.connection.execute(statement, params)
        sane = self.connection.dialect.supports_sane_multi_rowcount
        if sane and result.rowcount == len(group):
            return set()
        return {message_id for message_id, _ in group}

    def add_attempts(self, attempts: Sequence[Mapping[str, Any]]) -> None:
        """Record send attempts (``message_attempts`` columns): one statement."""
        if attempts:
            self.connection.execute(insert(message_attempts), list(attempts))

    def attempts(self, instance_id: int, message_id: int) -> list[MessageAttemptRecord]:
        """A message's send attempts, in the order they were made."""
        c = message_attempts.c
        query = _ATTEMPT.where(c.message_id == message_id, c.instance_id == instance_id).order_by(
            c.id  # as made: a retried FAILED message counts its attempts anew
        )
        return [_attempt(row) for row in self.connection.execute(query)]

    def remember_provider_ids(self, provider_ids: Mapping[int, tuple[str, str]]) -> None:
        """``remember_provider_id`` for many messages ({id: (provider, provider id)}),
        skipping with one SELECT those that already carry one (the common case)."""
        if not provider_ids:
            return
        c = messages.c
        missing = self.connection.execute(
            select(c.id).where(c.id.in_(sorted(provider_ids)), c.provider_message_id.is_(None))
        ).scalars()
        params = [
            {
                "_row_id": int(message_id),
                "_provider": provider_ids[int(message_id)][0],
                "_provider_id": provider_ids[int(message_id)][1],
            }
            for message_id in missing
        ]
        if params:
            self.connection.execute(
                update(messages)
                .where(c.id == bindparam("_row_id"), c.provider_message_id.is_(None))
                .values(
                    provider=bindparam("_provider"), provider_message_id=bindparam("_provider_id")
                ),
                params,
            )

    def release(self, message_ids: list[int], worker: str, now: datetime) -> None:
        """Give unsent claimed messages back (their attempt is not counted)."""
        c = messages.c
        self.connection.execute(
            update(messages)
            .where(
                c.id.in_(message_ids),
                c.claimed_by == worker,
                c.status == MessageStatus.SENDING.value,
            )
            .values(
                status=MessageStatus.QUEUED.value,
                attempts=c.attempts - 1,
                lease_until=None,
                claimed_by=None,
                updated_at=now,
            )
        )

    def remember_provider_id(self, message_id: int, provider: str, provider_id: str | None) -> None:
        c = messages.c
        self.connection.execute(
            update(messages)
            .where(c.id == message_id, c.provider_message_id.is_(None))
            .values(provider=provider, provider_message_id=provider_id)
        )

    def for_receipt(
        self, provider: str, provider_message_id: str | None, reference: str | None
    ) -> MessageRecord | None:
        """The message a receipt of ``provider`` is about, if it went out through it.

        Only messages handed to this provider count: by the provider's own id, by
        our random reference (also while the worker is still recording the send:
        the provider can only know it if it got the message), or, for rows sent
        before references existed, by our numeric id once sent. A message still
        waiting in the queue, or sent through another provider, is never found.
        """
        c = messages.c
        handed_over = and_(c.provider == provider, c.status != MessageStatus.QUEUED.value)
        if provider_message_id:
            query = _MESSAGE.where(handed_over, c.provider_message_id == provider_message_id)
            row = self.connection.execute(query).first()
            if row is not None:
                return _message(row)
        if not reference or not REFERENCE_PATTERN.fullmatch(reference):
            return None
        query = _MESSAGE.where(handed_over, c.reference == reference)
        row = self.connection.execute(query).first()
        if row is None and reference.isdigit() and len(reference) <= 18:
            legacy = _MESSAGE.where(
                handed_over,
                c.id == int(reference),
                c.reference.is_(None),
                c.sent_at.is_not(None),
            )
            row = self.connection.execute(legacy).first()
        return None if row is None else _message(row)

    def move(self, message_id: int, from_status: str, values: Mapping[str, Any]) -> bool:
        """Compare-and-set on status, so concurrent receipts cannot undo each other."""
        c = messages.c
        statement = (
            update(messages).where(c.id == message_id, c.status == from_status).values(**values)
        )
        return bool(self.connection.execute(statement).rowcount)

    def get(self, instance_id: int, message_id: int) -> MessageRecord | None:
        """One message of one instance (another instance's id finds nothing)."""
        query = _MESSAGE.where(messages.c.instance_id == instance_id, messages.c.id == message_id)
        row = self.connection.execute(query).first()
        return None if row is None else _message(row)

    def by_ids(self, instance_id: int, message_ids: Iterable[int]) -> list[MessageRecord]:
        """These messages of one instance, by id (another instance's ids find nothing)."""
        wanted = sorted(set(message_ids))
        if not wanted:
            return []
        c = messages.c
        query = _MESSAGE.where(c.id.in_(wanted), c.instance_id == instance_id).order_by(c.id)
        return [_message(row) for row in self.connection.execute(query)]

    def requeue_failed(self, message_id: int, now: datetime) -> bool:
        """FAILED back to QUEUED, due ``now``, with a fresh round of attempts.

        The reference (the providers' idempotency key) is left as it is, and so
        is ``last_error`` until the next attempt says otherwise. Compare-and-set
        on FAILED: False if the message moved meanwhile.
        """
        c = messages.c
        statement = (
            update(messages)
            .where(c.id == message_id, c.status == MessageStatus.FAILED.value)
            .values(
                status=MessageStatus.QUEUED.value,
                next_attempt_at=now,
                attempts=0,
                failed_at=None,
                lease_until=None,
                claimed_by=None,
                updated_at=now,
            )
        )
        return bool(self.connection.execute(statement).rowcount)

    def cancel_queued(self, message_id: int, now: datetime, reason: str) -> bool:
        """QUEUED to CANCELLED; False if a worker claimed it (or it moved) meanwhile.

        The status check is in the UPDATE itself: on PostgreSQL a claim that
        commits first makes this statement see SENDING and change nothing.
        """
        c = messages.c
        statement = (
            update(messages)
            .where(c.id == message_id, c.status == MessageStatus.QUEUED.value)
            .values(
                status=MessageStatus.CANCELLED.value,
                last_error=reason,
                lease_until=None,
                updated_at=now,
            )
        )
        return bool(self.connection.execute(statement).rowcount)

    def queue_depth_by_provider(
        self, now: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[QueueDepth]:
        """Queued and in-flight messages per (provider, instance, channel), one
        statement read off the (status, next_attempt_at) index.

        ``instance_ids`` narrows to those instances (None: all of them).
        """
        c = messages.c
        is_due = and_(
            c.status == MessageStatus.QUEUED.value,
            c.next_attempt_at <= now,
            or_(c.expires_at.is_(None), c.expires_at > now),
        )
        query = select(
            c.provider,
            c.instance_id,
            c.channel,
            func.count().label("queued"),
            func.sum(case((c.status == MessageStatus.SENDING.value, 1), else_=0)).label("sending"),
            func.sum(case((is_due, 1), else_=0)).label("due"),
            func.min(case((is_due, c.next_attempt_at), else_=None)).label("oldest_due_at"),
        ).where(c.status.in_(_CLAIMABLE))
        if instance_ids is not None:
            query = query.where(c.instance_id.in_(sorted(set(instance_ids))))
        query = query.group_by(c.provider, c.instance_id, c.channel)
        rows = self.connection.execute(query).mappings().all()
        out = [
            QueueDepth(
                provider=row["provider"],
                instance_id=int(row["instance_id"]),
                channel=row["channel"],
                queued=int(row["queued"]),
                sending=int(row["sending"] or 0),
                due=int(row["due"] or 0),
                oldest_due_at=row["oldest_due_at"],
            )
            for row in rows
        ]
        out.sort(key=lambda q: (q.provider or "", q.instance_id, q.channel))
        return out

    def failures_by_reason(
        self, since: datetime, instance_ids: Iterable[int] | None = None
    ) -> list[FailureCount]:
        """Messages that ended FAILED since ``since``, counted per provider and
        reason (``failure_reason``), most frequent first.

        Reasons are the senders' own texts, which never quote the recipient
        (the senders redact it before anything is stored).
        """
        c = messages.c
        query = select(c.provider, c.last_error, func.count().label("n")).where(
            c.status == MessageStatus.FAILED.value, c.failed_at >= since
        )
        if instance_ids is not None:
            query = query.where(c.instance_id.in_(sorted(set(instance_ids))))
        query = query.group_by(c.provider, c.last_error)
        counts: dict[tuple[str | None, str], int] = {}
        for provider, last_error, n in self.connection.execute(query).all():
            key = (provider, failure_reason(last_error))
            counts[key] = counts.get(key, 0) + int(n)
        return [
            FailureCount(provider, reason, n)
            for (provider, reason), n in sorted(
                counts.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1])
            )
        ]
