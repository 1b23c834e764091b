"""Importing export files against the real database: rows refused one by one
while the rest is stored, encodings, delimiters and date formats detected, the
``.done`` marker, what a deletion may and may not cancel, a cancellations file
interrupted half-way, trust in FTPS and SFTP servers, and memory that does not
grow with the file."""

from __future__ import annotations

import codecs
import tracemalloc
from pathlib import Path

import pytest

from tuotempo_soap.files.errors import FileAuthenticationError
from tuotempo_soap.files.transports import LocalTransport, RemoteFile
from tuotempo_soap.services import file_imports, file_sources
from tuotempo_soap.services.file_sources import RoundOutcome
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.store.engine import Store

from .conftest import (
    HEADER,
    PASSWORD_ENV,
    FtpServer,
    SftpServer,
    export_text,
    local_time,
    new_instance,
    patient_cancels,
    read_csv,
    row,
    stored,
    with_reminders,
    write_export,
)

ENV = {PASSWORD_ENV: "not-the-password"}


def import_path(
    store: Store, instance: Instance, target: Path | str, **options: object
) -> RoundOutcome:
    return file_sources.import_path(
        store,
        instance.name,
        str(target),
        owner="test",
        batch_size=options.pop("batch_size", 100),  # type: ignore[arg-type]
        settle=0,
        **options,  # type: ignore[arg-type]
    )


def test_a_malformed_row_is_reported_and_the_rest_stored(store: Store, tmp_path: Path) -> None:
    instance = new_instance(store)
    good = [row(f"G{i}", local_time(1, 9, i)) for i in range(3)]
    text = export_text(good)
    text += "BAD1;32/01/2027;10:00;;;DR1;Dr;L1;C\r\n"  # no such day
    text += "BAD2;15/01/2027;10:00;;;;Dr;L1;C\r\n"  # no RESOURCE_LID
    text += "BAD3;15/01/2027;10:00;DR1\r\n"  # four values, nine columns
    text += f"{good[1]['APP_LID']};15/01/2027;10:00;;;DR1;Dr;L1;C\r\n"  # G1 again
    text += "G9;15/01/2027;25:00;;;DR1;Dr;L1;C\r\n"  # no such time
    (tmp_path / "export.txt").write_text(text)
    [outcome] = import_path(store, instance, tmp_path / "export.txt").imports
    assert (outcome.rows, outcome.accepted, outcome.rejected) == (8, 3, 5)
    report = read_csv(tmp_path / "export.txt.result.csv")
    assert [
        (line["LINE"], line["APP_LID"], line["RESULT"], line["ERROR_CODE"], line["ERROR_FIELD"])
        for line in report
    ] == [
        ("2", "G0", "OK", "", ""),
        ("3", "G1", "OK", "", ""),
        ("4", "G2", "OK", "", ""),
        ("5", "BAD1", "ERROR", "INVALID_DATE", "APP_DATE"),
        ("6", "BAD2", "ERROR", "MISSING_FIELD", "RESOURCE_LID"),
        ("7", "BAD3", "ERROR", "INVALID_ROW", ""),
        ("8", "G1", "ERROR", "DUPLICATE_APP_LID", "APP_LID"),
        ("9", "G9", "ERROR", "INVALID_TIME", "APP_START_TIME"),
    ]
    assert "line 7 has 4 values; the header has 9" in report[5]["MESSAGE"]
    assert "first at line 3" in report[6]["MESSAGE"]
    for lid in ("G0", "G1", "G2"):
        assert stored(store, instance, lid) is not None
    assert stored(store, instance, "BAD1") is None


@pytest.mark.parametrize(
    ("encoding", "delimiter", "label"),
    [
        ("utf-8", ";", "UTF-8"),
        ("utf-8-sig", ",", "UTF-8 with BOM"),
        ("cp1252", "\t", "Windows-1252"),
        ("iso8859-1", "|", "ISO-8859-1"),
    ],
)
def test_encodings_and_delimiters_are_detected(
    store: Store, tmp_path: Path, encoding: str, delimiter: str, label: str
) -> None:
    instance = new_instance(store)
    name = "Dra. Núñez Peña" + (" \u2013 Sur" if encoding == "cp1252" else "")
    path = write_export(
        tmp_path,
        "agenda.csv",
        [row("E1", local_time(1, 9), RESOURCE_NAME=name, LOCATION_NAME="Ourense, Galicia")],
        delimiter=delimiter,
        encoding=encoding,
    )
    [outcome] = import_path(store, instance, path).imports
    assert (outcome.encoding, outcome.delimiter, outcome.rejected) == (label, delimiter, 0)
    found = stored(store, instance, "E1")
    assert found is not None
    assert (found["RESOURCE_NAME"], found["LOCATION_NAME"]) == (name, "Ourense, Galicia")
    # The report is written as the clinic wrote its file.
    report = (tmp_path / "agenda.csv.result.csv").read_bytes()
    assert report.decode(encoding).startswith(delimiter.join(["LINE", "APP_LID"]))
    assert report.startswith(codecs.BOM_UTF8) == (encoding == "utf-8-sig")


def test_month_first_dates_are_detected_and_configured_formats_win(
    store: Store, tmp_path: Path
) -> None:
    instance = new_instance(store)
    when = local_time(1, 9)
    us = {"APP_DATE": f"{when:%m/%d/%Y}"}
    evidence = {"APP_DATE": f"01/25/{when.year + 1}"}  # a 25th month is no month
    path = write_export(tmp_path, "us.csv", [row("U1", when, **us), row("U2", when, **evidence)])
    [outcome] = import_path(store, instance, path).imports
    assert (outcome.date_format, outcome.rejected) == ("mm/dd/yyyy", 0)
    found = stored(store, instance, "U1")
    assert found is not None and found["APP_DATE"] == f"{when:%d/%m/%Y}"
    # The instance's own setting is used as it is: the same file read day first.
    other = new_instance(store)
    file_sources.configure(store, other.name, url=str(tmp_path), date_format="dd/mm/yyyy")
    [again] = import_path(store, other, path).imports
    assert again.date_format == "dd/mm/yyyy" and again.rejected == 1


def test_with_done_markers_only_a_marked_file_is_read(store: Store, tmp_path: Path) -> None:
    instance = new_instance(store)
    file_sources.configure(store, instance.name, url=str(tmp_path), completion="done")
    write_export(tmp_path, "a.csv", [row("D1", local_time(1, 9))])
    write_export(tmp_path, "b.csv", [row("D2", local_time(1, 10))])
    (tmp_path / "b.csv.done").write_text("")
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=100, only=instance.name)
    assert [i.name for i in outcome.imports] == ["b.csv"] and outcome.waiting == ["a.csv"]
    (tmp_path / "a.done").write_text("")  # the stem's marker counts too
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=100, only=instance.name)
    assert [i.name for i in outcome.imports] == ["a.csv"]


def test_a_deletion_cancels_only_that_instance_own_file_appointments_in_the_window(
    store: Store, tmp_path: Path
) -> None:
    mine, theirs = new_instance(store), new_instance(store)
    rows = [row(f"W{i}", local_time(1, 8 + i)) for i in range(3)]
    for instance in (mine, theirs):
        folder = tmp_path / instance.name
        folder.mkdir()
        write_export(folder, "x.csv", rows)
        import_path(store, instance, folder / "x.csv")
    write_export(tmp_path / mine.name, "y.csv", rows[:2])
    [outcome] = import_path(store, mine, tmp_path / mine.name / "y.csv").imports
    assert outcome.cancelled == 1
    assert stored(store, mine, "W2")["STATUS"] == "CANCELLED by ADMIN"  # type: ignore[index]
    assert stored(store, theirs, "W2")["STATUS"] is None  # type: ignore[index]
    # --keep-missing (and on_missing=keep) cancel nothing.
    write_export(tmp_path / theirs.name, "y.csv", rows[:1])
    kept = import_path(store, theirs, tmp_path / theirs.name / "y.csv", cancel_missing=False)
    assert kept.imports[0].cancelled == 0
    assert stored(store, theirs, "W1")["STATUS"] is None  # type: ignore[index]


def test_a_file_that_would_cancel_too_much_cancels_nothing(store: Store, tmp_path: Path) -> None:
    instance = new_instance(store)
    rows = [row(f"M{i:02d}", local_time(1, 8, i)) for i in range(30)]
    write_export(tmp_path, "full.csv", rows)
    import_path(store, instance, tmp_path / "full.csv")
    # A truncated export: a header and nothing else.
    (tmp_path / "empty.csv").write_text(";".join(HEADER) + "\r\n")
    [outcome] = import_path(store, instance, tmp_path / "empty.csv").imports
    assert outcome.state == "DONE" and outcome.cancelled == 0
    assert outcome.cancel_refused is not None and "holds none inside its window" in (
        outcome.cancel_refused
    )
    [line] = read_csv(tmp_path / "empty.csv.result.csv")
    assert line["ERROR_CODE"] == "TOO_MANY_MISSING"
    # Two thirds missing: more than half, more than a handful.
    write_export(tmp_path, "third.csv", rows[:10])
    [outcome] = import_path(store, instance, tmp_path / "third.csv").imports
    assert outcome.cancelled == 0 and "67% of 30" in (outcome.cancel_refused or "")
    assert stored(store, instance, "M29")["STATUS"] is None  # type: ignore[index]
    # With the limit raised, the same file (imported again) cancels them.
    file_sources.configure(store, instance.name, url=str(tmp_path), max_missing_percent=100)
    [outcome] = import_path(store, instance, tmp_path / "third.csv", force=True).imports
    assert outcome.cancelled == 20


def test_a_file_without_header_is_rejected_once(store: Store, tmp_path: Path) -> None:
    instance = new_instance(store)
    (tmp_path / "junk.csv").write_text("1;2;3\r\n4;5;6\r\n")
    outcome = import_path(store, instance, tmp_path / "junk.csv")
    [rejected] = outcome.imports
    assert rejected.state == "REJECTED" and "not a header line" in (rejected.error or "")
    [line] = read_csv(tmp_path / "junk.csv.result.csv")
    assert (line["ERROR_CODE"], line["ERROR_FIELD"]) == ("INVALID_FILE", "header")
    [again] = import_path(store, instance, tmp_path / "junk.csv").imports
    assert again.state == "SKIPPED"


def test_an_interrupted_cancellations_file_is_written_again_never_twice(
    store: Store, tmp_path: Path
) -> None:
    instance = new_instance(store)
    with_reminders(store, instance)
    outbox = tmp_path / "outbox"
    file_sources.configure(
        store, instance.name, url=str(tmp_path), export_enabled=True, export_dir=str(outbox)
    )
    write_export(tmp_path, "x.csv", [row("C1", local_time(2, 9), USER_MOBILE_PHONE="")])
    import_path(store, instance, tmp_path / "x.csv")
    patient_cancels(store, instance, "C1")
    # The clinic's outbox folder is not there: the upload fails after the file's
    # range was recorded.
    [failed] = file_sources.poll_due(store, owner="t", batch_size=100, only=instance.name)
    assert not failed.ok and "no such file or folder" in (failed.error or "")
    outbox.mkdir()
    [done] = file_sources.poll_due(store, owner="t", batch_size=100, only=instance.name)
    assert done.ok and done.export is not None and done.export.resumed
    [written] = outbox.glob("cancellations_*.csv")
    assert written.name == done.export.name
    assert [line["APP_LID"] for line in read_csv(written)] == ["C1"]
    [after] = file_sources.poll_due(store, owner="t", batch_size=100, only=instance.name)
    assert after.export is None and len(list(outbox.iterdir())) == 1


def test_an_ftps_server_is_trusted_only_with_its_certificate(
    store: Store, ftps_server: tuple[FtpServer, Path, Path]
) -> None:
    server, _root, certificate = ftps_server
    instance = new_instance(store)
    url = f"ftps://127.0.0.1:{server.port}/"
    file_sources.configure(
        store, instance.name, url=url, username="clinic", password_env=PASSWORD_ENV
    )
    env = {PASSWORD_ENV: "unused"}
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name, env=env)
    assert not outcome.ok and "certificate is not trusted" in (outcome.error or "")
    file_sources.configure(store, instance.name, ca_file=str(certificate))
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name, env=env)
    assert not outcome.ok and "login refused" in (outcome.error or "")
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name, env={})
    assert not outcome.ok and f"{PASSWORD_ENV} is not set" in (outcome.error or "")


def test_an_sftp_server_is_trusted_only_with_its_host_key(
    store: Store, sftp_server: tuple[SftpServer, Path]
) -> None:
    server, root = sftp_server
    instance = new_instance(store)
    url = f"sftp://clinic@127.0.0.1:{server.port}/"
    file_sources.configure(store, instance.name, url=url, password_env=PASSWORD_ENV)
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name, env=ENV)
    assert not outcome.ok and "no host key is configured" in (outcome.error or "")
    presented = (outcome.error or "").split("presented ")[1].split(". Check")[0]
    kind, fingerprint = presented.split()
    assert kind == "ssh-ed25519" and fingerprint.startswith("SHA256:")
    other = SftpServer(root)  # another server, another key: not the one configured
    try:
        file_sources.configure(store, instance.name, host_key=" ".join(other.host_key))
        [outcome] = file_sources.poll_due(
            store, owner="t", batch_size=10, only=instance.name, env=ENV
        )
        assert not outcome.ok and "not the configured one" in (outcome.error or "")
    finally:
        other.close()
    # The fingerprint the server presented is enough; then the password is checked.
    file_sources.configure(store, instance.name, host_key=fingerprint)
    [outcome] = file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name, env=ENV)
    assert not outcome.ok and "login refused" in (outcome.error or "")
    with pytest.raises(FileAuthenticationError):
        file_sources.import_path(
            store, instance.name, None, owner="t", batch_size=10, env=ENV, settle=0
        )


def _peak_import(store: Store, folder: Path, rows: int) -> int:
    """Peak Python memory (bytes) of importing ``rows`` rows, in batches of 1,000."""
    instance = new_instance(store)
    # Fifty patients' numbers and addresses, as a week of a small clinic repeats them.
    data = [
        row(
            f"R{i:06d}",
            local_time(1 + i % 3, 8 + i % 10, i % 60),
            USER_MOBILE_PHONE=f"+346111111{i % 50:02d}",
            USER_EMAIL=f"p{i % 50}@example.org",
        )
        for i in range(rows)
    ]
    path = write_export(folder, f"rows-{rows}.csv", data)
    del data
    tracemalloc.start()
    try:
        [outcome] = import_path(store, instance, path, batch_size=1000).imports
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.rows == rows and outcome.rejected == 0
    return peak


def test_memory_stays_bounded_whatever_the_file_size(store: Store, tmp_path: Path) -> None:
    _peak_import(store, tmp_path, 1000)  # caches of the process filled once
    small = _peak_import(store, tmp_path, 2000)
    large = _peak_import(store, tmp_path, 5000)
    # 2.5 times the rows, not 2.5 times the memory: one batch at a time is held.
    assert large < small * 1.5, (small, large)


def test_an_import_that_stopped_half_way_is_read_again_whole(store: Store, tmp_path: Path) -> None:
    instance = new_instance(store)
    file_sources.configure(store, instance.name, url=str(tmp_path))
    path = write_export(
        tmp_path, "big.csv", [row(f"S{i:03d}", local_time(1, 8, i)) for i in range(25)]
    )

    class ProcessStoppedError(Exception):
        pass

    def stop() -> None:  # the process dies after its first batch
        raise ProcessStoppedError

    settings = file_sources.import_settings(None, batch_size=10)
    with pytest.raises(ProcessStoppedError):
        file_imports.import_file(
            store,
            instance,
            LocalTransport(),
            str(tmp_path),
            RemoteFile("big.csv", path.stat().st_size),
            settings,
            keep_alive=stop,
        )
    assert stored(store, instance, "S009") is not None and stored(store, instance, "S010") is None
    rounds = [
        file_sources.poll_due(store, owner="t", batch_size=10, only=instance.name)[0]
        for _ in range(2)
    ]
    assert rounds[0].waiting == ["big.csv"]
    [again] = rounds[1].imports
    # Read whole again: the first batch's rows are no duplicates of an attempt that died.
    assert (again.state, again.rejected, again.unchanged, again.created) == ("DONE", 0, 10, 15)
    states = [r.state for r in file_sources.history(store, instance).imports]
    assert states == ["DONE", "INTERRUPTED"]
