"""A batch of reservation changes written by ONE statement on PostgreSQL.

The batch travels as a single JSON parameter that ``json_to_recordset`` turns
back into typed rows (json, not jsonb: read once, in order, it costs the
server about a third less than building a jsonb value first), and one
statement (data-modifying CTEs) writes the rows, records every change in
``reservation_changes`` and moves the instance's change sequence on:
``offer_new`` takes the instance's change lock and offers every item of a
batch as a new reservation (``ON CONFLICT DO NOTHING``: the unique key, not a
query plan, decides which are new), ``write_batch`` writes the rest.

Why not SQLAlchemy's executemany: a multi-row VALUES binds every cell (100
rows x 43 columns = 4,300 literals the driver renders one by one and the
server parses one by one, a statement text of its own for each batch size),
then the history and the sequence take two more statements, each a round trip
made while the instance's change lock is held. Here the driver quotes one
string, the server parses one JSON document, and the lock is held for one
round trip per statement saved. SQLite keeps the portable statements
(``ReservationRepository``): it has no json_to_recordset, and there a
statement costs no round trip.
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


def _document(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as one JSON array; a NULL is left out (the record reads it back
    as NULL), which halves the document of a typical reservation.

    Dates and naive UTC timestamps are written in ISO 8601, which PostgreSQL
    reads whatever its DateStyle; each distinct one once (a batch shares its
    "now" and a few days between all its rows).
    """
    written: dict[object, str] = {}

    def plain(value: object) -> str:
        text = written.get(value)
        if text is None:
            if not isinstance(value, datetime | date):
                raise TypeError(f"{type(value).__name__} has no JSON form here")
            text = written[value] = value.isoformat()
        return text

    return json.dumps(
        [{key: value for key, value in row.items() if value is not None} for row in rows],
        default=plain,
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
        f"json_to_recordset(CAST(:rows AS json)) AS x({record}))",
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


@lru_cache(maxsize=16)
def _offer_new_statement(columns: tuple[str, ...]) -> TextClause:
    """The lock, the numbering, the INSERT of every row whose key is free, their
    history: one statement.

    ``locked`` takes the instance's row lock (waiting for the writer holding it)
    and moves the sequence past the batch; it is first needed to number the
    first row inserted, so the JSON document is read before the wait (less time
    under the lock) and no row is inserted before it. Nothing here reads a table
    through the statement's snapshot (taken before the wait): the conflict check
    of the unique index sees every committed row, so a row another writer
    committed meanwhile is skipped.
    """
    names = _checked(columns)
    record = ", ".join(["place bigint", *(f"{name} {_TYPES[name]}" for name in names)])
    listed = ", ".join(names)
    written = ", ".join(f"batch.{name}" for name in names if name in _RECORDED)
    return text(
        "WITH locked AS (UPDATE instances SET change_seq = change_seq + :count "  # noqa: S608 (checked names)
        "WHERE id = :instance_id RETURNING change_seq - :count AS last), "
        "batch AS MATERIALIZED (SELECT * FROM "
        f"json_to_recordset(CAST(:rows AS json)) AS x({record})), "
        f"inserted AS (INSERT INTO reservations ({listed}, change_seq) "
        f"SELECT {listed}, (SELECT last FROM locked) + place FROM batch "
        "ON CONFLICT (instance_id, app_lid) DO NOTHING RETURNING app_lid, id, change_seq), "
        "history AS (INSERT INTO reservation_changes (instance_id, change_seq, reservation_id, "
        "changed_at, changed_by, created, fields) SELECT :instance_id, inserted.change_seq, "
        "inserted.id, :at, :by, true, row_to_json(recorded)::text FROM inserted "
        "JOIN batch ON batch.app_lid = inserted.app_lid "
        f"CROSS JOIN LATERAL (SELECT {written}) AS recorded) "
        "SELECT locked.last, inserted.app_lid, inserted.id FROM locked "
        "LEFT JOIN inserted ON true"
    ).bindparams(bindparam("rows", type_=Text()))


def offer_new(
    connection: Connection,
    instance_id: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    at: datetime,
    by: str,
) -> tuple[int, dict[str, int]]:
    """``ReservationRepository.offer_new`` in one statement: the instance's change
    lock, the rows numbered from the next change number in order, those whose
    (instance_id, app_lid) key is free inserted and recorded as created ``at``
    by ``by``, the sequence moved past the batch. Returns the first number and
    the inserted rows' ids by APP_LID.

    The conflict arbiter (the unique index) decides which rows are new: no
    query plan is involved, so a table without statistics costs nothing more.
    The JSON document is written before the statement, i.e. before the lock.
    """
    document = _document([{**row, "place": place} for place, row in enumerate(rows, start=1)])
    result = connection.execute(
        _offer_new_statement(tuple(rows[0])),
        {"rows": document, "count": len(rows), "instance_id": instance_id, "at": at, "by": by},
    )
    rows_back = result.all()
    if not rows_back:
        raise LookupError(f"no instance {instance_id} to lock")
    ids = {app_lid: int(row_id) for _last, app_lid, row_id in rows_back if app_lid is not None}
    return int(rows_back[0][0]) + 1, ids


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
