"""The back office's searches and detail pages on PostgreSQL at 1M (or 10M) reservations,
and what its write-side additions cost a 100-item updateReservations.

It creates a throwaway database (``databases.temporary_postgres``), migrates it,
and fills it with generate_series: one big instance (nine rows in ten) and one
small one, interleaved in id order as when several clinics push at once;
appointments spread over two years, 100 resources, a status and answer mix,
a mobile and an address per patient, and one message per two reservations.
Then VACUUM ANALYZE.

It times (median of ``--repeat`` runs after a warm-up, ms) each search the
back office offers, through the service it calls (``services.search``: SQL
plus building the records), first page and a page 20 pages in (keyset:
``before_id``), with the plan's top scan; and the two detail pages
(``services.timelines``).

Then the write side: a 100-item ``update_reservations`` batch (all changed)
with every index, and again after dropping the three search indexes of
migration 0009 (mobile, landline, lower(e-mail)), so the difference is their
cost; and one executemany INSERT of 100 ``reservation_changes`` rows alone
(the history's own cost on the portable path; on PostgreSQL it rides in the
batch's single statement, ``store/bulk.py``). Nothing is asserted.

    python bench/bench_admin_search.py                 # 1M reservations
    python bench/bench_admin_search.py --rows 10000000 # 10M (loading takes minutes)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, text
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from databases import temporary_postgres

from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances, reservations, search, timelines
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store import unit_of_work as sql_unit_of_work
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.changes import change_row
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.records import ReservationSearch
from tuotempo_soap.store.search import SearchRepository
from tuotempo_soap.store.tables import reservation_changes

FIRST_DAY = dt.date(2026, 1, 1)
DAYS = 730


def timed(run: Callable[[], object], repeat: int) -> float:
    run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def top_scan(connection: Connection, sql: str) -> str:
    found = connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    plan = (found if isinstance(found, list) else json.loads(found))[0]["Plan"]
    stack, scans = [plan], []
    while stack:
        node = stack.pop(0)
        if "Scan" in node["Node Type"]:
            scans.append(f"{node['Node Type']} {node.get('Index Name', '')}".strip())
        stack.extend(node.get("Plans", []))
    return " + ".join(scans) or "?"


def load(store: Store, rows: int) -> tuple[Instance, Instance]:
    big = instances.create_instance(store, "tt_bench_big", store_patient_identity=True)
    small = instances.create_instance(store, "tt_bench_small", store_patient_identity=True)
    started = time.perf_counter()
    with store.engine.begin() as connection:
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(
            text(
                "INSERT INTO reservations (instance_id, app_lid, app_date, app_start_time,"
                " resource_lid, resource_name, status, patient_answer, patient_answer_channel,"
                " user_lid, user_first_name, user_mobile_phone, user_email,"
                " created_at, updated_at, change_seq)"
                " SELECT CASE WHEN g % 10 = 0 THEN :small ELSE :big END, 'A' || g,"
                " CAST(:first AS date) + CAST(((g * :days) / :rows + (g % 37)) % :days AS integer),"
                " lpad(((8 + g % 11))::text, 2, '0') || ':' || (CASE WHEN g % 2 = 0 THEN '00'"
                " ELSE '30' END), 'DR' || (g % 100), 'Dr. ' || (g % 100),"
                " CASE WHEN g % 20 = 3 THEN 'CANCELLED by USER' WHEN g % 50 = 1 THEN 'PENDING'"
                " ELSE 'APPROVED' END,"
                " CASE WHEN g % 20 = 3 THEN 'CANCELLED' WHEN g % 3 = 0 THEN 'CONFIRMED' END,"
                " CASE WHEN g % 20 = 3 OR g % 3 = 0 THEN 'SMS' END,"
                " 'P' || (g % 400000), 'Name' || (g % 1000),"
                " '+346' || lpad((g % 400000)::text, 8, '0'),"
                " 'patient' || (g % 400000) || '@example.org',"
                " now(), now(), g"
                " FROM generate_series(CAST(1 AS bigint), :rows) AS g"
            ),
            {"big": big.id, "small": small.id, "first": FIRST_DAY, "days": DAYS, "rows": rows},
        )
        connection.execute(
            text(
                "INSERT INTO messages (instance_id, legacy_id, channel, recipient, body, status,"
                " attempts, next_attempt_at, created_at, updated_at, sent_at, failed_at,"
                " last_error)"
                " SELECT CASE WHEN g % 10 = 0 THEN :small ELSE :big END, 'rem-' || g, 'SMS',"
                " '+346' || lpad((g % 400000)::text, 8, '0'), 'text', CASE WHEN g % 40 = 3"
                " THEN 'FAILED' ELSE 'SENT' END, 1,"
                " TIMESTAMP '2026-01-01' + g * (:days * 1440.0 / :rows) * interval '1 minute',"
                " TIMESTAMP '2026-01-01' + g * (:days * 1440.0 / :rows) * interval '1 minute',"
                " now(), now(), CASE WHEN g % 40 = 3 THEN now() END,"
                " CASE WHEN g % 40 = 3 THEN 'rejected' END"
                " FROM generate_series(CAST(1 AS bigint), :messages) AS g"
            ),
            {
                "big": big.id,
                "small": small.id,
                "days": DAYS,
                "rows": rows // 2,
                "messages": rows // 2,
            },
        )
        connection.execute(
            text("UPDATE instances SET change_seq = :rows WHERE id IN (:big, :small)"),
            {"rows": rows, "big": big.id, "small": small.id},
        )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as autocommit:
        autocommit.execute(text("SET statement_timeout = 0"))
        autocommit.execute(text("VACUUM ANALYZE reservations"))
        autocommit.execute(text("VACUUM ANALYZE messages"))
    print(
        f"  {rows:,} reservations loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    return big, small


def reservation_cases(
    big: Instance, small: Instance
) -> list[tuple[str, Instance, search.ReservationFilter]]:
    f = search.ReservationFilter
    recent = FIRST_DAY + dt.timedelta(days=DAYS - 30)
    old = FIRST_DAY + dt.timedelta(days=200)
    return [
        ("no filter", big, f()),
        ("APP_LID", big, f(app_lid="A123457")),
        ("a week, recent", big, f(date_from=recent, date_to=recent + dt.timedelta(days=6))),
        ("a week, a year back", big, f(date_from=old, date_to=old + dt.timedelta(days=6))),
        ("a month", big, f(date_from=old, date_to=old + dt.timedelta(days=30))),
        ("one day + resource", big, f(date_from=old, date_to=old, resource_lid="DR7")),
        ("resource", big, f(resource_lid="DR7")),
        ("status CANCELLED by USER", big, f(status="CANCELLED by USER")),
        ("answer CANCELLED", big, f(patient_answer="CANCELLED")),
        ("phone, any spelling", big, f(patient="0034 600 012 345")),
        ("e-mail, any case", big, f(patient="Patient12345@Example.org")),
        ("small instance, no filter", small, f()),
        ("small instance, a week", small, f(date_from=old, date_to=old + dt.timedelta(days=6))),
    ]


def message_cases(big: Instance) -> list[tuple[str, search.MessageFilter]]:
    f = search.MessageFilter
    return [
        ("no filter", f()),
        ("legacy id", f(legacy_id="rem-4242")),
        ("recipient", f(to="600 012 345")),
        ("status FAILED", f(status="FAILED")),
        ("queued in one week", f(created_from=dt.date(2026, 6, 1), created_to=dt.date(2026, 6, 7))),
    ]


def deep_before(page_of: Callable[[int | None], Any], pages: int = 20) -> int | None:
    before = None
    for _ in range(pages):
        found = page_of(before)
        if found.next_before is None:
            return None
        before = found.next_before
    return before


def writes(store: Store, big: Instance, repeat: int) -> list[tuple[str, float]]:
    def batch(round_: int) -> list[dict[str, str]]:
        return [
            {
                "APP_LID": f"A{i * 10 + 1}",
                "APP_DATE": "02/03/2027",
                "APP_START_TIME": f"{8 + round_ % 10:02d}:00",
                "RESOURCE_LID": "DR1",
                "STATUS": "APPROVED",
                "USER_MOBILE_PHONE": "611000111",
                "USER_EMAIL": "w@example.org",
            }
            for i in range(100)
        ]

    counter = iter(range(10**6))

    def push() -> None:
        reservations.update_reservations(store, big, batch(next(counter)), max_items=1000)

    results = [("100 changed reservations, every index", timed(push, repeat))]
    with store.engine.begin() as connection:
        for name in (
            "ix_reservations_instance_mobile",
            "ix_reservations_instance_landline",
            "ix_reservations_instance_email",
        ):
            connection.execute(text(f"DROP INDEX {name}"))
    results.append(("100 changed reservations, without the 3 search indexes", timed(push, repeat)))
    seq = iter(range(10**9, 2 * 10**9))

    def history() -> None:
        rows = [
            change_row(
                instance_id=big.id,
                reservation_id=i,
                seq=next(seq),
                at=dt.datetime(2027, 3, 1),
                by="HIS",
                values=batch(0)[0] | {"app_lid": f"A{i}", "status": "APPROVED"},
            )
            for i in range(100)
        ]
        with store.unit_of_work(write=True) as connection:
            connection.execute(insert(reservation_changes), rows)

    results.append(
        ("100 reservation_changes rows alone (executemany INSERT)", timed(history, repeat))
    )
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "TUOTEMPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args(argv)
    with temporary_postgres(args.server_url, prefix="bench_admin") as url:
        store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
        try:
            big, small = load(store, args.rows)
            print(f"\nReservation searches, {args.rows:,} rows (ms, median of {args.repeat})")
            print(f"{'search':32} {'page 1':>8} {'page 21':>8}  plan (page 1)")
            for label, instance, filters in reservation_cases(big, small):

                def page(before: int | None, i: Instance = instance, f: Any = filters) -> Any:
                    return search.search_reservations(store, i, f, limit=50, before_id=before)

                first = timed(lambda: page(None), args.repeat)
                deep = deep_before(page)
                later = f"{timed(lambda d=deep: page(d), args.repeat):8.2f}" if deep else "       -"
                query = _reservation_sql(store, instance, filters)
                print(f"{label:32} {first:8.2f} {later}  {query}")
            print("\nMessage searches (ms)")
            for label, filters in message_cases(big):

                def mpage(before: int | None, f: Any = filters) -> Any:
                    return search.search_messages(store, big, f, limit=50, before_id=before)

                first = timed(lambda: mpage(None), args.repeat)
                deep = deep_before(mpage)
                later = (
                    f"{timed(lambda d=deep: mpage(d), args.repeat):8.2f}" if deep else "       -"
                )
                print(f"{label:32} {first:8.2f} {later}")
            first_page = search.search_reservations(store, big, search.ReservationFilter(), limit=1)
            first_message = search.search_messages(store, big, search.MessageFilter(), limit=1)
            some, message = first_page.items[0], first_message.items[0]
            detail = timed(lambda: timelines.reservation_detail(store, big, some.id), args.repeat)
            shown = timed(lambda: timelines.message_detail(store, big, message.id), args.repeat)
            print("\nDetail pages (ms)")
            print(f"{'reservation':32} {detail:8.2f}")
            print(f"{'message':32} {shown:8.2f}")
            print("\nWrites (ms, median)")
            for label, figure in writes(store, big, args.repeat):
                print(f"{label:58} {figure:8.2f}")
        finally:
            store.dispose()


def _reservation_sql(store: Store, instance: Instance, filters: search.ReservationFilter) -> str:
    """The plan's scans for the first page, of the repository's own statement."""
    captured: list[ReservationSearch] = []

    class Capture(SearchRepository):
        def reservations(self, q: ReservationSearch) -> Any:
            captured.append(q)
            return super().reservations(q)

    # The unit of work builds its search repository from this module's name.
    original, sql_unit_of_work.SearchRepository = sql_unit_of_work.SearchRepository, Capture  # type: ignore[misc]
    try:
        search.search_reservations(store, instance, filters, limit=50)
    finally:
        sql_unit_of_work.SearchRepository = original  # type: ignore[misc]
    statement = SearchRepository.reservations_statement(captured[0])
    sql = str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    with store.engine.connect() as connection:
        return top_scan(connection, sql)


if __name__ == "__main__":
    main()
