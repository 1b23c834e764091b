"""The reminder planner against a real database: two workers planning at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime

from sqlalchemy import select

from tests.conftest import make_instance
from tuotempo_soap.services import reminders, reservations
from tuotempo_soap.services.instances import get_instance
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.tables import reminder_events
from tuotempo_soap.store.tables import reminders as reminder_rows

NOW = datetime(2027, 3, 1, 11, 0)  # naive UTC, as the store keeps it
COUNT = 1200  # more than two planner pages


def test_two_workers_planning_at_once_plan_each_change_once(store: Store) -> None:
    who = make_instance(store)
    instance = get_instance(store, who.instance)
    reminders.set_rules(store, who.instance, {"offsets_hours": [72, 24]})
    items = []
    for n in range(COUNT):
        item = {
            "APP_LID": f"C{n}",
            "APP_DATE": f"{10 + n % 10:02}/03/2027",
            "APP_START_TIME": "10:00",
            "RESOURCE_LID": "DR1",
            "USER_LID": f"P{n}",
        }
        if n % 3:  # a third cannot be reached: each gets one SKIPPED line, and only one
            item["USER_MOBILE_PHONE"] = f"6{n:08}"
        items.append(item)
    for start in range(0, COUNT, 500):
        done = reservations.update_reservations(
            store, instance, items[start : start + 500], max_items=500, now=NOW
        )
        assert all(item.ok for item in done.items)

    ready = threading.Barrier(2)
    errors: list[BaseException] = []

    def plan() -> None:
        ready.wait()
        try:
            reminders.plan_changes(store, now=NOW)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=plan) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []

    with store.unit_of_work() as connection:
        planned = connection.execute(
            select(reminder_rows.c.key).where(reminder_rows.c.instance_id == instance.id)
        ).all()
        events = connection.execute(
            select(reminder_events.c.reservation_id, reminder_events.c.event).where(
                reminder_events.c.instance_id == instance.id
            )
        ).all()
    reachable = sum(1 for item in items if "USER_MOBILE_PHONE" in item)
    assert len(planned) == 2 * reachable
    # Each reachable reservation: PLANNED twice (72h and 24h); each other one: SKIPPED once.
    by_event = Counter(event for (_, event) in events)
    assert by_event == {"PLANNED": 2 * reachable, "SKIPPED": COUNT - reachable}
