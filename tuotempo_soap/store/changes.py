"""SQL of the reservations' change history (``reservation_changes``).

Every writer of a reservation (``updateReservations`` and the clinic poller,
a patient's answer, a cancellation sent to the clinic) numbers the change in
the instance's change sequence; it also records the columns it wrote
(``recorded_fields``), in the same transaction: ``add_many`` of ``change_row``
rows, one executemany INSERT per batch (``updateReservations`` on PostgreSQL
folds it into the batch's single statement, ``store/bulk.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from .records import RECORDED_COLUMNS, ReservationChangeRecord
from .tables import reservation_changes

_RECORDED = frozenset(RECORDED_COLUMNS)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def recorded_fields(values: Mapping[str, Any]) -> str:
    """The ``fields`` of a change: the recorded columns among ``values`` (the
    columns the change wrote), as compact JSON."""
    written = {key: _plain(value) for key, value in values.items() if key in _RECORDED}
    return json.dumps(written, separators=(",", ":"), ensure_ascii=False)


def change_row(
    *,
    instance_id: int,
    reservation_id: int,
    seq: int,
    at: datetime,
    by: str,
    values: Mapping[str, Any],
    created: bool = False,
) -> dict[str, Any]:
    """One ``reservation_changes`` row (``fields``: ``recorded_fields(values)``)."""
    return {
        "instance_id": instance_id,
        "change_seq": seq,
        "reservation_id": reservation_id,
        "changed_at": at,
        "changed_by": by,
        "created": created,
        "fields": recorded_fields(values),
    }


class ReservationChangeRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Record a batch's changes: one executemany INSERT."""
        if rows:
            self.connection.execute(insert(reservation_changes), list(rows))

    def record(
        self, instance_id: int, rows: Sequence[Mapping[str, Any]], *, at: datetime, by: str
    ) -> None:
        """Record the writes ``rows`` made (each with ``row_id``, ``change_seq`` and
        the columns written) ``at``, by ``by``: one executemany INSERT."""
        self.add_many(
            [
                change_row(
                    instance_id=instance_id,
                    reservation_id=row["row_id"],
                    seq=row["change_seq"],
                    at=at,
                    by=by,
                    values=row,
                )
                for row in rows
            ]
        )

    def for_reservation(
        self, instance_id: int, reservation_id: int
    ) -> list[ReservationChangeRecord]:
        """Every recorded change of one reservation, oldest first (the index
        ``(reservation_id, change_seq)`` serves it)."""
        c = reservation_changes.c
        query = (
            select(c.change_seq, c.changed_at, c.changed_by, c.created, c.fields)
            .where(c.reservation_id == reservation_id, c.instance_id == instance_id)
            .order_by(c.change_seq)
        )
        return [
            ReservationChangeRecord(
                change_seq=int(row.change_seq),
                changed_at=row.changed_at,
                changed_by=row.changed_by,
                created=bool(row.created),
                values=recorded_values(row.fields),
            )
            for row in self.connection.execute(query)
        ]


def recorded_values(fields: str) -> dict[str, Any]:
    """The columns a recorded change wrote, from its ``fields`` (dates as ISO strings)."""
    return dict(json.loads(fields))
