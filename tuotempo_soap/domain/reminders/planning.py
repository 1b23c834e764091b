"""When, how and to whom reminders go: pure planning over appointments and rules.

Rules of the plan (times are wall-clock times in the instance's zone):

- Appointments are grouped per patient and day; a group gets one reminder per
  offset, counted from its first appointment (a missing start counts as 08:00).
- Offsets count on the wall clock: 24 hours before Monday 10:00 is Sunday 10:00
  even across a DST change, which is how patients and clinics read "the day
  before". A wall time skipped by the spring change is read as the moment after
  the gap; one repeated in autumn as its first occurrence.
- Quiet hours (SMS, voice, WhatsApp; never e-mail) move a reminder forward to
  their end, never to or past the appointment start: then it moves back to just
  before they began (``EVENING_MARGIN`` earlier), or is dropped when that is past.
- A reminder whose moment is past is not planned; the plan never holds a due
  time in the past, so a service comparing plans must leave rows already due
  alone. When every offset is past because the booking came late (after the
  last one was due) and the appointment is more than ``LATE_MIN_LEAD`` ahead,
  one reminder goes as soon as quiet hours allow, under the last offset's key.
- Keys are stable across re-plans (kind, hashed patient, day, offset), so a
  re-plan updates a reminder instead of adding a second one.
- A patient-day gets at most one reminder at a time: when several of its
  offsets are due together (the worker was down past more than one of them),
  only the latest is sent and the earlier ones are superseded (``superseded_by``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from ..formats import format_date, format_time, parse_date, parse_time
from ..message import Channel
from ..reservation import Status
from .rules import QUIET_CHANNELS, ReminderRules, language_fallback
from .templates import Slot, placeholder_values, render, sms_safe, tidy

DEFAULT_START = time(8, 0)  # an appointment without a start time is taken to begin at 08:00
LATE_MIN_LEAD = timedelta(hours=2)  # below this, a late reminder would arrive too late to help
# Moved back out of quiet hours, a reminder aims this much before they begin, so
# a worker's lag or a rate limit does not push it into them.
EVENING_MARGIN = timedelta(minutes=15)

_CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})
CHANGE_FIELDS: tuple[str, ...] = ("day", "start", "resource", "location")


@dataclass(frozen=True, kw_only=True)
class AppointmentView:
    """What planning needs of a reservation. Contact fields stay out of ``repr``."""

    reservation_id: int
    app_lid: str
    day: date
    patient_key: str  # USER_LID if present, else the mobile, else the e-mail
    start: time | None = None
    status: str | None = None  # guide STATUS
    mobile: str | None = None
    landline: str | None = None
    email: str | None = None
    preferences: str | None = None  # COMMUNICATION_PREFERENCES: SMS, e-mail, landline
    privacy: str | None = None
    language: str | None = None
    resource_name: str | None = None
    location_name: str | None = None
    activity_lid: str | None = None

    def __repr__(self) -> str:
        return f"AppointmentView(reservation_id={self.reservation_id}, app_lid={self.app_lid!r})"

    @classmethod
    def from_record(cls, reservation_id: int, record: Mapping[str, Any]) -> AppointmentView:
        """Build from a stored or cleaned reservation: guide names (``APP_DATE``) or
        column names (``app_date``); dates and times as values or as guide text."""

        def get(name: str) -> Any:
            value = record.get(name.lower(), record.get(name))
            if isinstance(value, str):
                value = value.strip() or None
            return value

        day = get("APP_DATE")
        start = get("APP_START_TIME")
        user_lid, mobile, email = get("USER_LID"), get("USER_MOBILE_PHONE"), get("USER_EMAIL")
        return cls(
            reservation_id=reservation_id,
            app_lid=str(get("APP_LID")),
            day=parse_date(day) if isinstance(day, str) else day,
            start=parse_time(start) if isinstance(start, str) else start,
            status=get("STATUS"),
            mobile=mobile,
            landline=get("USER_LANDLINE_PHONE"),
            email=email,
            preferences=get("COMMUNICATION_PREFERENCES"),
            privacy=get("PRIVACY"),
            language=get("USER_LANGUAGE"),
            resource_name=get("RESOURCE_NAME"),
            location_name=get("LOCATION_NAME"),
            activity_lid=get("ACTIVITY_LID"),
            patient_key=patient_key(user_lid, mobile, email),
        )

    @property
    def cancelled(self) -> bool:
        return self.status in _CANCELLED


def patient_key(user_lid: str | None, mobile: str | None, email: str | None) -> str:
    """Who the patient is, for grouping: the clinic's id, else the mobile, else the e-mail."""
    if user_lid:
        return f"lid:{user_lid}"
    if mobile:
        return f"tel:{mobile}"
    if email:
        return f"mail:{email.lower()}"
    return ""


class Skip(NamedTuple):
    """Why something was not planned, for the operator (``(reservation_id, reason)``)."""

    reservation_id: int
    reason: str


@dataclass(frozen=True)
class ChannelChoice:
    """The channel and recipient chosen, or ``reason`` why none fits. True when chosen."""

    channel: Channel | None = None
    recipient: str | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.channel is not None

    @property
    def pair(self) -> tuple[Channel, str] | None:
        if self.channel is None or self.recipient is None:
            return None
        return self.channel, self.recipient


@dataclass(frozen=True, kw_only=True)
class PlannedReminder:
    key: str
    kind: str = "reminder"
    offset_hours: int | None
    due_at: datetime  # aware, UTC
    channel: Channel
    recipient: str
    language: str
    reservation_ids: tuple[int, ...]
    day: date
    late: bool = False  # planned as soon as allowed because it was booked after the last offset

    def __repr__(self) -> str:  # the recipient is personal data
        return (
            f"PlannedReminder(key={self.key!r}, kind={self.kind!r}, due_at={self.due_at!r}, "
            f"channel={self.channel.value}, reservation_ids={self.reservation_ids})"
        )


@dataclass(frozen=True)
class Plan:
    reminders: tuple[PlannedReminder, ...]
    skipped: tuple[Skip, ...]


def _allows(preferences: str | None, position: int) -> bool:
    """``None`` (not stated) allows everything; otherwise only an explicit '1' does."""
    if preferences is None or not preferences.strip():
        return True
    flags = preferences.strip()
    return len(flags) > position and flags[position] == "1"


_PREFERENCE_POSITION = {Channel.SMS: 0, Channel.WHATSAPP: 0, Channel.EMAIL: 1, Channel.VOICE: 2}
_PREFERENCE_NAMES = {0: "SMS", 1: "e-mail", 2: "landline calls"}


def choose_channel(appointment: AppointmentView, rules: ReminderRules) -> ChannelChoice:
    """The first channel of ``channel_order`` the patient allows and has contact data for.

    The SMS flag governs SMS and WhatsApp (both reach the mobile), the e-mail flag
    e-mail, the landline flag voice calls to the landline.
    """
    problems: list[str] = []
    for channel in rules.channels:
        position = _PREFERENCE_POSITION[channel]
        if not _allows(appointment.preferences, position):
            problems.append(
                f"{channel.value}: patient refuses {_PREFERENCE_NAMES[position]} "
                f"(preferences {appointment.preferences})"
            )
            continue
        recipient, missing = {
            Channel.SMS: (appointment.mobile, "no mobile number"),
            Channel.WHATSAPP: (appointment.mobile, "no mobile number"),
            Channel.EMAIL: (appointment.email, "no e-mail address"),
            Channel.VOICE: (appointment.landline, "no landline number"),
        }[channel]
        if recipient and recipient.strip():
            return ChannelChoice(channel, recipient.strip())
        problems.append(f"{channel.value}: {missing}")
    return ChannelChoice(reason="no channel fits: " + "; ".join(problems))


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is read as UTC, as the store keeps timestamps."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: a time skipped in spring gets the offset before the gap (so it lands
    # just after it); a repeated autumn time is its first occurrence.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def quiet_window(moment: datetime, rules: ReminderRules) -> tuple[datetime, datetime] | None:
    """The quiet hours ``[start, end)`` holding a wall-clock moment, or ``None``."""
    if not rules.has_quiet_hours:
        return None
    qs, qe, clock, day = rules.quiet_start, rules.quiet_end, moment.time(), moment.date()

    def at(on: date, hour: time) -> datetime:
        return datetime.combine(on, hour, tzinfo=moment.tzinfo)

    one_day = timedelta(days=1)
    if qs < qe:  # within one day (a siesta)
        return (at(day, qs), at(day, qe)) if qs <= clock < qe else None
    if clock >= qs:  # wraps midnight: the evening part
        return at(day, qs), at(day + one_day, qe)
    if clock < qe:  # ... and the morning part
        return at(day - one_day, qs), at(day, qe)
    return None


def next_allowed(moment_local: datetime, rules: ReminderRules) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in (wall clock)."""
    window = quiet_window(moment_local, rules)
    return moment_local if window is None else window[1]


def _fit(due: datetime, start: datetime, rules: ReminderRules) -> tuple[datetime, bool]:
    """Move a wall-clock due time out of quiet hours; True when moved back before them."""
    window = quiet_window(due, rules)
    if window is None:
        return due, False
    if window[1] < start:
        return window[1], False
    return window[0] - EVENING_MARGIN, True


def _key_hash(patient: str) -> str:
    # 32 hex digits (128 bits): unique in practice, and keeps phone numbers out of keys.
    return hashlib.sha256(patient.encode("utf-8")).hexdigest()[:32]


def _group_key(appointment: AppointmentView) -> str:
    # Without any identity, an appointment is its own patient: never merge strangers.
    return appointment.patient_key or f"reservation:{appointment.reservation_id}"


def _start(appointment: AppointmentView) -> datetime:
    return datetime.combine(appointment.day, appointment.start or DEFAULT_START)


def _groups(appointments: Iterable[AppointmentView]) -> list[list[AppointmentView]]:
    grouped: dict[tuple[str, date], list[AppointmentView]] = {}
    for appointment in appointments:
        grouped.setdefault((_group_key(appointment), appointment.day), []).append(appointment)
    result = [sorted(g, key=lambda a: (_start(a), a.reservation_id)) for g in grouped.values()]
    return sorted(result, key=lambda g: (_start(g[0]), g[0].reservation_id))


def _skip_all(group: Sequence[AppointmentView], reason: str) -> list[Skip]:
    return [Skip(a.reservation_id, reason) for a in group]


def _eligible(appointment: AppointmentView, rules: ReminderRules) -> str | None:
    """Why this appointment gets no message at all, or ``None``."""
    if appointment.cancelled:
        return f"cancelled ({appointment.status})"
    if rules.require_privacy and appointment.privacy != "1":
        return "privacy not accepted (PRIVACY is not 1)"
    return None


def _reach(
    group: Sequence[AppointmentView], rules: ReminderRules, default_language: str
) -> tuple[ChannelChoice, str]:
    """Channel and language of a group: those of its first appointment that can be reached."""
    choices = [choose_channel(appointment, rules) for appointment in group]
    for appointment, choice in zip(group, choices, strict=True):
        if choice:
            language = language_fallback(appointment.language, default_language, rules.languages)
            return choice, language
    return choices[0], default_language


def _local(moment_utc: datetime, zone: ZoneInfo) -> datetime:
    return moment_utc.astimezone(zone).replace(tzinfo=None)


def _shown(wall: datetime) -> str:
    return f"{format_date(wall.date())} {format_time(wall.time())}"


def make_plan(
    appointments: Sequence[AppointmentView],
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    booked_at: Mapping[int, datetime] | None = None,
    *,
    default_language: str = "es",
) -> Plan:
    """Reminders and post-visit messages to plan, and what was not planned and why.

    ``booked_at`` (reservation id -> when we first knew it) tells a late booking
    from an appointment we knew in time; without it every past offset counts as
    booked late. ``default_language`` is the instance's language.
    """
    now = _utc(now)
    reminders: list[PlannedReminder] = []
    skipped: list[Skip] = []
    if not rules.enabled:
        skipped += [Skip(a.reservation_id, "reminders are disabled") for a in appointments]
        return Plan((), tuple(skipped))
    booked = {rid: _utc(moment) for rid, moment in (booked_at or {}).items()}
    for group in _groups(appointments):
        planned, skips = _plan_group(group, rules, zone, now, booked, default_language)
        reminders += planned
        skipped += skips
        if rules.post_visit_hours is not None:
            visit, skips = _plan_visit(
                group, rules, rules.post_visit_hours, zone, now, default_language
            )
            reminders += visit
            skipped += skips
    return Plan(tuple(reminders), tuple(skipped))


def plan_reminders(
    appointments: Sequence[AppointmentView],
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    booked_at: Mapping[int, datetime] | None = None,
    *,
    default_language: str = "es",
) -> list[PlannedReminder]:
    """The reminders (kind ``reminder``) to plan; see the module's rules."""
    plan = make_plan(appointments, rules, zone, now, booked_at, default_language=default_language)
    return [r for r in plan.reminders if r.kind == "reminder"]


def plan_post_visit(
    appointments: Sequence[AppointmentView],
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    *,
    default_language: str = "es",
) -> list[PlannedReminder]:
    """Post-visit messages, ``post_visit_hours`` after a patient-day's last appointment."""
    plan = make_plan(appointments, rules, zone, now, default_language=default_language)
    return [r for r in plan.reminders if r.kind == "post_visit"]


def skip_reasons(
    appointments: Sequence[AppointmentView],
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    booked_at: Mapping[int, datetime] | None = None,
    *,
    default_language: str = "es",
) -> list[tuple[int, str]]:
    """``(reservation_id, reason)`` for everything ``make_plan`` leaves out."""
    plan = make_plan(appointments, rules, zone, now, booked_at, default_language=default_language)
    return [(skip.reservation_id, skip.reason) for skip in plan.skipped]


def _plan_group(
    group: Sequence[AppointmentView],
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    booked: Mapping[int, datetime],
    default_language: str,
) -> tuple[list[PlannedReminder], list[Skip]]:
    skipped: list[Skip] = []
    active: list[AppointmentView] = []
    for appointment in group:
        reason = _eligible(appointment, rules)
        if reason is None and _wall_to_utc(_start(appointment), zone) <= now:
            reason = "appointment already started or past"
        if reason is None:
            active.append(appointment)
        else:
            skipped.append(Skip(appointment.reservation_id, reason))
    if not active or not rules.offsets_hours:
        if active:
            skipped += _skip_all(active, "no reminder offsets configured")
        return [], skipped
    choice, language = _reach(active, rules, default_language)
    if choice.pair is None:
        return [], skipped + _skip_all(active, str(choice.reason))
    channel, recipient = choice.pair
    quiet = channel in QUIET_CHANNELS
    start = _start(active[0])
    start_utc = _wall_to_utc(start, zone)
    ids = tuple(sorted(a.reservation_id for a in active))
    known = [booked[i] for i in ids if i in booked]
    known_since = min(known) if known else None
    prefix = f"reminder:{_key_hash(_group_key(active[0]))}:{active[0].day.isoformat()}"

    def planned(offset: int, due: datetime, late: bool = False) -> PlannedReminder:
        return PlannedReminder(
            key=f"{prefix}:{offset}",
            offset_hours=offset,
            due_at=due,
            channel=channel,
            recipient=recipient,
            language=language,
            reservation_ids=ids,
            day=active[0].day,
            late=late,
        )

    result: list[PlannedReminder] = []
    seen: dict[datetime, int] = {}
    last_due: datetime | None = None  # of the smallest offset, whatever became of it
    for offset in rules.offsets_hours:
        due, moved_back = start - timedelta(hours=offset), False
        if quiet:
            due, moved_back = _fit(due, start, rules)
        due_utc = _wall_to_utc(due, zone)
        last_due = due_utc
        if due_utc < now:
            if moved_back:
                why = "quiet hours leave no time"
            elif known_since is not None and known_since <= due_utc:
                why = f"its moment ({_shown(due)}) is past"
            else:
                why = f"booked too late (it was due {_shown(due)})"
            skipped += _skip_all(active, f"{offset}h reminder: {why}")
            continue
        if due_utc in seen:
            skipped += _skip_all(
                active, f"{offset}h reminder: same moment as the {seen[due_utc]}h one"
            )
            continue
        seen[due_utc] = offset
        result.append(planned(offset, due_utc))
    if result:
        return result, skipped
    booked_late = known_since is None or last_due is None or known_since > last_due
    if not booked_late:
        return result, skipped
    last_offset = rules.offsets_hours[-1]
    if start_utc - now <= LATE_MIN_LEAD:
        why = f"less than {LATE_MIN_LEAD.seconds // 3600} hours ahead, too late to remind"
        return result, skipped + _skip_all(active, why)
    due, moved_back = _local(now, zone), False
    if quiet:
        due, moved_back = _fit(due, start, rules)
    due_utc = max(_wall_to_utc(due, zone), now)
    if moved_back:
        return result, skipped + _skip_all(active, "late reminder: quiet hours leave no time")
    return [planned(last_offset, due_utc, late=True)], skipped


@dataclass(frozen=True, kw_only=True)
class ReminderState:
    """A planned or handled communication as the dispatcher sees it."""

    key: str
    kind: str
    offset_hours: int | None
    due_at: datetime  # naive values are read as UTC
    status: str  # PLANNED, QUEUED, CANCELLED or SKIPPED


def series_of(key: str) -> str:
    """The patient-day a reminder key belongs to: the key without its offset."""
    return key.rsplit(":", 1)[0]


def superseded_by(
    reminder: ReminderState, others: Iterable[ReminderState], now: datetime
) -> ReminderState | None:
    """The later reminder of the same patient-day that makes this one pointless, or None.

    A reminder whose moment came while a later offset's is also past (the
    dispatcher was down through both) would reach the patient together with it,
    saying the same thing twice: only the latest due one goes. One already
    handed to the outbox supersedes the earlier ones too, so a reminder never
    follows a later one, whichever worker gets there first.
    """
    if reminder.kind != "reminder":
        return None
    now, due, series = _utc(now), _utc(reminder.due_at), series_of(reminder.key)
    later = [
        other
        for other in others
        if other.kind == "reminder"
        and other.key != reminder.key
        and series_of(other.key) == series
        and _utc(other.due_at) > due
        and (other.status == "QUEUED" or (other.status == "PLANNED" and _utc(other.due_at) <= now))
    ]
    return max(later, key=lambda other: _utc(other.due_at), default=None)


def _plan_visit(
    group: Sequence[AppointmentView],
    rules: ReminderRules,
    hours: int,
    zone: ZoneInfo,
    now: datetime,
    default_language: str,
) -> tuple[list[PlannedReminder], list[Skip]]:
    visited = [a for a in group if _eligible(a, rules) is None]
    if not visited:
        return [], []  # the reminder pass already said why
    choice, language = _reach(visited, rules, default_language)
    if choice.pair is None:
        return [], _skip_all(visited, f"post-visit: {choice.reason}")
    channel, recipient = choice.pair
    due = max(_start(a) for a in visited) + timedelta(hours=hours)
    if channel in QUIET_CHANNELS:
        due = next_allowed(due, rules)
    due_utc = _wall_to_utc(due, zone)
    if due_utc < now:
        return [], _skip_all(visited, f"post-visit: its moment ({_shown(due)}) is past")
    day = visited[0].day
    return [
        PlannedReminder(
            key=f"post_visit:{_key_hash(_group_key(visited[0]))}:{day.isoformat()}",
            kind="post_visit",
            offset_hours=hours,
            due_at=due_utc,
            channel=channel,
            recipient=recipient,
            language=language,
            reservation_ids=tuple(sorted(a.reservation_id for a in visited)),
            day=day,
        )
    ], []


def plan_notice(
    kind: str,
    appointment: AppointmentView,
    rules: ReminderRules,
    zone: ZoneInfo,
    now: datetime,
    *,
    version: str | int,
    default_language: str = "es",
) -> PlannedReminder | Skip:
    """A change or cancellation notice, sent as soon as quiet hours allow.

    A cancellation notice is for a clinic's cancellation (``CANCELLED by ADMIN``);
    a patient who cancelled needs none. Quiet hours yield when waiting would pass
    the appointment start: a patient about to travel to a moved or cancelled
    appointment must know tonight.
    ``version`` (e.g. the reservation's change sequence) makes each notice's key new.
    """
    if kind not in ("change", "cancellation"):
        raise ValueError(f"'{kind}' is not a notice kind")
    now = _utc(now)
    wanted = rules.notify_changes if kind == "change" else rules.cancellation_notice
    if not rules.enabled or not wanted:
        return Skip(appointment.reservation_id, f"{kind} notices are off")
    reason = _eligible(appointment, rules) if kind == "change" else None
    if kind == "cancellation":
        if appointment.status == Status.CANCELLED_BY_USER.value:
            # The patient cancelled it: our acknowledgement or their own call told them.
            reason = "the patient cancelled it"
        elif rules.require_privacy and appointment.privacy != "1":
            reason = "privacy not accepted (PRIVACY is not 1)"
    start_utc = _wall_to_utc(_start(appointment), zone)
    if reason is None and start_utc <= now:
        reason = "appointment already started or past"
    if reason is not None:
        return Skip(appointment.reservation_id, f"{kind} notice: {reason}")
    choice, language = _reach([appointment], rules, default_language)
    if choice.pair is None:
        return Skip(appointment.reservation_id, f"{kind} notice: {choice.reason}")
    channel, recipient = choice.pair
    due_utc = now
    if channel in QUIET_CHANNELS:
        allowed = _wall_to_utc(next_allowed(_local(now, zone), rules), zone)
        if allowed < start_utc:
            due_utc = max(allowed, now)
    return PlannedReminder(
        key=f"{kind}:{appointment.reservation_id}:{version}",
        kind=kind,
        offset_hours=None,
        due_at=due_utc,
        channel=channel,
        recipient=recipient,
        language=language,
        reservation_ids=(appointment.reservation_id,),
        day=appointment.day,
    )


def changed_fields(before: Mapping[str, object], after: Mapping[str, object]) -> set[str]:
    """Which of day, start, resource and location differ: what calls for a re-plan
    and a change notice. Accepts ``day``/``start``/``resource``/``location`` or the
    guide's names (``APP_DATE``, ``APP_START_TIME``, ``RESOURCE_LID``,
    ``LOCATION_LID``), in either case; dates and times as values or as text."""
    aliases = {
        "day": ("day", "app_date"),
        "start": ("start", "app_start_time"),
        "resource": ("resource", "resource_lid", "resource_name"),
        "location": ("location", "location_lid", "location_name"),
    }

    def value(record: Mapping[str, object], name: str) -> object:
        lowered = {str(k).lower(): v for k, v in record.items()}
        found = [lowered[a] for a in aliases[name] if a in lowered]
        return tuple(_comparable(name, v) for v in found)

    return {name for name in CHANGE_FIELDS if value(before, name) != value(after, name)}


def _comparable(name: str, raw: object) -> object:
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if name == "day":
            return parse_date(text)
        if name == "start":
            return parse_time(text)
        return text
    if isinstance(raw, datetime):
        return raw.date() if name == "day" else raw.time()
    return raw


@dataclass(frozen=True)
class ComposedMessage:
    subject: str | None  # e-mail only
    body: str


def compose_message(
    kind: str,
    appointments: Sequence[AppointmentView],
    rules: ReminderRules,
    *,
    channel: Channel | str,
    language: str,
    confirm_url: str | None = None,
    cancel_url: str | None = None,
    previous: AppointmentView | None = None,
    activity_names: Mapping[str, str] | None = None,
) -> ComposedMessage:
    """The text of one message to one patient about one day's appointments.

    ``previous`` is the appointment as it was, for change notices. SMS text is
    made GSM-7 where only accents stand in the way (see ``templates.sms_safe``).
    """
    channel = Channel(channel)
    ordered = sorted(appointments, key=lambda a: (_start(a), a.reservation_id))
    names = activity_names or {}
    slots = [
        Slot(
            day=a.day,
            start=a.start,
            resource=a.resource_name,
            location=a.location_name,
            activity=names.get(a.activity_lid or ""),
        )
        for a in ordered
    ]
    values = placeholder_values(
        slots,
        language=language,
        channel=channel,
        clinic=rules.clinic_name,
        clinic_phone=rules.clinic_phone,
        confirm_url=confirm_url,
        cancel_url=cancel_url,
        # Help answers someone who already tried to reply: always say how.
        ask_confirmation=rules.ask_confirmation or kind == "help",
        old_day=previous.day if previous else None,
        old_start=previous.start if previous else None,
    )
    body = tidy(render(rules.template(kind, language), values))
    subject = None
    if channel is Channel.EMAIL:
        subject = tidy(render(rules.template(f"email_subject_{kind}", language), values))
    if channel is Channel.SMS:
        body = sms_safe(body)
    return ComposedMessage(subject, body)
