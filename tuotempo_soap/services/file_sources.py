"""Instances integrated through data export files (guide A.1): where each one's
folder is, and the scheduled round that reads exports from it and writes the
cancellations file to it.

``configure`` stores the folder (a local path, ``ftp://``, ``ftps://`` or
``sftp://``) and how its files are read; no password is stored, only the name
of the environment variable that holds it, as for clinic web services.

A round (``poll_due``, ``run_round``) holds a lease row per instance, so any
number of ``files poll`` processes can run: one works on an instance at a time.
It lists the folder, imports every export that is complete and not imported
yet (``services.file_imports``), and writes the cancellations file
(``services.file_exports``). Complete means, as configured: the same size and
time stamp in two listings (a file still being written grows between them), or
a ``NAME.done`` marker next to it. A folder that cannot be reached leaves
everything for the next round, which comes later each time it fails (up to an
hour).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..domain.formats import FormatError
from ..domain.reservation import Status
from ..errors import ConflictError, NotFoundError, RequestValidationError
from ..files.errors import FileAuthenticationError, FileExchangeError, FileTransportError
from ..files.formats import parse_date_format, parse_delimiter, parse_encoding
from ..files.importer import RESULT_SUFFIX
from ..files.transports import Location, RemoteFile, TransportOptions, connected
from ..store.engine import Store
from ..store.files import (
    FINISHED,
    SEEN,
    FileImportRecord,
    FileImportRepository,
    FileSourceRecord,
    FileSourceRepository,
)
from ..store.repositories import InstanceRepository
from . import file_exports, file_imports
from .file_exports import ExportOutcome
from .file_imports import ImportOutcome, ImportSettings, ProgressFactory, no_progress
from .instances import Instance, get_instance, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=30)
MAX_BACKOFF = timedelta(hours=1)
KEEP = "keep"
COMPLETIONS = ("stable", "done")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MISSING_STATUSES = (Status.CANCELLED_BY_ADMIN.value, Status.CANCELLED_BY_USER.value)

DEFAULTS: dict[str, Any] = {
    "username": None,
    "password_env": None,
    "key_file": None,
    "host_key": None,
    "ca_file": None,
    "pattern": "*.csv *.txt",
    "completion": "stable",
    "delimiter": None,
    "encoding": None,
    "date_format": None,
    "window_ahead_hours": 72,
    "window_past_hours": 24,
    "window_margin_minutes": 60,
    "on_missing": Status.CANCELLED_BY_ADMIN.value,
    "max_missing_percent": 50,
    "export_enabled": False,
    "export_dir": None,
    "export_prefix": "cancellations_",
    "export_confirmations": False,
    "poll_enabled": True,
    "poll_interval_seconds": 300,
}


def _bad(message: str, name: str) -> RequestValidationError:
    return RequestValidationError(message, field=name)


def _check(values: dict[str, Any]) -> dict[str, Any]:
    """Validate settings; each error names the option at fault."""
    checked = dict(values)
    if "url" in checked:
        try:
            location = Location.parse(str(checked["url"]))
        except FileTransportError as exc:
            raise _bad(exc.message, "url") from None
        checked["url"] = str(location) if location.scheme != "file" else location.path
    env = checked.get("password_env")
    if env is not None and not _ENV_NAME.match(env):
        raise _bad(f"'{env}' is not an environment variable name", "password-env")
    if checked.get("completion") is not None and checked["completion"] not in COMPLETIONS:
        raise _bad("completion is stable (two listings) or done (a NAME.done marker)", "completion")
    for name, parse in (
        ("delimiter", parse_delimiter),
        ("encoding", parse_encoding),
        ("date_format", parse_date_format),
    ):
        if name in checked:
            try:
                parsed = parse(checked[name])
            except FormatError as exc:
                raise _bad(str(exc), name.replace("_", "-")) from None
            if parsed is None:
                checked[name] = None
            elif name == "delimiter":
                checked[name] = parsed
    for name, low, high in (
        ("window_ahead_hours", 1, 24 * 31),
        ("window_past_hours", 0, 24 * 31),
        ("window_margin_minutes", 0, 24 * 60),
        ("max_missing_percent", 0, 100),
        ("poll_interval_seconds", 10, 86400),
    ):
        value = checked.get(name)
        if value is not None and not low <= int(value) <= high:
            option = name.replace("_", "-")
            raise _bad(f"{option} must be between {low} and {high}", option)
    if "on_missing" in checked and checked["on_missing"] is not None:
        text = str(checked["on_missing"]).strip()
        if text.lower() == KEEP:
            checked["on_missing"] = KEEP
        else:
            try:
                status = Status.parse(text).value
            except FormatError as exc:
                raise _bad(str(exc), "on-missing") from None
            if status not in _MISSING_STATUSES:
                raise _bad(f"on-missing is {', '.join(_MISSING_STATUSES)} or {KEEP}", "on-missing")
            checked["on_missing"] = status
    prefix = checked.get("export_prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        raise _bad("export-prefix: letters, digits, '_', '.' and '-' only", "export-prefix")
    pattern = checked.get("pattern")
    if pattern is not None and not str(pattern).split():
        raise _bad("pattern names no file (e.g. '*.csv *.txt')", "pattern")
    return checked


def configure(store: Store, instance_name: str, **settings: Any) -> FileSourceRecord:
    """Create or change the instance's folder settings; options not given keep
    their value (or take the default for a new one). ``url`` is needed the
    first time."""
    instance = get_instance(store, instance_name)
    given = {key: value for key, value in settings.items() if value is not None}
    unknown = set(given) - set(DEFAULTS) - {"url"}
    if unknown:
        raise _bad(f"unknown settings: {', '.join(sorted(unknown))}", sorted(unknown)[0])
    checked = _check(given)
    now = utcnow()
    with store.unit_of_work(write=True) as connection:
        repo = FileSourceRepository(connection)
        current = repo.get(instance.id)
        if current is None:
            if "url" not in checked:
                raise _bad("give the folder to read exports from (--url)", "url")
            values = {**DEFAULTS, **checked, "export_cursor": 0, "consecutive_failures": 0}
        else:
            values = dict(checked)
        merged = {**(current.__dict__ if current is not None else {}), **values}
        url = str(merged["url"])
        if (
            merged.get("username") is None
            and url.startswith("sftp://")
            and Location.parse(url).username is None
        ):
            raise _bad("SFTP needs a user name (--username, or sftp://USER@host/...)", "username")
        if values.get("export_enabled") and not (current is not None and current.export_enabled):
            # Cancellations from now on: not every one the instance ever had.
            values["export_cursor"] = InstanceRepository(connection).current_seq(instance.id)
        values["updated_at"] = now
        values["next_poll_at"] = None
        repo.save(instance.id, values)
        saved = repo.get(instance.id)
    if saved is None:  # written just above, in the same transaction
        raise NotFoundError(f"{instance_name} has no export folder configured", field="instance")
    return saved


def get_source(store: Store, instance: Instance) -> FileSourceRecord:
    with store.unit_of_work() as connection:
        source = FileSourceRepository(connection).get(instance.id)
    if source is None:
        raise NotFoundError(
            f"{instance.name} has no export folder configured "
            "(tuotempo-soap files source set INSTANCE --url ...)",
            field="instance",
        )
    return source


def list_sources(store: Store) -> list[FileSourceRecord]:
    with store.unit_of_work() as connection:
        return FileSourceRepository(connection).every()


def remove(store: Store, instance_name: str) -> None:
    """Stop reading the instance's folder; what was imported stays."""
    instance = get_instance(store, instance_name)
    with store.unit_of_work(write=True) as connection:
        if not FileSourceRepository(connection).remove(instance.id):
            raise NotFoundError(
                f"{instance_name} has no export folder configured", field="instance"
            )


@dataclass
class History:
    imports: list[FileImportRecord]
    exports: list[Any]


def history(store: Store, instance: Instance, limit: int = 20) -> History:
    from ..store.files import FileExportRepository

    with store.unit_of_work() as connection:
        return History(
            FileImportRepository(connection).recent(instance.id, limit),
            FileExportRepository(connection).recent(instance.id, limit),
        )


# --- reading settings ------------------------------------------------------------


def transport_options(
    source: FileSourceRecord | None,
    env: Mapping[str, str] | None = None,
    **overrides: str | None,
) -> TransportOptions:
    """How to log in: the instance's settings, then the ``overrides`` given; the
    password read from the environment variable they name."""
    env = os.environ if env is None else env
    values: dict[str, str | None] = {
        "username": source.username if source else None,
        "password_env": source.password_env if source else None,
        "key_file": source.key_file if source else None,
        "host_key": source.host_key if source else None,
        "ca_file": source.ca_file if source else None,
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    password = None
    name = values["password_env"]
    if name:
        password = env.get(name)
        if not password:
            raise FileAuthenticationError(
                f"{name} is not set: export the password it names in the environment of "
                "this process (files source set --password-env chose the name)"
            )
    return TransportOptions(
        username=values["username"],
        password=password,
        key_file=values["key_file"],
        host_key=values["host_key"],
        ca_file=values["ca_file"],
    )


def import_settings(
    source: FileSourceRecord | None,
    *,
    batch_size: int,
    work_dir: Path | None = None,
    **overrides: Any,
) -> ImportSettings:
    """The instance's reading settings (defaults without one), then ``overrides``
    (``delimiter``, ``encoding``, ``date_format`` as given on a command line)."""
    values = {**DEFAULTS, **(source.__dict__ if source is not None else {})}
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        delimiter = parse_delimiter(values["delimiter"])
        encoding = parse_encoding(values["encoding"])
        dates = parse_date_format(values["date_format"])
    except FormatError as exc:
        raise RequestValidationError(str(exc)) from None
    on_missing = values["on_missing"]
    return ImportSettings(
        delimiter=delimiter,
        encoding=encoding,
        date_format=dates,
        on_missing=None if on_missing == KEEP else on_missing,
        window_ahead=timedelta(hours=int(values["window_ahead_hours"])),
        window_past=timedelta(hours=int(values["window_past_hours"])),
        window_margin=timedelta(minutes=int(values["window_margin_minutes"])),
        max_missing_percent=int(values["max_missing_percent"]),
        batch_size=max(1, batch_size),
        work_dir=work_dir,
    )


def is_export(name: str, source: FileSourceRecord | None) -> bool:
    """Whether a file of the folder is an export to read: it matches the pattern,
    and is none of ours (result files, cancellations files, markers, uploads
    under way)."""
    if name.startswith(".") or name.lower().endswith((RESULT_SUFFIX, ".done", ".part")):
        return False
    if "/" in name or "\\" in name:  # a server's listing names files of this folder only
        return False
    prefix = source.export_prefix if source is not None else DEFAULTS["export_prefix"]
    if name.startswith(prefix):
        return False
    pattern = source.pattern if source is not None else DEFAULTS["pattern"]
    return any(fnmatch.fnmatchcase(name.lower(), p.lower()) for p in pattern.split())


# --- a round ---------------------------------------------------------------------


@dataclass
class RoundOutcome:
    instance: str
    ok: bool = True
    skipped: bool = False  # another round holds the instance
    imports: list[ImportOutcome] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # not complete yet
    export: ExportOutcome | None = None
    error: str | None = None


@dataclass
class _Round:
    """What one round of one instance needs."""

    store: Store
    instance: Instance
    source: FileSourceRecord | None
    owner: str
    settings: ImportSettings
    progress: ProgressFactory
    force: bool = False
    cancel_missing: bool = True

    def keep_alive(self) -> None:
        with self.store.unit_of_work(write=True) as connection:
            FileSourceRepository(connection).renew(self.instance.id, self.owner, utcnow() + LEASE)


def _ready(
    work: _Round, listing: list[RemoteFile], *, note: bool = True
) -> tuple[list[RemoteFile], list[str]]:
    """The exports of ``listing`` that are complete and not imported yet, oldest
    first, and the names of those still being written."""
    names = {entry.name for entry in listing}
    candidates = [entry for entry in listing if is_export(entry.name, work.source)]
    with work.store.unit_of_work() as connection:
        records = FileImportRepository(connection).of_instance(
            work.instance.id, [entry.name for entry in candidates]
        )
    seen = {record.name: record for record in records if record.state == SEEN}
    finished = [record for record in records if record.state in FINISHED]
    completion = work.source.completion if work.source is not None else DEFAULTS["completion"]
    ready: list[RemoteFile] = []
    waiting: list[RemoteFile] = []
    for entry in sorted(candidates, key=lambda e: (e.modified or datetime.min, e.name)):
        if not work.force and file_imports.already_imported(finished, entry) is not None:
            continue
        if completion == "done":
            stem = entry.name.rsplit(".", 1)[0]
            if f"{entry.name}.done" in names or f"{stem}.done" in names:
                ready.append(entry)
            else:
                waiting.append(entry)
            continue
        previous = seen.get(entry.name)
        if (
            previous is not None
            and previous.size == entry.size
            and previous.modified_at == entry.modified
        ):
            ready.append(entry)
        else:
            waiting.append(entry)
    if note:
        now = utcnow()
        with work.store.unit_of_work(write=True) as connection:
            repo = FileImportRepository(connection)
            for entry in waiting if completion == "stable" else []:
                repo.note_seen(work.instance.id, entry.name, entry.size, entry.modified, now)
            repo.forget_seen(work.instance.id, [entry.name for entry in waiting])
    return ready, [entry.name for entry in waiting]


def _acquire(store: Store, instance: Instance, owner: str, now: datetime) -> bool:
    with store.unit_of_work(write=True) as connection:
        repo = FileSourceRepository(connection)
        if not repo.acquire(instance.id, owner, now, now + LEASE):
            return False
        interrupted = FileImportRepository(connection).interrupt_stale(instance.id, now)
    if interrupted:
        log.warning(
            "%d import(s) of %s had stopped half-way; read again", interrupted, instance.name
        )
    return True


def run_round(
    store: Store,
    source: FileSourceRecord,
    *,
    owner: str,
    batch_size: int,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    progress: ProgressFactory = no_progress,
    work_dir: Path | None = None,
) -> RoundOutcome:
    """One round of one instance: import what is complete, write cancellations."""
    now = now or utcnow()
    instance = get_instance(store, source.instance_name)
    outcome = RoundOutcome(instance.name)
    if instance.disabled_at is not None:
        return RoundOutcome(
            instance.name, ok=False, error=f"{instance.name} is switched off; nothing is read"
        )
    if not _acquire(store, instance, owner, now):
        return RoundOutcome(instance.name, skipped=True)
    work = _Round(
        store,
        instance,
        source,
        owner,
        import_settings(source, batch_size=batch_size, work_dir=work_dir),
        progress,
    )
    values: dict[str, Any] = {"updated_at": now}
    try:
        location = Location.parse(source.url)
        with connected(location, transport_options(source, env)) as transport:
            ready, outcome.waiting = _ready(work, transport.files(location.path))
            for entry in ready:
                outcome.imports.append(_import(work, transport, location.path, entry))
            if source.export_enabled:
                folder = source.export_dir or location.path
                outcome.export = file_exports.export_cancellations(
                    store, instance, source, transport, folder, work_dir=work_dir
                )
        problems = [i.error for i in outcome.imports if i.error and i.state != "REJECTED"]
        values.update(
            last_success_at=now,
            consecutive_failures=0,
            last_error=problems[0][:1000] if problems else None,
            next_poll_at=now + timedelta(seconds=source.poll_interval_seconds),
        )
    except FileExchangeError as exc:
        failures = source.consecutive_failures + 1
        delay = min(
            MAX_BACKOFF,
            timedelta(seconds=source.poll_interval_seconds) * 2 ** min(failures - 1, 16),
        )
        values.update(
            consecutive_failures=failures, last_error=exc.message[:1000], next_poll_at=now + delay
        )
        outcome.ok, outcome.error = False, exc.message
        log.warning("files round of %s failed (%s); next try in %s", instance.name, exc.code, delay)
    finally:
        with store.unit_of_work(write=True) as connection:
            FileSourceRepository(connection).release(instance.id, owner, values)
    return outcome


def _import(work: _Round, transport: Any, folder: str, entry: RemoteFile) -> ImportOutcome:
    return file_imports.import_file(
        work.store,
        work.instance,
        transport,
        folder,
        entry,
        work.settings,
        force=work.force,
        cancel_missing=work.cancel_missing,
        progress=work.progress,
        keep_alive=work.keep_alive,
    )


def poll_due(
    store: Store,
    *,
    owner: str,
    batch_size: int,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    only: str | None = None,
    progress: ProgressFactory = no_progress,
    work_dir: Path | None = None,
) -> list[RoundOutcome]:
    """A round for every instance whose round is due (or just ``only``, due or not)."""
    now = now or utcnow()
    if only is not None:
        sources = [get_source(store, get_instance(store, only))]
    else:
        with store.unit_of_work() as connection:
            sources = FileSourceRepository(connection).due(now)
    return [
        run_round(
            store,
            source,
            owner=owner,
            batch_size=batch_size,
            env=env,
            now=now,
            progress=progress,
            work_dir=work_dir,
        )
        for source in sources
    ]


# --- by hand ---------------------------------------------------------------------


def import_path(
    store: Store,
    instance_name: str,
    target: str | None,
    *,
    owner: str,
    batch_size: int,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
    login: Mapping[str, str | None] | None = None,
    settle: float = 2.0,
    force: bool = False,
    cancel_missing: bool = True,
    progress: ProgressFactory = no_progress,
    work_dir: Path | None = None,
    sleep: Callable[[float], object] = time.sleep,
) -> RoundOutcome:
    """Import one file, or the complete exports of a folder, for the instance.

    ``target``: a path or URL (a file, or a folder); None: the instance's
    configured folder. Reading settings and logins come from the instance's
    settings (logins only for its own server), then ``overrides``/``login``.
    A folder is listed twice, ``settle`` seconds apart, so a file still being
    written is left for later; a file named by itself is read as it is.
    """
    instance = get_instance(store, instance_name)
    if instance.disabled_at is not None:
        raise ConflictError(
            f"{instance.name} is switched off (instance enable {instance.name} first)",
            field="instance",
        )
    with store.unit_of_work() as connection:
        source = FileSourceRepository(connection).get(instance.id)
    if target is None and source is None:
        raise NotFoundError(
            f"{instance.name} has no export folder configured: give a PATH_OR_URL, or "
            f"set one (tuotempo-soap files source set {instance.name} --url ...)",
            field="instance",
        )
    try:
        location = Location.parse(target if target is not None else source.url)  # type: ignore[union-attr]
    except FileTransportError as exc:
        raise RequestValidationError(exc.message, field="PATH_OR_URL") from None
    own_server = source is not None and Location.parse(source.url).same_server(location)
    options = transport_options(source if own_server else None, env, **(login or {}))
    work = _Round(
        store,
        instance,
        source,
        owner,
        import_settings(source, batch_size=batch_size, work_dir=work_dir, **(overrides or {})),
        progress,
        force=force,
        cancel_missing=cancel_missing,
    )
    outcome = RoundOutcome(instance.name)
    now = utcnow()
    if source is not None and not _acquire(store, instance, owner, now):
        raise ConflictError(
            f"a files round of {instance.name} is running now; try again when it ends",
            field="instance",
        )
    try:
        with connected(location, options) as transport:
            folder, name = location.parent()
            single = (
                next((e for e in transport.files(folder.path) if e.name == name), None)
                if name
                else None
            )
            if single is not None:
                outcome.imports.append(_import(work, transport, folder.path, single))
                return outcome
            _ready(work, transport.files(location.path))
            if settle > 0:
                sleep(settle)
            ready, outcome.waiting = _ready(work, transport.files(location.path))
            for entry in ready:
                outcome.imports.append(_import(work, transport, location.path, entry))
        return outcome
    finally:
        if source is not None:
            with store.unit_of_work(write=True) as connection:
                FileSourceRepository(connection).release(instance.id, owner, {"updated_at": now})


def export_now(
    store: Store,
    instance_name: str,
    *,
    owner: str,
    env: Mapping[str, str] | None = None,
    work_dir: Path | None = None,
) -> ExportOutcome | None:
    """Write the instance's cancellations file now (as a round would)."""
    instance = get_instance(store, instance_name)
    source = get_source(store, instance)
    if not source.export_enabled:
        raise ConflictError(
            f"{instance.name} does not export cancellations "
            f"(files source set {instance.name} --export)",
            field="instance",
        )
    now = utcnow()
    if not _acquire(store, instance, owner, now):
        raise ConflictError(
            f"a files round of {instance.name} is running now; try again when it ends",
            field="instance",
        )
    try:
        location = Location.parse(source.url)
        with connected(location, transport_options(source, env)) as transport:
            return file_exports.export_cancellations(
                store,
                instance,
                source,
                transport,
                source.export_dir or location.path,
                work_dir=work_dir,
            )
    finally:
        with store.unit_of_work(write=True) as connection:
            FileSourceRepository(connection).release(instance.id, owner, {"updated_at": now})
