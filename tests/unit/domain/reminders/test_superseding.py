"""One reminder per patient-day at a time: offsets due together collapse to the latest."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from tuotempo_soap.domain.reminders.planning import (
    AppointmentView,
    PlannedReminder,
    ReminderState,
    plan_reminders,
    series_of,
    superseded_by,
)
from tuotempo_soap.domain.reminders.rules import ReminderRules

MADRID = ZoneInfo("Europe/Madrid")
WEDNESDAY = date(2027, 3, 10)  # 10:00 Madrid is 09:00 UTC


def planned(patient: str = "lid:P1", day: date = WEDNESDAY) -> list[PlannedReminder]:
    appointment = AppointmentView(
        reservation_id=1,
        app_lid="A1",
        day=day,
        start=time(10, 0),
        mobile="+34600000001",
        patient_key=patient,
    )
    rules = ReminderRules(offsets_hours=(72, 24), channel_order=("SMS",))
    return plan_reminders([appointment], rules, MADRID, datetime(2027, 3, 1, tzinfo=UTC))


def state(reminder: PlannedReminder, status: str = "PLANNED") -> ReminderState:
    # As the store holds them: naive UTC.
    return ReminderState(
        key=reminder.key,
        kind=reminder.kind,
        offset_hours=reminder.offset_hours,
        due_at=reminder.due_at.replace(tzinfo=None),
        status=status,
    )


def test_the_offsets_of_a_patient_day_share_a_series() -> None:
    early, late = planned()
    assert (early.offset_hours, late.offset_hours) == (72, 24)
    assert series_of(early.key) == series_of(late.key)
    (other_patient, _) = planned(patient="lid:P2")
    (other_day, _) = planned(day=date(2027, 3, 11))
    assert series_of(other_patient.key) != series_of(early.key)
    assert series_of(other_day.key) != series_of(early.key)


def test_after_an_outage_past_both_offsets_only_the_latest_is_sent() -> None:
    early, late = planned()
    after_both = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)  # the 24h one was due at 09:00
    both = [state(early), state(late)]
    winner = superseded_by(state(early), both, after_both)
    assert winner is not None and winner.offset_hours == 24
    assert superseded_by(state(late), both, after_both) is None
    # Naive "now" is UTC, as the store's clock gives it.
    assert superseded_by(state(early), both, after_both.replace(tzinfo=None)) == winner


def test_an_overdue_reminder_still_goes_while_the_next_offset_is_ahead() -> None:
    early, late = planned()
    between = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)  # the 72h one was due 07/03
    assert superseded_by(state(early), [state(late)], between) is None


def test_a_later_reminder_already_queued_supersedes_an_earlier_one() -> None:
    early, late = planned()
    # Whichever worker queued the 24h one first, the 72h one must not follow it.
    between = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)
    found = superseded_by(state(early), [state(late, "QUEUED")], between)
    assert found is not None and found.status == "QUEUED"


def test_only_live_later_reminders_of_the_same_series_count() -> None:
    early, late = planned()
    after_both = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)
    for status in ("CANCELLED", "SKIPPED"):
        assert superseded_by(state(early), [state(late, status)], after_both) is None
    (_, stranger) = planned(patient="lid:P2")
    assert superseded_by(state(early), [state(stranger)], after_both) is None
    # An earlier offset never supersedes a later one, and a reminder not itself.
    assert superseded_by(state(late), [state(early), state(late)], after_both) is None


def test_other_kinds_are_never_superseded() -> None:
    early, late = planned()
    notice = ReminderState(
        key="change:1:7", kind="change", offset_hours=None, due_at=early.due_at, status="PLANNED"
    )
    after_both = datetime(2027, 3, 9, 12, 0, tzinfo=UTC)
    assert superseded_by(notice, [state(late)], after_both) is None
