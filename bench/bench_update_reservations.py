"""How much does a 100-item updateReservations cost, and how much of that is the floor?

Prints, in one run and side by side:

* the full path: a real SOAP envelope of 100 reservations POSTed to the real
  WSGI application (``create_app``), called in-process (no sockets), for three
  batches: all new (100 CREATED), the same batch again (100 UNCHANGED) and the
  same batch with one field changed (100 UPDATED);
* the floor for the same work: lxml parse of the same envelope, XSD validation
  of its ``updateReservations`` element against the schema of the published
  WSDL, and ONE SQLAlchemy Core bulk insert of the same 100 rows (already as
  dicts) in one transaction on the same database.

Usage (from the repository root)::

    python bench/bench_update_reservations.py                  # fresh SQLite file
    python bench/bench_update_reservations.py --postgres       # temporary PG database
    python bench/bench_update_reservations.py --database-url postgresql://...
    python bench/bench_update_reservations.py --iterations 200 --profile

Only timings are reported; nothing is asserted about them. Every answer of the
full path is checked (HTTP 200, RESULT OK, the expected 100 actions) outside
the timed span. The last column counts the timed calls during which a full
garbage collection ran (Spyne forces one at most once a second, see
``FullGcCounter``): they are what pushes p95 away from the median.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import platform
import pstats
import random
import secrets
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy
from databases import temporary_postgres  # bench/databases.py (this folder)
from lxml import etree
from sqlalchemy import Engine, delete, insert
from sqlalchemy.engine import make_url

from tuotempo_soap.config import Settings
from tuotempo_soap.domain.reservation import FIELD_NAMES, clean_reservation
from tuotempo_soap.services import instances
from tuotempo_soap.services.instances import utcnow
from tuotempo_soap.soap import TNS
from tuotempo_soap.soap.application import build_wsdl
from tuotempo_soap.store import tables
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import build_engine
from tuotempo_soap.web.app import TuotempoApp, create_app

BATCH_SIZE = 100
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
REGION = "ES"

# The same hardening the application's parser uses (tuotempo_soap.soap.protocol).
FLOOR_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "strip_cdata": True,
}

DOCTORS: tuple[tuple[str, str], ...] = (
    ("DR001", "Dra. María Núñez"),
    ("DR002", "Dr. Jorge Ibáñez"),
    ("DR003", "Dra. Lucía Fernández"),
    ("DR004", "Dr. Andrés Peña"),
    ("DR005", "Dra. Carmen Ruiz"),
    ("DR006", "Dr. Íñigo Etxeberria"),
    ("DR007", "Dra. Pilar Gómez"),
    ("DR008", "Dr. Tomás Muñoz"),
    ("DR009", "Dra. Elena Sáez"),
    ("DR010", "Dr. Raúl Ortega"),
    ("DR011", "Dra. Nuria Castells"),
    ("DR012", "Dr. Óscar Llorente"),
)
LOCATIONS: tuple[str, ...] = ("LOC-CENTRO", "LOC-NORTE", "LOC-SUR")


# --- the batch ---------------------------------------------------------------


def make_items(rng: random.Random, prefix: str, count: int = BATCH_SIZE) -> list[dict[str, str]]:
    """``count`` realistic reservations as the HIS sends them (wire names, strings)."""
    first_day = date.today() + timedelta(days=1)
    items: list[dict[str, str]] = []
    for n in range(count):
        start = 8 * 60 + 15 * rng.randrange(46)  # 08:00 .. 19:15
        end = start + rng.choice((15, 20, 30, 45))
        resource_lid, resource_name = rng.choice(DOCTORS)
        patient = rng.randrange(10_000, 99_999)
        items.append(
            {
                "APP_LID": f"{prefix}-{n:04d}",
                "APP_DATE": (first_day + timedelta(days=rng.randrange(60))).strftime("%d/%m/%Y"),
                "APP_START_TIME": f"{start // 60:02d}:{start % 60:02d}",
                "APP_END_TIME": f"{end // 60:02d}:{end % 60:02d}",
                "USER_LID": f"P{patient}",
                "USER_MOBILE_PHONE": f"6{rng.randrange(10**8):08d}",
                "USER_EMAIL": f"paciente{patient}@example.com",
                "COMMUNICATION_PREFERENCES": "101",
                "USER_LANGUAGE": "es",
                "RESOURCE_LID": resource_lid,
                "RESOURCE_NAME": resource_name,
                "LOCATION_LID": rng.choice(LOCATIONS),
                "STATUS": "APPROVED",
            }
        )
    return items


def make_envelope(credentials: Mapping[str, str], items: Sequence[Mapping[str, str]]) -> bytes:
    """A SOAP 1.1 updateReservations request; fields in schema (FIELDS) order."""
    auth = "".join(
        f"<tns:{name}>{escape(credentials[name])}</tns:{name}>"
        for name in ("INSTANCE", "USERNAME", "PASSWORD")
    )
    reservations = []
    for item in items:
        fields = "".join(
            f"<tns:{name}>{escape(item[name])}</tns:{name}>" for name in FIELD_NAMES if name in item
        )
        reservations.append(f"<tns:RESERVATION>{fields}</tns:RESERVATION>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:tns="{TNS}">'
        "<soapenv:Header/><soapenv:Body><tns:updateReservations>"
        f"<tns:AUTH>{auth}</tns:AUTH>"
        f"<tns:RESERVATIONS>{''.join(reservations)}</tns:RESERVATIONS>"
        "</tns:updateReservations></soapenv:Body></soapenv:Envelope>"
    ).encode()


def floor_rows(
    items: Sequence[Mapping[str, str]], instance_id: int, first_seq: int, now: datetime
) -> list[dict[str, Any]]:
    """The rows the application would insert for ``items``, as plain dicts (built untimed)."""
    rows = []
    for seq, item in enumerate(items, start=first_seq):
        clean = clean_reservation(item, default_region=REGION, store_identity=False)
        row = {name.lower(): value for name, value in clean.values.items()}
        row.update(
            instance_id=instance_id,
            status_changed_by="HIS",
            status_changed_at=now,
            patient_answer=None,
            patient_answer_channel=None,
            patient_answer_at=None,
            created_at=now,
            updated_at=now,
            change_seq=seq,
        )
        rows.append(row)
    return rows


# --- calling the application in-process --------------------------------------


def make_environ(body: bytes) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/soap",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_SOAPACTION": '"updateReservations"',
        "HTTP_HOST": "localhost:8000",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def post(app: TuotempoApp, environ: dict[str, Any]) -> tuple[str, bytes]:
    """One request through the WSGI app; the status line and the whole answer body."""
    seen: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], None]:
        seen.append(status)
        return lambda _data: None

    result = app(environ, start_response)
    try:
        answer = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (seen[-1] if seen else "(no status)"), answer


def check_answer(status: str, answer: bytes, expected_action: str) -> None:
    """HTTP 200, RESULT OK and all 100 items with the expected action; else stop."""
    if not status.startswith("200"):
        raise RuntimeError(f"expected HTTP 200, got {status}: {answer[:600]!r}")
    result = etree.fromstring(answer).find(f".//{{{TNS}}}updateReservationsResult")
    if result is None:
        raise RuntimeError(f"no updateReservationsResult in the answer: {answer[:600]!r}")
    got = {name: result.findtext(f"{{{TNS}}}{name}") for name in ("RESULT", expected_action)}
    if got != {"RESULT": "OK", expected_action: str(BATCH_SIZE)}:
        raise RuntimeError(f"expected RESULT OK and {expected_action}={BATCH_SIZE}, got {got}")


# --- the floor ---------------------------------------------------------------


def wsdl_schema() -> etree.XMLSchema:
    """The xs:schema embedded in the published WSDL, as an lxml validator."""
    wsdl = etree.fromstring(build_wsdl())
    schema = wsdl.find(f".//{{{XS_NS}}}schema")
    if schema is None:
        raise RuntimeError("the WSDL has no xs:schema")
    # tostring() of a sub-element carries the in-scope namespace declarations
    # (tns:, xs:), which the schema's type="tns:..." references need.
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))


@dataclass
class FloorTimes:
    parse: list[float] = field(default_factory=list)
    validate: list[float] = field(default_factory=list)
    insert: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    full_gc_calls: int = 0


class FullGcCounter:
    """Counts full (generation 2) garbage collections, explicit or automatic.

    Spyne's ``MethodContext.close()`` calls ``gc.collect()`` when the last call
    was more than ``spyne.const.MIN_GC_INTERVAL`` (1 s) ago; the calls that
    paid for one explain most of the distance between median and p95.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self.count += 1


def floor_once(
    parser: etree.XMLParser,
    schema: etree.XMLSchema,
    engine: Engine,
    body: bytes,
    rows: list[dict[str, Any]],
) -> tuple[float, float, float]:
    """Parse + validate + one bulk insert; seconds spent in each."""
    t0 = time.perf_counter()
    root = etree.fromstring(body, parser)
    t1 = time.perf_counter()
    operation = root.find(f"{{{SOAP_ENV}}}Body")[0]  # type: ignore[index]
    valid = schema.validate(operation)
    t2 = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(insert(tables.reservations), rows)
    t3 = time.perf_counter()
    if not valid:
        raise RuntimeError(f"the envelope does not validate: {schema.error_log.last_error}")
    return t1 - t0, t2 - t1, t3 - t2


# --- databases ---------------------------------------------------------------


@contextmanager
def database(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[str, bool]]:
    """(url, is_ours): ours are thrown away at the end; a given URL is cleaned instead."""
    if args.postgres:
        with temporary_postgres(args.postgres_server) as url:
            yield url, True
    elif args.database_url:
        yield args.database_url, False
    else:
        yield f"sqlite:///{workdir / 'bench.db'}", True


def remove_instances(engine: Engine, instance_ids: Sequence[int]) -> None:
    """Delete what the benchmark wrote into a database it did not create."""
    with engine.begin() as connection:
        for table in (tables.reservations, tables.api_users):
            connection.execute(delete(table).where(table.c.instance_id.in_(instance_ids)))
        connection.execute(delete(tables.instances).where(tables.instances.c.id.in_(instance_ids)))


# --- statistics and output ----------------------------------------------------


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000


def p95_ms(samples: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def print_row(
    label: str,
    samples: Sequence[float],
    floor: Sequence[float] | None = None,
    full_gc_calls: int | None = None,
) -> None:
    ratio = f"{'':>17}"
    if floor is not None:
        by_median = median_ms(samples) / median_ms(floor)
        ratio = f"{by_median:8.1f}x {p95_ms(samples) / p95_ms(floor):6.1f}x"
    gcs = "" if full_gc_calls is None else f"{full_gc_calls:>10}/{len(samples)}"
    line = f"  {label:<46} {median_ms(samples):9.2f} {p95_ms(samples):9.2f}   {ratio}{gcs}"
    print(line.rstrip())


# --- the run -----------------------------------------------------------------


@dataclass
class Bench:
    app: TuotempoApp
    credentials: dict[str, str]
    rng: random.Random
    gc_counter: FullGcCounter
    batch_counter: int = 0

    def fresh_items(self) -> list[dict[str, str]]:
        self.batch_counter += 1
        return make_items(self.rng, f"B{self.batch_counter:05d}-{secrets.token_hex(2)}")

    def envelope(self, items: Sequence[Mapping[str, str]]) -> bytes:
        return make_envelope(self.credentials, items)

    def time_calls(
        self, bodies: Sequence[bytes], action: str, warmup: int
    ) -> tuple[list[float], int]:
        """Send ``bodies`` in order; the first ``warmup`` answers are checked, not kept.

        Returns the timed samples and how many of those calls ran a full GC.
        """
        samples = []
        full_gc_calls = 0
        gc.collect()
        for index, body in enumerate(bodies):
            environ = make_environ(body)
            collections = self.gc_counter.count
            start = time.perf_counter()
            status, answer = post(self.app, environ)
            elapsed = time.perf_counter() - start
            check_answer(status, answer, action)
            if index >= warmup:
                samples.append(elapsed)
                full_gc_calls += self.gc_counter.count > collections
        return samples, full_gc_calls


def with_field_changed(items: Sequence[Mapping[str, str]], suffix: str) -> list[dict[str, str]]:
    """The same batch with RESOURCE_NAME changed on every item (so all are UPDATED)."""
    return [{**item, "RESOURCE_NAME": f"{item['RESOURCE_NAME']}{suffix}"} for item in items]


def profile_one(bench: Bench, body: bytes, action: str, top: int) -> None:
    """cProfile one call; print the top entries by cumulative and by own time."""
    environ = make_environ(body)
    profiler = cProfile.Profile()
    profiler.enable()
    status, answer = post(bench.app, environ)
    profiler.disable()
    check_answer(status, answer, action)
    # Keep the package in file names (spyne/protocol/xml.py, not xml.py).
    prefixes = sorted(
        {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"], str(ROOT)},
        key=len,
        reverse=True,
    )
    for order in ("cumulative", "tottime"):
        print(f"\ncProfile of ONE full-path call ({BATCH_SIZE} {action}), top {top} by {order}:")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                for prefix in prefixes:
                    line = line.replace(prefix + os.sep, "")
                print(line)


def run(args: argparse.Namespace, url: str, workdir: Path, drop_after: bool) -> None:
    settings = Settings.from_env(
        {
            "TUOTEMPO_DATABASE_URL": url,
            "TUOTEMPO_DATA_DIR": str(workdir / "data"),
            "TUOTEMPO_AUTO_MIGRATE": "false",  # migrated just below, explicitly
            "TUOTEMPO_LOG_LEVEL": "WARNING",
        }
    )
    store = open_store(settings, migrate=True)
    suffix = secrets.token_hex(4)
    password = secrets.token_urlsafe(16)
    app_instance = instances.create_instance(store, f"tt_bench_{suffix}")
    instances.add_user(store, app_instance.name, "his", password)
    floor_instance = instances.create_instance(store, f"tt_bench_floor_{suffix}")
    store.dispose()

    app = create_app(settings)
    floor_engine = build_engine(url)  # same engine options (SQLite pragmas, pool) as the app
    bench = Bench(
        app=app,
        credentials={"INSTANCE": app_instance.name, "USERNAME": "his", "PASSWORD": password},
        rng=random.Random(args.seed),
        gc_counter=FullGcCounter(),
    )
    warmup, n = args.warmup, args.iterations
    gc.callbacks.append(bench.gc_counter)
    try:
        # 1. Full path. Bodies are built before the clock starts.
        insert_items = [bench.fresh_items() for _ in range(warmup + n)]
        insert_bodies = [bench.envelope(items) for items in insert_items]
        created, created_gcs = bench.time_calls(insert_bodies, "CREATED", warmup)

        base_items = bench.fresh_items()
        base = bench.envelope(base_items)
        bench.time_calls([base], "CREATED", 1)  # store it once
        unchanged, unchanged_gcs = bench.time_calls([base] * (warmup + n), "UNCHANGED", warmup)

        changed = bench.envelope(with_field_changed(base_items, " (2)"))
        alternating = [changed if i % 2 == 0 else base for i in range(warmup + n)]
        updated, updated_gcs = bench.time_calls(alternating, "UPDATED", warmup)

        # 2. Floor: the same envelopes and the same rows, for the other instance.
        parser = etree.XMLParser(**FLOOR_PARSER_OPTIONS)
        schema = wsdl_schema()
        now = utcnow()
        floor = FloorTimes()
        gc.collect()
        for index, (items, body) in enumerate(zip(insert_items, insert_bodies, strict=True)):
            rows = floor_rows(items, floor_instance.id, index * BATCH_SIZE + 1, now)
            collections = bench.gc_counter.count
            parse_s, validate_s, insert_s = floor_once(parser, schema, floor_engine, body, rows)
            if index >= warmup:
                floor.full_gc_calls += bench.gc_counter.count > collections
                floor.parse.append(parse_s)
                floor.validate.append(validate_s)
                floor.insert.append(insert_s)
                floor.total.append(parse_s + validate_s + insert_s)

        backend = make_url(url).get_backend_name()
        print(
            f"updateReservations, {BATCH_SIZE} items, envelope {len(base) / 1024:.1f} KiB; "
            f"{backend}; Python {platform.python_version()}, SQLAlchemy "
            f"{sqlalchemy.__version__}, lxml {etree.__version__}"
        )
        print(f"{n} timed iterations after {warmup} warm-up; milliseconds per call\n")
        print(
            f"  {'':<46} {'median':>9} {'p95':>9}   {'x floor (med, p95)':>17}"
            f"{'calls with a full GC':>22}"
        )
        print("  full path: WSGI app in-process, POST /soap")
        print_row("new batch (100 CREATED)", created, floor.total, created_gcs)
        print_row("same batch re-sent (100 UNCHANGED)", unchanged, floor.total, unchanged_gcs)
        print_row("one field changed (100 UPDATED)", updated, floor.total, updated_gcs)
        print("  floor: lxml parse + XSD validate + one Core bulk insert")
        print_row("total", floor.total, None, floor.full_gc_calls)
        print_row("  lxml parse", floor.parse)
        print_row("  XSD validate (updateReservations element)", floor.validate)
        print_row("  insert(reservations), 100 dicts, + commit", floor.insert)

        if args.profile:
            # Bodies that give the wanted action given what is stored now
            # (the last body sent was alternating[-1]).
            last = alternating[-1]
            other = base if last is changed else changed
            profile_body, action = {
                "created": (bench.envelope(bench.fresh_items()), "CREATED"),
                "unchanged": (last, "UNCHANGED"),
                "updated": (other, "UPDATED"),
            }[args.profile_variant]
            profile_one(bench, profile_body, action, args.top)
    finally:
        gc.callbacks.remove(bench.gc_counter)
        if not drop_after:
            remove_instances(floor_engine, [app_instance.id, floor_instance.id])
        floor_engine.dispose()
        app.store.dispose()


def positive(text_value: str) -> int:
    value = int(text_value)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--database-url",
        help="an existing database to use (migrated; the rows written are deleted at the end). "
        "Default: a fresh SQLite file in a temporary directory",
    )
    where.add_argument(
        "--postgres",
        action="store_true",
        help="create a temporary database (CREATE DATABASE bench_...) on --postgres-server "
        "and drop it at the end",
    )
    parser.add_argument(
        "--postgres-server",
        default=os.environ.get("TUOTEMPO_TEST_DATABASE_URL") or DEFAULT_PG_SERVER,
        help="server used by --postgres (default: $TUOTEMPO_TEST_DATABASE_URL or "
        f"{DEFAULT_PG_SERVER})",
    )
    parser.add_argument("--iterations", type=positive, default=50, help="timed calls (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    parser.add_argument("--seed", type=int, default=20240521, help="seed for the generated data")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one full-path call at the end"
    )
    parser.add_argument(
        "--profile-variant",
        choices=("created", "unchanged", "updated"),
        default="created",
        help="which batch --profile sends (default: created, a new batch)",
    )
    parser.add_argument(
        "--top", type=positive, default=15, help="profile entries shown (default 15)"
    )
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tuotempo-bench-") as tmp:
        workdir = Path(tmp)
        with database(args, workdir) as (url, ours):
            run(args, url, workdir, drop_after=ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
