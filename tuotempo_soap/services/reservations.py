"""updateReservations and getReservations as use cases.

Writes: validate every item on its own, then one transaction per batch holding
the instance's change lock: one INSERT offering every item as new (the unique
key skips those already stored; with their history and the sequence, one
statement on PostgreSQL), then, only for the items it skipped, one SELECT of
the stored rows and one UPDATE of the changed ones, whatever the batch size.

Reads: every change gets a number of its instance's change sequence, higher
than any before, handed out under that lock, so numbers become visible in
order (an item of a batch is numbered by its place in the batch: an unchanged
item leaves its number unused). A delta read returns rows with numbers in
(cursor, snapshot] and hands back the new cursor; a row committed late or two
changes in the same second cannot be skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from operator import attrgetter, itemgetter
from typing import Any

from ..domain.formats import FormatError, format_date, format_timestamp, parse_date, parse_timestamp
from ..domain.reservation import (
    FIELDS,
    AnswerChannel,
    ChangedBy,
    ItemError,
    ReservationRejectedError,
    Status,
    answer_from_status,
    clean_reservation,
)
from ..errors import RequestValidationError
from ..store.records import RESERVATION_FIELD_NAMES, ReservationQuery, ReservationRecord
from .batches import Batch, check_size
from .instances import Instance, utcnow
from .unit_of_work import Store


class ItemAction(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"


@dataclass
class ItemOutcome:
    """The answer for one input item, in input order."""

    app_lid: str | None
    ok: bool
    action: ItemAction | None = None
    reservation_id: int | None = None
    error: ItemError | None = None
    warnings: list[str] = field(default_factory=list)


BatchOutcome = Batch[ItemOutcome]


def update_reservations(
    store: Store,
    instance: Instance,
    items: Sequence[Mapping[str, object]],
    *,
    max_items: int,
    now: datetime | None = None,
) -> BatchOutcome:
    check_size(items, "RESERVATIONS", max_items)
    now = now or utcnow()
    outcomes: list[ItemOutcome] = []
    accepted: dict[str, tuple[ItemOutcome, dict[str, Any]]] = {}
    for position, raw in enumerate(items, start=1):
        lid = raw.get("APP_LID")
        outcome = ItemOutcome(
            app_lid=(str(lid).strip() or None) if lid is not None else None, ok=False
        )
        outcomes.append(outcome)
        try:
            clean = clean_reservation(
                raw,
                default_region=instance.country,
                store_identity=instance.store_patient_identity,
            )
        except ReservationRejectedError as rejected:
            outcome.error = rejected.error
            continue
        if clean.app_lid in accepted:
            outcome.error = ItemError(
                "DUPLICATE_APP_LID",
                "APP_LID",
                f"APP_LID {clean.app_lid} appears more than once in this batch "
                f"(again at item {position}); send each appointment once",
            )
            continue
        outcome.ok, outcome.warnings = True, clean.warnings
        accepted[clean.app_lid] = (outcome, _columns(clean.values))
    if accepted:
        _store_batch(store, instance, accepted, now)
    return BatchOutcome(outcomes)


# The guide's name of each field and its column (the same, in lower case).
_FIELD_COLUMNS = tuple((spec.name, spec.name.lower()) for spec in FIELDS)


def _columns(values: Mapping[str, Any]) -> dict[str, Any]:
    return {column: values[name] for name, column in _FIELD_COLUMNS}


# The guide's fields of a stored reservation and of a cleaned item, as tuples in
# one C-level call each: "unchanged" is one tuple comparison.
_stored_fields = attrgetter(*RESERVATION_FIELD_NAMES)
_sent_fields = itemgetter(*RESERVATION_FIELD_NAMES)


def _store_batch(
    store: Store,
    instance: Instance,
    accepted: dict[str, tuple[ItemOutcome, dict[str, Any]]],
    now: datetime,
) -> None:
    by = ChangedBy.HIS.value
    # Every item is offered as a new reservation, numbered by its place in the
    # batch (an item that turns out unchanged leaves its number unused): the
    # rows are ready before the transaction, and the (instance, APP_LID) key
    # decides which are new without reading anything. A batch of new
    # reservations is written by that one statement, the lock included.
    offered = [
        {
            **columns,
            **_tracking(None, columns["status"], now),
            "updated_at": now,
            "instance_id": instance.id,
            "created_at": now,
        }
        for _outcome, columns in accepted.values()
    ]
    with store.begin(write=True) as uow:
        repo = uow.reservations
        first, ids = repo.offer_new(instance.id, offered, at=now, by=by)
        stored = [lid for lid in accepted if lid not in ids]
        existing = repo.by_app_lids(instance.id, stored) if stored else {}
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        last = first - 1  # the last number used
        for seq, (lid, (outcome, columns)) in enumerate(accepted.items(), start=first):
            if lid in ids:
                outcome.action, last = ItemAction.CREATED, seq
                continue
            old = existing.get(lid)
            if old is not None and _stored_fields(old) == _sent_fields(columns):
                outcome.action, outcome.reservation_id = ItemAction.UNCHANGED, old.id
                continue
            row = {**columns, **_tracking(old, columns["status"], now), "change_seq": seq}
            row["updated_at"] = now
            last = seq
            if old is None:  # refused as new, gone by now: not while we hold the lock
                outcome.action = ItemAction.CREATED
                new_rows.append({**row, "instance_id": instance.id, "created_at": now})
            else:
                outcome.action, outcome.reservation_id = ItemAction.UPDATED, old.id
                changed_rows.append({**row, "row_id": old.id})
        if new_rows or changed_rows:
            # The changed rows, their history and the sequence: one statement on PostgreSQL.
            ids.update(
                repo.write_batch(instance.id, new_rows, changed_rows, last_seq=last, at=now, by=by)
            )
        elif stored:
            uow.instances.advance_seq(instance.id, last)  # back to the last number used
        uow.commit()
    for lid, row_id in ids.items():
        accepted[lid][0].reservation_id = row_id


def _tracking(old: ReservationRecord | None, status: str | None, now: datetime) -> dict[str, Any]:
    """Who changed the STATUS and what the patient answered, kept as separate fields."""
    keys = (
        "status_changed_by",
        "status_changed_at",
        "patient_answer",
        "patient_answer_channel",
        "patient_answer_at",
    )
    tracking = {key: (getattr(old, key) if old is not None else None) for key in keys}
    previous = old.status if old is not None else None
    if status is not None and status != previous:
        tracking["status_changed_by"] = ChangedBy.HIS.value
        tracking["status_changed_at"] = now
        answer = answer_from_status(status)
        if answer is None and previous == Status.CANCELLED_BY_USER.value:
            # The HIS re-instated what the patient had cancelled: the old answer
            # no longer holds (and must not block the patient's next reply).
            tracking.update(
                patient_answer=None, patient_answer_channel=None, patient_answer_at=None
            )
        if answer is not None:
            tracking["patient_answer"] = answer.value
            tracking["patient_answer_channel"] = AnswerChannel.HIS.value
            tracking["patient_answer_at"] = now
    return tracking


# --- getReservations -------------------------------------------------------

# ASCII digits only: \d also matches "١٢" and friends, which are no cursor of ours.
_CURSOR = re.compile(r"^(?P<stamp>[^#]*)#(?P<seq>[0-9]{1,18})$")


@dataclass(frozen=True)
class ReservationFilter:
    """getReservations filters as the HIS sent them (strings, unparsed)."""

    app_lid: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    resource_lid: str | None = None
    status: str | None = None
    last_request_timestamp: str | None = None
    max_results: int | None = None


@dataclass
class ReservationPage:
    reservations: list[dict[str, str | int | None]]
    next_request_timestamp: str
    more_results: bool


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _parse_filter_date(value: str | None, name: str) -> date | None:
    text = _optional(value)
    if text is None:
        return None
    try:
        return parse_date(text)
    except FormatError as exc:
        raise RequestValidationError(f"{name}: {exc}", field=name) from None


def make_cursor(instance: Instance, seq: int, at: datetime) -> str:
    """``dd/mm/yyyy hh:mm:ss#N``: readable when, exact where (N is the change number)."""
    local = at.replace(tzinfo=UTC).astimezone(instance.zone)
    return f"{format_timestamp(local)}#{seq}"


def get_reservations(
    store: Store,
    instance: Instance,
    filters: ReservationFilter,
    *,
    default_page_size: int,
    max_page_size: int,
) -> ReservationPage:
    start = _parse_filter_date(filters.start_date, "START_DATE")
    end = _parse_filter_date(filters.end_date, "END_DATE")
    if start and end and end < start:
        raise RequestValidationError("END_DATE is before START_DATE", field="END_DATE")
    status = _optional(filters.status)
    if status is not None:
        try:
            status = Status.parse(status).value
        except FormatError as exc:
            raise RequestValidationError(f"STATUS: {exc}", field="STATUS") from None
    if filters.max_results is not None and filters.max_results < 1:
        raise RequestValidationError("MAX_RESULTS must be 1 or more", field="MAX_RESULTS")
    limit = min(filters.max_results or default_page_size, max_page_size)
    after_seq, changed_since = _read_since(instance, _optional(filters.last_request_timestamp))

    with store.begin() as uow:
        # Read the sequence first: everything numbered up to it is committed
        # (writers hold the lock until commit), whatever the isolation level.
        snapshot = uow.instances.current_seq(instance.id)
        if after_seq > snapshot:
            raise RequestValidationError(
                "LAST_REQUEST_TIMESTAMP is not one this server returned for this instance",
                field="LAST_REQUEST_TIMESTAMP",
            )
        rows = uow.reservations.query(
            ReservationQuery(
                instance_id=instance.id,
                after_seq=after_seq,
                upto_seq=snapshot,
                limit=limit + 1,
                app_lid=_optional(filters.app_lid),
                start_date=start,
                end_date=end,
                resource_lid=_optional(filters.resource_lid),
                status=status,
                changed_since=changed_since,
            )
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_seq = rows[-1].change_seq if more else snapshot
    return ReservationPage(
        reservations=[present_reservation(instance, row) for row in rows],
        next_request_timestamp=make_cursor(instance, next_seq, utcnow()),
        more_results=more,
    )


def _read_since(instance: Instance, value: str | None) -> tuple[int, datetime | None]:
    """A cursor we returned gives an exact sequence number; a plain date-time
    (first call, in the instance's time zone) gives every change at or after it."""
    if value is None:
        return 0, None
    match = _CURSOR.match(value)
    if match:
        return int(match.group("seq")), None
    try:
        stamp = parse_timestamp(value)
    except FormatError:
        raise RequestValidationError(
            "LAST_REQUEST_TIMESTAMP must be the NEXT_REQUEST_TIMESTAMP of a previous call "
            "or a date-time dd/mm/yyyy hh:mm:ss",
            field="LAST_REQUEST_TIMESTAMP",
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=instance.zone)
    return 0, stamp.astimezone(UTC).replace(tzinfo=None)


def _stamp(instance: Instance, value: datetime | None) -> str | None:
    if value is None:
        return None
    return format_timestamp(value.replace(tzinfo=UTC).astimezone(instance.zone))


def present_reservation(instance: Instance, row: ReservationRecord) -> dict[str, str | int | None]:
    """A stored reservation in the guide's wire names and formats."""
    out: dict[str, str | int | None] = {"RESERVATION_ID": row.id}
    for (name, _), value in zip(_FIELD_COLUMNS, _stored_fields(row), strict=True):
        out[name] = format_date(value) if isinstance(value, date) else value
    out["STATUS_CHANGED_BY"] = row.status_changed_by
    out["STATUS_CHANGED_AT"] = _stamp(instance, row.status_changed_at)
    out["PATIENT_ANSWER"] = row.patient_answer
    out["PATIENT_ANSWER_CHANNEL"] = row.patient_answer_channel
    out["PATIENT_ANSWER_TIME"] = _stamp(instance, row.patient_answer_at)
    out["LAST_UPDATE"] = _stamp(instance, row.updated_at)
    return out
