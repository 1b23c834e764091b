"""A worker outage through more than one reminder offset: each patient-day still
gets exactly one reminder when the worker comes back, whether the planner had
planned both offsets before the outage, meets the appointment only afterwards,
or re-plans it because the HIS changed it meanwhile. The clock file moves time
for the SOAP server, the worker and the CLI at once: no real waiting."""

from __future__ import annotations

import json
from datetime import datetime

from tests.e2e.test_reminders import RULES, World, appointment, world

__all__ = ["world"]  # the module-scoped fixture: a server, an SMS gateway and an SMTP server

TWO_OFFSETS = {**RULES, "offsets_hours": [72, 24]}


def log_of(world: World, instance: str, reservation_id: int) -> list[tuple[str, str]]:
    shown = world.cli("reminders", "log", instance, str(reservation_id))
    assert shown.returncode == 0, shown.stderr
    return [
        (line.split("\t")[1], line.split("\t")[2]) for line in shown.stdout.splitlines() if line
    ]


def test_one_reminder_after_an_outage_past_two_offsets(world: World) -> None:
    his = world.new_instance()
    rules = world.cli(
        "reminders", "rules", his.instance, "--set", "-", stdin=json.dumps(TWO_OFFSETS)
    )
    assert rules.returncode == 0, rules.stderr
    # Monday 01/03 12:00 Madrid. Friday 05/03 10:00: the 72h reminder is due on
    # Tuesday 10:00, the 24h one on Thursday 10:00.
    world.at(datetime(2027, 3, 1, 12, 0))
    world.push(
        his,
        appointment(
            "OUT-SMS",
            "05/03/2027",
            "10:00",
            USER_LID="O1",
            USER_MOBILE_PHONE="681000001",
            COMMUNICATION_PREFERENCES="100",
        ),
        appointment(
            "OUT-MAIL",
            "05/03/2027",
            "11:00",
            USER_LID="O2",
            USER_EMAIL="outage@example.org",
            COMMUNICATION_PREFERENCES="010",
        ),
        appointment(
            "OUT-MOVED",
            "05/03/2027",
            "12:00",
            USER_LID="O3",
            USER_MOBILE_PHONE="681000003",
            COMMUNICATION_PREFERENCES="100",
        ),
    )
    world.work()  # the planner plans both offsets of each; nothing is due yet
    assert world.texts_to("+34681000001") == []
    plan = world.cli(
        "reminders", "plan", his.instance, "--from", "05/03/2027", "--to", "05/03/2027"
    )
    assert plan.stdout.count("\treminder\t") == 6, plan.stdout

    # The worker goes down. Meanwhile a new booking arrives (the planner will only
    # meet it after both of its offsets) and the HIS moves OUT-MOVED by an hour.
    world.at(datetime(2027, 3, 1, 13, 0))
    world.push(
        his,
        appointment(
            "OUT-LATE",
            "05/03/2027",
            "09:00",
            USER_LID="O4",
            USER_MOBILE_PHONE="681000004",
            COMMUNICATION_PREFERENCES="100",
        ),
    )
    world.at(datetime(2027, 3, 3, 16, 0))
    world.push(
        his,
        appointment(
            "OUT-MOVED",
            "05/03/2027",
            "13:00",
            USER_LID="O3",
            USER_MOBILE_PHONE="681000003",
            COMMUNICATION_PREFERENCES="100",
        ),
    )

    # Thursday 04/03 14:00: back, past both offsets of every appointment, as
    # planned before the outage and as they would be now.
    world.at(datetime(2027, 3, 4, 14, 0))
    world.work()
    world.work()  # a second pass finds nothing more to send
    planned_early = world.texts_to("+34681000001")
    assert len(planned_early) == 1, planned_early
    assert "10:00" in planned_early[0]
    mails = [m for m in world.smtp.messages if m["To"] == "outage@example.org"]
    assert len(mails) == 1, [m["Subject"] for m in mails]
    (moved,) = world.texts_to("+34681000003")
    assert "13:00" in moved and "12:00" not in moved  # composed from the appointment as it is
    assert len(world.texts_to("+34681000004")) == 1

    # The operator sees why the earlier one did not go.
    rows = world.reservations(his)
    for lid in ("OUT-SMS", "OUT-MAIL", "OUT-MOVED"):
        events = log_of(world, his.instance, rows[lid].RESERVATION_ID)
        queued = [detail for event, detail in events if event == "QUEUED"]
        assert queued == ["reminder queued"], (lid, events)
        superseded = [
            detail for event, detail in events if event == "SKIPPED" and "superseded" in detail
        ]
        assert superseded == ["reminder skipped: superseded by the 24h reminder, due as well"], (
            lid,
            events,
        )
    late = log_of(world, his.instance, rows["OUT-LATE"].RESERVATION_ID)
    assert [event for event, _ in late].count("QUEUED") == 1, late

    # Nothing else goes out later for these appointments.
    world.at(datetime(2027, 3, 5, 9, 30))
    world.work()
    for number in ("+34681000001", "+34681000003", "+34681000004"):
        assert len(world.texts_to(number)) == 1, number
    assert len([m for m in world.smtp.messages if m["To"] == "outage@example.org"]) == 1


def test_an_overdue_reminder_still_goes_when_the_next_offset_is_ahead(world: World) -> None:
    his = world.new_instance()
    rules = world.cli(
        "reminders", "rules", his.instance, "--set", "-", stdin=json.dumps(TWO_OFFSETS)
    )
    assert rules.returncode == 0, rules.stderr
    world.at(datetime(2027, 3, 8, 12, 0))  # Monday; appointment Friday 12/03 10:00
    world.push(
        his,
        appointment(
            "GAP",
            "12/03/2027",
            "10:00",
            USER_LID="G1",
            USER_MOBILE_PHONE="682000001",
            COMMUNICATION_PREFERENCES="100",
        ),
    )
    world.work()
    # Down from Tuesday 09/03 08:00 (before the 72h offset) to Wednesday 12:00:
    # only the 72h reminder is overdue; it goes now, the 24h one on Thursday.
    world.at(datetime(2027, 3, 10, 12, 0))
    world.work()
    assert len(world.texts_to("+34682000001")) == 1
    world.at(datetime(2027, 3, 11, 10, 5))
    world.work()
    assert len(world.texts_to("+34682000001")) == 2
