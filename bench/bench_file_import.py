"""How long and how much memory does importing a 100,000-row export file take?

One run, on a fresh database (a SQLite file; ``--postgres``: a temporary
database on the local server, dropped at the end), through the same use case
``tuotempo-soap files import`` calls (``services.file_sources.import_path``):

1. ``new``: the file's appointments are all new (100,000 CREATED);
2. ``again``: the next export, the same appointments (all UNCHANGED): what
   every 4-hourly export of an unchanged agenda costs;
3. ``deleted``: the next export without 1% of the appointments inside its
   window, which are cancelled as deleted in the HIS.

The file is written to disk first (streamed, a few patients' numbers and
addresses repeating as in a real agenda), in the guide's layout, and read
back by the importer from a local folder. Figures: seconds, rows per second,
and the peak resident memory of the process (``resource.getrusage``) above
what it was before the first import; ``--trace`` also runs ``new`` under
``tracemalloc`` (slower) and prints its peak of Python allocations. Nothing
is asserted.

Usage (from the repository root)::

    python bench/bench_file_import.py                 # 100,000 rows, SQLite
    python bench/bench_file_import.py --postgres      # temporary PG database
    python bench/bench_file_import.py --rows 20000 --trace
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from databases import temporary_postgres  # bench/databases.py (this folder)

from tuotempo_soap.config import Settings
from tuotempo_soap.services import file_sources, instances
from tuotempo_soap.services.file_imports import ImportOutcome
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store

DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HEADER = (
    "APP_LID",
    "APP_DATE",
    "APP_START_TIME",
    "USER_LANDLINE_PHONE",
    "USER_MOBILE_PHONE",
    "USER_EMAIL",
    "RESOURCE_LID",
    "RESOURCE_NAME",
    "RESOURCE_MOBILE_PHONE",
    "RESOURCE_EMAIL",
    "LOCATION_LID",
    "LOCATION_NAME",
)
MADRID = ZoneInfo("Europe/Madrid")


def write_export(path: Path, rows: int, *, skip_every: int = 0) -> None:
    """``rows`` appointments over the next three days (every ``skip_every``-th left out)."""
    start = datetime.now(MADRID).replace(hour=8, minute=0, second=0, microsecond=0)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(HEADER)
        for i in range(rows):
            if skip_every and i % skip_every == 0:
                continue
            when = start + timedelta(days=1 + i % 2, minutes=(i // 2) % 600)
            patient = i % 5000
            writer.writerow(
                (
                    f"APP{i:07d}",
                    f"{when:%d/%m/%Y}",
                    f"{when:%H:%M}",
                    "",
                    f"+3461{patient:07d}",
                    f"patient{patient}@example.org",
                    f"DR{i % 40}",
                    f"Dr. Resource {i % 40}",
                    "",
                    "",
                    f"L{i % 4}",
                    f"Centro {i % 4}",
                )
            )


def peak_rss_mb() -> float:
    """The process's peak resident set so far (ru_maxrss: KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(store: Store, instance: str, path: Path, batch: int) -> tuple[ImportOutcome, float]:
    started = time.perf_counter()
    outcome = file_sources.import_path(
        store, instance, str(path), owner="bench", batch_size=batch, settle=0
    )
    elapsed = time.perf_counter() - started
    [imported] = outcome.imports
    if imported.state != "DONE" or imported.rejected:
        raise SystemExit(f"{path.name}: {imported.state} {imported.rejected} refused")
    return imported, elapsed


@contextmanager
def database(args: argparse.Namespace, folder: Path) -> Iterator[str]:
    if args.database_url:
        yield args.database_url
    elif args.postgres:
        with temporary_postgres(DEFAULT_PG_SERVER, prefix="bench_files") as url:
            yield url
    else:
        yield f"sqlite:///{folder / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per service call")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--database-url")
    parser.add_argument("--trace", action="store_true", help="also run 'new' under tracemalloc")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp:
        folder = Path(tmp)
        inbox = folder / "in"
        inbox.mkdir()
        write_export(inbox / "export-1.csv", args.rows)
        write_export(inbox / "export-2.csv", args.rows)
        write_export(inbox / "export-3.csv", args.rows, skip_every=100)
        size_mb = (inbox / "export-1.csv").stat().st_size / 1e6
        with database(args, folder) as url:
            settings = Settings.from_env(
                {"TUOTEMPO_DATABASE_URL": url, "TUOTEMPO_DATA_DIR": str(folder / "data")}
            )
            store = open_store(settings, migrate=True)
            try:
                name = f"tt_bench_{secrets.token_hex(3)}"
                instances.create_instance(store, name)
                baseline = peak_rss_mb()
                backend = store.dialect
                print(
                    f"{args.rows} rows ({size_mb:.1f} MB), batches of {args.batch}, {backend}, "
                    f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
                )
                print(f"{'run':<8} {'seconds':>8} {'rows/s':>8}  outcome")
                for label, path in (
                    ("new", inbox / "export-1.csv"),
                    ("again", inbox / "export-2.csv"),
                    ("deleted", inbox / "export-3.csv"),
                ):
                    outcome, seconds = run(store, name, path, args.batch)
                    print(
                        f"{label:<8} {seconds:>8.1f} {outcome.rows / seconds:>8.0f}  "
                        f"{outcome.created} new, {outcome.updated} changed, "
                        f"{outcome.unchanged} unchanged, {outcome.cancelled} cancelled"
                    )
                print(
                    f"peak resident memory: {peak_rss_mb():.0f} MB "
                    f"({peak_rss_mb() - baseline:+.0f} MB over the {baseline:.0f} MB before "
                    "the first import)"
                )
                if args.trace:
                    traced = f"tt_bench_{secrets.token_hex(3)}"
                    instances.create_instance(store, traced)
                    tracemalloc.start()
                    outcome, seconds = run(store, traced, inbox / "export-1.csv", args.batch)
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    print(
                        f"tracemalloc, 'new' again on another instance: peak {peak / 1e6:.1f} MB "
                        f"of Python allocations ({seconds:.1f} s traced)"
                    )
            finally:
                store.dispose()


if __name__ == "__main__":
    main()
