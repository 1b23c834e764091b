"""The time window an export covers, and which appointments lie inside it.

A clinic exports the appointments between some hours ahead and some hours past
the moment of the export (guide A.1.1: 72 hours ahead, 24 hours past). An
appointment we hold from an earlier file that is missing from this one was
deleted in the HIS only if this export should have held it: if it lies inside
the window. Appointments near the edges are left alone, so that a few minutes
between the export and our reading of it, or a clock that drifts, never make
an appointment that simply fell out of the window look deleted:

- the window is taken from the file's modification time (when the export was
  written) and from now, whichever gives the narrower window: a file kept for
  hours, or one with a wrong time stamp, narrows the window, never widens it;
- ``margin`` is cut off both ends.

Times are naive UTC, as the store keeps them; appointments are read in the
instance's time zone. An appointment with no start time must lie inside the
window for its whole day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..domain.formats import FormatError, parse_time


@dataclass(frozen=True)
class ExportWindow:
    """``[start, end]`` in naive UTC; empty when ``end <= start``."""

    start: datetime
    end: datetime

    @classmethod
    def around(
        cls,
        *,
        exported_at: datetime | None,
        now: datetime,
        ahead: timedelta,
        past: timedelta,
        margin: timedelta,
    ) -> ExportWindow:
        written = exported_at if exported_at is not None else now
        return cls(max(written, now) - past + margin, min(written, now) + ahead - margin)

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    def days(self, zone: ZoneInfo) -> tuple[date, date]:
        """The first and last local day the window touches (a coarse filter)."""
        return _local(self.start, zone).date(), _local(self.end, zone).date()

    def holds(self, app_date: date, start_time: str | None, zone: ZoneInfo) -> bool:
        """Whether the appointment lies inside the window (its whole day, with no time)."""
        if self.empty:
            return False
        moment: time | None = None
        if start_time:
            try:
                moment = parse_time(start_time)
            except FormatError:
                moment = None
        if moment is None:
            first = _utc(datetime.combine(app_date, time(0, 0)), zone)
            last = _utc(datetime.combine(app_date + timedelta(days=1), time(0, 0)), zone)
            return self.start <= first and last <= self.end
        return self.start <= _utc(datetime.combine(app_date, moment), zone) <= self.end


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.replace(tzinfo=UTC).astimezone(zone)


def _utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
