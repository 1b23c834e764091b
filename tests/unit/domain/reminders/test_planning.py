from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tuotempo_soap.domain.message import Channel, sms_size
from tuotempo_soap.domain.reminders.planning import (
    AppointmentView,
    PlannedReminder,
    Skip,
    changed_fields,
    choose_channel,
    compose_message,
    make_plan,
    next_allowed,
    patient_key,
    plan_notice,
    plan_post_visit,
    plan_reminders,
    skip_reasons,
)
from tuotempo_soap.domain.reminders.rules import ReminderRules

MADRID = ZoneInfo("Europe/Madrid")
WEDNESDAY = date(2027, 3, 10)  # Madrid is UTC+1 until 28/03/2027
MOBILE = "+34600000001"


def appt(**fields: Any) -> AppointmentView:
    values: dict[str, Any] = {
        "reservation_id": 1,
        "app_lid": "A1",
        "day": WEDNESDAY,
        "start": time(10, 0),
        "mobile": MOBILE,
        "patient_key": "lid:P1",
        "language": "es",
    }
    values.update(fields)
    return AppointmentView(**values)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Madrid wall-clock time, as aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=MADRID).astimezone(UTC)


EARLY = utc(2027, 3, 1, 12)  # long before every appointment below


def plan(
    appointments: list[AppointmentView],
    rules: ReminderRules | None = None,
    now: datetime = EARLY,
    **kwargs: Any,
) -> list[PlannedReminder]:
    return plan_reminders(appointments, rules or ReminderRules(), MADRID, now, **kwargs)


def reasons(
    appointments: list[AppointmentView],
    rules: ReminderRules | None = None,
    now: datetime = EARLY,
    **kwargs: Any,
) -> list[str]:
    found = skip_reasons(appointments, rules or ReminderRules(), MADRID, now, **kwargs)
    return [reason for _, reason in found]


def offsets(*hours: int, channels: tuple[str, ...] = ("SMS",), **rules: Any) -> ReminderRules:
    return ReminderRules(offsets_hours=hours, channel_order=channels, **rules)


# -- the basic plan ---------------------------------------------------------


def test_one_reminder_per_offset_at_the_same_wall_time() -> None:
    first, second = plan([appt()])
    assert first.due_at == local(2027, 3, 7, 10, 0) == utc(2027, 3, 7, 9, 0)
    assert second.due_at == local(2027, 3, 9, 10, 0)
    assert (first.offset_hours, second.offset_hours) == (72, 24)
    for reminder in (first, second):
        assert reminder.kind == "reminder"
        assert reminder.channel is Channel.SMS and reminder.recipient == MOBILE
        assert reminder.language == "es"
        assert reminder.reservation_ids == (1,)
        assert reminder.day == WEDNESDAY
        assert reminder.due_at.tzinfo is UTC
        assert not reminder.late


def test_keys_are_stable_unique_and_carry_no_phone_number() -> None:
    view = appt(patient_key=patient_key(None, MOBILE, None))
    keys = [r.key for r in plan([view])]
    assert keys == [r.key for r in plan([view], now=EARLY + timedelta(hours=5))]
    assert len(set(keys)) == 2
    assert all("600000001" not in key for key in keys)
    assert keys[0].startswith("reminder:") and keys[0].endswith(":2027-03-10:72")
    assert len(keys[0]) <= 200  # the store's column
    other_patient = plan([appt(patient_key="lid:P2")])
    other_day = plan([appt(day=date(2027, 3, 11))])
    assert not set(keys) & {r.key for r in other_patient + other_day}


def test_a_moved_start_keeps_the_keys_but_moves_the_due_times() -> None:
    before, after = plan([appt()]), plan([appt(start=time(12, 0))])
    assert [r.key for r in before] == [r.key for r in after]
    assert [r.due_at - b.due_at for r, b in zip(after, before, strict=True)] == [
        timedelta(hours=2)
    ] * 2


def test_naive_now_is_read_as_utc() -> None:
    assert plan([appt()], now=EARLY.replace(tzinfo=None)) == plan([appt()], now=EARLY)


def test_missing_start_counts_as_eight_in_the_morning() -> None:
    (reminder,) = plan([appt(start=None, email="a@b.es")], offsets(24, channels=("EMAIL",)))
    assert reminder.due_at == local(2027, 3, 9, 8, 0)


def test_disabled_rules_plan_nothing_and_say_so() -> None:
    rules = ReminderRules(enabled=False)
    assert plan([appt()], rules) == []
    assert reasons([appt()], rules) == ["reminders are disabled"]


def test_no_offsets_plan_no_reminders() -> None:
    rules = ReminderRules(offsets_hours=())
    assert plan([appt()], rules) == []
    assert reasons([appt()], rules) == ["no reminder offsets configured"]


# -- quiet hours ------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2027, 3, 9, 22, 0), datetime(2027, 3, 10, 9, 0)),  # evening: next morning
        (datetime(2027, 3, 10, 3, 0), datetime(2027, 3, 10, 9, 0)),  # after midnight: same day
        (datetime(2027, 3, 9, 21, 0), datetime(2027, 3, 10, 9, 0)),  # quiet_start is quiet
        (datetime(2027, 3, 10, 9, 0), datetime(2027, 3, 10, 9, 0)),  # quiet_end is allowed
        (datetime(2027, 3, 10, 12, 0), datetime(2027, 3, 10, 12, 0)),
        (datetime(2027, 3, 9, 20, 59), datetime(2027, 3, 9, 20, 59)),
    ],
)
def test_next_allowed_wraps_midnight(moment: datetime, expected: datetime) -> None:
    assert next_allowed(moment, ReminderRules()) == expected


def test_next_allowed_keeps_the_zone_and_handles_other_windows() -> None:
    aware = datetime(2027, 3, 9, 23, 0, tzinfo=MADRID)
    assert next_allowed(aware, ReminderRules()) == datetime(2027, 3, 10, 9, 0, tzinfo=MADRID)
    siesta = ReminderRules(quiet_start=time(14, 0), quiet_end=time(16, 0))
    assert next_allowed(datetime(2027, 3, 9, 15, 0), siesta) == datetime(2027, 3, 9, 16, 0)
    assert next_allowed(datetime(2027, 3, 9, 23, 0), siesta) == datetime(2027, 3, 9, 23, 0)
    none = ReminderRules(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert next_allowed(datetime(2027, 3, 9, 3, 0), none) == datetime(2027, 3, 9, 3, 0)


def test_a_due_time_in_quiet_hours_moves_to_their_end() -> None:
    # 09:30 minus 12 hours is 21:30, quiet: it waits until 09:00, still before the start.
    (reminder,) = plan([appt(start=time(9, 30))], offsets(12))
    assert reminder.due_at == local(2027, 3, 10, 9, 0)


def test_quiet_hours_never_push_a_reminder_to_or_past_the_start() -> None:
    # 08:30 minus 10 hours is 22:30; 09:00 would be after the start: back to the evening.
    (reminder,) = plan([appt(start=time(8, 30))], offsets(10))
    assert reminder.due_at == local(2027, 3, 9, 20, 45)
    # Exactly at the start is not allowed either.
    (reminder,) = plan([appt(start=time(9, 0))], offsets(10))
    assert reminder.due_at == local(2027, 3, 9, 20, 45)


def test_quiet_hours_leave_no_time() -> None:
    now = local(2027, 3, 9, 21, 0)  # too late for the evening, and 09:00 is after 08:30
    view = appt(start=time(8, 30))
    assert plan([view], offsets(10), now=now) == []
    assert reasons([view], offsets(10), now=now) == [
        "10h reminder: quiet hours leave no time",
        "late reminder: quiet hours leave no time",
    ]


def test_quiet_hours_inside_one_day() -> None:
    siesta = offsets(1, quiet_start=time(14, 0), quiet_end=time(16, 0))
    (moved,) = plan([appt(start=time(17, 30))], siesta)  # 16:30: allowed
    assert moved.due_at == local(2027, 3, 10, 16, 30)
    (forward,) = plan([appt(start=time(16, 30))], siesta)  # 15:30 -> 16:00
    assert forward.due_at == local(2027, 3, 10, 16, 0)
    (back,) = plan([appt(start=time(15, 30))], siesta)  # 14:30 -> 16:00 is too late -> 13:45
    assert back.due_at == local(2027, 3, 10, 13, 45)


def test_email_ignores_quiet_hours() -> None:
    view = appt(start=time(9, 30), mobile=None, email="ana@example.org")
    (reminder,) = plan([view], offsets(12, channels=("SMS", "EMAIL")))
    assert reminder.channel is Channel.EMAIL
    assert reminder.due_at == local(2027, 3, 9, 21, 30)


@pytest.mark.parametrize("channel", ["SMS", "VOICE", "WHATSAPP"])
def test_phone_channels_respect_quiet_hours(channel: str) -> None:
    view = appt(start=time(9, 30), landline="+34910000000")
    (reminder,) = plan([view], offsets(12, channels=(channel,)))
    assert reminder.channel == channel
    assert reminder.due_at == local(2027, 3, 10, 9, 0)


def test_offsets_that_collapse_to_one_moment_keep_one() -> None:
    # 11:00 minus 3h = 08:00 -> 09:00; minus 2h = 09:00.
    reminders = plan([appt(start=time(11, 0))], offsets(3, 2))
    assert [(r.offset_hours, r.due_at) for r in reminders] == [(3, local(2027, 3, 10, 9, 0))]
    assert reasons([appt(start=time(11, 0))], offsets(3, 2)) == [
        "2h reminder: same moment as the 3h one"
    ]


# -- daylight saving time (Europe/Madrid) -----------------------------------


def test_spring_forward_offsets_count_on_the_wall_clock() -> None:
    monday = appt(day=date(2027, 3, 29), start=time(10, 0))  # CEST, UTC+2
    due = {r.offset_hours: r.due_at for r in plan([monday], offsets(72, 48, 24))}
    assert due[24] == utc(2027, 3, 28, 8, 0)  # Sunday 10:00 CEST
    assert due[48] == utc(2027, 3, 27, 9, 0)  # Saturday 10:00 CET
    assert due[72] == utc(2027, 3, 26, 9, 0)  # Friday 10:00 CET


def test_spring_forward_quiet_hours_end_at_nine_summer_time() -> None:
    sunday = appt(day=date(2027, 3, 28), start=time(10, 0))
    (reminder,) = plan([sunday], offsets(12), now=utc(2027, 3, 20))
    assert reminder.due_at == utc(2027, 3, 28, 7, 0)  # 09:00 CEST


def test_spring_forward_a_skipped_wall_time_lands_after_the_gap() -> None:
    # 10:30 minus 8 hours is 02:30 on 28/03, which does not exist in Madrid.
    sunday = appt(day=date(2027, 3, 28), start=time(10, 30), email="a@b.es", mobile=None)
    (reminder,) = plan([sunday], offsets(8, channels=("EMAIL",)), now=utc(2027, 3, 20))
    assert reminder.due_at == utc(2027, 3, 28, 1, 30)  # 03:30 CEST


def test_fall_back_offsets_count_on_the_wall_clock() -> None:
    monday = appt(day=date(2027, 11, 1), start=time(9, 30))  # CET, UTC+1
    due = {r.offset_hours: r.due_at for r in plan([monday], now=utc(2027, 10, 20))}
    assert due[24] == utc(2027, 10, 31, 8, 30)  # Sunday 09:30 CET
    assert due[72] == utc(2027, 10, 29, 7, 30)  # Friday 09:30 CEST


def test_fall_back_quiet_hours_and_a_repeated_wall_time() -> None:
    sunday = appt(day=date(2027, 10, 31), start=time(10, 0))
    (quiet,) = plan([sunday], offsets(12), now=utc(2027, 10, 20))
    assert quiet.due_at == utc(2027, 10, 31, 8, 0)  # 09:00 CET
    # 10:30 minus 8 hours is 02:30, which happens twice: the first one counts.
    by_mail = appt(day=date(2027, 10, 31), start=time(10, 30), email="a@b.es", mobile=None)
    (first,) = plan([by_mail], offsets(8, channels=("EMAIL",)), now=utc(2027, 10, 20))
    assert first.due_at == utc(2027, 10, 31, 0, 30)  # 02:30 CEST


# -- late bookings ----------------------------------------------------------


def test_a_booking_after_an_offset_gets_only_the_later_ones() -> None:
    now = local(2027, 3, 8, 12, 0)  # the 72h reminder was due on 07/03
    (reminder,) = plan([appt()], now=now)
    assert reminder.offset_hours == 24 and not reminder.late
    assert reasons([appt()], now=now) == [
        "72h reminder: booked too late (it was due 07/03/2027 10:00)"
    ]


def test_a_booking_after_every_offset_gets_one_reminder_as_soon_as_allowed() -> None:
    now = local(2027, 3, 9, 13, 0)
    (reminder,) = plan([appt()], now=now)
    assert reminder.late and reminder.due_at == now
    assert reminder.offset_hours == 24 and reminder.key.endswith(":24")


def test_a_late_reminder_waits_for_the_end_of_quiet_hours() -> None:
    now = local(2027, 3, 9, 23, 0)
    (reminder,) = plan([appt(start=time(12, 0))], now=now)
    assert reminder.late and reminder.due_at == local(2027, 3, 10, 9, 0)


def test_no_late_reminder_two_hours_or_less_ahead() -> None:
    now = local(2027, 3, 10, 8, 30)
    assert plan([appt()], now=now) == []
    assert reasons([appt()], now=now)[-1] == "less than 2 hours ahead, too late to remind"
    assert plan([appt()], now=local(2027, 3, 10, 7, 59))[0].late


def test_no_late_reminder_for_an_appointment_known_in_time() -> None:
    now = local(2027, 3, 9, 13, 0)
    booked = {1: utc(2027, 3, 1)}
    assert plan([appt()], now=now, booked_at=booked) == []
    assert reasons([appt()], now=now, booked_at=booked) == [
        "72h reminder: its moment (07/03/2027 10:00) is past",
        "24h reminder: its moment (09/03/2027 10:00) is past",
    ]
    late_booking = {1: local(2027, 3, 9, 12, 0)}
    assert plan([appt()], now=now, booked_at=late_booking)[0].late


# -- grouping ---------------------------------------------------------------


def test_several_appointments_of_a_patient_day_share_one_reminder() -> None:
    appointments = [
        appt(reservation_id=2, app_lid="A2", start=time(11, 0), resource_name="Lab"),
        appt(reservation_id=1, start=time(9, 30), resource_name="Dr Rossi"),
        appt(reservation_id=3, app_lid="A3", day=date(2027, 3, 11)),
        appt(reservation_id=4, app_lid="A4", patient_key="lid:P2", mobile="+34600000002"),
    ]
    reminders = plan(appointments, offsets(24))
    assert [(r.reservation_ids, r.due_at) for r in reminders] == [
        ((1, 2), local(2027, 3, 9, 9, 30)),  # from the first appointment of the day
        ((4,), local(2027, 3, 9, 10, 0)),
        ((3,), local(2027, 3, 10, 10, 0)),
    ]


def test_a_group_counts_only_its_active_appointments() -> None:
    appointments = [
        appt(reservation_id=1, start=time(9, 0), status="CANCELLED by USER"),
        appt(reservation_id=2, app_lid="A2", start=time(11, 0), status="APPROVED"),
    ]
    (reminder,) = plan(appointments, offsets(24))
    assert reminder.reservation_ids == (2,) and reminder.due_at == local(2027, 3, 9, 11, 0)
    assert skip_reasons(appointments, offsets(24), MADRID, EARLY) == [
        (1, "cancelled (CANCELLED by USER)")
    ]


def test_appointments_without_a_patient_identity_are_never_merged() -> None:
    strangers = [appt(patient_key=""), appt(reservation_id=2, app_lid="A2", patient_key="")]
    reminders = plan(strangers, offsets(24))
    assert [r.reservation_ids for r in reminders] == [(1,), (2,)]
    assert reminders[0].key != reminders[1].key


def test_a_group_uses_the_first_member_that_can_be_reached() -> None:
    appointments = [
        appt(reservation_id=1, start=time(9, 0), mobile=None, language="it"),
        appt(reservation_id=2, app_lid="A2", start=time(11, 0), language="en"),
    ]
    (reminder,) = plan(appointments, offsets(24))
    assert reminder.reservation_ids == (1, 2) and reminder.language == "en"
    assert reminder.due_at == local(2027, 3, 9, 9, 0)


# -- who gets nothing, and why ----------------------------------------------


@pytest.mark.parametrize("status", ["CANCELLED by USER", "CANCELLED by ADMIN"])
def test_cancelled_appointments_are_not_reminded(status: str) -> None:
    assert plan([appt(status=status)]) == []
    assert reasons([appt(status=status)]) == [f"cancelled ({status})"]


@pytest.mark.parametrize("status", [None, "PENDING", "APPROVED"])
def test_active_statuses_are_reminded(status: str | None) -> None:
    assert len(plan([appt(status=status)])) == 2


def test_past_appointments_are_not_reminded() -> None:
    now = local(2027, 3, 10, 10, 0)
    assert plan([appt()], now=now) == []
    assert reasons([appt()], now=now) == ["appointment already started or past"]


@pytest.mark.parametrize(("privacy", "planned"), [("1", True), ("0", False), (None, False)])
def test_privacy_when_required(privacy: str | None, planned: bool) -> None:
    rules = ReminderRules(require_privacy=True)
    assert bool(plan([appt(privacy=privacy)], rules)) is planned
    if not planned:
        assert reasons([appt(privacy=privacy)], rules) == [
            "privacy not accepted (PRIVACY is not 1)"
        ]
    assert plan([appt(privacy=privacy)])  # not required: not checked


def test_preferences_000_refuse_everything() -> None:
    view = appt(preferences="000", email="a@b.es", landline="+34910000000")
    assert plan([view]) == []
    (reason,) = reasons([view])
    assert reason == (
        "no channel fits: SMS: patient refuses SMS (preferences 000); "
        "EMAIL: patient refuses e-mail (preferences 000); "
        "VOICE: patient refuses landline calls (preferences 000)"
    )


def test_missing_contacts() -> None:
    view = appt(mobile=None)
    assert plan([view]) == []
    assert reasons([view]) == [
        "no channel fits: SMS: no mobile number; EMAIL: no e-mail address; "
        "VOICE: no landline number"
    ]


# -- channel choice ---------------------------------------------------------

ALL_CONTACTS = {"mobile": MOBILE, "email": "ana@example.org", "landline": "+34910000000"}


@pytest.mark.parametrize(
    ("preferences", "contacts", "order", "expected"),
    [
        (None, ALL_CONTACTS, ("SMS", "EMAIL", "VOICE"), ("SMS", MOBILE)),
        ("111", ALL_CONTACTS, ("SMS", "EMAIL", "VOICE"), ("SMS", MOBILE)),
        ("011", ALL_CONTACTS, ("SMS", "EMAIL", "VOICE"), ("EMAIL", "ana@example.org")),
        ("101", ALL_CONTACTS, ("EMAIL", "VOICE", "SMS"), ("VOICE", "+34910000000")),
        ("001", ALL_CONTACTS, ("SMS", "EMAIL", "VOICE"), ("VOICE", "+34910000000")),
        ("011", {"landline": "+34910000000"}, ("SMS", "EMAIL", "VOICE"), ("VOICE", "+34910000000")),
        ("100", ALL_CONTACTS, ("WHATSAPP", "EMAIL"), ("WHATSAPP", MOBILE)),
        ("011", ALL_CONTACTS, ("WHATSAPP", "EMAIL"), ("EMAIL", "ana@example.org")),
        ("", ALL_CONTACTS, ("EMAIL",), ("EMAIL", "ana@example.org")),  # blank: not stated
        ("1", ALL_CONTACTS, ("EMAIL", "SMS"), ("SMS", MOBILE)),  # short: only what it says
        ("000", ALL_CONTACTS, ("SMS", "EMAIL", "VOICE"), None),
        ("001", {"mobile": MOBILE}, ("SMS", "EMAIL", "VOICE"), None),
        (None, {"email": "  "}, ("EMAIL",), None),
    ],
)
def test_choose_channel(
    preferences: str | None,
    contacts: dict[str, str],
    order: tuple[str, ...],
    expected: tuple[str, str] | None,
) -> None:
    view = appt(**{"mobile": None, **contacts, "preferences": preferences})
    choice = choose_channel(view, ReminderRules(channel_order=order))
    if expected is None:
        assert not choice and choice.pair is None
        assert choice.reason is not None and choice.reason.startswith("no channel fits")
    else:
        assert choice and choice.reason is None
        assert choice.pair == (Channel(expected[0]), expected[1])


# -- languages --------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "default", "expected"),
    [("IT", "es", "it"), ("pt_BR", "es", "pt"), ("de", "es", "es"), (None, "fr", "fr")],
)
def test_reminder_language(language: str | None, default: str, expected: str) -> None:
    (reminder,) = plan([appt(language=language)], offsets(24), default_language=default)
    assert reminder.language == expected


def test_an_added_language_is_used() -> None:
    rules = offsets(24, templates={"reminder": {"de": "Termin {date}"}})
    assert plan([appt(language="de")], rules)[0].language == "de"


# -- post-visit messages ----------------------------------------------------


def test_post_visit_after_the_last_appointment_of_the_day() -> None:
    rules = ReminderRules(post_visit_hours=2)
    appointments = [
        appt(start=time(10, 0)),
        appt(reservation_id=2, app_lid="A2", start=time(11, 0)),
    ]
    (visit,) = plan_post_visit(appointments, rules, MADRID, EARLY)
    assert visit.kind == "post_visit" and visit.offset_hours == 2
    assert visit.due_at == local(2027, 3, 10, 13, 0)
    assert visit.reservation_ids == (1, 2)
    assert visit.key.startswith("post_visit:") and visit.key.endswith(":2027-03-10")
    assert all(r.kind == "reminder" for r in plan(appointments, rules))


def test_post_visit_respects_quiet_hours_and_status() -> None:
    rules = ReminderRules(post_visit_hours=12)
    (visit,) = plan_post_visit([appt(start=time(11, 0))], rules, MADRID, EARLY)
    assert visit.due_at == local(2027, 3, 11, 9, 0)
    cancelled = appt(status="CANCELLED by ADMIN")
    assert plan_post_visit([cancelled], rules, MADRID, EARLY) == []
    assert plan_post_visit([appt()], ReminderRules(), MADRID, EARLY) == []


def test_post_visit_still_planned_after_the_appointment_but_not_after_its_moment() -> None:
    rules = ReminderRules(post_visit_hours=4)
    during = make_plan([appt()], rules, MADRID, local(2027, 3, 10, 11, 0))
    assert [r.kind for r in during.reminders] == ["post_visit"]
    after = make_plan([appt()], rules, MADRID, local(2027, 3, 10, 15, 0))
    assert after.reminders == ()
    assert Skip(1, "post-visit: its moment (10/03/2027 14:00) is past") in after.skipped


# -- notices ----------------------------------------------------------------


def test_change_notice_waits_for_the_morning_unless_that_is_too_late() -> None:
    night = local(2027, 3, 8, 23, 0)
    notice = plan_notice("change", appt(), ReminderRules(), MADRID, night, version=7)
    assert isinstance(notice, PlannedReminder)
    assert notice.kind == "change" and notice.key == "change:1:7"
    assert notice.due_at == local(2027, 3, 9, 9, 0)
    urgent = plan_notice(
        "change",
        appt(start=time(8, 30)),
        ReminderRules(),
        MADRID,
        local(2027, 3, 9, 23, 0),
        version=8,
    )
    assert isinstance(urgent, PlannedReminder) and urgent.due_at == local(2027, 3, 9, 23, 0)


def test_notices_follow_the_rules() -> None:
    now = local(2027, 3, 8, 12, 0)
    off = plan_notice("change", appt(), ReminderRules(notify_changes=False), MADRID, now, version=1)
    assert off == Skip(1, "change notices are off")
    by_admin = appt(status="CANCELLED by ADMIN")
    assert plan_notice("cancellation", by_admin, ReminderRules(), MADRID, now, version=1) == Skip(
        1, "cancellation notices are off"
    )
    rules = ReminderRules(cancellation_notice=True)
    notice = plan_notice("cancellation", by_admin, rules, MADRID, now, version=1)
    assert isinstance(notice, PlannedReminder) and notice.due_at == now
    by_patient = appt(status="CANCELLED by USER")
    assert plan_notice("cancellation", by_patient, rules, MADRID, now, version=1) == Skip(
        1, "cancellation notice: the patient cancelled it"
    )
    past = plan_notice("change", appt(), ReminderRules(), MADRID, local(2027, 3, 11), version=1)
    assert past == Skip(1, "change notice: appointment already started or past")
    with pytest.raises(ValueError):
        plan_notice("reminder", appt(), ReminderRules(), MADRID, now, version=1)


# -- changes ----------------------------------------------------------------


def test_changed_fields() -> None:
    before = {"day": WEDNESDAY, "start": time(9, 30), "resource": "R1", "location": "L1"}
    assert changed_fields(before, dict(before)) == set()
    assert changed_fields(before, {**before, "start": time(10, 0)}) == {"start"}
    assert changed_fields(before, {**before, "day": date(2027, 3, 11), "location": None}) == {
        "day",
        "location",
    }
    assert changed_fields(before, {**before, "resource": "R2", "notes": "x"}) == {"resource"}


def test_changed_fields_reads_guide_names_and_text() -> None:
    stored = {"app_date": WEDNESDAY, "app_start_time": "09:30", "resource_lid": "R1"}
    incoming = {"APP_DATE": "10/03/2027", "APP_START_TIME": "9:30", "RESOURCE_LID": "R1"}
    assert changed_fields(stored, incoming) == set()
    assert changed_fields(stored, {**incoming, "APP_START_TIME": "10:00"}) == {"start"}
    assert changed_fields(stored, {**incoming, "LOCATION_LID": "L2"}) == {"location"}


# -- records and messages ---------------------------------------------------


def test_from_record_reads_columns_or_guide_names() -> None:
    row = {
        "app_lid": "A9",
        "app_date": WEDNESDAY,
        "app_start_time": "09:30",
        "user_lid": " ",
        "user_mobile_phone": MOBILE,
        "communication_preferences": "101",
        "status": "APPROVED",
        "resource_name": "Dr Rossi",
    }
    view = AppointmentView.from_record(9, row)
    assert (view.day, view.start, view.preferences) == (WEDNESDAY, time(9, 30), "101")
    assert view.patient_key == f"tel:{MOBILE}"
    guide = AppointmentView.from_record(
        9, {"APP_LID": "A9", "APP_DATE": "10/03/2027", "USER_LID": "U1", "USER_EMAIL": "A@B.es"}
    )
    assert guide.day == WEDNESDAY and guide.start is None and guide.patient_key == "lid:U1"
    assert patient_key(None, None, "A@B.es") == "mail:a@b.es"
    assert MOBILE not in repr(view)


def test_compose_a_reminder_for_several_appointments() -> None:
    rules = ReminderRules(clinic_name="Clínica Sol")
    appointments = [
        appt(reservation_id=2, app_lid="A2", start=time(11, 0), resource_name="Lab"),
        appt(start=time(9, 30), resource_name="Dr Rossi", day=date(2027, 3, 13)),
    ]
    appointments[0] = replace(appointments[0], day=date(2027, 3, 13))
    message = compose_message("reminder", appointments, rules, channel="SMS", language="es")
    assert message.subject is None
    assert message.body == (
        "Recordatorio de su cita: sabado 13/03/2027, 09:30 Dr Rossi; 11:00 Lab. "
        "Responda SI para confirmar o NO para anular. Clinica Sol"
    )
    assert sms_size(message.body).segments == 1


def test_compose_an_email_with_links_and_a_subject() -> None:
    rules = ReminderRules(clinic_name="Clínica Sol")
    message = compose_message(
        "reminder",
        [appt(resource_name="Dr Rossi")],
        rules,
        channel=Channel.EMAIL,
        language="es",
        confirm_url="https://example.org/c/1",
        cancel_url="https://example.org/k/1",
    )
    assert message.subject == "Recordatorio de su cita del 10/03/2027"
    assert message.body.splitlines() == [
        "Recordatorio de su cita: miércoles 10/03/2027, 10:00 Dr Rossi.",
        "Confirmar: https://example.org/c/1",
        "Anular: https://example.org/k/1",
        "Clínica Sol",
    ]


def test_compose_without_confirmation_and_for_help_and_changes() -> None:
    rules = ReminderRules(
        ask_confirmation=False, templates={"reminder": {"en": "{date}: {confirm_hint}"}}
    )
    quiet = compose_message("reminder", [appt()], rules, channel="SMS", language="en")
    assert quiet.body == "10/03/2027:"
    helped = compose_message("help", [appt()], rules, channel="SMS", language="en")
    assert "Reply YES to confirm or NO to cancel." in helped.body
    moved = compose_message(
        "change",
        [appt()],
        ReminderRules(),
        channel="SMS",
        language="it",
        previous=appt(day=date(2027, 3, 9), start=time(16, 0)),
    )
    assert moved.body.startswith("Il suo appuntamento del 09/03/2027 16:00 è cambiato.")
    voice = compose_message("reminder", [appt()], ReminderRules(), channel="VOICE", language="fr")
    assert voice.body.endswith("Tapez 1 pour confirmer ou 2 pour annuler.")
