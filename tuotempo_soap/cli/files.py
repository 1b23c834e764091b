"""``files``: data export files (guide A.1). Where an instance's clinic drops its
export and picks up the cancellations file (``files source``), importing by
hand (``files import``), the scheduled round (``files poll``), writing the
cancellations file now (``files export``) and what was done (``files history``)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..dispatch.worker import default_worker_id
from ..errors import StoreUnavailableError
from ..services import file_sources
from ..services.file_exports import ExportOutcome
from ..services.file_imports import ImportOutcome, ProgressFactory, no_progress
from ..services.instances import get_instance
from .base import EXIT_CLINIC, EXIT_REFUSED, CliContext, pass_cli, stamp


@contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int], object]]:
    """A progress bar on standard error, counting bytes."""
    with click.progressbar(
        length=max(total, 1),
        label=label,
        file=sys.stderr,
        show_eta=True,
        show_percent=True,
    ) as bar:
        yield lambda count: bar.update(count)


def _progress(enabled: bool) -> ProgressFactory:
    return _bar if enabled and sys.stderr.isatty() else no_progress


@click.group("files")
def files() -> None:
    """Data export files (A.1): the clinic's export in, cancellations out."""


@files.group("source")
def source() -> None:
    """Where an instance's export files are, and how they are read."""


@source.command("set")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--url", help="Folder: /path, file:///path, ftp://, ftps:// or sftp://host/path.")
@click.option("--username", help="User to log in as (FTP, FTPS, SFTP).")
@click.option(
    "--password-env", help="Environment variable holding the password (or the key's passphrase)."
)
@click.option("--key-file", help="SFTP: private key file to log in with.")
@click.option(
    "--host-key", help="SFTP: the server's host key ('ssh-ed25519 AAAA...' or 'SHA256:...')."
)
@click.option("--ca-file", help="FTPS: CA (or self-signed certificate) to trust.")
@click.option("--pattern", help="Which names are exports, e.g. '*.csv *.txt'.")
@click.option(
    "--completion",
    type=click.Choice(file_sources.COMPLETIONS),
    help="A file is complete when two listings agree (stable) or NAME.done exists (done).",
)
@click.option("--delimiter", help="; , | tab, or auto (detected).")
@click.option("--encoding", help="UTF-8, Windows-1252, ISO-8859-1, or auto (detected).")
@click.option("--date-format", help="dd/mm/yyyy, mm/dd/yyyy, yyyymmdd..., or auto (detected).")
@click.option("--window-ahead", type=int, help="Hours ahead the export covers (72).")
@click.option("--window-past", type=int, help="Hours past the export covers (24).")
@click.option(
    "--window-margin", type=int, help="Minutes off each end of the window not trusted (60)."
)
@click.option(
    "--on-missing",
    help="STATUS of an appointment missing from the next file: "
    "'CANCELLED by ADMIN' (default), 'CANCELLED by USER', or keep.",
)
@click.option(
    "--max-missing-percent",
    type=int,
    help="A file missing more of its window than this cancels nothing (50).",
)
@click.option("--export/--no-export", "export_enabled", default=None, help="Write cancellations.")
@click.option("--export-dir", help="Folder (on the same server) for cancellations files.")
@click.option("--export-prefix", help="Name prefix of cancellations files (cancellations_).")
@click.option(
    "--export-confirmations/--no-export-confirmations",
    default=None,
    help="Also write patients' confirmations.",
)
@click.option("--interval", type=int, help="Seconds between rounds (300).")
@click.option("--poll/--no-poll", "poll_enabled", default=None, help="Read on a schedule.")
@pass_cli
def source_set(cli: CliContext, instance_name: str, **options: Any) -> None:
    """Set (or change) where INSTANCE's export files are and how they are read."""
    renamed = {
        "window_ahead": "window_ahead_hours",
        "window_past": "window_past_hours",
        "window_margin": "window_margin_minutes",
        "interval": "poll_interval_seconds",
    }
    settings = {renamed.get(key, key): value for key, value in options.items()}
    saved = file_sources.configure(cli.store, instance_name, **settings)
    click.echo(f"{instance_name} reads export files from {saved.url}")


@source.command("show")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def source_show(cli: CliContext, instance_name: str) -> None:
    """Show INSTANCE's export folder settings and where its round stands."""
    store = cli.store
    instance = get_instance(store, instance_name)
    record = file_sources.get_source(store, instance)
    for key, value in record.__dict__.items():
        if key.startswith("instance_") or value is None:
            continue
        if key in ("next_poll_at", "last_success_at", "lease_until"):
            value = stamp(value, instance.zone)
        click.echo(f"{key}: {'tab' if value == chr(9) else value}")


@source.command("list")
@pass_cli
def source_list(cli: CliContext) -> None:
    """Every instance reading export files, its folder and its state."""
    for record in file_sources.list_sources(cli.store):
        state = "off" if not record.poll_enabled else ("failing" if record.last_error else "ok")
        click.echo(f"{record.instance_name}\t{record.url}\t{state}")


@source.command("remove")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def source_remove(cli: CliContext, instance_name: str) -> None:
    """Stop reading INSTANCE's export folder (what was imported stays)."""
    file_sources.remove(cli.store, instance_name)
    click.echo(f"{instance_name} no longer reads export files")


def _describe(outcome: ImportOutcome) -> str:
    if outcome.state == "SKIPPED":
        return f"{outcome.name}: already imported (same name, size and checksum)"
    if outcome.state == "REJECTED":
        return f"{outcome.name}: not imported: {outcome.error}; see {outcome.result_file}"
    delimiter = "tab" if outcome.delimiter == "\t" else outcome.delimiter
    parts = [
        f"{outcome.name}: {outcome.rows} rows, {outcome.accepted} stored "
        f"({outcome.created} new, {outcome.updated} changed, {outcome.unchanged} unchanged), "
        f"{outcome.rejected} refused, {outcome.cancelled} cancelled as missing",
        f"read as {outcome.encoding}, delimiter {delimiter!r}, dates {outcome.date_format}",
        f"report: {outcome.result_file}",
    ]
    if outcome.ignored_columns:
        parts.append(f"columns ignored: {', '.join(outcome.ignored_columns)}")
    if outcome.cancel_refused:
        parts.append(f"warning: {outcome.cancel_refused}")
    if outcome.error:
        parts.append(f"warning: {outcome.error}")
    return "\n  ".join(parts)


def _describe_export(export: ExportOutcome) -> str:
    if export.name is None:
        return "no new cancellations"
    again = " (written again after an interrupted round)" if export.resumed else ""
    return f"cancellations file {export.name}: {export.rows} rows{again}"


@files.command("import")
@click.option("--instance", "instance_name", required=True, help="The instance the file is for.")
@click.argument("target", metavar="[PATH_OR_URL]", required=False)
@click.option("--delimiter", help="; , | tab (default: the instance's, or detected).")
@click.option("--encoding", help="UTF-8, Windows-1252, ISO-8859-1 (default: detected).")
@click.option("--date-format", help="dd/mm/yyyy, mm/dd/yyyy... (default: detected).")
@click.option("--username", help="User to log in as (FTP, FTPS, SFTP).")
@click.option("--password-env", help="Environment variable holding the password.")
@click.option("--key-file", help="SFTP: private key file.")
@click.option("--host-key", help="SFTP: the server's host key or its SHA256: fingerprint.")
@click.option("--ca-file", help="FTPS: CA (or self-signed certificate) to trust.")
@click.option(
    "--settle",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="Seconds between the two listings of a folder (files still growing are left).",
)
@click.option("--force", is_flag=True, help="Import again a file imported before.")
@click.option(
    "--keep-missing", is_flag=True, help="Do not cancel appointments missing from the file."
)
@pass_cli
def files_import(
    cli: CliContext,
    instance_name: str,
    target: str | None,
    delimiter: str | None,
    encoding: str | None,
    date_format: str | None,
    username: str | None,
    password_env: str | None,
    key_file: str | None,
    host_key: str | None,
    ca_file: str | None,
    settle: float,
    force: bool,
    keep_missing: bool,
) -> None:
    """Import an export file (or a folder's complete exports) for INSTANCE.

    PATH_OR_URL: a file or a folder, local or ftp://, ftps://, sftp://; without
    it, the instance's configured folder. Each row is stored as an
    updateReservations item would be; the answer for every row is written next
    to the file as NAME.result.csv.
    """
    outcome = file_sources.import_path(
        cli.store,
        instance_name,
        target,
        owner=default_worker_id(),
        batch_size=cli.settings.max_batch_items,
        overrides={"delimiter": delimiter, "encoding": encoding, "date_format": date_format},
        login={
            "username": username,
            "password_env": password_env,
            "key_file": key_file,
            "host_key": host_key,
            "ca_file": ca_file,
        },
        settle=settle,
        force=force,
        cancel_missing=not keep_missing,
        progress=_progress(True),
    )
    for imported in outcome.imports:
        click.echo(_describe(imported))
    for name in outcome.waiting:
        click.echo(f"{name}: still being written; left for the next round")
    if not outcome.imports and not outcome.waiting:
        click.echo("no export file to import")
    if any(imported.state == "REJECTED" for imported in outcome.imports):
        raise SystemExit(EXIT_REFUSED)


@files.command("poll")
@click.option("--once", is_flag=True, help="One round for every instance due, then exit (cron).")
@click.option("--instance", "only", help="A round for this instance now (implies --once).")
@click.option("--every", default=30.0, show_default=True, help="Seconds between checks.")
@pass_cli
def files_poll(cli: CliContext, once: bool, only: str | None, every: float) -> None:
    """Import complete export files and write cancellations files, on each
    instance's schedule, until stopped (SIGTERM/Ctrl-C)."""
    import signal

    store = cli.store
    settings = cli.settings
    stop = threading.Event()
    if not (once or only):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    owner = default_worker_id()
    failed = False
    while True:
        try:
            outcomes = file_sources.poll_due(
                store,
                owner=owner,
                batch_size=settings.max_batch_items,
                only=only,
                progress=_progress(bool(once or only)),
            )
        except StoreUnavailableError as exc:
            if once or only:
                raise
            # A long-running poller outlives a database outage: the next check retries.
            click.echo(f"error: {exc.message}", err=True)
            outcomes = []
        for outcome in outcomes:
            if outcome.skipped:
                click.echo(f"{outcome.instance}: another round holds it")
                continue
            if not outcome.ok:
                failed = True
                click.echo(f"{outcome.instance}: failed: {outcome.error}", err=True)
                continue
            for imported in outcome.imports:
                click.echo(f"{outcome.instance}: {_describe(imported)}")
            for name in outcome.waiting:
                click.echo(f"{outcome.instance}: {name}: still being written")
            if outcome.export is not None and outcome.export.name is not None:
                click.echo(f"{outcome.instance}: {_describe_export(outcome.export)}")
        if once or only or stop.wait(every):
            break
    if failed and (once or only):
        raise SystemExit(EXIT_CLINIC)


@files.command("export")
@click.option("--instance", "instance_name", required=True)
@pass_cli
def files_export(cli: CliContext, instance_name: str) -> None:
    """Write INSTANCE's cancellations file now (each cancellation goes in one file)."""
    export = file_sources.export_now(cli.store, instance_name, owner=default_worker_id())
    click.echo(_describe_export(export) if export is not None else "no new cancellations")


@files.command("history")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@pass_cli
def files_history(cli: CliContext, instance_name: str, limit: int) -> None:
    """The export files INSTANCE imported and the cancellations files it wrote."""
    store = cli.store
    instance = get_instance(store, instance_name)
    done = file_sources.history(store, instance, limit)
    zone = instance.zone
    for record in done.imports:
        counts = (
            f"{record.rows or 0} rows, {record.rejected or 0} refused, "
            f"{record.cancelled or 0} cancelled"
        )
        error = f"\t{record.error}" if record.error else ""
        click.echo(
            f"import\t{stamp(record.started_at, zone)}\t{record.name}\t{record.state}\t"
            f"{counts}\t{record.size} bytes\tsha256:{(record.sha256 or '')[:12]}{error}"
        )
    for export in done.exports:
        state = "written" if export.finished_at else "unfinished"
        click.echo(
            f"export\t{stamp(export.started_at, zone)}\t{export.name}\t{state}\t"
            f"{export.rows} rows\tchanges {export.after_seq + 1}-{export.upto_seq}"
        )
