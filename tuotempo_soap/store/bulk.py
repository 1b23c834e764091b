"""A batch of reservation changes written by ONE statement on PostgreSQL.

The batch travels as a single jsonb parameter that ``jsonb_to_recordset``
turns back into typed rows, and one statement (data-modifying CTEs) inserts
the new rows, updates the changed ones, records every change in
``reservation_changes`` and moves the instance's change sequence on.

Why not SQLAlchemy's executemany: a multi-row VALUES binds every cell (100
rows x 43 columns = 4,300 literals the driver renders one by one and the
server parses one by one, a statement text of its own for each batch size),
then the history and the sequence take two more statements, each a round trip
made while the instance's change lock is held. Here the driver quotes one
string, the server parses one JSON document, and the lock is held for one
round trip less per statement saved. SQLite keeps the portable statements
(``ReservationRepository.write_batch``): it has no jsonb_to_recordset, and
there a statement costs no round trip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

from .changes import RECORDED_COLUMNS
from .tables import reservations

_DIALECT = postgresql.dialect()
# The column types of the record the JSON document is read as.
_TYPES: dict[str, str] = {
    column.name: str(column.type.compile(dialect=_DIALECT)) for column in reservations.columns
}
_RECORDED = frozenset(RECORDED_COLUMNS)


def _plain(value: object) -> str:
    """JSON for what json itself does not write: dates and naive UTC timestamps,
    in ISO 8601, which PostgreSQL reads whatever its DateStyle."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form here")


def _document(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as one JSON array; a NULL is left out (the record reads it back
    as NULL), which halves the document of a typical reservation."""
    return json.dumps(
        [{key: value for key, value in row.items() if value is not None} for row in rows],
        default=_plain,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _checked(names: Sequence[str]) -> tuple[str, ...]:
    """Column names for the SQL text: only the table's own, never anything else."""
    unknown = set(names) - set(_TYPES) - {"row_id"}
    if unknown:
        raise ValueError(f"not columns of reservations: {sorted(unknown)}")
    return tuple(names)


@lru_cache(maxsize=16)
def _statement(insert_columns: tuple[str, ...], update_columns: tuple[str, ...]) -> TextClause:
    """The statement for rows with these keys (every batch of the service has the same).

    The SQL text holds column names of ``reservations`` only (``_checked``);
    every value is a bound parameter.
    """
    names = sorted({*_checked(insert_columns), *_checked(update_columns)} - {"row_id"})
    record = ", ".join(["row_id bigint", *(f"{name} {_TYPES[name]}" for name in names)])
    # The history's ``fields``: the recorded columns the change wrote, in the
    # row's order, as ``changes.change_row`` writes them (``row_to_json`` spells
    # JSON as Python's compact json.dumps does: no blanks, UTF-8 as is, ISO dates).
    recorded = [name for name in (insert_columns or update_columns) if name in _RECORDED]
    if insert_columns and update_columns:
        other = [name for name in update_columns if name in _RECORDED]
        if other != recorded:
            raise ValueError("new and changed rows record different columns")
    parts = [
        "WITH batch AS MATERIALIZED (SELECT * FROM "  # noqa: S608 (checked names)
        f"jsonb_to_recordset(CAST(:rows AS jsonb)) AS x({record}))",
        "advance AS (UPDATE instances SET change_seq = :last_seq WHERE id = :instance_id)",
    ]
    if insert_columns:
        listed = ", ".join(insert_columns)
        parts.append(
            f"inserted AS (INSERT INTO reservations ({listed}) SELECT {listed} FROM batch "  # noqa: S608 (checked names)
            "WHERE row_id IS NULL RETURNING app_lid, id)"
        )
    else:
        parts.append("inserted AS (SELECT app_lid, id FROM reservations WHERE false)")
    if update_columns:
        assignments = ", ".join(f"{name} = batch.{name}" for name in update_columns)
        parts.append(
            f"updated AS (UPDATE reservations SET {assignments} FROM batch "  # noqa: S608 (checked names)
            "WHERE batch.row_id IS NOT NULL AND reservations.id = batch.row_id "
            "AND reservations.instance_id = :instance_id)"
        )
    written = ", ".join(f"batch.{name}" for name in recorded)
    parts.append(
        "history AS (INSERT INTO reservation_changes (instance_id, change_seq, reservation_id, "  # noqa: S608 (checked names)
        "changed_at, changed_by, created, fields) SELECT :instance_id, batch.change_seq, "
        "coalesce(batch.row_id, inserted.id), :at, :by, batch.row_id IS NULL, "
        "row_to_json(recorded)::text FROM batch "
        "LEFT JOIN inserted ON inserted.app_lid = batch.app_lid "
        f"CROSS JOIN LATERAL (SELECT {written}) AS recorded)"
    )
    sql = ", ".join(parts) + " SELECT app_lid, id FROM inserted"  # noqa: S608 (checked names)
    return text(sql).bindparams(bindparam("rows", type_=Text()))


def write_batch(
    connection: Connection,
    instance_id: int,
    new_rows: Sequence[Mapping[str, Any]],
    changed_rows: Sequence[Mapping[str, Any]],
    *,
    last_seq: int,
    at: datetime,
    by: str,
) -> dict[str, int]:
    """Insert ``new_rows``, update ``changed_rows`` (by their ``row_id``), record
    each as a change made ``at`` by ``by``, and set the instance's sequence to
    ``last_seq``, in one statement; the new rows' ids by APP_LID."""
    if not new_rows and not changed_rows:
        return {}  # nothing changed: the sequence stays where it was
    insert_columns = tuple(new_rows[0]) if new_rows else ()
    update_columns = (
        tuple(key for key in changed_rows[0] if key != "row_id") if changed_rows else ()
    )
    result = connection.execute(
        _statement(insert_columns, update_columns),
        {
            "rows": _document([*new_rows, *changed_rows]),
            "last_seq": last_seq,
            "instance_id": instance_id,
            "at": at,
            "by": by,
        },
    )
    return {app_lid: int(row_id) for app_lid, row_id in result}
