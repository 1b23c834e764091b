"""What changed in the clinic's views since the last run, decided on plain values.

The agent keeps, per APP_LID it has sent, the checksum of what it sent, the
appointment's day and its resource (``state.Known``). A run offers every row
it read; the detector answers which to send and, at the end, what became of
the rows that are no longer in the view:

- a row that is new, or whose checksum differs, is sent;
- a row gone from the view while its day is today or later was deleted at the
  clinic: the server is told ``CANCELLED by ADMIN`` (A.2 has no other way to
  say "deleted"; a view that keeps cancelled rows with a STATUS says it itself);
- a row gone whose day is past left the view's window: forgotten, not cancelled;
- a row gone that the agent itself had cancelled for the patient
  (TT_DELETE_RESERVATION, whose trigger may delete the row) is forgotten: the
  server already holds the patient's cancellation;
- a row whose resource left TT_RESOURCES is no longer to be sent: forgotten;
  its patients are not told of a cancellation that did not happen.

A row that was read but could not be sent (a bad date, the server refused it)
is "stale": kept, with no checksum, so the next run sends it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from ..domain.reservation import Status
from .rows import ViewRow, is_cancelled

PATIENT_CANCELLED = Status.CANCELLED_BY_USER.value


@dataclass(frozen=True)
class Known:
    """What the agent last sent for one APP_LID (checksum None: send again)."""

    checksum: str | None
    app_date: date
    resource_lid: str


@dataclass
class Ending:
    """What to do about the rows not in the view any more."""

    cancel: dict[str, Known] = field(default_factory=dict)
    forget: set[str] = field(default_factory=set)


class ChangeDetector:
    def __init__(
        self,
        known: Mapping[str, Known],
        *,
        today: date,
        patient_cancelled: Iterable[str] = (),
        cancel_deleted: bool = True,
    ) -> None:
        self._known = known
        self._today = today
        self._patient_cancelled = frozenset(patient_cancelled)
        self._cancel_deleted = cancel_deleted
        self._present: set[str] = set()
        self._unsent: set[str] = set()
        self.unchanged = 0

    def offer(self, row: ViewRow) -> dict[str, str] | None:
        """The item to send for this row, or None when the server has it already."""
        self._present.add(row.app_lid)
        known = self._known.get(row.app_lid)
        if known is not None and known.checksum == row.checksum:
            self.unchanged += 1
            return None
        item = dict(row.item)
        if row.app_lid in self._patient_cancelled:
            status = item.get("STATUS")
            # The clinic's trigger applied the patient's cancellation: keep the
            # patient's word, not "cancelled by the clinic" (or no status at all).
            if status is None or is_cancelled(status):
                item["STATUS"] = PATIENT_CANCELLED
        return item

    def present(self, app_lid: str) -> None:
        """In the view, but not offered this run (unchanged by its change column,
        or unreadable): not deleted."""
        self._present.add(app_lid)

    def not_sent(self, app_lid: str) -> None:
        """In the view but not to be sent (its resource is not in TT_RESOURCES)."""
        self._unsent.add(app_lid)

    def needs_reading(self, present: Mapping[str, str], changed_resources: set[str]) -> set[str]:
        """Of the keys in the view (APP_LID -> RESOURCE_LID), those to read in full
        although their change column did not move: never sent, stale, or of a
        resource whose name, contacts or location changed."""
        wanted = set()
        for app_lid, resource_lid in present.items():
            if app_lid in self._present:
                continue
            known = self._known.get(app_lid)
            if known is None or known.checksum is None or resource_lid in changed_resources:
                wanted.add(app_lid)
        return wanted

    def finish(self) -> Ending:
        ending = Ending()
        for app_lid, known in self._known.items():
            if app_lid in self._unsent:
                ending.forget.add(app_lid)
                continue
            if app_lid in self._present:
                continue
            if (
                not self._cancel_deleted
                or app_lid in self._patient_cancelled
                or known.app_date < self._today
            ):
                ending.forget.add(app_lid)
            else:
                ending.cancel[app_lid] = known
        return ending
