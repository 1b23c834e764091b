"""getReservations of one day, first page, on PostgreSQL at 100k / 1M (/ 10M) rows.

For each size it creates a throwaway database (``databases.temporary_postgres``),
migrates it, and fills one instance with one generate_series INSERT: the agenda
pushed day by day (``--days`` days, so a day's rows are adjacent in change
order, as when a HIS sends each day's agenda in its batches), then ANALYZE.
It times the first page (LIMIT 101) of the last day and of the middle day:

- **after**: today's index set and today's statement
  (``ReservationRepository.query_statement``: one day as ``app_date = :day``,
  served by ``(instance_id, app_date, change_seq)``);
- **before**: the index set before it (``(instance_id, app_date)`` instead), rebuilt
  in the same database, and the statement as it was (``app_date >= :day AND
  app_date <= :day``).

Each figure is the median of ``--repeat`` runs after one warm-up, in ms, with the
plan's top scan. Also timed in-process through ``get_reservations`` (the
service: SQL plus building the page, not SOAP) for the after case. Nothing is
asserted.

    python bench/bench_day_read.py                       # 100k and 1M
    python bench/bench_day_read.py --ten-million         # 100k, 1M and 10M
    python bench/bench_day_read.py --server-url postgresql://postgres@127.0.0.1:5432/postgres
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

from sqlalchemy import Connection, Select, and_, select, text
from sqlalchemy.dialects import postgresql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from databases import temporary_postgres

from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances, reservations
from tuotempo_soap.services.reservations import ReservationFilter
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.repositories import ReservationQuery, ReservationRepository
from tuotempo_soap.store.tables import reservations as table

FIRST_DAY = dt.date(2027, 1, 1)
INSTANCE = "tt_bench_day_read"


def old_statement(q: ReservationQuery) -> Select[Any]:
    """The statement as it was: the day as a range, which hides that one day's
    rows could come off an index in change order."""
    c = table.c
    return (
        select(table)
        .where(
            and_(
                c.instance_id == q.instance_id,
                c.change_seq > q.after_seq,
                c.change_seq <= q.upto_seq,
                c.app_date >= q.start_date,
                c.app_date <= q.end_date,
            )
        )
        .order_by(c.change_seq)
        .limit(q.limit)
    )


def sql_of(statement: Select[Any]) -> str:
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


def top_scan(connection: Connection, sql: str) -> str:
    found = connection.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    plan = (found if isinstance(found, list) else json.loads(found))[0]["Plan"]
    stack = [plan]
    while stack:
        node = stack.pop(0)
        if "Scan" in node["Node Type"]:
            return f"{node['Node Type']} {node.get('Index Name', '')}".strip()
        stack.extend(node.get("Plans", []))
    return "?"


def timed(run: Callable[[], object], repeat: int) -> float:
    run()  # warm-up: the pages the plan touches are cached for every variant alike
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(server_url: str, rows: int, days: int, repeat: int) -> list[tuple[str, ...]]:
    results: list[tuple[str, ...]] = []
    with temporary_postgres(server_url, prefix="bench_day_read") as url:
        store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
        try:
            instances.create_instance(store, INSTANCE)
            instance = instances.get_instance(store, INSTANCE)
            per_day = max(1, rows // days)
            started = time.perf_counter()
            with store.engine.begin() as connection:
                # Loading millions of rows outlasts the application's statement timeout.
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(
                    text(
                        "INSERT INTO reservations (instance_id, app_lid, app_date, app_start_time,"
                        " resource_lid, status, created_at, updated_at, change_seq)"
                        " SELECT :instance, 'A' || g, CAST(:first AS date) + (g - 1) / :per_day,"
                        " '09:00', 'DR' || (g % 20), 'CONFIRMED', now(), now(), g"
                        " FROM generate_series(1, :rows) AS g"
                    ),
                    {"instance": instance.id, "first": FIRST_DAY, "per_day": per_day, "rows": rows},
                )
                connection.execute(
                    text("UPDATE instances SET change_seq = :rows WHERE id = :id"),
                    {"rows": rows, "id": instance.id},
                )
            # VACUUM refuses a transaction; it sets the visibility map, as a
            # settled table has, so index-only plans are costed as in production.
            with store.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as autocommit:
                autocommit.execute(text("SET statement_timeout = 0"))
                autocommit.execute(text("VACUUM ANALYZE reservations"))
            load_s = time.perf_counter() - started
            print(f"  {rows:,} rows loaded and analysed in {load_s:.1f} s", file=sys.stderr)
            last_day = FIRST_DAY + dt.timedelta(days=(rows - 1) // per_day)
            middle_day = FIRST_DAY + dt.timedelta(days=((rows - 1) // per_day) // 2)

            def page(day: dt.date) -> ReservationQuery:
                return ReservationQuery(
                    instance_id=instance.id,
                    after_seq=0,
                    upto_seq=rows,
                    limit=101,
                    start_date=day,
                    end_date=day,
                )

            def sql_time(sql: str) -> tuple[float, str]:
                with store.engine.connect() as connection:
                    scan = top_scan(connection, sql)
                    ms = timed(lambda: connection.execute(text(sql)).all(), repeat)
                return ms, scan

            after = {
                label: sql_time(sql_of(ReservationRepository.query_statement(page(day))))
                for label, day in (("last day", last_day), ("middle day", middle_day))
            }
            service_ms = timed(
                lambda: reservations.get_reservations(
                    store,
                    instance,
                    ReservationFilter(
                        start_date=last_day.strftime("%d/%m/%Y"),
                        end_date=last_day.strftime("%d/%m/%Y"),
                        max_results=100,
                    ),
                    default_page_size=100,
                    max_page_size=500,
                ),
                repeat,
            )
            # The index set as it was, in the same database.
            with store.engine.begin() as connection:
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(text("DROP INDEX ix_reservations_instance_date_seq"))
                connection.execute(
                    text(
                        "CREATE INDEX ix_reservations_instance_app_date"
                        " ON reservations (instance_id, app_date)"
                    )
                )
            with store.engine.connect() as connection:
                connection.execute(text("SET LOCAL statement_timeout = 0"))
                connection.execute(text("ANALYZE reservations"))
                connection.commit()
            before = {
                label: sql_time(sql_of(old_statement(page(day))))
                for label, day in (("last day", last_day), ("middle day", middle_day))
            }
        finally:
            store.dispose()
    for label in ("last day", "middle day"):
        old_ms, old_scan = before[label]
        new_ms, new_scan = after[label]
        results.append(
            (
                f"{rows:,}",
                label,
                f"{old_ms:.2f}",
                f"{new_ms:.2f}",
                f"{old_ms / new_ms:.0f}x",
                old_scan,
                new_scan,
            )
        )
    results.append((f"{rows:,}", "last day, service", "", f"{service_ms:.2f}", "", "", ""))
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument(
        "--ten-million", action="store_true", help="add 10,000,000 rows (several minutes)"
    )
    parser.add_argument("--days", type=int, default=365, help="days the rows are spread over")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per figure")
    parser.add_argument(
        "--server-url",
        default=os.environ.get(
            "TUOTEMPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="PostgreSQL server to create the throwaway databases on",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(part) for part in args.sizes.split(",") if part]
    if args.ten_million and 10_000_000 not in sizes:
        sizes.append(10_000_000)
    table_rows: list[tuple[str, ...]] = []
    for rows in sizes:
        table_rows.extend(measure(args.server_url, rows, args.days, args.repeat))
    header = ("rows", "page", "before ms", "after ms", "speed-up", "before scan", "after scan")
    widths = [max(len(row[i]) for row in [header, *table_rows]) for i in range(len(header))]
    print(f"getReservations, one day, first page (LIMIT 101), median of {args.repeat}")
    for row in [header, *table_rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    firsts = {row[0]: float(row[3]) for row in table_rows if row[1] == "last day"}
    if len(firsts) > 1:
        smallest, *_, largest = list(firsts)
        print(
            f"after, last day: {largest} rows / {smallest} rows = "
            f"{firsts[largest] / firsts[smallest]:.2f}x (target: within 2x)"
        )


if __name__ == "__main__":
    main()
