"""updateMessages, searchMessages and delivery receipts as use cases.

Accepting a message only queues it in the outbox (the same transaction for
the whole batch); the worker in ``dispatch`` sends it. The legacy id is the
HIS's idempotency key: a message is queued once per instance, whatever the
number of retries or concurrent calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from ..domain.formats import FormatError, format_timestamp, parse_date, parse_timestamp
from ..domain.message import (
    Channel,
    MessageRejectedError,
    MessageStatus,
    clean_message,
    normalise_recipient,
    receipt_may_move,
)
from ..domain.reservation import ItemError
from ..errors import NotFoundError, RequestValidationError
from ..store.records import MessageQuery, MessageRecord
from .batches import Batch, check_size
from .instances import Instance, utcnow
from .unit_of_work import Store


class MessageAction(StrEnum):
    QUEUED = "QUEUED"
    ALREADY_QUEUED = "ALREADY_QUEUED"


@dataclass
class MessageOutcome:
    legacy_id: str | None
    ok: bool
    action: MessageAction | None = None
    message_id: int | None = None
    segments: int | None = None
    error: ItemError | None = None
    warnings: list[str] = field(default_factory=list)


MessageBatchOutcome = Batch[MessageOutcome]


def update_messages(
    store: Store,
    instance: Instance,
    items: Sequence[Mapping[str, object]],
    *,
    max_items: int,
    now: datetime | None = None,
) -> MessageBatchOutcome:
    check_size(items, "MESSAGES", max_items)
    now = now or utcnow()
    outcomes: list[MessageOutcome] = []
    accepted: dict[str, tuple[MessageOutcome, dict[str, Any]]] = {}
    for raw in items:
        legacy = raw.get("LEGACY_ID")
        outcome = MessageOutcome((str(legacy).strip() or None) if legacy else None, ok=False)
        outcomes.append(outcome)
        try:
            clean = clean_message(raw, region=instance.country, zone=instance.zone, now=now)
        except MessageRejectedError as rejected:
            outcome.error = rejected.error
            continue
        if clean.legacy_id in accepted:
            # The same id twice in one call is one message: the first wins.
            first = accepted[clean.legacy_id][0]
            outcome.ok, outcome.action = True, MessageAction.ALREADY_QUEUED
            outcome.warnings.append("LEGACY_ID repeated in this batch; queued once")
            outcome.segments = first.segments
            continue
        outcome.ok, outcome.segments = True, clean.values["segments"]
        row = {
            **clean.values,
            "instance_id": instance.id,
            "status": MessageStatus.QUEUED.value,
            "attempts": 0,
            "next_attempt_at": clean.values["send_at"] or now,
            "created_at": now,
            "updated_at": now,
        }
        accepted[clean.legacy_id] = (outcome, row)
    if accepted:
        _queue(store, instance, accepted)
    for item in outcomes:
        if item.ok and item.message_id is None and item.legacy_id in accepted:
            item.message_id = accepted[item.legacy_id][0].message_id
    return MessageBatchOutcome(outcomes)


def _queue(
    store: Store, instance: Instance, accepted: dict[str, tuple[MessageOutcome, dict[str, Any]]]
) -> None:
    with store.begin(write=True) as uow:
        existing = uow.messages.by_legacy_ids(instance.id, accepted)
        new_rows = [row for lid, (_, row) in accepted.items() if lid not in existing]
        inserted = uow.messages.insert_new(new_rows)
        # Lost a race with a concurrent call for the same legacy id: read its row.
        missing = [row["legacy_id"] for row in new_rows if row["legacy_id"] not in inserted]
        if missing:
            existing.update(uow.messages.by_legacy_ids(instance.id, missing))
        uow.commit()
    for lid, (outcome, row) in accepted.items():
        if lid in inserted:
            outcome.action, outcome.message_id = MessageAction.QUEUED, inserted[lid]
            continue
        old = existing[lid]
        outcome.action, outcome.message_id = MessageAction.ALREADY_QUEUED, old.id
        outcome.segments = old.segments
        if (old.channel, old.recipient, old.body, old.subject) != (
            row["channel"],
            row["recipient"],
            row["body"],
            row["subject"],
        ):
            outcome.warnings.append(
                "LEGACY_ID was already used for a different message; the first one stands"
            )


# --- searchMessages --------------------------------------------------------


@dataclass(frozen=True)
class MessageFilter:
    legacy_id: str | None = None
    to: str | None = None
    channel: str | None = None
    status: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    sent_from: str | None = None
    sent_to: str | None = None
    page_token: str | None = None
    max_results: int | None = None


@dataclass
class MessagePage:
    messages: list[dict[str, Any]]
    more_results: bool
    next_page_token: str | None


def _blank(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def _bound(instance: Instance, text: str | None, name: str, *, end: bool) -> datetime | None:
    """A range bound: a date (whole day, inclusive) or a date-time, instance zone -> UTC."""
    text = _blank(text)
    if text is None:
        return None
    try:
        if " " in text or "T" in text:
            moment = parse_timestamp(text)
        else:
            day: date = parse_date(text)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(0, 0))
    except FormatError as exc:
        raise RequestValidationError(f"{name}: {exc}", field=name) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=instance.zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _recipients(instance: Instance, to: str) -> tuple[str, ...]:
    """Every stored form this address or number can have."""
    forms = {to}
    for channel in (Channel.SMS, Channel.EMAIL):
        with suppress(FormatError):
            forms.add(normalise_recipient(channel, to, instance.country))
    return tuple(sorted(forms))


# The NEXT_PAGE_TOKEN we hand out: the id of a page's last message, in ASCII
# digits. str.isdigit() also takes "²" and "١٢", and an id of thousands of
# digits overflows int() and the database's bigint; none of that is a token.
_PAGE_TOKEN = re.compile(r"[0-9]{1,18}")


def _page_token(value: str | None) -> int:
    """The message id a page starts after (0 for the first page)."""
    token = _blank(value)
    if token is None:
        return 0
    if not _PAGE_TOKEN.fullmatch(token):
        raise RequestValidationError(
            "PAGE_TOKEN is not one this server returned: pass NEXT_PAGE_TOKEN back "
            "unchanged, or leave it out for the first page",
            field="PAGE_TOKEN",
        )
    return int(token)


def search_messages(
    store: Store,
    instance: Instance,
    filters: MessageFilter,
    *,
    default_page_size: int,
    max_page_size: int,
) -> MessagePage:
    channel = _blank(filters.channel)
    if channel is not None:
        try:
            channel = Channel(channel.upper()).value
        except ValueError:
            raise RequestValidationError(f"'{channel}' is not a channel", field="CHANNEL") from None
    status = _blank(filters.status)
    if status is not None:
        try:
            status = MessageStatus(status.upper()).value
        except ValueError:
            raise RequestValidationError(f"'{status}' is not a status", field="STATUS") from None
    after_id = _page_token(filters.page_token)
    if filters.max_results is not None and filters.max_results < 1:
        raise RequestValidationError("MAX_RESULTS must be 1 or more", field="MAX_RESULTS")
    limit = min(filters.max_results or default_page_size, max_page_size)
    to = _blank(filters.to)
    query = MessageQuery(
        instance_id=instance.id,
        after_id=after_id,
        limit=limit + 1,
        legacy_id=_blank(filters.legacy_id),
        recipients=_recipients(instance, to) if to else (),
        channel=channel,
        status=status,
        created_from=_bound(instance, filters.created_from, "CREATED_FROM", end=False),
        created_to=_bound(instance, filters.created_to, "CREATED_TO", end=True),
        sent_from=_bound(instance, filters.sent_from, "SENT_FROM", end=False),
        sent_to=_bound(instance, filters.sent_to, "SENT_TO", end=True),
    )
    with store.begin() as uow:
        found = uow.messages.search(query)
    more = len(found) > limit
    found = found[:limit]
    return MessagePage(
        messages=[present_message(instance, message) for message in found],
        more_results=more,
        next_page_token=str(found[-1].id) if more else None,
    )


def _local(instance: Instance, value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC).astimezone(instance.zone) if value else None


def present_message(instance: Instance, message: MessageRecord) -> dict[str, Any]:
    """A stored message in wire names; times in the instance's zone, the guide's format."""
    sent = _local(instance, message.sent_at)
    stamp = {
        key: format_timestamp(moment) if (moment := _local(instance, value)) else None
        for key, value in (
            ("CREATED", message.created_at),
            ("SEND_AT", message.send_at),
            ("EXPIRES_AT", message.expires_at),
            ("DELIVERED_AT", message.delivered_at),
            ("FAILED_AT", message.failed_at),
        )
    }
    return {
        "MESSAGE_ID": message.id,
        "LEGACY_ID": message.legacy_id,
        "CHANNEL": message.channel,
        "TO": message.recipient,
        "STATUS": message.status,
        "SEGMENTS": message.segments,
        "ATTEMPTS": message.attempts,
        **stamp,
        "SENT_DATE": sent.strftime("%d/%m/%Y") if sent else None,
        "SENT_TIME": sent.strftime("%H:%M:%S") if sent else None,
        "ERROR": message.last_error,
    }


def show_message(store: Store, instance: Instance, legacy_id: str) -> dict[str, Any]:
    with store.begin() as uow:
        found = uow.messages.by_legacy_ids(instance.id, [legacy_id]).get(legacy_id)
    if found is None:
        raise NotFoundError(f"no message {legacy_id} in {instance.name}", field="LEGACY_ID")
    return present_message(instance, found)


# --- delivery receipts -----------------------------------------------------


def apply_receipt(
    store: Store,
    provider: str,
    *,
    provider_message_id: str | None,
    reference: str | None,
    delivered: bool,
    error: str | None,
    now: datetime | None = None,
) -> str:
    """Move a message to DELIVERED or FAILED; answer what happened, in one word.

    ``unknown``: no message that went out through this provider has this id or
    reference (one still queued, or sent through another provider, is never
    touched: ``uow.messages.for_receipt``); ``ignored``: it is already
    final (a duplicate, late or out-of-order receipt); ``applied``.
    """
    now = now or utcnow()
    target = MessageStatus.DELIVERED if delivered else MessageStatus.FAILED
    with store.begin(write=True) as uow:
        message = uow.messages.for_receipt(provider, provider_message_id, reference)
        if message is None:
            return "unknown"
        if not receipt_may_move(message.status, target.value):
            return "ignored"
        values: dict[str, Any] = {"status": target.value, "updated_at": now, "lease_until": None}
        if message.sent_at is None:
            values["sent_at"] = now  # the receipt beat the worker's own bookkeeping
        if delivered:
            values["delivered_at"] = now
        else:
            values["failed_at"] = now
            values["last_error"] = (error or "reported undeliverable by the provider")[:1000]
        if message.provider_message_id is None and provider_message_id:
            values["provider_message_id"] = provider_message_id
            values["provider"] = provider
        moved = uow.messages.move(message.id, message.status, values)
        uow.commit()
    return "applied" if moved else "ignored"
