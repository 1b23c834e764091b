"""Proprietary dates and times in a clinic's view, read by configured format."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from tuotempo_soap.domain.formats import FormatError
from tuotempo_soap.sincro.formats import DateFormat, TimeFormat


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("auto", date(2026, 12, 1), "01/12/2026"),
        ("auto", datetime(2026, 12, 1, 9, 30), "01/12/2026"),
        ("auto", "01/12/2026", "01/12/2026"),
        ("auto", "2026-12-01", "01/12/2026"),
        ("auto", 20261201, "01/12/2026"),
        ("auto", Decimal("20261201"), "01/12/2026"),
        ("auto", "20261201", "01/12/2026"),
        ("yyyymmdd", 20261201, "01/12/2026"),
        ("yyyymmdd", "20261201", "01/12/2026"),
        ("yyyymmdd", Decimal("20261201.000"), "01/12/2026"),
        ("ddmmyyyy", 1122026, "01/12/2026"),  # a number loses its leading zero
        ("ddmmyyyy", "01122026", "01/12/2026"),
        ("mmdd.yyyy", Decimal("1201.2026"), "01/12/2026"),
        ("mmdd.yyyy", 1201.2026, "01/12/2026"),
        ("mmdd.yyyy", "1201.2026", "01/12/2026"),
        # 1 January 2020 as a float: 101.202, the zeros gone
        ("mmdd.yyyy", 101.202, "01/01/2020"),
        ("mmdd.yyyy", Decimal("101.2020"), "01/01/2020"),
        ("ddmm.yyyy", 112.2026, "01/12/2026"),
        ("ddmm.yyyy", Decimal("3112.2026"), "31/12/2026"),
        ("dd/mm/yyyy", "1/12/2026", "01/12/2026"),
        ("%d-%b-%Y", "01-Dec-2026", "01/12/2026"),
        ("%Y.%m.%d", "2026.12.01", "01/12/2026"),
        ("%d-%b-%Y", date(2026, 12, 1), "01/12/2026"),
    ],
)
def test_dates_in_each_named_format_and_a_pattern(name: str, value: object, expected: str) -> None:
    assert DateFormat.named(name).read(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", 0, Decimal("0")])
def test_no_date_is_none(value: object) -> None:
    assert DateFormat.named("yyyymmdd").read(value) is None


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("yyyymmdd", 20261301, "not a real calendar date"),
        ("yyyymmdd", 20260231, "not a real calendar date"),
        ("yyyymmdd", Decimal("20261201.5"), "not a whole number"),
        ("yyyymmdd", "dec 1st", "not a number"),
        ("mmdd.yyyy", Decimal("1201.20261"), "more than four decimal places"),
        ("mmdd.yyyy", Decimal("1301.2026"), "not a real calendar date"),
        ("%d-%b-%Y", "2026-12-01", "does not match"),
        ("dd/mm/yyyy", "31/02/2026", "not a real calendar date"),
    ],
)
def test_a_bad_date_names_the_format_never_the_value(name: str, value: object, reason: str) -> None:
    with pytest.raises(FormatError) as raised:
        DateFormat.named(name).read(value)
    message = str(raised.value)
    assert f"in the format {name}" in message and reason in message
    assert str(value) not in message  # a date of birth is a patient's data


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("auto", time(9, 5), "09:05"),
        ("auto", timedelta(hours=9, minutes=5), "09:05"),  # MySQL TIME through PyMySQL
        ("auto", datetime(2026, 12, 1, 9, 5), "09:05"),
        ("auto", "9:05", "09:05"),
        ("auto", "09:05:30", "09:05"),
        ("hh:mm", "09:05", "09:05"),
        ("hhmm", 905, "09:05"),
        ("hhmm", "0905", "09:05"),
        ("hhmm", Decimal("1430"), "14:30"),
        ("hh.mm", 9.05, "09:05"),
        ("hh.mm", Decimal("14.30"), "14:30"),
        ("minutes", 545, "09:05"),
        ("seconds", 32700, "09:05"),
        ("%H.%M", "09.05", "09:05"),
        ("%I:%M %p", "02:30 PM", "14:30"),
    ],
)
def test_times(name: str, value: object, expected: str) -> None:
    assert TimeFormat.named(name).read(value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("hhmm", 2460), ("hhmm", 975), ("minutes", 1440), ("auto", 930), ("hh:mm", "25:00")],
)
def test_a_bad_time_is_an_error(name: str, value: object) -> None:
    with pytest.raises(FormatError, match=f"in the format {name}"):
        TimeFormat.named(name).read(value)


def test_unknown_format_names_are_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"yyyymmdd, ddmmyyyy, mmdd\.yyyy"):
        DateFormat.named("julian")
    with pytest.raises(ValueError, match="hhmm"):
        TimeFormat.named("decimal")
