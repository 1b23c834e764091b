"""updateReservations looks up a batch's stored rows with one probe of the
(instance_id, app_lid) unique index per APP_LID on PostgreSQL, before the table
has statistics (a new database, a bulk load) as well as after: never a walk
through every row of the instance."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url

from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.repositories import ReservationRepository

pytestmark = pytest.mark.postgres

ROWS = 20_000


@pytest.fixture(scope="module")
def fresh(postgres_url: str) -> Iterator[tuple[Store, int]]:
    """A database of its own (so no earlier test has analysed its tables), migrated,
    with ROWS reservations of one instance and no statistics yet."""
    name = f"tuotempo_lookup_{secrets.token_hex(3)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
    instance_id = instances.get_instance(store, make_instance(store).instance).id
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reservations (instance_id, app_lid, app_date, resource_lid,"
                " user_email, created_at, updated_at, change_seq)"
                " SELECT :instance, 'A' || g, DATE '2027-01-01' + g % 300, 'DR' || (g % 20),"
                " 'p' || g || '@example.com', now(), now(), g"
                " FROM generate_series(1, :rows) AS g"
            ),
            {"instance": instance_id, "rows": ROWS},
        )
    try:
        yield store, instance_id
    finally:
        store.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def plan_of(store: Store, instance_id: int, lids: list[str]) -> dict[str, Any]:
    statement = ReservationRepository.by_app_lids_statement(instance_id, lids).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with store.engine.connect() as connection:
        found = connection.execute(text(f"EXPLAIN (FORMAT JSON) {statement}")).scalar_one()
    document = found if isinstance(found, list) else json.loads(found)
    return dict(document[0]["Plan"])


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Scan" in plan["Node Type"] and plan.get("Relation Name") == "reservations":
        yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


def assert_probes_the_unique_index(store: Store, instance_id: int) -> None:
    lids = [f"A{n}" for n in range(5000, 5100)] + ["not-stored"]
    (scan,) = scans(plan_of(store, instance_id, lids))
    assert scan["Index Name"] == "uq_reservations_instance_app_lid"
    assert "app_lid" in scan["Index Cond"] and "instance_id" in scan["Index Cond"]
    assert "Filter" not in scan
    with store.engine.connect() as connection:
        found = ReservationRepository(connection).by_app_lids(instance_id, lids)
    assert sorted(found) == sorted(lids[:-1])
    assert {row["instance_id"] for row in found.values()} == {instance_id}


def test_without_statistics(fresh: tuple[Store, int]) -> None:
    store, instance_id = fresh
    with store.engine.connect() as connection:
        analysed = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'reservations'")
        ).scalar_one()
    assert analysed < 0  # never analysed: the planner has no statistics
    assert_probes_the_unique_index(store, instance_id)


def test_with_statistics(fresh: tuple[Store, int]) -> None:
    store, instance_id = fresh
    with store.engine.connect() as connection:
        connection.execute(text("ANALYZE reservations"))
        connection.commit()
    assert_probes_the_unique_index(store, instance_id)
