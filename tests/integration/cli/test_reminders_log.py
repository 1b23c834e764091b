"""``reminders log``: every step for one reservation, or a sentence saying why
there is none, never an empty answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import instances, reminders, reservations
from tuotempo_soap.store.engine import Store

Fresh = Callable[..., instances.Instance]


def _book(store: Store, target: instances.Instance) -> int:
    outcome = reservations.update_reservations(
        store,
        target,
        [
            {
                "APP_LID": "R1",
                "APP_DATE": "01/03/2027",
                "APP_START_TIME": "09:00",
                "RESOURCE_LID": "DR-1",
                "USER_MOBILE_PHONE": "612345678",
            }
        ],
        max_items=1,
        now=datetime(2027, 2, 20, 9, 0),
    )
    return int(outcome.items[0].reservation_id)  # type: ignore[arg-type]


def test_no_such_reservation(run: Run, fresh: Fresh, store: Store) -> None:
    target, other = fresh(), fresh()
    elsewhere = _book(store, other)
    for missing in (999_999_999, elsewhere):  # another instance's is not this one's
        logged = run("reminders", "log", target.name, str(missing))
        assert logged.exit_code == 1
        assert f"{target.name} has no reservation {missing}" in logged.stderr
        assert "reservations search" in logged.stderr


def test_no_reminders_says_why(run: Run, fresh: Fresh, store: Store) -> None:
    target = fresh()
    reservation_id = _book(store, target)
    off = run("reminders", "log", target.name, str(reservation_id))
    assert off.exit_code == 0
    assert f"no reminders for reservation {reservation_id}" in off.stdout
    assert "reminders rules --defaults" in off.stdout

    assert run("reminders", "rules", target.name, "--defaults").exit_code == 0
    waiting = run("reminders", "log", target.name, str(reservation_id))
    assert "nothing planned yet" in waiting.stdout

    reminders.plan_changes(store, now=datetime(2027, 2, 20, 9, 0))
    planned = run("reminders", "log", target.name, str(reservation_id))
    assert planned.exit_code == 0 and "no reminders" not in planned.stdout
    assert planned.stdout.count("UTC\t") >= 1
