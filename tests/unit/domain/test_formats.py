from datetime import date, datetime, time

import pytest

from tuotempo_soap.domain.formats import (
    FormatError,
    format_date,
    format_time,
    parse_date,
    parse_time,
    parse_timestamp,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24/02/2027", date(2027, 2, 24)),
        ("4/2/2027", date(2027, 2, 4)),
        ("2027-02-24", date(2027, 2, 24)),
        ("24-02-2027", date(2027, 2, 24)),
        ("24.02.2027", date(2027, 2, 24)),
        (" 29/02/2028 ", date(2028, 2, 29)),
    ],
)
def test_dates_in_every_accepted_format(text: str, expected: date) -> None:
    assert parse_date(text) == expected
    assert format_date(expected) == expected.strftime("%d/%m/%Y")


@pytest.mark.parametrize(
    "text", ["31/02/2026", "29/02/2027", "00/01/2026", "2026-13-01", "tomorrow", "24/02/27"]
)
def test_impossible_or_unreadable_dates(text: str) -> None:
    with pytest.raises(FormatError):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:30", time(9, 30)),
        ("9:30", time(9, 30)),
        ("09:30:15", time(9, 30, 15)),
        ("23:59", time(23, 59)),
    ],
)
def test_times(text: str, expected: time) -> None:
    assert parse_time(text) == expected
    assert format_time(expected) == expected.strftime("%H:%M")


@pytest.mark.parametrize("text", ["25:61", "24:00", "12:60", "9h30", "", "12"])
def test_impossible_times(text: str) -> None:
    with pytest.raises(FormatError):
        parse_time(text)


def test_timestamps_guide_and_iso() -> None:
    assert parse_timestamp("24/02/2027 09:30:05") == datetime(2027, 2, 24, 9, 30, 5)
    assert parse_timestamp("24/02/2027") == datetime(2027, 2, 24)
    assert parse_timestamp("2027-02-24T09:30:05+01:00").utcoffset() is not None
    with pytest.raises(FormatError):
        parse_timestamp("24/02/2027 25:00")
