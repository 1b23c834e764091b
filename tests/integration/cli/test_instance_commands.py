"""``instance disable | enable | remove`` and ``instance list``: an operator
switches an instance off and on, or deletes it with everything it owns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from tests.integration.cli.conftest import Run
from tuotempo_soap.services import answers, clinic_sync, instances, messages, portal, reservations
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.removal import owned_tables
from tuotempo_soap.store.tables import instances as instances_table
from tuotempo_soap.store.tables import reminders as reminders_table
from tuotempo_soap.store.tables import reply_questions

Fresh = Callable[..., instances.Instance]


def _line(run: Run, name: str) -> str:
    listed = run("instance", "list")
    assert listed.exit_code == 0, listed.output
    return next(line for line in listed.stdout.splitlines() if line.startswith(name + "\t"))


def test_disable_then_enable(run: Run, fresh: Fresh) -> None:
    target = fresh()
    off = run("instance", "disable", target.name)
    assert off.exit_code == 0, off.output
    assert f"disabled {target.name}" in off.stdout and "instance enable" in off.stdout
    assert "disabled since" in _line(run, target.name)
    again = run("instance", "disable", target.name)
    assert again.exit_code == 0 and "was already disabled since" in again.stdout

    on = run("instance", "enable", target.name)
    assert on.exit_code == 0 and f"enabled {target.name}" in on.stdout
    assert "disabled" not in _line(run, target.name)
    assert "was not disabled" in run("instance", "enable", target.name).stdout


def test_an_unknown_instance_says_how_to_find_or_create_one(run: Run) -> None:
    for command, *options in (("disable",), ("enable",), ("remove", "--yes")):
        missing = run("instance", command, "tt_cli_nobody", *options)
        assert missing.exit_code == 1
        assert "no instance named tt_cli_nobody" in missing.stderr
        assert "tuotempo-soap instance create" in missing.stderr


def _fill(store: Store, target: instances.Instance) -> None:
    """Users, reservations, messages, clinic settings and reminder rules."""
    instances.add_user(store, target.name, "his", "a-long-password")
    reservations.update_reservations(
        store,
        target,
        [{"APP_LID": f"A{n}", "APP_DATE": "01/03/2027", "RESOURCE_LID": "DR-1"} for n in range(5)],
        max_items=10,
    )
    messages.update_messages(
        store,
        target,
        [{"LEGACY_ID": "m1", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"}],
        max_items=10,
    )
    clinic_sync.configure(store, target.name, wsdl_url="http://clinic.invalid/ws?wsdl")


def _rows_left(store: Store, instance_id: int) -> dict[str, int]:
    with store.unit_of_work() as connection:
        counts = {
            owned.name: connection.execute(
                select(func.count()).select_from(owned.table).where(owned.column == instance_id)
            ).scalar_one()
            for owned in owned_tables()
        }
    return {name: count for name, count in counts.items() if count}


def test_remove_asks_first_then_deletes_everything_the_instance_owns(
    run: Run, fresh: Fresh, store: Store
) -> None:
    target, neighbour = fresh(), fresh()
    _fill(store, target)
    _fill(store, neighbour)

    declined = run("instance", "remove", target.name, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert "reservations: 5" in declined.output and "messages: 1" in declined.output
    assert _rows_left(store, target.id)["reservations"] == 5

    removed = run("instance", "remove", target.name, input="y\n")
    assert removed.exit_code == 0, removed.output
    assert f"removed {target.name}" in removed.stdout
    assert _rows_left(store, target.id) == {}
    with store.unit_of_work() as connection:
        gone = connection.execute(
            select(instances_table.c.id).where(instances_table.c.id == target.id)
        ).first()
    assert gone is None
    gone_user = run("user", "list", target.name)
    assert gone_user.exit_code == 1 and "no instance named" in gone_user.stderr
    # The neighbour keeps everything.
    assert _rows_left(store, neighbour.id)["reservations"] == 5
    assert run("user", "list", neighbour.name).stdout.split() == ["his"]


def test_remove_goes_a_batch_at_a_time(store: Store, fresh: Fresh) -> None:
    target = fresh()
    _fill(store, target)
    deleted = instances.remove_instance(store, target.name, batch_size=2)
    assert deleted["reservations"] == 5 and deleted["messages"] == 1
    assert deleted["api_users"] == 1 and deleted["clinic_integrations"] == 1
    assert _rows_left(store, target.id) == {}


def test_remove_is_refused_while_another_portal_reaches_centers_through_it(
    run: Run, fresh: Fresh, store: Store
) -> None:
    clinic, hub = fresh(), fresh()
    clinic_sync.configure(store, clinic.name, wsdl_url="http://clinic.invalid/ws?wsdl")
    portal.add_center(store, hub.name, "C1", via=clinic.name)

    refused = run("instance", "remove", clinic.name, "--yes")
    assert refused.exit_code == 1
    assert f"tuotempo-soap portal remove-center {hub.name} C1" in refused.stderr
    assert instances.get_instance(store, clinic.name).disabled_at is None  # nothing touched

    assert run("portal", "remove-center", hub.name, "C1").exit_code == 0
    assert run("instance", "remove", clinic.name, "--yes").exit_code == 0


def _reminder(store: Store, instance_id: int, key: str) -> int:
    now = datetime(2027, 3, 1, 9, 0)
    with store.unit_of_work(write=True) as connection:
        return int(
            connection.execute(
                insert(reminders_table)
                .values(
                    instance_id=instance_id,
                    key=key,
                    kind="APPOINTMENT",
                    reservation_ids="1",
                    due_at=now,
                    channel="SMS",
                    recipient="+34612345678",
                    status="SENT",
                    created_at=now,
                    updated_at=now,
                )
                .returning(reminders_table.c.id)
            ).scalar_one()
        )


def _questions(store: Store) -> set[str]:
    with store.unit_of_work() as connection:
        return set(connection.execute(select(reply_questions.c.reminder_ids)).scalars())


def test_remove_forgets_the_questions_that_list_the_instances_reminders(
    store: Store, fresh: Fresh
) -> None:
    """ "Which appointment do you mean?" names no instance (it may list several
    clinics'): those listing a reminder of the removed instance go, others stay;
    and a question past its validity is forgotten by the worker's housekeeping."""
    target, neighbour = fresh(), fresh()
    gone, kept = _reminder(store, target.id, "t"), _reminder(store, neighbour.id, "n")
    asked = datetime(2027, 3, 1, 10, 0)
    with store.begin(write=True) as uow:
        uow.reply_questions.add("gw", "+34612345678", [kept, gone], asked)  # both clinics
        uow.reply_questions.add("gw", "+34612345678", [kept], asked)
        uow.commit()
    assert {f"{kept},{gone}", str(kept)} <= _questions(store)

    deleted = instances.remove_instance(store, target.name)
    assert deleted["reply_questions"] == 1
    left = _questions(store)
    assert f"{kept},{gone}" not in left and str(kept) in left

    assert answers.forget_old_questions(store, asked + answers.QUESTION_VALID_FOR) == 0
    answers.forget_old_questions(store, asked + answers.QUESTION_VALID_FOR + timedelta(seconds=1))
    assert str(kept) not in _questions(store)
