"""The one-day read of getReservations is served by the (instance, day, change)
index on PostgreSQL: the plan takes the first page off that index instead of
walking the change_seq index through every other day's rows."""

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
from tuotempo_soap.services import instances, reservations
from tuotempo_soap.services.reservations import ReservationFilter
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.repositories import ReservationQuery, ReservationRepository

pytestmark = pytest.mark.postgres

ROWS = 200_000
# The agenda pushed day by day (a day's rows adjacent in change order), 40 days:
# with the index set and statement as they were, PostgreSQL's plan for this data
# walked the change_seq index from the start (52 ms for the last day here, 2.5 s
# at 10M rows); the day index makes it a 101-entry read at any size.
PER_DAY = 5_000
FIRST_DAY = dt.date(2027, 1, 1)
LAST_DAY = FIRST_DAY + dt.timedelta(days=ROWS // PER_DAY - 1)


@pytest.fixture(scope="module")
def loaded(postgres_url: str) -> Iterator[tuple[Store, str, int]]:
    """An instance with ROWS reservations, one generate_series INSERT, analysed."""
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": postgres_url}), migrate=True)
    name = make_instance(store).instance
    instance_id = instances.get_instance(store, name).id
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reservations (instance_id, app_lid, app_date, app_start_time,"
                " resource_lid, status, created_at, updated_at, change_seq)"
                " SELECT :instance, 'A' || g, CAST(:first AS date) + (g - 1) / :per_day,"
                " '09:00', 'DR' || (g % 20), 'CONFIRMED', now(), now(), g"
                " FROM generate_series(1, :rows) AS g"
            ),
            {"instance": instance_id, "first": FIRST_DAY, "per_day": PER_DAY, "rows": ROWS},
        )
        connection.execute(
            text("UPDATE instances SET change_seq = :rows WHERE id = :instance"),
            {"rows": ROWS, "instance": instance_id},
        )
    with store.engine.connect() as connection:
        connection.execute(text("ANALYZE reservations"))
        connection.commit()
    try:
        yield store, name, instance_id
    finally:
        with store.engine.begin() as connection:
            connection.execute(
                text("DELETE FROM reservations WHERE instance_id = :id"), {"id": instance_id}
            )
        store.dispose()


def plan_of(store: Store, query: ReservationQuery) -> dict[str, Any]:
    statement = ReservationRepository.query_statement(query).compile(
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


def test_the_first_page_of_a_day_comes_off_the_day_index(
    loaded: tuple[Store, str, int],
) -> None:
    store, _, instance_id = loaded
    plan = plan_of(
        store,
        ReservationQuery(
            instance_id=instance_id,
            after_seq=0,
            upto_seq=ROWS,
            limit=101,
            start_date=LAST_DAY,
            end_date=LAST_DAY,
        ),
    )
    scans = [node for node in nodes(plan) if "Scan" in node["Node Type"]]
    assert [node.get("Index Name") for node in scans] == ["ix_reservations_instance_date_seq"]
    # The whole day, not a range of it, is the index condition's date part.
    assert "app_date = " in scans[0]["Index Cond"]
    # The index yields change order itself: no sort of the day's rows before the limit.
    assert all(node["Node Type"] not in ("Sort", "Incremental Sort") for node in nodes(plan))


def test_a_later_page_of_a_day_starts_inside_the_day_index(
    loaded: tuple[Store, str, int],
) -> None:
    store, _, instance_id = loaded
    plan = plan_of(
        store,
        ReservationQuery(
            instance_id=instance_id,
            after_seq=ROWS - 200,
            upto_seq=ROWS,
            limit=101,
            start_date=LAST_DAY,
            end_date=LAST_DAY,
        ),
    )
    scans = [node for node in nodes(plan) if "Scan" in node["Node Type"]]
    assert len(scans) == 1
    assert "change_seq" in scans[0].get("Index Cond", "")
    assert scans[0].get("Index Name") in (
        "ix_reservations_instance_date_seq",
        "ix_reservations_instance_change_seq",  # both bound the walk to 200 entries
    )


def test_the_day_read_pages_in_change_order(loaded: tuple[Store, str, int]) -> None:
    store, name, _ = loaded
    day = LAST_DAY.strftime("%d/%m/%Y")
    instance = instances.get_instance(store, name)
    first = reservations.get_reservations(
        store,
        instance,
        ReservationFilter(start_date=day, end_date=day, max_results=100),
        default_page_size=100,
        max_page_size=500,
    )
    start = ROWS - PER_DAY + 1
    assert [row["APP_LID"] for row in first.reservations] == [
        f"A{g}" for g in range(start, start + 100)
    ]
    assert first.more_results
    second = reservations.get_reservations(
        store,
        instance,
        ReservationFilter(
            start_date=day,
            end_date=day,
            max_results=100,
            last_request_timestamp=first.next_request_timestamp,
        ),
        default_page_size=100,
        max_page_size=500,
    )
    assert [row["APP_LID"] for row in second.reservations] == [
        f"A{g}" for g in range(start + 100, start + 200)
    ]
