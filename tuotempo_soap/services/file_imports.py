"""Importing one export file of a clinic (guide A.1.1) as updateReservations would.

A file is taken once: it is known by name, size and SHA-256 (``file_imports``),
and a file listed again with the same name, size and time stamp is not even
copied. Its rows are read streamed (``files.importer``) and handed, a batch at
a time, to the very use case of updateReservations
(``services.reservations.update_reservations``): the same field rules, the
same per-item answer, the same change sequence, so reminders, patients'
answers and getReservations follow without knowing where a row came from.
Every row gets a line in ``<name>.result.csv`` next to the file: the action
(CREATED, UPDATED, UNCHANGED) or the error code, field and message an
updateReservations item would get. An APP_LID twice in one file is refused the
second time (DUPLICATE_APP_LID), as twice in one batch is. An export without a
STATUS column (the guide's A.1.1 has none) leaves a patient's cancellation
(``CANCELLED by USER``) as it is: the clinic learns it from the cancellations
file; any other status is the file's to set (an appointment listed again after
it went missing is live again).

Snapshot: an export holds every appointment of its time window
(``files.window``). An appointment that came from an earlier file of the
instance and is missing from this one, inside this file's window, was deleted
in the HIS: it is given the configured STATUS (``CANCELLED by ADMIN`` by
default) through the same use case, one batch at a time. Appointments outside
the window, already cancelled, or never seen in a file (sent by SOAP) are not
touched. A file that would cancel more than ``max_missing_percent`` of its
window (and more than ``SMALL_CHANGE`` appointments), or that holds nothing
at all inside its window, is not trusted to cancel anything: a truncated export
must not cancel a clinic's week; the result file and the import say so.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain.formats import format_date, format_timestamp
from ..domain.reservation import ItemError, Status
from ..files.errors import FileFormatError, FileTransportError
from ..files.formats import DateFormat, FileFacts, ResultLine
from ..files.importer import ResultFile, batches, fetch, open_export, result_name
from ..files.transports import FileTransport, RemoteFile
from ..files.window import ExportWindow
from ..store.engine import Store
from ..store.files import (
    DONE,
    FINISHED,
    REJECTED,
    FileAppointmentRepository,
    FileImportRecord,
    FileImportRepository,
    StoredAppointment,
)
from . import reservations
from .instances import Instance, utcnow

log = logging.getLogger(__name__)

# At most this many appointments may be cancelled as missing whatever the share.
SMALL_CHANGE = 10
SKIPPED = "SKIPPED"
_APP_LID_LENGTH = 50
_CANCELLED = frozenset({Status.CANCELLED_BY_USER.value, Status.CANCELLED_BY_ADMIN.value})

# ``progress(label, total_bytes)``: a context yielding a callback that is told
# how many more bytes were done (the command line's progress bar).
ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], object]]]


@contextmanager
def no_progress(label: str, total: int) -> Iterator[Callable[[int], object]]:
    yield lambda count: None


@dataclass(frozen=True)
class ImportSettings:
    """How an instance's files are read and what a missing appointment becomes."""

    delimiter: str | None = None  # None: detected
    encoding: str | None = None  # None: detected
    date_format: DateFormat | None = None  # None: detected
    on_missing: str | None = Status.CANCELLED_BY_ADMIN.value  # None: leave them
    window_ahead: timedelta = timedelta(hours=72)
    window_past: timedelta = timedelta(hours=24)
    window_margin: timedelta = timedelta(minutes=60)
    max_missing_percent: int = 50
    batch_size: int = 1000
    work_dir: Path | None = None  # where local copies go (None: the system's)


@dataclass
class ImportOutcome:
    """What became of one file: DONE, REJECTED (unusable as a whole) or SKIPPED
    (already imported, by name, size and checksum)."""

    name: str
    state: str
    import_id: int | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    cancelled: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    window: ExportWindow | None = None
    result_file: str | None = None
    error: str | None = None  # REJECTED: why; DONE: what else went wrong
    ignored_columns: tuple[str, ...] = ()
    cancel_refused: str | None = None

    def count(self, line: ResultLine) -> None:
        self.rows += 1
        if not line.ok:
            self.rejected += 1
            return
        self.accepted += 1
        if line.action == "CREATED":
            self.created += 1
        elif line.action == "UPDATED":
            self.updated += 1
        elif line.action == "UNCHANGED":
            self.unchanged += 1


def already_imported(
    records: list[FileImportRecord], remote: RemoteFile, sha256: str | None = None
) -> FileImportRecord | None:
    """The finished import of this very file: same name and size, and the same
    checksum (or, before it is known, the same time stamp)."""
    for record in reversed(records):
        if record.state not in FINISHED or record.name != remote.name:
            continue
        if record.size != remote.size:
            continue
        if sha256 is not None and record.sha256 == sha256:
            return record
        if sha256 is None and remote.modified is not None and record.modified_at == remote.modified:
            return record
    return None


def import_file(
    store: Store,
    instance: Instance,
    transport: FileTransport,
    folder: str,
    remote: RemoteFile,
    settings: ImportSettings,
    *,
    now: datetime | None = None,
    force: bool = False,
    cancel_missing: bool = True,
    progress: ProgressFactory = no_progress,
    keep_alive: Callable[[], object] | None = None,
) -> ImportOutcome:
    """Import ``folder/remote.name`` unless it was imported before (``force``: again)."""
    now = now or utcnow()
    with store.unit_of_work() as connection:
        records = FileImportRepository(connection).of_instance(instance.id, [remote.name])
    if not force:
        known = already_imported(records, remote)
        if known is not None:
            return ImportOutcome(remote.name, SKIPPED, import_id=known.id)
    with tempfile.NamedTemporaryFile(
        dir=settings.work_dir, prefix="export-", suffix=".part"
    ) as copy:
        with progress(f"{remote.name} (copy)", remote.size) as tick:
            facts = fetch(
                transport, folder, remote.name, copy, encoding=settings.encoding, progress=tick
            )
        if not force:
            known = already_imported(records, RemoteFile(remote.name, facts.size), facts.sha256)
            if known is not None:
                with store.unit_of_work(write=True) as connection:
                    FileImportRepository(connection).touch(known.id, remote.modified)
                return ImportOutcome(remote.name, SKIPPED, import_id=known.id)
        with store.unit_of_work(write=True) as connection:
            import_id = FileImportRepository(connection).start(
                instance.id,
                name=remote.name,
                size=facts.size,
                modified=remote.modified,
                sha256=facts.sha256,
                now=now,
            )
        outcome = ImportOutcome(
            remote.name,
            DONE,
            import_id=import_id,
            encoding=facts.encoding_label,
            result_file=result_name(remote.name),
        )
        _read(
            store,
            instance,
            transport,
            folder,
            remote,
            Path(copy.name),
            facts,
            settings,
            outcome,
            now=now,
            cancel_missing=cancel_missing,
            progress=progress,
            keep_alive=keep_alive,
        )
    with store.unit_of_work(write=True) as connection:
        FileImportRepository(connection).finish(import_id, _record(outcome, utcnow()))
    log.info(
        "file %s of %s: %s, %d rows, %d refused, %d cancelled as missing",
        remote.name,
        instance.name,
        outcome.state,
        outcome.rows,
        outcome.rejected,
        outcome.cancelled,
    )
    return outcome


def _read(
    store: Store,
    instance: Instance,
    transport: FileTransport,
    folder: str,
    remote: RemoteFile,
    path: Path,
    facts: FileFacts,
    settings: ImportSettings,
    outcome: ImportOutcome,
    *,
    now: datetime,
    cancel_missing: bool,
    progress: ProgressFactory,
    keep_alive: Callable[[], object] | None,
) -> None:
    result: ResultFile | None = None
    try:
        if facts.problem is not None:
            raise FileFormatError(facts.problem, field="encoding")
        with progress(remote.name, facts.size) as tick:
            reading = open_export(
                path,
                facts,
                delimiter=settings.delimiter,
                dates=settings.date_format,
                progress=tick,
            )
            with reading:
                outcome.delimiter = reading.layout.delimiter
                outcome.date_format = reading.dates.label
                outcome.ignored_columns = reading.layout.ignored
                result = ResultFile(
                    settings.work_dir,
                    delimiter=reading.layout.delimiter,
                    encoding=facts.encoding,
                )
                # An export without a STATUS column (the guide's A.1.1) says nothing
                # about statuses: a patient's cancellation stands until the clinic
                # has read it from the cancellations file and deleted the appointment.
                keep_cancelled = "STATUS" not in reading.layout.columns
                for batch in batches(reading.rows, settings.batch_size):
                    lines = _apply(store, instance, outcome.import_id or 0, batch, keep_cancelled)
                    for line in lines:
                        result.write(line)
                        outcome.count(line)
                    if keep_alive is not None:
                        keep_alive()
        if cancel_missing and settings.on_missing is not None:
            window = ExportWindow.around(
                exported_at=remote.modified,
                now=now,
                ahead=settings.window_ahead,
                past=settings.window_past,
                margin=settings.window_margin,
            )
            outcome.window = window
            _cancel_missing(store, instance, settings, window, outcome, result, keep_alive)
    except FileFormatError as exc:
        outcome.state = REJECTED
        outcome.error = exc.message
        if result is not None:
            result.close()
        result = ResultFile(
            settings.work_dir, delimiter=settings.delimiter or ";", encoding=facts.encoding
        )
        result.write(
            ResultLine(None, None, False, error=ItemError("INVALID_FILE", exc.field, exc.message))
        )
    try:
        if result is not None:
            result.upload(transport, folder, remote.name)
    except FileTransportError as exc:
        # The rows are stored: the file is imported even if its report is not
        # delivered; the round's error says so.
        outcome.error = f"{result_name(remote.name)} not written: {exc.message}"
    finally:
        if result is not None:
            result.close()


def _apply(
    store: Store, instance: Instance, import_id: int, batch: list[Any], keep_cancelled: bool
) -> list[ResultLine]:
    """One batch of rows: mark their APP_LIDs as held by this file, refuse those
    held already (twice in the file), store the rest with one service call
    (``keep_cancelled``: a patient's cancellation keeps its STATUS)."""
    lines: list[ResultLine | None] = [None] * len(batch)
    first_line: dict[str, int] = {}
    held: list[str] = []
    for index, row in enumerate(batch):
        lid = row.app_lid
        if lid is not None and len(lid) <= _APP_LID_LENGTH:
            if lid in first_line:
                lines[index] = _duplicate(row.line, lid, first_line[lid])
                continue
            first_line[lid] = row.line
            held.append(lid)
        if row.error is not None:
            lines[index] = ResultLine(row.line, lid, False, error=row.error)
    with store.unit_of_work(write=True) as connection:
        appointments = FileAppointmentRepository(connection)
        fresh = appointments.mark_seen(instance.id, import_id, held)
        cancelled = (
            appointments.with_status(instance.id, held, Status.CANCELLED_BY_USER.value)
            if keep_cancelled
            else set()
        )
    items: list[dict[str, str]] = []
    sent: list[int] = []
    for index, row in enumerate(batch):
        if lines[index] is not None:
            continue
        lid = row.app_lid
        if lid is not None and len(lid) <= _APP_LID_LENGTH and lid not in fresh:
            lines[index] = _duplicate(row.line, lid, None)
            continue
        if lid in cancelled:
            row.values["STATUS"] = Status.CANCELLED_BY_USER.value
        items.append(row.values)
        sent.append(index)
    if items:
        answer = reservations.update_reservations(store, instance, items, max_items=len(items))
        for index, item in zip(sent, answer.items, strict=True):
            lines[index] = ResultLine(
                batch[index].line,
                item.app_lid,
                item.ok,
                item.action.value if item.action is not None else None,
                item.error,
                list(item.warnings),
            )
    return [line for line in lines if line is not None]


def _duplicate(line: int, lid: str, first: int | None) -> ResultLine:
    where = f"line {first}" if first is not None else "an earlier line"
    return ResultLine(
        line,
        lid,
        False,
        error=ItemError(
            "DUPLICATE_APP_LID",
            "APP_LID",
            f"APP_LID {lid} appears more than once in this file (first at {where}); "
            "send each appointment once",
        ),
    )


# --- appointments deleted in the HIS ---------------------------------------------


def _missing_pages(
    store: Store,
    instance: Instance,
    import_id: int,
    window: ExportWindow,
    size: int,
) -> Iterator[list[StoredAppointment]]:
    """Appointments of earlier files missing from this one, inside the window, a page at a time."""
    zone = instance.zone
    first, last = window.days(zone)
    after = ""
    while True:
        with store.unit_of_work() as connection:
            page = FileAppointmentRepository(connection).missing(
                instance.id,
                import_id,
                first,
                last,
                skip_statuses=_CANCELLED,
                after_lid=after,
                limit=size,
            )
        if not page:
            return
        after = page[-1].app_lid
        inside = [a for a in page if window.holds(a.app_date, a.app_start_time, zone)]
        if inside:
            yield inside


def _cancel_missing(
    store: Store,
    instance: Instance,
    settings: ImportSettings,
    window: ExportWindow,
    outcome: ImportOutcome,
    result: ResultFile | None,
    keep_alive: Callable[[], object] | None,
) -> None:
    if window.empty or outcome.import_id is None or settings.on_missing is None:
        return
    import_id = outcome.import_id
    missing = sum(
        len(page)
        for page in _missing_pages(store, instance, import_id, window, settings.batch_size)
    )
    if not missing:
        return
    first, last = window.days(instance.zone)
    with store.unit_of_work() as connection:
        held = FileAppointmentRepository(connection).held(instance.id, import_id, first, last)
    share = missing * 100 / (held + missing)
    if held == 0 or (missing > SMALL_CHANGE and share > settings.max_missing_percent):
        outcome.cancel_refused = (
            f"{missing} appointments of earlier files are missing from this one inside its "
            f"window ({share:.0f}% of {held + missing}); more than the "
            f"{settings.max_missing_percent}% a file is trusted to cancel"
            + (" (it holds none inside its window)" if held == 0 else "")
            + ": none was cancelled. If they were deleted, raise the limit "
            "(files source set --max-missing-percent) and import the file again with --force"
        )
        log.warning(
            "file %s of %s: %d missing appointments not cancelled (%.0f%% of the window)",
            outcome.name,
            instance.name,
            missing,
            share,
        )
        if result is not None:
            result.write(
                ResultLine(
                    None,
                    None,
                    False,
                    error=ItemError("TOO_MANY_MISSING", None, outcome.cancel_refused),
                )
            )
        return
    note = (
        f"not in this file but inside its window ({_shown(window.start, instance)} to "
        f"{_shown(window.end, instance)}): deleted in the clinic's software, now "
        f"{settings.on_missing}"
    )
    for page in _missing_pages(store, instance, import_id, window, settings.batch_size):
        items = [_as_item(appointment, settings.on_missing) for appointment in page]
        answer = reservations.update_reservations(store, instance, items, max_items=len(items))
        for item in answer.items:
            line = ResultLine(
                None,
                item.app_lid,
                item.ok,
                "CANCELLED" if item.ok else None,
                item.error,
                [note] if item.ok else [],
            )
            if result is not None:
                result.write(line)
            outcome.cancelled += 1 if item.ok else 0
        if keep_alive is not None:
            keep_alive()


def _as_item(appointment: StoredAppointment, status: str) -> dict[str, object]:
    """The stored reservation as the item the HIS would send to cancel it."""
    item: dict[str, object] = {
        name: format_date(value) if isinstance(value, date) else value
        for name, value in appointment.fields.items()
    }
    item["STATUS"] = status
    return item


def _shown(moment: datetime, instance: Instance) -> str:
    return format_timestamp(moment.replace(tzinfo=UTC).astimezone(instance.zone))


def _record(outcome: ImportOutcome, now: datetime) -> dict[str, Any]:
    window = outcome.window
    error = outcome.error or outcome.cancel_refused
    return {
        "state": outcome.state,
        "finished_at": now,
        "rows": outcome.rows,
        "accepted": outcome.accepted,
        "rejected": outcome.rejected,
        "created": outcome.created,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "cancelled": outcome.cancelled,
        "encoding": outcome.encoding,
        "delimiter": outcome.delimiter,
        "date_format": outcome.date_format,
        "window_start": window.start if window is not None else None,
        "window_end": window.end if window is not None else None,
        "error": error[:1000] if error else None,
    }
