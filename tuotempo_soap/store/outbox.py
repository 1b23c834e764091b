"""SQL of the message outbox: idempotent inserts, search, claiming and completion.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)
RETURNING`` on PostgreSQL, so any number of workers share the queue without
ever holding the same row; on SQLite the write transaction itself serialises
claimers (one worker is the supported setup there).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.message import MessageStatus
from .tables import instances, messages

_CLAIMABLE = (MessageStatus.QUEUED.value, MessageStatus.SENDING.value)
# What a provider may quote back: our random references, and (rows sent before
# references existed) our numeric ids.
REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_reference() -> str:
    """96 random bits in hex: accepted by any gateway's reference field, never guessable."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class MessageQuery:
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


class MessageRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self) -> Any:
        if self.connection.dialect.name == "postgresql":
            return postgresql.insert(messages)
        return sqlite.insert(messages)

    def by_legacy_ids(self, instance_id: int, legacy_ids: Iterable[str]) -> dict[str, RowMapping]:
        ids = list(legacy_ids)
        if not ids:
            return {}
        query = select(messages).where(
            messages.c.instance_id == instance_id, messages.c.legacy_id.in_(ids)
        )
        return {row["legacy_id"]: row for row in self.connection.execute(query).mappings()}

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

    def search(self, q: MessageQuery) -> Sequence[RowMapping]:
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
        statement = select(messages).where(and_(*conditions)).order_by(c.id).limit(q.limit)
        return self.connection.execute(statement).mappings().all()

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
            .where(
                c.next_attempt_at <= now,
                or_(c.expires_at.is_(None), c.expires_at > now),
                or_(
                    c.status == MessageStatus.QUEUED.value,
                    and_(c.status == MessageStatus.SENDING.value, c.lease_until < now),
                ),
            )
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

    def stamp_claimed(self, worker: str, providers: Mapping[int, str | None]) -> dict[int, str]:
        """Record which provider each claimed message goes to, before it is handed over,
        and give a reference to rows queued before references existed.

        Receipts and answers are then accepted only from that provider. Returns
        every message's reference.
        """
        if not providers:
            return {}
        c = messages.c
        ids = sorted(providers)
        missing = self.connection.execute(
            select(c.id).where(c.id.in_(ids), c.reference.is_(None))
        ).scalars()
        for message_id in missing:
            self.connection.execute(
                update(messages).where(c.id == message_id).values(reference=new_reference())
            )
        self.connection.execute(
            update(messages)
            .where(
                c.id == bindparam("row_id"),
                c.claimed_by == worker,
                c.status == MessageStatus.SENDING.value,
            )
            .values(provider=bindparam("provider_name")),
            [
                {"row_id": message_id, "provider_name": provider}
                for message_id, provider in providers.items()
            ],
        )
        query = select(c.id, c.reference).where(c.id.in_(ids))
        return {int(row_id): str(ref) for row_id, ref in self.connection.execute(query).all()}

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
        """``finish`` for many messages: one executemany UPDATE per shape of values
        (all sent: one statement), instead of one statement and transaction each.

        Returns the ids that may not have been finished (a receipt got there
        first, or the lease ran out); empty when the driver counts the rows of an
        executemany and all were ours. The caller treats those as ``finish``
        answering False.
        """
        c = messages.c
        shapes: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
        for message_id, values in outcomes:
            shapes.setdefault(tuple(sorted(values)), []).append((message_id, values))
        unsure: set[int] = set()
        for keys, group in shapes.items():
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
            if not sane or result.rowcount != len(group):
                unsure.update(message_id for message_id, _ in group)
        return unsure

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
    ) -> RowMapping | None:
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
            query = select(messages).where(
                handed_over, c.provider_message_id == provider_message_id
            )
            row = self.connection.execute(query).mappings().first()
            if row is not None:
                return row
        if not reference or not REFERENCE_PATTERN.fullmatch(reference):
            return None
        query = select(messages).where(handed_over, c.reference == reference)
        row = self.connection.execute(query).mappings().first()
        if row is not None or not reference.isdigit() or len(reference) > 18:
            return row
        legacy = select(messages).where(
            handed_over,
            c.id == int(reference),
            c.reference.is_(None),
            c.sent_at.is_not(None),
        )
        return self.connection.execute(legacy).mappings().first()

    def move(self, message_id: int, from_status: str, values: dict[str, Any]) -> bool:
        """Compare-and-set on status, so concurrent receipts cannot undo each other."""
        c = messages.c
        statement = (
            update(messages).where(c.id == message_id, c.status == from_status).values(**values)
        )
        return bool(self.connection.execute(statement).rowcount)
