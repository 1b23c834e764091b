"""Dates and times as the guide writes them, read leniently, written strictly.

HIS exports differ: we accept ``dd/mm/yyyy`` (the guide), ``d/m/yyyy``,
``yyyy-mm-dd``, ``dd-mm-yyyy`` and ``dd.mm.yyyy``; times as ``hh:mm``, ``h:mm`` or
``hh:mm:ss``. We always answer in the guide's format.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

GUIDE_DATE_FORMAT = "%d/%m/%Y"
GUIDE_TIME_FORMAT = "%H:%M"
GUIDE_TIMESTAMP_FORMAT = "%d/%m/%Y %H:%M:%S"

_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[/\-](\d{1,2})[/\-](\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,6})?)?$")


class FormatError(ValueError):
    """A value that cannot be read as the date or time it claims to be."""


def parse_date(text: str) -> date:
    """Read a date in any accepted format; impossible dates (31/02) are errors."""
    value = text.strip()
    match = _DAY_FIRST.match(value)
    if match:
        day, month, year = (int(part) for part in match.groups())
    else:
        match = _YEAR_FIRST.match(value)
        if not match:
            raise FormatError(f"'{value}' is not a date; expected dd/mm/yyyy")
        year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise FormatError(f"'{value}' is not a real calendar date") from None


def parse_time(text: str) -> time:
    """Read ``hh:mm`` (or ``h:mm``, ``hh:mm:ss``); 25:61 is an error."""
    value = text.strip()
    match = _TIME.match(value)
    if not match:
        raise FormatError(f"'{value}' is not a time; expected hh:mm")
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    try:
        return time(hour, minute, second)
    except ValueError:
        raise FormatError(f"'{value}' is not a real time of day") from None


def parse_timestamp(text: str) -> datetime:
    """Read ``dd/mm/yyyy hh:mm[:ss]`` or ISO 8601 (``yyyy-mm-ddThh:mm:ss[+zz:zz]``)."""
    value = text.strip()
    date_part, sep, time_part = value.replace("T", " ", 1).partition(" ")
    if not sep:
        return datetime.combine(parse_date(date_part), time(0, 0))
    if value[:4].isdigit() and "-" in value[:5]:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise FormatError(f"'{value}' is not a date and time") from None
    return datetime.combine(parse_date(date_part), parse_time(time_part))


def format_date(value: date) -> str:
    return value.strftime(GUIDE_DATE_FORMAT)


def format_time(value: time) -> str:
    return value.strftime(GUIDE_TIME_FORMAT)


def format_timestamp(value: datetime) -> str:
    return value.strftime(GUIDE_TIMESTAMP_FORMAT)
