"""Which appointments an export covers (its window), and where folders are."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tuotempo_soap.files.errors import FileTransportError
from tuotempo_soap.files.transports import Location
from tuotempo_soap.files.window import ExportWindow

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2027, 3, 10, 9, 0)  # UTC; 10:00 in Madrid
HOURS = {"ahead": timedelta(hours=72), "past": timedelta(hours=24)}


def window(exported_at: datetime | None, margin: int = 60) -> ExportWindow:
    return ExportWindow.around(
        exported_at=exported_at, now=NOW, margin=timedelta(minutes=margin), **HOURS
    )


def test_the_window_is_72_hours_ahead_and_24_past_less_the_margin() -> None:
    found = window(NOW)
    assert found.start == NOW - timedelta(hours=23)
    assert found.end == NOW + timedelta(hours=71)


def test_an_old_file_narrows_the_window_never_widens_it() -> None:
    # Exported 5 hours ago: appointments past its end (but before ours) were never in it.
    found = window(NOW - timedelta(hours=5))
    assert found.start == NOW - timedelta(hours=23)
    assert found.end == NOW - timedelta(hours=5) + timedelta(hours=71)
    # A time stamp in the future (a clock ahead) narrows the other end.
    ahead = window(NOW + timedelta(hours=2))
    assert ahead.start == NOW + timedelta(hours=2) - timedelta(hours=23)
    assert ahead.end == NOW + timedelta(hours=71)
    assert window(NOW - timedelta(days=5)).empty


def test_an_appointment_is_inside_by_its_local_start_or_its_whole_day() -> None:
    found = window(NOW)
    assert found.holds(date(2027, 3, 11), "10:00", MADRID)
    assert not found.holds(date(2027, 3, 13), "10:00", MADRID)  # 73 h ahead
    assert found.holds(date(2027, 3, 13), "08:59", MADRID)  # 70 h 59 min ahead
    assert not found.holds(date(2027, 3, 9), "10:00", MADRID)  # 24 h past: in the margin
    assert found.holds(date(2027, 3, 9), "11:30", MADRID)
    assert found.holds(date(2027, 3, 11), None, MADRID)  # the whole day is inside
    assert found.holds(date(2027, 3, 10), None, MADRID)
    assert not found.holds(date(2027, 3, 9), None, MADRID)  # its morning is not
    assert found.days(MADRID) == (date(2027, 3, 9), date(2027, 3, 13))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ftp://clinic@files.example.org/in", ("ftp", "files.example.org", 21, "/in", "clinic")),
        ("ftps://files.example.org:2121/", ("ftps", "files.example.org", 2121, "/", None)),
        ("sftp://u@10.0.0.1/exports/tt", ("sftp", "10.0.0.1", 22, "/exports/tt", "u")),
    ],
)
def test_locations(text: str, expected: tuple[object, ...]) -> None:
    found = Location.parse(text)
    assert (found.scheme, found.host, found.port, found.path, found.username) == expected
    assert Location.parse(str(found)) == found


def test_a_local_path_is_made_absolute(tmp_path: object) -> None:
    found = Location.parse("relative/in")
    assert found.scheme == "file" and found.path.startswith("/")
    folder, name = Location.parse("/data/in/export.csv").parent()
    assert (folder.path, name) == ("/data/in", "export.csv")


def test_a_password_in_the_url_is_refused() -> None:
    with pytest.raises(FileTransportError, match="--password-env"):
        Location.parse("ftp://clinic:secret@files.example.org/in")
    with pytest.raises(FileTransportError, match="not a way to reach a folder"):
        Location.parse("http://files.example.org/in")
