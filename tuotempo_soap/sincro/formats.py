"""Dates and times as a clinic's view holds them, turned into the guide's.

The guide asks for ``dd/mm/yyyy`` and ``hh:mm`` but knows that some clinic
software keeps dates in a proprietary form, a decimal number for instance
(A.2.1). A field's format is set by name in the configuration:

dates
    ``auto`` (the default: a DATE or DATETIME column, any text the server
    accepts such as ``dd/mm/yyyy`` or ``yyyy-mm-dd``, or an 8-digit number read
    as ``yyyymmdd``), ``dd/mm/yyyy``, ``yyyy-mm-dd``, ``yyyymmdd`` (20261201),
    ``ddmmyyyy`` (01122026), ``mmdd.yyyy`` (1201.2026), ``ddmm.yyyy``
    (0112.2026), or any ``strftime`` pattern (``%d-%b-%Y``).
times
    ``auto`` (a TIME, DATETIME or interval column, or text ``hh:mm[:ss]``),
    ``hh:mm``, ``hhmm`` (930 or "0930"), ``hh.mm`` (9.30), ``minutes`` or
    ``seconds`` after midnight, or any ``strftime`` pattern.

A decimal date of 0 or an empty text is no date (NULL). Errors say which
format was expected, never the value: it may be a patient's date of birth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from ..domain.formats import FormatError, format_date, format_time, parse_date, parse_time

DATE_FORMATS = (
    "auto",
    "dd/mm/yyyy",
    "yyyy-mm-dd",
    "yyyymmdd",
    "ddmmyyyy",
    "mmdd.yyyy",
    "ddmm.yyyy",
)
TIME_FORMATS = ("auto", "hh:mm", "hhmm", "hh.mm", "minutes", "seconds")
_FOUR_PLACES = Decimal("0.0001")


def _decimal(value: object) -> Decimal:
    """A number as an exact decimal: floats through their shortest text, so
    1201.2026 stays 1201.2026 and not 1201.20259999..."""
    if isinstance(value, bool):
        raise FormatError("a flag is not a number")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise FormatError("not a number") from None


def _whole(value: object) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise FormatError("not a whole number")
    return int(number)


def _calendar(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise FormatError("not a real calendar date") from None


def _yyyymmdd(value: object) -> date:
    number = _whole(value)
    return _calendar(number // 10000, number // 100 % 100, number % 100)


def _ddmmyyyy(value: object) -> date:
    number = _whole(value)
    return _calendar(number % 10000, number // 10000 % 100, number // 1000000)


def _split_decimal(value: object) -> tuple[int, int]:
    """``1201.2026`` -> (1201, 2026); trailing zeros a float lost come back
    (``101.202`` is 0101.2020)."""
    number = _decimal(value)
    if number < 0:
        raise FormatError("a negative number")
    exact = number.quantize(_FOUR_PLACES)
    if exact != number:
        raise FormatError("more than four decimal places")
    whole = int(exact)
    return whole, int((exact - whole) * 10000)


def _mmdd_yyyy(value: object) -> date:
    head, year = _split_decimal(value)
    return _calendar(year, head // 100, head % 100)


def _ddmm_yyyy(value: object) -> date:
    head, year = _split_decimal(value)
    return _calendar(year, head % 100, head // 100)


def _auto_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return _yyyymmdd(value)
    text = str(value).strip()
    if text.isdigit() and len(text) == 8:
        return _yyyymmdd(text)
    return parse_date(text)


def _text_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_date(str(value))


def _strptime_date(pattern: str) -> Callable[[object], date]:
    def read(value: object) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return datetime.strptime(str(value).strip(), pattern).date()
        except ValueError:
            raise FormatError("does not match") from None

    return read


_DATE_READERS: dict[str, Callable[[object], date]] = {
    "auto": _auto_date,
    "dd/mm/yyyy": _text_date,
    "yyyy-mm-dd": _text_date,
    "yyyymmdd": _yyyymmdd,
    "ddmmyyyy": _ddmmyyyy,
    "mmdd.yyyy": _mmdd_yyyy,
    "ddmm.yyyy": _ddmm_yyyy,
}
_NUMERIC_DATES = frozenset({"yyyymmdd", "ddmmyyyy", "mmdd.yyyy", "ddmm.yyyy"})


def _seconds_time(seconds: int) -> time:
    if not 0 <= seconds < 86400:
        raise FormatError("not a time of day")
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def _auto_time(value: object) -> time:
    if isinstance(value, datetime):
        return value.time()
    if isinstance(value, time):
        return value
    if isinstance(value, timedelta):  # MySQL TIME columns arrive as intervals
        return _seconds_time(int(value.total_seconds()))
    if isinstance(value, int | float | Decimal):
        raise FormatError("a number; set its format (hhmm, hh.mm, minutes or seconds)")
    return parse_time(str(value))


def _hhmm(value: object) -> time:
    number = _whole(value)
    return _hour_minute(number // 100, number % 100)


def _hh_dot_mm(value: object) -> time:
    number = _decimal(value).quantize(Decimal("0.01"))
    hours = int(number)
    return _hour_minute(hours, int((number - hours) * 100))


def _hour_minute(hour: int, minute: int) -> time:
    try:
        return time(hour, minute)
    except ValueError:
        raise FormatError("not a real time of day") from None


def _strptime_time(pattern: str) -> Callable[[object], time]:
    def read(value: object) -> time:
        if isinstance(value, datetime):
            return value.time()
        if isinstance(value, time):
            return value
        try:
            return datetime.strptime(str(value).strip(), pattern).time()
        except ValueError:
            raise FormatError("does not match") from None

    return read


_TIME_READERS: dict[str, Callable[[object], time]] = {
    "auto": _auto_time,
    "hh:mm": _auto_time,
    "hhmm": _hhmm,
    "hh.mm": _hh_dot_mm,
    "minutes": lambda value: _seconds_time(_whole(value) * 60),
    "seconds": lambda value: _seconds_time(_whole(value)),
}


def _is_empty(value: object, numeric: bool) -> bool:
    if value is None:
        return True
    if isinstance(value, str) and not value.strip():
        return True
    # Proprietary decimal dates use 0 for "no date".
    return numeric and isinstance(value, int | float | Decimal) and value == 0


@dataclass(frozen=True)
class DateFormat:
    """How one view column holds a date; ``read`` gives the guide's ``dd/mm/yyyy``."""

    name: str
    _reader: Callable[[object], date]

    @classmethod
    def named(cls, name: str) -> DateFormat:
        name = name.strip()
        if "%" in name:
            return cls(name, _strptime_date(name))
        reader = _DATE_READERS.get(name.lower())
        if reader is None:
            raise ValueError(
                f"unknown date format '{name}'; use one of {', '.join(DATE_FORMATS)} "
                "or a strftime pattern such as %d-%m-%Y"
            )
        return cls(name.lower(), reader)

    def parse(self, value: object) -> date | None:
        if _is_empty(value, self.name in _NUMERIC_DATES):
            return None
        try:
            return self._reader(value)
        except FormatError as exc:
            raise FormatError(f"is not a date in the format {self.name} ({_reason(exc)})") from None

    def read(self, value: object) -> str | None:
        day = self.parse(value)
        return format_date(day) if day is not None else None


@dataclass(frozen=True)
class TimeFormat:
    """How one view column holds a time of day; ``read`` gives ``hh:mm``."""

    name: str
    _reader: Callable[[object], time]

    @classmethod
    def named(cls, name: str) -> TimeFormat:
        name = name.strip()
        if "%" in name:
            return cls(name, _strptime_time(name))
        reader = _TIME_READERS.get(name.lower())
        if reader is None:
            raise ValueError(
                f"unknown time format '{name}'; use one of {', '.join(TIME_FORMATS)} "
                "or a strftime pattern such as %H.%M"
            )
        return cls(name.lower(), reader)

    def read(self, value: object) -> str | None:
        if _is_empty(value, False):
            return None
        try:
            return format_time(self._reader(value))
        except FormatError as exc:
            raise FormatError(f"is not a time in the format {self.name} ({_reason(exc)})") from None


def _reason(exc: FormatError) -> str:
    """The parser's reason without the value it quotes (``'31/02/2026' is not a
    real calendar date`` -> ``not a real calendar date``)."""
    text = str(exc)
    if text.startswith("'") and "' " in text[1:]:
        text = text[text.index("' ", 1) + 2 :]
    return text.removeprefix("is ").split(";")[0]
