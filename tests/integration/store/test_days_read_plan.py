"""A read of a few days (getReservations with START_DATE < END_DATE) on
PostgreSQL: one page per day straight off the (instance, day, change) index,
merged in change order and cut at the page size; no sort of the days' rows and
no walk of the change_seq index through the other days. The rows, and their
order, are the same as the plain range statement's."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.records import ReservationQuery
from tuotempo_soap.store.repositories import MERGED_DAYS, ReservationRepository

pytestmark = pytest.mark.postgres

ROWS = 30_000
DAYS = 60
FIRST_DAY = dt.date(2027, 1, 1)


@pytest.fixture(scope="module")
def loaded(postgres_url: str) -> Iterator[tuple[Store, int]]:
    """An instance's agenda pushed day by day (a day's rows adjacent in change
    order), two resources and two statuses, analysed."""
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": postgres_url}), migrate=True)
    instance_id = instances.get_instance(store, make_instance(store).instance).id
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reservations (instance_id, app_lid, app_date, resource_lid, status,"
                " created_at, updated_at, change_seq)"
                " SELECT :instance, 'D' || g, CAST(:first AS date) + (g - 1) / :per_day,"
                " 'DR' || (g % 2), CASE WHEN g % 7 = 0 THEN 'PENDING' ELSE 'APPROVED' END,"
                " now(), now(), g FROM generate_series(1, :rows) AS g"
            ),
            {"instance": instance_id, "first": FIRST_DAY, "per_day": ROWS // DAYS, "rows": ROWS},
        )
    with store.engine.connect() as connection:
        connection.execute(text("ANALYZE reservations"))
        connection.commit()
    try:
        yield store, instance_id
    finally:
        with store.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM reservations WHERE instance_id = :id"), {"id": instance_id}
            )
        store.dispose()


def days(instance_id: int, first: int, count: int, **filters: Any) -> ReservationQuery:
    start = FIRST_DAY + dt.timedelta(days=first)
    return ReservationQuery(
        instance_id=instance_id,
        after_seq=filters.pop("after_seq", 0),
        upto_seq=ROWS,
        limit=101,
        start_date=start,
        end_date=start + dt.timedelta(days=count - 1),
        **filters,
    )


def plan_of(store: Store, query: ReservationQuery) -> dict[str, Any]:
    statement = ReservationRepository.query_statement(query, merge_days=True).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with store.engine.connect() as connection:
        found = connection.execute(text(f"EXPLAIN (FORMAT JSON) {statement}")).scalar_one()
    document = found if isinstance(found, list) else json.loads(found)
    return dict(document[0]["Plan"])


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def test_a_week_is_merged_off_the_day_index(loaded: tuple[Store, int]) -> None:
    store, instance_id = loaded
    plan = plan_of(store, days(instance_id, DAYS - 7, 7))
    types = [node["Node Type"] for node in nodes(plan)]
    assert "Merge Append" in types
    assert not {"Sort", "Incremental Sort"} & set(types)
    scans = [node for node in nodes(plan) if "Scan" in node["Node Type"]]
    assert len(scans) == 7
    assert {node.get("Index Name") for node in scans} == {"ix_reservations_instance_date_seq"}


def test_longer_ranges_stay_one_statement(loaded: tuple[Store, int]) -> None:
    store, instance_id = loaded
    plan = plan_of(store, days(instance_id, 0, MERGED_DAYS + 1))
    assert "Merge Append" not in [node["Node Type"] for node in nodes(plan)]


@pytest.mark.parametrize(
    ("first", "count", "filters"),
    [
        (DAYS - 7, 7, {}),
        (20, 2, {}),
        (10, MERGED_DAYS, {}),
        (30, 5, {"after_seq": 30 * (ROWS // DAYS) + 250}),  # a later page
        (40, 3, {"resource_lid": "DR1", "status": "PENDING"}),
        (DAYS - 2, 5, {}),  # past the last stored day
    ],
)
def test_same_rows_in_the_same_order(
    loaded: tuple[Store, int], first: int, count: int, filters: dict[str, Any]
) -> None:
    store, instance_id = loaded
    query = days(instance_id, first, count, **filters)
    with store.engine.connect() as connection:
        merged = ReservationRepository(connection).query(query)
        plain = connection.execute(ReservationRepository.query_statement(query)).all()
    assert [r.change_seq for r in merged] == [row.change_seq for row in plain]
    assert len(merged) == min(101, len(plain)) and merged
