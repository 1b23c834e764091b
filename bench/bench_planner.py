"""How long the reminder planner takes for batches of 1,000 changed reservations.

    python bench/bench_planner.py [--batches 5] [--database-url URL]

Each batch pushes 1,000 appointments through update_reservations (the same
1,000 patients every time, so later batches add appointments to days that
already have reminders), then times one plan_changes() run. A last batch moves
the first batch's appointments to other days. Prints the figures; asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances, reminders, reservations
from tuotempo_soap.store.bootstrap import open_store


def batch(tag: str, first_day: date, hour_offset: int) -> list[dict[str, object]]:
    return [
        {
            "APP_LID": f"{tag}-{i}",
            "APP_DATE": (first_day + timedelta(days=i % 20)).strftime("%d/%m/%Y"),
            "APP_START_TIME": f"{9 + i % 8}:{hour_offset:02}",
            "RESOURCE_LID": "R1",
            "USER_LID": f"P{i}",
            "USER_MOBILE_PHONE": f"6{i:08}",
        }
        for i in range(1000)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'planner.db'}"
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
    name = f"tt_bench_{int(time.time())}"
    instances.create_instance(store, name)
    reminders.set_rules(store, name, {})
    instance = instances.get_instance(store, name)
    now = datetime(2027, 3, 1, 7, 0)
    print(f"planner, 1,000 changed reservations per run; {store.dialect}")
    for number in range(args.batches):
        reservations.update_reservations(
            store,
            instance,
            batch(f"B{number}", date(2027, 3, 2), 5 * number),
            max_items=1000,
            now=now,
        )
        started = time.perf_counter()
        outcome = reminders.plan_changes(store, now=now)
        print(
            f"  batch {number + 1}: {time.perf_counter() - started:6.2f} s  "
            f"planned {outcome.planned}, cancelled {outcome.cancelled}"
        )
    reservations.update_reservations(
        store, instance, batch("B0", date(2027, 3, 3), 30), max_items=1000, now=now
    )
    started = time.perf_counter()
    outcome = reminders.plan_changes(store, now=now)
    print(
        f"  1,000 moved: {time.perf_counter() - started:6.2f} s  "
        f"planned {outcome.planned}, cancelled {outcome.cancelled}"
    )
    store.dispose()


if __name__ == "__main__":
    main()
