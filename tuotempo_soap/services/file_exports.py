"""The cancellations file back to the clinic (guide A.1.2.1), each cancellation
in exactly one file.

What goes in: the changes patients made (``ChangedBy.PATIENT``: a cancellation
answered to a reminder by SMS, e-mail link or voice; with
``export_confirmations``, their confirmations too), read from the instance's
change history in sequence order. What the clinic did itself (its file, its
web services, a deletion found in its export) is not sent back to it.

Exactly once: the instance's ``export_cursor`` is the last change number whose
cancellations are in a file. A round takes the changes after it up to the
current number (everything numbered up to there is committed: writers hold the
instance's change lock until they commit), writes them to a local file,
records the file and its range (``file_exports``) before uploading it under a
temporary name and renaming it, then marks it finished and moves the cursor,
in one transaction. A round that stops half-way leaves the record unfinished:
the next one writes the same range under the same name (unless the file is
already there), never a second file with the same cancellations.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..domain.reservation import ChangedBy, PatientAnswer
from ..files.exporter import CancellationFile, cancellation_row, is_cancellation
from ..files.transports import FileTransport
from ..store.engine import Store
from ..store.files import (
    DONE,
    FileExportRepository,
    FileImportRepository,
    FileSourceRecord,
    FileSourceRepository,
)
from ..store.repositories import InstanceRepository
from .instances import Instance, utcnow

log = logging.getLogger(__name__)

PAGE = 1000


@dataclass
class ExportOutcome:
    """A cancellations file written (``name``), or none needed (``name`` None)."""

    name: str | None
    rows: int
    after_seq: int
    upto_seq: int
    resumed: bool = False  # the range of a round that had stopped half-way


def file_format(store: Store, instance: Instance, source: FileSourceRecord) -> tuple[str, str]:
    """(delimiter, encoding) of the files we write: the instance's settings, else
    what its last imported export used, else ``;`` and UTF-8."""
    delimiter, encoding = source.delimiter, source.encoding
    if delimiter is None or encoding is None:
        with store.unit_of_work() as connection:
            recent = FileImportRepository(connection).recent(instance.id, 20)
        last = next((r for r in recent if r.state == DONE), None)
        if last is not None:
            delimiter = delimiter or last.delimiter
            encoding = encoding or _codec(last.encoding)
    return delimiter or ";", encoding or "utf-8"


def _codec(label: str | None) -> str | None:
    names = {
        "UTF-8": "utf-8",
        "UTF-8 with BOM": "utf-8-sig",
        "UTF-16": "utf-16",
        "Windows-1252": "cp1252",
        "ISO-8859-1": "iso8859-1",
    }
    return names.get(label or "")


def export_name(source: FileSourceRecord, instance: Instance, upto_seq: int, now: datetime) -> str:
    local = now.replace(tzinfo=UTC).astimezone(instance.zone)
    return f"{source.export_prefix}{local:%Y%m%d_%H%M%S}_{upto_seq}.csv"


def export_cancellations(
    store: Store,
    instance: Instance,
    source: FileSourceRecord,
    transport: FileTransport,
    folder: str,
    *,
    now: datetime | None = None,
    work_dir: Path | None = None,
) -> ExportOutcome | None:
    """Write the cancellations since the last file into ``folder``; None when
    there is nothing new since the last one."""
    now = now or utcnow()
    with store.unit_of_work() as connection:
        pending = FileExportRepository(connection).unfinished(instance.id)
        current = InstanceRepository(connection).current_seq(instance.id)
    if pending is not None:
        name, after, upto = pending.name, pending.after_seq, pending.upto_seq
    else:
        after, upto = source.export_cursor, current
        if upto <= after:
            return None
        name = export_name(source, instance, upto, now)
    delimiter, encoding = file_format(store, instance, source)
    wanted_answers = {PatientAnswer.CONFIRMED.value} if source.export_confirmations else set()
    target = CancellationFile(work_dir, delimiter=delimiter, encoding=encoding)
    try:
        seq = after
        while True:
            with store.unit_of_work() as connection:
                page = FileExportRepository(connection).patient_changes(
                    instance.id, seq, upto, by=(ChangedBy.PATIENT.value,), limit=PAGE
                )
            if not page:
                break
            seq = page[-1].change_seq
            for change in page:
                values = change.values
                if not (is_cancellation(values) or values.get("patient_answer") in wanted_answers):
                    continue
                target.write(
                    cancellation_row(
                        app_lid=change.app_lid,
                        landline=change.user_landline_phone,
                        mobile=change.user_mobile_phone,
                        email=change.user_email,
                        resource_lid=change.resource_lid,
                        values=values,
                        changed_at=change.changed_at,
                        zone=instance.zone,
                    )
                )
        if target.rows == 0:
            # Nothing for the clinic in this range: no file, the cursor moves on.
            with store.unit_of_work(write=True) as connection:
                if pending is not None:
                    FileExportRepository(connection).finish(pending.id, utcnow())
                FileSourceRepository(connection).set_cursor(instance.id, upto)
            return ExportOutcome(None, 0, after, upto, resumed=pending is not None)
        if pending is None:
            with store.unit_of_work(write=True) as connection:
                export_id = FileExportRepository(connection).start(
                    instance.id,
                    name=name,
                    after_seq=after,
                    upto_seq=upto,
                    rows=target.rows,
                    now=now,
                )
        else:
            export_id = pending.id
        already_there = pending is not None and any(
            entry.name == name for entry in transport.files(folder)
        )
        if not already_there:
            target.upload(transport, folder, name)
        with store.unit_of_work(write=True) as connection:
            FileExportRepository(connection).finish(export_id, utcnow())
            FileSourceRepository(connection).set_cursor(instance.id, upto)
    finally:
        target.close()
    log.info("cancellations file %s of %s: %d rows", name, instance.name, target.rows)
    return ExportOutcome(name, target.rows, after, upto, resumed=pending is not None)
