"""Weekly availabilities (guide B.1, TT_AVAILABILITIES) and the bookable slots they open.

Pure functions, no database: a ``WeeklyRule`` is one row of the view (a resource
works on weekday ``R_WORKING_DAY`` from ``R_START_TIME`` to ``R_END_TIME``,
optionally only between ``R_START_DAY`` and ``R_END_DAY``); ``slot_starts``
cuts it into slots of an activity's duration. A slot is named by resource, day
and start (``C1-DR1-20270224-0930``): the name says who and when, the
``ACTIVITY_LID`` sent with it says for how long.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

DATE_FORMAT = "%d/%m/%Y"
_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")
_SLOT_LID = re.compile(r"^(?P<resource>.+)-(?P<day>\d{8})-(?P<start>\d{4})$")


def parse_date(text: str) -> date:
    """``dd/mm/yyyy`` (the guide's format; ``d/m/yyyy`` and ``yyyy-mm-dd`` accepted)."""
    match = _DATE.match(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
        return date(year, month, day)
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        return date(year, month, day)
    raise ValueError(f"{text!r} is not a date (dd/mm/yyyy)")


def parse_time(text: str) -> time:
    """``hh:mm`` (``h:mm`` and ``hh:mm:ss`` accepted; seconds are dropped)."""
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a time (hh:mm)")
    return time(int(match.group(1)), int(match.group(2)))


def format_date(day: date) -> str:
    return day.strftime(DATE_FORMAT)


def format_time(moment: time) -> str:
    return moment.strftime("%H:%M")


def tt_weekday(day: date) -> int:
    """The guide's weekday numbering: 0 = Sunday ... 6 = Saturday."""
    return (day.weekday() + 1) % 7


def add_minutes(moment: time, minutes: int) -> time:
    return (datetime.combine(date.min, moment) + timedelta(minutes=minutes)).time()


@dataclass(frozen=True)
class WeeklyRule:
    availability_lid: str
    resource_lid: str
    working_day: int  # 0 = Sunday
    start: time
    end: time
    first_day: date | None = None
    last_day: date | None = None

    @classmethod
    def from_row(
        cls,
        availability_lid: str,
        resource_lid: str,
        r_working_day: str,
        r_start_time: str,
        r_end_time: str,
        r_start_day: str | None,
        r_end_day: str | None,
    ) -> WeeklyRule:
        return cls(
            availability_lid=availability_lid,
            resource_lid=resource_lid,
            working_day=int(r_working_day),
            start=parse_time(r_start_time),
            end=parse_time(r_end_time),
            first_day=parse_date(r_start_day) if r_start_day else None,
            last_day=parse_date(r_end_day) if r_end_day else None,
        )

    def applies_on(self, day: date) -> bool:
        if tt_weekday(day) != self.working_day:
            return False
        if self.first_day and day < self.first_day:
            return False
        return not (self.last_day and day > self.last_day)

    def slot_starts(self, duration_minutes: int) -> Iterator[time]:
        """Back-to-back slots from the rule's start; the last one ends by the rule's end."""
        step = timedelta(minutes=duration_minutes)
        moment = datetime.combine(date.min, self.start)
        end = datetime.combine(date.min, self.end)
        while moment + step <= end:
            yield moment.time()
            moment += step


def slot_lid(resource_lid: str, day: date, start: time) -> str:
    return f"{resource_lid}-{day:%Y%m%d}-{start:%H%M}"


def parse_slot_lid(text: str) -> tuple[str, date, time] | None:
    """(resource, day, start) from a slot name, or None when it is not one of ours."""
    match = _SLOT_LID.match(text.strip())
    if not match:
        return None
    try:
        day = datetime.strptime(match["day"], "%Y%m%d").date()
        start = datetime.strptime(match["start"], "%H%M").time()
    except ValueError:
        return None
    return match["resource"], day, start


def overlaps(start: time, end: time, other_start: time, other_end: time) -> bool:
    return start < other_end and other_start < end
