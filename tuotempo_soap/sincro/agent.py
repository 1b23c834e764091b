"""One run of the agent, and the loop around it.

A run first brings patients' cancellations home (getReservations delta reads
from the kept cursor, written into TT_DELETE_RESERVATION, where the clinic's
trigger applies them), then sends what changed in the views
(updateReservations, in batches). In that order, so that an appointment the
trigger has just cancelled is read back cancelled, not sent again as booked.

Everything that succeeds is kept in the state file as it happens (per batch,
per page), so a run cut short by a network or database failure resumes where
it stopped; the change column's high-water mark moves only after a complete
run. Items the server refuses are logged by APP_LID, error code and field,
never by value, and are sent again at the next run.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .. import clock
from ..domain.formats import format_date
from ..domain.reservation import ChangedBy, Status
from .changes import ChangeDetector, Known
from .clinicdb import CHANGE, ClinicDatabase
from .config import SincroConfig
from .errors import ServerError, SincroConfigError, SincroError, StateError
from .rows import Resource, RowError, RowMapper, ViewRow, is_cancelled
from .server import SincroServer, as_item
from .state import SERVER_CURSOR, LockedError, SincroState

log = logging.getLogger(__name__)

_BATCH_TOO_LARGE = "Client.BatchTooLarge"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class RunSummary:
    read: int = 0
    unchanged: int = 0
    sent: int = 0
    refused: int = 0
    unreadable: int = 0
    not_sent: int = 0
    deleted: int = 0
    forgotten: int = 0
    cancellations: int = 0

    def line(self) -> str:
        return (
            f"read {self.read}, unchanged {self.unchanged}, sent {self.sent}, "
            f"refused {self.refused}, unreadable {self.unreadable}, "
            f"not in TT_RESOURCES {self.not_sent}, "
            f"deleted (sent as cancelled) {self.deleted}, forgotten {self.forgotten}; "
            f"patient cancellations written {self.cancellations}"
        )

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def app_tmp_id(instance: str, stored: dict[str, Any]) -> str:
    """TT_DELETE_RESERVATION's APP_TMP_ID (nvarchar(10)): the same for the same
    cancellation however often it is read, so a re-read never writes it twice."""
    moment = stored.get("PATIENT_ANSWER_TIME") or stored.get("STATUS_CHANGED_AT") or ""
    digest = hashlib.sha256(f"{instance}|{stored['RESERVATION_ID']}|{moment}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(10):
        number, digit = divmod(number, 36)
        out.append(_ALPHABET[digit])
    return "".join(out)


@dataclass
class _Entry:
    row_lid: str
    item: dict[str, str]
    view_row: ViewRow | None = None  # None: a deleted row sent as cancelled
    reinstates: bool = False


@dataclass
class _Pusher:
    """Sends items in batches and keeps what the server accepted."""

    server: SincroServer
    state: SincroState
    summary: RunSummary
    size: int
    pending: list[_Entry] = field(default_factory=list)

    def add(self, entry: _Entry) -> None:
        self.pending.append(entry)
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        while self.pending:
            batch = self.pending[: self.size]
            try:
                results = self.server.update_reservations([e.item for e in batch])
            except ServerError as exc:
                if exc.fault_code == _BATCH_TOO_LARGE and self.size > 1:
                    self.size = max(1, self.size // 2)
                    log.warning(
                        "the server takes fewer reservations per call; sending %d at a time "
                        "(set server.batch_size)",
                        self.size,
                    )
                    continue
                raise
            sent: list[tuple[str, str, date, str]] = []
            stale, gone, reinstated = [], [], []
            for entry, result in zip(batch, results, strict=True):
                if result.ok:
                    self.summary.sent += 1
                    if entry.view_row is None:
                        gone.append(entry.row_lid)
                        continue
                    row = entry.view_row
                    sent.append((row.app_lid, row.checksum, row.app_date, row.resource_lid))
                    if entry.reinstates:
                        reinstated.append(row.app_lid)
                else:
                    self.summary.refused += 1
                    stale.append(entry.row_lid)
                    log.warning(
                        "reservation %s refused by the server: %s (field %s); "
                        "it is sent again at the next run",
                        entry.row_lid,
                        result.error_code,
                        result.error_field or "-",
                    )
            self.state.record_sent(sent)
            self.state.mark_stale(stale)
            self.state.forget(gone)
            self.state.reinstated(reinstated)
            del self.pending[: len(batch)]


class SincroAgent:
    def __init__(
        self,
        config: SincroConfig,
        *,
        clinic: ClinicDatabase | None = None,
        server: SincroServer | None = None,
        state: SincroState | None = None,
    ) -> None:
        self.config = config
        self.clinic = clinic or ClinicDatabase(config.database_url, config.clinic)
        self.server = server or SincroServer(config)
        self.state = state or SincroState(config.state_path)
        self.mapper = RowMapper(
            date_formats=config.date_formats,
            time_formats=config.time_formats,
            status_map=config.status_map,
            send_patient_identity=config.clinic.send_patient_identity,
        )

    def close(self) -> None:
        self.clinic.close()
        self.server.close()
        self.state.close()

    def now(self) -> datetime:
        """The clinic's wall time (naive), in its configured zone or the machine's."""
        moment = clock.utcnow().replace(tzinfo=UTC)
        local = moment.astimezone(self.config.zone) if self.config.zone else moment.astimezone()
        return local.replace(tzinfo=None, microsecond=0)

    def run_once(self) -> RunSummary:
        summary = RunSummary()
        with self.state.locked():
            self.state.claim(self.config.server.instance)
            today = self.now().date()
            self._pull_cancellations(summary, today)
            self._push_changes(summary, today)
            self.state.put("last_run", f"{self.now().isoformat()} {summary.line()}")
        return summary

    # --- patients' cancellations -> TT_DELETE_RESERVATION ----------------------------

    def _pull_cancellations(self, summary: RunSummary, today: date) -> None:
        cursor = self.state.get(SERVER_CURSOR)
        instance = self.config.server.instance
        while True:
            filters: dict[str, Any] = {
                "STATUS": Status.CANCELLED_BY_USER.value,
                # Cancellations of appointments already past change nothing at the clinic.
                "START_DATE": format_date(today),
                "MAX_RESULTS": self.config.server.page_size,
            }
            if cursor:
                filters["LAST_REQUEST_TIMESTAMP"] = cursor
            page = self.server.get_reservations(**filters)
            rows = []
            for stored in page.reservations:
                if stored.get("STATUS_CHANGED_BY") != ChangedBy.PATIENT.value:
                    continue  # the clinic's own word coming back
                rows.append(
                    {
                        "APP_TMP_ID": app_tmp_id(instance, stored),
                        "APP_LID": stored["APP_LID"],
                        "USER_LANDLINE_PHONE": stored.get("USER_LANDLINE_PHONE"),
                        "USER_MOBILE_PHONE": stored.get("USER_MOBILE_PHONE"),
                        "USER_EMAIL": stored.get("USER_EMAIL"),
                        "INSERT_TIME": self.now(),
                    }
                )
            done = self.state.delivered(r["APP_TMP_ID"] for r in rows)
            fresh = [r for r in rows if r["APP_TMP_ID"] not in done]
            if fresh:
                self.clinic.write_cancellations(fresh)
                self.state.record_delivered((r["APP_TMP_ID"], r["APP_LID"]) for r in fresh)
                summary.cancellations += len(fresh)
                for r in fresh:
                    log.info("patient's cancellation of %s written for the clinic", r["APP_LID"])
            self.state.put(SERVER_CURSOR, page.next_cursor)
            cursor = page.next_cursor
            if not page.more:
                return

    # --- the views -> updateReservations ------------------------------------------------

    def _resources(self, summary: RunSummary) -> dict[str, Resource]:
        resources: dict[str, Resource] = {}
        for row in self.clinic.resources():
            try:
                resource = Resource.from_row(row)
            except RowError as exc:
                log.warning("a TT_RESOURCES row is skipped: %s %s", exc.field, exc.reason)
                continue
            resources[resource.lid] = resource
        return resources

    def _push_changes(self, summary: RunSummary, today: date) -> None:
        resources = self._resources(summary)
        before = self.state.resource_checksums()
        changed_resources = {
            lid for lid, r in resources.items() if before.get(lid) != r.checksum
        } | (set(before) - set(resources))
        patient_cancelled = self.state.patient_cancelled()
        detector = ChangeDetector(
            self.state.known(),
            today=today,
            patient_cancelled=patient_cancelled,
            cancel_deleted=self.config.clinic.deletions == "cancel",
        )
        pusher = _Pusher(self.server, self.state, summary, self.config.server.batch_size)
        seen: set[str] = set()
        unreadable: list[str] = []

        def offer(row: dict[str, object]) -> None:
            summary.read += 1
            try:
                view_row = self.mapper.map(row, resources)
            except RowError as exc:
                summary.unreadable += 1
                if exc.app_lid is not None:
                    detector.present(exc.app_lid)
                    unreadable.append(exc.app_lid)
                log.warning(
                    "reservation %s not sent: %s %s; it is read again at the next run",
                    exc.app_lid or "(no APP_LID)",
                    exc.field,
                    exc.reason,
                )
                return
            if view_row is None:
                lid = str(row.get("APP_LID")).strip()
                summary.not_sent += 1
                detector.present(lid)
                detector.not_sent(lid)
                return
            if view_row.app_lid in seen:
                summary.unreadable += 1
                log.warning("APP_LID %s appears twice in the view; sent once", view_row.app_lid)
                return
            seen.add(view_row.app_lid)
            item = detector.offer(view_row)
            if item is None:
                summary.unchanged += 1
                return
            reinstates = view_row.app_lid in patient_cancelled and not is_cancelled(
                item.get("STATUS")
            )
            pusher.add(_Entry(view_row.app_lid, item, view_row, reinstates))

        change_column = self.config.clinic.change_column
        high: object | None = None
        if change_column:
            present = self.clinic.reservation_keys()
            cursor = self.state.change_cursor()
            high = cursor
            for row in self.clinic.reservations(since=cursor):
                mark = row.pop(CHANGE, None)
                if mark is not None and (high is None or _above(mark, high)):
                    high = mark
                offer(row)
            extra = detector.needs_reading(present, changed_resources)
            for row in self.clinic.reservations(app_lids=sorted(extra)):
                row.pop(CHANGE, None)
                offer(row)
            for lid, resource_lid in present.items():
                detector.present(lid)
                if resource_lid not in resources:
                    detector.not_sent(lid)
        else:
            for row in self.clinic.reservations():
                offer(row)
        pusher.flush()
        self.state.mark_stale(unreadable)

        ending = detector.finish()
        self.state.forget(ending.forget)
        summary.forgotten += len(ending.forget)
        if ending.cancel:
            self._send_deletions(ending.cancel, pusher, summary)
        self.state.set_resource_checksums({lid: r.checksum for lid, r in resources.items()})
        if change_column and high is not None:
            self.state.set_change_cursor(high)

    def _send_deletions(self, gone: dict[str, Known], pusher: _Pusher, summary: RunSummary) -> None:
        """Rows deleted at the clinic: the server's copy (phones and all, so the
        patient can be told), sent back as cancelled by the clinic."""
        by_day: dict[tuple[date, str], set[str]] = defaultdict(set)
        for lid, known in gone.items():
            by_day[(known.app_date, known.resource_lid)].add(lid)
        forget: list[str] = []
        for (day, resource_lid), lids in sorted(by_day.items()):
            found = {
                r["APP_LID"]: r for r in self._server_day(day, resource_lid) if r["APP_LID"] in lids
            }
            for lid in sorted(lids):
                stored = found.get(lid)
                if stored is None or is_cancelled(stored.get("STATUS")):
                    forget.append(lid)  # unknown there, or already cancelled
                    continue
                item = {**as_item(stored), "STATUS": Status.CANCELLED_BY_ADMIN.value}
                summary.deleted += 1
                pusher.add(_Entry(lid, item))
        pusher.flush()
        self.state.forget(forget)
        summary.forgotten += len(forget)

    def _server_day(self, day: date, resource_lid: str) -> Iterable[dict[str, Any]]:
        cursor: str | None = None
        while True:
            filters: dict[str, Any] = {
                "START_DATE": format_date(day),
                "END_DATE": format_date(day),
                "RESOURCE_LID": resource_lid,
                "MAX_RESULTS": self.config.server.page_size,
            }
            if cursor:
                filters["LAST_REQUEST_TIMESTAMP"] = cursor
            page = self.server.get_reservations(**filters)
            yield from page.reservations
            if not page.more:
                return
            cursor = page.next_cursor


def _above(value: object, than: object) -> bool:
    try:
        return bool(value > than)  # type: ignore[operator]
    except TypeError:
        return str(value) > str(than)


def run_loop(
    agent: SincroAgent,
    *,
    interval_seconds: float,
    stop: threading.Event,
    max_runs: int | None = None,
    report: Callable[[RunSummary], None] | None = None,
) -> tuple[int, int]:
    """Run every ``interval_seconds`` until ``stop`` is set or ``max_runs`` runs
    are done; a failed run is logged and the next one tries again. A bad
    configuration or state file ends the loop (raised). Returns (runs, failed)."""
    runs = failed = 0
    while not stop.is_set():
        try:
            summary = agent.run_once()
        except (SincroConfigError, StateError) as exc:
            if not isinstance(exc, LockedError):
                raise
            failed += 1
            log.warning("run skipped: %s", exc.message)
        except SincroError as exc:
            failed += 1
            log.error(
                "run failed (%s): %s; next try in %ss", exc.code, exc.message, interval_seconds
            )
        else:
            if report is not None:
                report(summary)
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        stop.wait(interval_seconds)
    return runs, failed
