"""updateReservations' batch writes on PostgreSQL (``store/bulk.py``: the lock,
the rows, their change history and the instance's sequence in one statement)
store exactly what the portable statements (``offer_new_portable``,
``write_batch_portable``, what SQLite runs) store on the same database: the
same rows, the same history (its JSON byte for byte) and the same sequence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances, reservations
from tuotempo_soap.store import tables
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.changes import change_row, recorded_values
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.repositories import ReservationRepository

pytestmark = pytest.mark.postgres

NOW = dt.datetime(2027, 2, 1, 9, 30, 15, 123456)
# Texts JSON and SQL both have rules for: quotes, backslashes, control
# characters, non-ASCII, characters outside the BMP, line separators.
TRICKY = [
    'quote " and backslash \\ end',
    "line\nbreak\ttab\rreturn",
    "control \x01 \x1f \x7f",
    "ñandú Ünïcode ß",
    "emoji \U0001f9b7 tooth",
    "slash / \u2028 \u2029 sep",
    "apostrophe ' <xml> &amp;",
    '{"json": [1, 2]}',
]


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": postgres_url}), migrate=False)
    yield opened
    opened.dispose()


def first_batch() -> list[dict[str, Any]]:
    items = []
    for n, tricky in enumerate(TRICKY):
        items.append(
            {
                "APP_LID": f"L-{n}",
                "APP_DATE": f"{10 + n}/03/2027",
                "APP_START_TIME": "9:00",
                "APP_END_TIME": "09:30",
                "USER_LID": f"P{n}",
                "USER_MOBILE_PHONE": "612345678" if n % 2 else "+34612345678",
                "USER_LANDLINE_PHONE": "not a number" if n == 3 else None,
                "USER_EMAIL": f"Patient{n}@Example.COM",
                "USER_DATE_OF_BIRTH": "1980-05-0" + str(1 + n % 9),
                "NOTES": tricky,
                "RESOURCE_LID": "DR-1",
                "RESOURCE_NAME": tricky[:50],
                "LOCATION_NAME": tricky[::-1][:50],
                "STATUS": "CANCELLED by USER" if n in (2, 5) else "APPROVED",
            }
        )
    return items


def second_batch() -> list[dict[str, Any]]:
    """Unchanged, changed (a status set and one cleared, a note), and new items."""
    items = first_batch()
    items[1]["NOTES"] = "changed note"
    items[2]["STATUS"] = "APPROVED"  # the HIS re-instates a patient's cancellation
    items[4]["STATUS"] = "cancelled_by_user"
    items.append({**items[0], "APP_LID": "L-new", "NOTES": TRICKY[0]})
    return items


def push(store: Store, name: str, items: list[dict[str, Any]], at: dt.datetime) -> list[Any]:
    instance = instances.get_instance(store, name)
    outcome = reservations.update_reservations(store, instance, items, max_items=100, now=at)
    return [(item.app_lid, item.ok, item.action, item.warnings) for item in outcome.items]


def stored(store: Store, name: str) -> tuple[dict[str, dict[str, Any]], list[Any], int]:
    """Rows by APP_LID (without ids), the history with APP_LIDs for ids, the sequence."""
    instance = instances.get_instance(store, name)
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(tables.reservations).where(tables.reservations.c.instance_id == instance.id)
        ).mappings()
        by_id = {row["id"]: dict(row) for row in rows}
        changes = connection.execute(
            select(tables.reservation_changes)
            .where(tables.reservation_changes.c.instance_id == instance.id)
            .order_by(tables.reservation_changes.c.change_seq)
        ).mappings()
        history = [
            (
                change["change_seq"],
                by_id[change["reservation_id"]]["app_lid"],
                change["changed_at"],
                change["changed_by"],
                change["created"],
                change["fields"],
            )
            for change in changes
        ]
        seq = connection.execute(
            select(tables.instances.c.change_seq).where(tables.instances.c.id == instance.id)
        ).scalar_one()
    plain = {
        row["app_lid"]: {k: v for k, v in row.items() if k not in ("id", "instance_id")}
        for row in by_id.values()
    }
    return plain, history, seq


def test_one_statement_stores_what_the_portable_statements_store(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk_name = make_instance(store).instance
    portable_name = make_instance(store).instance
    later = NOW + dt.timedelta(minutes=5)

    outcomes = {}
    for name in (bulk_name, portable_name):
        if name == portable_name:
            for method in ("offer_new", "write_batch"):
                monkeypatch.setattr(
                    ReservationRepository,
                    method,
                    getattr(ReservationRepository, f"{method}_portable"),
                )
        outcomes[name] = push(store, name, first_batch(), NOW)
        outcomes[name] += push(store, name, second_batch(), later)

    assert outcomes[bulk_name] == outcomes[portable_name]
    actions = [action for _lid, _ok, action, _warnings in outcomes[bulk_name]]
    assert actions.count(reservations.ItemAction.UPDATED) == 3
    assert actions.count(reservations.ItemAction.UNCHANGED) == len(TRICKY) - 3
    rows, history, seq = stored(store, bulk_name)
    assert (rows, history, seq) == stored(store, portable_name)
    # Each item is numbered by its place in its batch; an unchanged one leaves
    # its number unused. Second batch: L-1, L-2 and L-4 changed, L-new (9th) new.
    first = len(TRICKY)
    assert [entry[0] for entry in history] == [
        *range(1, first + 1),
        *(first + place for place in (2, 3, 5, 9)),
    ]
    assert seq == first + 9


def test_the_history_records_what_each_change_wrote(store: Store) -> None:
    name = make_instance(store).instance
    push(store, name, first_batch(), NOW)
    push(store, name, second_batch(), NOW + dt.timedelta(minutes=5))
    rows, history, _seq = stored(store, name)
    created = [entry for entry in history if entry[4]]
    assert [entry[1] for entry in created] == [*(f"L-{n}" for n in range(len(TRICKY))), "L-new"]
    assert [entry[1] for entry in history if not entry[4]] == ["L-1", "L-2", "L-4"]
    for seq, lid, at, by, _created, fields in history:
        assert by == "HIS" and at in (NOW, NOW + dt.timedelta(minutes=5))
        if seq == rows[lid]["change_seq"]:  # the row's latest change: what it holds now
            expected = change_row(
                instance_id=0, reservation_id=0, seq=seq, at=at, by=by, values=rows[lid]
            )["fields"]
            assert fields == expected
            assert recorded_values(fields)["notes"] == rows[lid]["notes"]
