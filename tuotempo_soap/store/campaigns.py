"""SQL of campaigns (guide A.6): campaigns, their recipients, the opt-out list,
and the outbox reads a campaign's report and a STOP reply need.

Repositories take an open connection and answer with the dataclasses below,
never with rows. A batch is a statement: recipients are inserted and marked
with one executemany each, opt-outs looked up with one ``IN``, and a report is
one ``GROUP BY`` over the campaign's recipients joined to their messages.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    RowMapping,
    and_,
    bindparam,
    cast,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ..domain.campaigns import CampaignState, RecipientState
from ..domain.message import MessageStatus
from .tables import campaign_opt_outs, campaign_recipients, campaigns, messages

# Rows per INSERT or UPDATE statement (SQLite allows 32766 bound values).
_CHUNK = 2000


@dataclass(frozen=True)
class CampaignRecord:
    id: int
    instance_id: int
    name: str
    channel: str
    texts: str  # JSON: {language: {"text": ..., "subject": ...}}
    default_language: str
    filters: str | None
    source: str
    source_name: str | None
    rows_read: int
    filtered_out: int
    invalid: int
    duplicates: int
    recipients: int
    problems: str | None  # JSON: [[line, why], ...]
    rate_per_minute: int
    quiet_hours: str | None
    send_after: datetime | None
    state: str
    created_at: datetime
    created_by: str
    started_at: datetime | None
    started_by: str | None
    first_due_at: datetime | None
    last_due_at: datetime | None
    queuing_until: datetime | None


@dataclass(frozen=True)
class RecipientRecord:
    id: int
    address: str
    language: str
    state: str
    message_id: int | None


@dataclass(frozen=True)
class RecipientLine:
    """A recipient as the status page lists it: its message's status and times."""

    id: int
    address: str
    language: str
    state: str
    message_id: int | None
    status: str | None
    due_at: datetime | None
    sent_at: datetime | None


@dataclass(frozen=True)
class LanguageCount:
    language: str
    recipients: int
    opted_out: int  # of those, on the instance's opt-out list now


@dataclass(frozen=True)
class StatusCount:
    """Recipients of a campaign in one (recipient state, message status)."""

    state: str
    status: str | None
    count: int


def _campaign(row: RowMapping) -> CampaignRecord:
    return CampaignRecord(**{key: row[key] for key in CampaignRecord.__dataclass_fields__})


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


class CampaignRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, values: Mapping[str, Any]) -> int:
        result = self.connection.execute(
            insert(campaigns).values(**values).returning(campaigns.c.id)
        )
        return int(result.scalar_one())

    def add_recipients(
        self, campaign_id: int, instance_id: int, recipients: Sequence[tuple[str, str]]
    ) -> None:
        """(address, language) pairs, each address once (the caller dropped repeats)."""
        for chunk in _chunks(recipients):
            self.connection.execute(
                insert(campaign_recipients),
                [
                    {
                        "campaign_id": campaign_id,
                        "instance_id": instance_id,
                        "address": address,
                        "language": language,
                        "state": RecipientState.PENDING.value,
                    }
                    for address, language in chunk
                ],
            )

    def get(self, instance_id: int, campaign_id: int) -> CampaignRecord | None:
        """One campaign of one instance (another instance's id finds nothing)."""
        query = select(campaigns).where(
            campaigns.c.instance_id == instance_id, campaigns.c.id == campaign_id
        )
        row = self.connection.execute(query).mappings().first()
        return None if row is None else _campaign(row)

    def page(self, instance_id: int, before_id: int | None, limit: int) -> list[CampaignRecord]:
        """An instance's campaigns, newest first (keyset on the id)."""
        query = select(campaigns).where(campaigns.c.instance_id == instance_id)
        if before_id is not None:
            query = query.where(campaigns.c.id < before_id)
        query = query.order_by(campaigns.c.id.desc()).limit(limit)
        return [_campaign(row) for row in self.connection.execute(query).mappings()]

    def language_counts(self, campaign_id: int) -> list[LanguageCount]:
        """Recipients per language, and how many of them are opted out now."""
        r, o = campaign_recipients.c, campaign_opt_outs.c
        query = (
            select(r.language, func.count().label("n"), func.count(o.address).label("out"))
            .select_from(
                campaign_recipients.outerjoin(
                    campaign_opt_outs,
                    and_(o.instance_id == r.instance_id, o.address == r.address),
                )
            )
            .where(r.campaign_id == campaign_id)
            .group_by(r.language)
            .order_by(r.language)
        )
        return [
            LanguageCount(language, int(n), int(out))
            for language, n, out in self.connection.execute(query).all()
        ]

    def begin_start(self, campaign_id: int, by: str, now: datetime, until: datetime) -> bool:
        """DRAFT -> QUEUING with the queuing lease until ``until`` (compare-and-set);
        False when it was not a draft."""
        c = campaigns.c
        statement = (
            update(campaigns)
            .where(c.id == campaign_id, c.state == CampaignState.DRAFT.value)
            .values(
                state=CampaignState.QUEUING.value,
                started_at=now,
                started_by=by,
                queuing_until=until,
            )
        )
        return bool(self.connection.execute(statement).rowcount)

    def take_queuing(self, campaign_id: int, now: datetime, until: datetime) -> bool:
        """The queuing lease of a QUEUING campaign nobody holds (or whose holder
        stopped renewing it); False when it is held, or the campaign is not QUEUING."""
        c = campaigns.c
        statement = (
            update(campaigns)
            .where(
                c.id == campaign_id,
                c.state == CampaignState.QUEUING.value,
                or_(c.queuing_until.is_(None), c.queuing_until < now),
            )
            .values(queuing_until=until)
        )
        return bool(self.connection.execute(statement).rowcount)

    def finish_queuing(self, campaign_id: int, *, done: bool) -> None:
        """Give the lease back; ``done``: every recipient is queued or skipped."""
        c = campaigns.c
        values: dict[str, Any] = {"queuing_until": None}
        if done:
            values["state"] = CampaignState.STARTED.value
        self.connection.execute(
            update(campaigns)
            .where(c.id == campaign_id, c.state == CampaignState.QUEUING.value)
            .values(**values)
        )

    def resumable(self, now: datetime) -> list[tuple[int, int]]:
        """(instance, campaign) of the QUEUING campaigns whose lease is free."""
        c = campaigns.c
        query = (
            select(c.instance_id, c.id)
            .where(
                c.state == CampaignState.QUEUING.value,
                or_(c.queuing_until.is_(None), c.queuing_until < now),
            )
            .order_by(c.id)
        )
        return [
            (int(instance_id), int(row_id))
            for instance_id, row_id in self.connection.execute(query)
        ]

    def pending(self, campaign_id: int, limit: int) -> list[RecipientRecord]:
        """The next recipients not queued yet, in list order."""
        r = campaign_recipients.c
        query = (
            select(r.id, r.address, r.language, r.state, r.message_id)
            .where(r.campaign_id == campaign_id, r.state == RecipientState.PENDING.value)
            .order_by(r.id)
            .limit(limit)
        )
        return [
            RecipientRecord(int(row.id), row.address, row.language, row.state, row.message_id)
            for row in self.connection.execute(query)
        ]

    def count_pending(self, campaign_id: int) -> int:
        r = campaign_recipients.c
        query = select(func.count()).where(
            r.campaign_id == campaign_id, r.state == RecipientState.PENDING.value
        )
        return int(self.connection.execute(query).scalar_one())

    def mark(
        self,
        campaign_id: int,
        *,
        queued: Mapping[int, int],
        skipped: Mapping[str, Collection[int]],
        first_due: datetime | None,
        last_due: datetime | None,
        lease_until: datetime,
    ) -> None:
        """Recipients queued (recipient id -> message id) or skipped (state ->
        recipient ids), how far the campaign's schedule got, and the queuing
        lease renewed."""
        r = campaign_recipients.c
        pairs = sorted(queued.items())
        if pairs and self.connection.dialect.name == "postgresql":
            # One UPDATE ... FROM unnest(ids, message ids) for the whole batch.
            given = (
                func.unnest(
                    cast(bindparam("_ids"), postgresql.ARRAY(BigInteger())),
                    cast(bindparam("_mids"), postgresql.ARRAY(BigInteger())),
                )
                .table_valued("rid", "mid")
                .render_derived(name="given")
            )
            self.connection.execute(
                update(campaign_recipients)
                .where(r.id == given.c.rid, r.state == RecipientState.PENDING.value)
                .values(state=RecipientState.QUEUED.value, message_id=given.c.mid),
                {"_ids": [rid for rid, _ in pairs], "_mids": [mid for _, mid in pairs]},
            )
        elif pairs:
            statement = (
                update(campaign_recipients)
                .where(r.id == bindparam("_row_id"), r.state == RecipientState.PENDING.value)
                .values(state=RecipientState.QUEUED.value, message_id=bindparam("_message_id"))
            )
            for chunk in _chunks(pairs):
                self.connection.execute(
                    statement,
                    [{"_row_id": rid, "_message_id": mid} for rid, mid in chunk],
                )
        for state, ids in skipped.items():
            for chunk in _chunks(sorted(ids)):
                self.connection.execute(
                    update(campaign_recipients)
                    .where(r.id.in_(chunk), r.state == RecipientState.PENDING.value)
                    .values(state=state)
                )
        c = campaigns.c
        values: dict[str, Any] = {"queuing_until": lease_until}
        if first_due is not None:
            values["first_due_at"] = func.coalesce(c.first_due_at, first_due)
        if last_due is not None:
            values["last_due_at"] = last_due
        self.connection.execute(update(campaigns).where(c.id == campaign_id).values(**values))

    def report(self, campaign_id: int) -> list[StatusCount]:
        """Recipients by their state and their message's outbox status."""
        r, m = campaign_recipients.c, messages.c
        query = (
            select(r.state, m.status, func.count())
            .select_from(campaign_recipients.outerjoin(messages, m.id == r.message_id))
            .where(r.campaign_id == campaign_id)
            .group_by(r.state, m.status)
        )
        return [
            StatusCount(state, status, int(n))
            for state, status, n in self.connection.execute(query).all()
        ]

    def lines(self, campaign_id: int, after_id: int, limit: int) -> list[RecipientLine]:
        """Recipients in list order after ``after_id``, with their message's status."""
        r, m = campaign_recipients.c, messages.c
        query = (
            select(
                r.id,
                r.address,
                r.language,
                r.state,
                r.message_id,
                m.status,
                m.next_attempt_at,
                m.sent_at,
            )
            .select_from(campaign_recipients.outerjoin(messages, m.id == r.message_id))
            .where(r.campaign_id == campaign_id, r.id > after_id)
            .order_by(r.id)
            .limit(limit)
        )
        return [
            RecipientLine(
                int(row.id),
                row.address,
                row.language,
                row.state,
                row.message_id,
                row.status,
                row.next_attempt_at,
                row.sent_at,
            )
            for row in self.connection.execute(query)
        ]

    def cancel_queued(
        self, instance_id: int, addresses: Collection[str], now: datetime, reason: str
    ) -> int:
        """Cancel this instance's campaign messages to ``addresses`` still waiting
        in the outbox (QUEUED: none a worker holds); how many."""
        if not addresses:
            return 0
        r, m = campaign_recipients.c, messages.c
        theirs = (
            select(r.message_id)
            .where(
                r.instance_id == instance_id,
                r.address.in_(sorted(addresses)),
                r.message_id.is_not(None),
            )
            .scalar_subquery()
        )
        statement = (
            update(messages)
            .where(
                m.instance_id == instance_id,
                m.id.in_(theirs),
                m.status == MessageStatus.QUEUED.value,
            )
            .values(
                status=MessageStatus.CANCELLED.value,
                last_error=reason,
                lease_until=None,
                updated_at=now,
            )
        )
        return int(self.connection.execute(statement).rowcount)


class OptOutRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _insert(self) -> Any:
        if self.connection.dialect.name == "postgresql":
            return postgresql.insert(campaign_opt_outs)
        return sqlite.insert(campaign_opt_outs)

    def add(self, instance_id: int, addresses: Collection[str], source: str, now: datetime) -> int:
        """Opt these addresses out (those already out stay as they were); how many
        were new."""
        if not addresses:
            return 0
        statement = (
            self._insert()
            .on_conflict_do_nothing(index_elements=["instance_id", "address"])
            .returning(campaign_opt_outs.c.address)
        )
        rows = [
            {"instance_id": instance_id, "address": address, "source": source, "created_at": now}
            for address in sorted(set(addresses))
        ]
        return len(self.connection.execute(statement, rows).all())

    def among(self, instance_id: int, addresses: Collection[str]) -> set[str]:
        """Which of ``addresses`` have opted out of this instance's campaigns."""
        found: set[str] = set()
        o = campaign_opt_outs.c
        for chunk in _chunks(sorted(set(addresses))):
            query = select(o.address).where(o.instance_id == instance_id, o.address.in_(chunk))
            found.update(self.connection.execute(query).scalars())
        return found

    def remove(self, instance_id: int, address: str) -> bool:
        o = campaign_opt_outs.c
        statement = campaign_opt_outs.delete().where(
            o.instance_id == instance_id, o.address == address
        )
        return bool(self.connection.execute(statement).rowcount)

    def count(self, instance_id: int) -> int:
        query = select(func.count()).where(campaign_opt_outs.c.instance_id == instance_id)
        return int(self.connection.execute(query).scalar_one())

    def senders_to(
        self, provider: str, recipients: Collection[str]
    ) -> list[tuple[int, str | None, str]]:
        """(instance, sender id, recipient) of the SMS sent to one of ``recipients``
        through ``provider`` (handed over: a queued one was never seen)."""
        m = messages.c
        query = (
            select(m.instance_id, m.sender, m.recipient)
            .where(
                m.provider == provider,
                m.recipient.in_(sorted(recipients)),
                m.channel == "SMS",
                m.status != MessageStatus.QUEUED.value,
            )
            .distinct()
        )
        return [
            (int(instance_id), sender, recipient)
            for instance_id, sender, recipient in self.connection.execute(query)
        ]

    def sender_of_reference(
        self, provider: str, reference: str, recipients: Collection[str]
    ) -> tuple[int, str] | None:
        """(instance, recipient) of our SMS with this reference, sent to one of
        ``recipients`` through ``provider``; None when there is none."""
        m = messages.c
        query = select(m.instance_id, m.recipient).where(
            m.provider == provider,
            m.reference == reference,
            m.recipient.in_(sorted(recipients)),
            m.channel == "SMS",
        )
        found = self.connection.execute(query).first()
        return None if found is None else (int(found[0]), str(found[1]))
