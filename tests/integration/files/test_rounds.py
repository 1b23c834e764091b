"""The scheduled round on every kind of folder (local, FTP, FTPS, SFTP: real
servers on 127.0.0.1), against the real database: a file still being written
is left alone, a complete one is imported once however often it is listed,
its report lands next to it, an appointment deleted in the HIS is cancelled,
and patients' cancellations go back to the clinic, each in one file."""

from __future__ import annotations

import os
import time

from tuotempo_soap.services import file_sources, reservations
from tuotempo_soap.services.file_sources import RoundOutcome
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.engine import Store

from .conftest import (
    Folder,
    export_text,
    local_time,
    new_instance,
    patient_cancels,
    read_csv,
    row,
    stored,
    with_reminders,
)


def round_of(store: Store, instance: Instance, folder: Folder) -> RoundOutcome:
    [outcome] = file_sources.poll_due(
        store, owner="test", batch_size=100, only=instance.name, env=folder.env
    )
    assert outcome.ok, outcome.error
    return outcome


def test_a_file_is_read_once_complete_and_only_once(store: Store, folder: Folder) -> None:
    instance = new_instance(store)
    file_sources.configure(store, instance.name, url=folder.url, **folder.options)
    rows = [row(f"A{i}", local_time(1, 9, i)) for i in range(40)]
    data = export_text(rows).encode()
    path = folder.path / "export.csv"
    path.write_bytes(data[: len(data) // 2])  # the HIS is still writing it

    first = round_of(store, instance, folder)
    assert (first.imports, first.waiting) == ([], ["export.csv"])
    with path.open("ab") as growing:
        growing.write(data[len(data) // 2 :])
    second = round_of(store, instance, folder)
    assert (second.imports, second.waiting) == ([], ["export.csv"])
    assert stored(store, instance, "A0") is None

    third = round_of(store, instance, folder)
    [imported] = third.imports
    assert (imported.state, imported.rows, imported.created, imported.rejected) == (
        "DONE",
        40,
        40,
        0,
    )
    report = read_csv(folder.path / "export.csv.result.csv")
    assert [line["APP_LID"] for line in report] == [f"A{i}" for i in range(40)]
    assert {line["ACTION"] for line in report} == {"CREATED"}
    assert stored(store, instance, "A39") is not None

    # Listed again, and again: nothing is read twice.
    for _ in range(2):
        again = round_of(store, instance, folder)
        assert (again.imports, again.waiting) == ([], [])

    # The same bytes written again (a new time stamp): known by their checksum.
    later = time.time() + 120
    os.utime(path, (later, later))
    assert round_of(store, instance, folder).waiting == ["export.csv"]
    [skipped] = round_of(store, instance, folder).imports
    assert skipped.state == "SKIPPED"
    assert round_of(store, instance, folder).imports == []
    history = file_sources.history(store, instance)
    assert [record.state for record in history.imports] == ["DONE"]


def test_deletions_are_cancelled_and_cancellations_go_back_once(
    store: Store, folder: Folder
) -> None:
    instance = new_instance(store)
    with_reminders(store, instance)
    file_sources.configure(
        store,
        instance.name,
        url=folder.url,
        export_enabled=True,
        **folder.options,
    )
    # E-mail only, so the reminders (and the patients' answers) go by e-mail.
    tomorrow = [row(f"T{i}", local_time(2, 10 + i), USER_MOBILE_PHONE="") for i in range(4)]
    far = row("FAR", local_time(10, 10))  # beyond 72 hours: outside the window
    gone = row("PAST", local_time(-3, 10))  # three days ago: outside too
    (folder.path / "export.csv").write_text(export_text([*tomorrow, far, gone]))
    round_of(store, instance, folder)
    [first] = round_of(store, instance, folder).imports
    assert (first.created, first.cancelled) == (6, 0)
    # Sent by SOAP, not in any file: no file can delete it.
    soap = reservations.update_reservations(
        store,
        instance,
        [{"APP_LID": "SOAP1", "APP_DATE": tomorrow[0]["APP_DATE"], "RESOURCE_LID": "DR1"}],
        max_items=1,
    )
    assert soap.items[0].ok

    patient_cancels(store, instance, "T0")
    # The next export: T1 deleted in the HIS; FAR and PAST no longer listed
    # either, but outside the window; T0 listed (the HIS has not read our file yet).
    (folder.path / "export.csv").write_text(export_text([tomorrow[0], tomorrow[2], tomorrow[3]]))
    os.utime(folder.path / "export.csv", (time.time() + 60, time.time() + 60))
    waiting = round_of(store, instance, folder)
    assert waiting.imports == []  # not complete yet
    # The patient's cancellation goes back to the clinic in this round already.
    assert waiting.export is not None and waiting.export.rows == 1
    outcome = round_of(store, instance, folder)
    [second] = outcome.imports
    assert (second.rows, second.cancelled, second.unchanged) == (3, 1, 3)

    deleted = stored(store, instance, "T1")
    assert deleted is not None
    assert (deleted["STATUS"], deleted["STATUS_CHANGED_BY"]) == ("CANCELLED by ADMIN", "HIS")
    for untouched in ("FAR", "PAST", "SOAP1", "T2"):
        kept = stored(store, instance, untouched)
        assert kept is not None and kept["STATUS"] is None, untouched
    cancelled = stored(store, instance, "T0")
    assert cancelled is not None
    assert (cancelled["STATUS"], cancelled["PATIENT_ANSWER"]) == ("CANCELLED by USER", "CANCELLED")
    report = read_csv(folder.path / "export.csv.result.csv")
    assert [(line["APP_LID"], line["ACTION"]) for line in report if not line["LINE"]] == [
        ("T1", "CANCELLED")
    ]

    # The patient's cancellation went back to the clinic; the HIS's own did not.
    assert outcome.export is None or outcome.export.name is None
    written = sorted(folder.path.glob("cancellations_*.csv"))
    assert [path.name for path in written] == [waiting.export.name]
    [line] = read_csv(written[0])
    assert line["APP_LID"] == "T0"
    assert (line["STATUS"], line["PATIENT_ANSWER"], line["PATIENT_ANSWER_CHANNEL"]) == (
        "CANCELLED by USER",
        "CANCELLED",
        "EMAIL",
    )
    assert line["USER_EMAIL"] == "t0@example.org" and line["RESOURCE_LID"] == "DR1"
    assert not list(folder.path.glob(".*.part"))

    # Nothing new: no new file. A second cancellation: a file with only that one.
    assert round_of(store, instance, folder).export is None
    assert len(list(folder.path.glob("cancellations_*.csv"))) == 1
    patient_cancels(store, instance, "T2")
    again = round_of(store, instance, folder)
    assert again.export is not None and again.export.rows == 1
    every = [read_csv(path) for path in sorted(folder.path.glob("cancellations_*.csv"))]
    assert sorted(line["APP_LID"] for lines in every for line in lines) == ["T0", "T2"]
