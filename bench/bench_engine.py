"""The SOAP engines side by side: Spyne's own path and the fast path (soap/fast.py).

Prints, in one run, interleaved (each round runs every variant once, in a
rotating order, so a noisy machine slows them all alike):

* the floor: lxml parse of a 100-item updateReservations envelope plus XSD
  validation of its operation element against the published WSDL's schema;
* a stock Spyne echo of the same array (a minimal Spyne service that returns
  the reservations it was sent; no database);
* the SOAP work of the fast path alone: that envelope read into dicts, and
  the answer of 100 CREATED items written, without the service in between;
* updateReservations, 100 new items, end to end in-process, old and new engine;
* the database floor of that call: lxml parse + XSD check of the same envelope,
  then ONE upsert of its 100 rows (already cleaned, as dicts; untimed) and the
  commit, on its own instance. On PostgreSQL the upsert is the cheapest single
  statement we know (the rows as one JSON document, ``json_to_recordset``,
  ``ON CONFLICT DO UPDATE``, ``RETURNING`` the ids), its JSON encoding timed;
  SQLAlchemy Core's executemany upsert of the same rows is shown beside it. The
  ratio of the fast engine's end-to-end call to this floor is printed;
* getReservations pages of 100 and 500 rows, old and new engine.

Usage (from the repository root)::

    python bench/bench_engine.py                       # fresh SQLite file
    python bench/bench_engine.py --postgres            # temporary PG database
    python bench/bench_engine.py --rounds 40

Only timings are reported; every answer is checked (HTTP 200, expected counts).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bench_update_reservations import (  # bench/ (this folder)
    DEFAULT_PG_SERVER,
    FLOOR_PARSER_OPTIONS,
    SOAP_ENV,
    floor_rows,
    make_envelope,
    make_environ,
    make_items,
    post,
    wsdl_schema,
)
from databases import temporary_postgres
from lxml import etree
from sqlalchemy import Engine, TextClause, text
from sqlalchemy.dialects import postgresql, sqlite

import tuotempo_soap.soap  # noqa: F401  (Spyne's compatibility layer first)
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.services.instances import utcnow
from tuotempo_soap.soap import TNS
from tuotempo_soap.store import tables
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import build_engine
from tuotempo_soap.web.app import TuotempoApp, create_app


def spyne_echo() -> Any:
    """A stock Spyne service echoing the same array type (no hardening, no database)."""
    from spyne import Application, ServiceBase, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.wsgi import WsgiApplication

    from tuotempo_soap.soap.types import RESERVATION_ARRAY, Authorization

    class Echo(ServiceBase):
        @rpc(Authorization, RESERVATION_ARRAY, _returns=RESERVATION_ARRAY)
        def updateReservations(ctx: Any, AUTH: Any, RESERVATIONS: Any) -> Any:  # noqa: N805
            return RESERVATIONS

    app = Application([Echo], tns=TNS, in_protocol=Soap11(), out_protocol=Soap11())
    return WsgiApplication(app)


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def json_upsert() -> TextClause:
    """ONE statement upserting a batch of rows sent as one JSON document."""
    dialect = postgresql.dialect()
    columns = [c for c in tables.reservations.columns if c.name != "id"]
    record = ", ".join(f"{c.name} {c.type.compile(dialect=dialect)}" for c in columns)
    listed = ", ".join(c.name for c in columns)
    updates = ", ".join(
        f"{c.name} = EXCLUDED.{c.name}"
        for c in columns
        if c.name not in ("instance_id", "app_lid", "created_at")
    )
    return text(
        f"INSERT INTO reservations ({listed}) SELECT {listed} FROM "  # noqa: S608 (our columns)
        f"json_to_recordset(CAST(:rows AS json)) AS x({record}) "
        f"ON CONFLICT (instance_id, app_lid) DO UPDATE SET {updates} RETURNING app_lid, id"
    )


def core_upsert(engine: Engine) -> Any:
    """SQLAlchemy Core's upsert, run as executemany over the rows."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(tables.reservations)
    c = tables.reservations.c
    kept = ("id", "instance_id", "app_lid", "created_at")
    return statement.on_conflict_do_update(
        index_elements=[c.instance_id, c.app_lid],
        set_={col.name: statement.excluded[col.name] for col in c if col.name not in kept},
    ).returning(c.app_lid, c.id)


def document(rows: list[dict[str, Any]]) -> str:
    """The rows as one JSON array, NULLs left out (the record reads them as NULL)."""
    return json.dumps(
        [{k: v for k, v in row.items() if v is not None} for row in rows],
        default=_iso,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def call(app: Any, body: bytes, action: str) -> tuple[str, bytes]:
    environ = make_environ(body)
    environ["HTTP_SOAPACTION"] = f'"{action}"'
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return post(app, environ)


def expect(status: str, answer: bytes, pattern: bytes) -> None:
    if not status.startswith("200") or not re.search(pattern, answer):
        raise RuntimeError(f"unexpected answer {status}: {answer[:400]!r}")


def page_request(credentials: dict[str, str], size: int) -> bytes:
    auth = "".join(f"<t:{k}>{v}</t:{k}>" for k, v in credentials.items())
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:t="{TNS}"><s:Body><t:getReservations>'
        f"<t:AUTH>{auth}</t:AUTH><t:MAX_RESULTS>{size}</t:MAX_RESULTS>"
        "</t:getReservations></s:Body></s:Envelope>"
    ).encode()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--postgres-server", default=DEFAULT_PG_SERVER)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            with temporary_postgres(args.postgres_server) as url:
                return run(args, url, Path(tmp))
        return run(args, f"sqlite:///{tmp}/bench.db", Path(tmp))


def run(args: argparse.Namespace, url: str, workdir: Path) -> int:
    def app_for(engine: str) -> TuotempoApp:
        return create_app(
            Settings.from_env(
                {
                    "TUOTEMPO_DATABASE_URL": url,
                    "TUOTEMPO_DATA_DIR": str(workdir / "data"),
                    "TUOTEMPO_LOG_LEVEL": "WARNING",
                    "TUOTEMPO_SOAP_ENGINE": engine,
                }
            )
        )

    store = open_store(
        Settings.from_env({"TUOTEMPO_DATABASE_URL": url, "TUOTEMPO_DATA_DIR": str(workdir)}),
        migrate=True,
    )
    credentials = {"INSTANCE": "tt_bench_engine", "USERNAME": "his", "PASSWORD": "bench-pass-1"}
    instances.create_instance(store, credentials["INSTANCE"])
    instances.add_user(store, credentials["INSTANCE"], "his", credentials["PASSWORD"])
    postgres = store.dialect == "postgresql"
    upserts = ("json", "Core") if postgres else ("Core",)
    floor_ids = {kind: instances.create_instance(store, f"tt_floor_{kind}").id for kind in upserts}
    store.dispose()
    old, new = app_for("spyne"), app_for("fast")
    fast = new.fast_soap
    if fast is None:
        raise RuntimeError("the fast engine was not built")
    echo = spyne_echo()
    rng = random.Random(7)
    counter = iter(range(10**9))

    def fresh() -> bytes:
        return make_envelope(credentials, make_items(rng, f"B{next(counter)}"))

    # The database floor: same engine options as the application (build_engine).
    floor_engine = build_engine(url)
    statements = {"Core": core_upsert(floor_engine)}
    if postgres:
        statements["json"] = json_upsert()
    floor_inputs: dict[str, list[tuple[bytes, list[dict[str, Any]]]]] = {k: [] for k in upserts}
    first_seq = itertools.count(1, 1000)

    # 600 stored reservations for the pages.
    for _ in range(6):
        expect(*call(old, fresh(), "updateReservations"), rb"<tns:CREATED>100<")
    sample = fresh()
    xml_parser = etree.XMLParser(**FLOOR_PARSER_OPTIONS)
    schema = wsdl_schema()
    environ = make_environ(sample)
    operation, _args = fast.read(environ, sample)
    answer = {
        "RESULT": "OK",
        "CREATED": 100,
        "UPDATED": 0,
        "UNCHANGED": 0,
        "FAILED": 0,
        "ITEMS": [
            {"APP_LID": f"B-{n:04d}", "RESULT": "OK", "ACTION": "CREATED", "RESERVATION_ID": n}
            for n in range(100)
        ],
    }

    def floor() -> None:
        root = etree.fromstring(sample, xml_parser)
        if not schema.validate(root.find(f"{{{SOAP_ENV}}}Body")[0]):  # type: ignore[index]
            raise RuntimeError("the sample does not validate")

    def echo_call() -> None:
        expect(*call(echo, sample, "updateReservations"), rb"RESERVATION")

    def fast_soap_work() -> None:
        fast.read(environ, sample)
        fast.write(operation, answer)

    def db_floor(kind: str) -> Callable[[], None]:
        def run_one() -> None:
            body, rows = floor_inputs[kind].pop()
            root = etree.fromstring(body, xml_parser)
            if not schema.validate(root.find(f"{{{SOAP_ENV}}}Body")[0]):  # type: ignore[index]
                raise RuntimeError("the envelope does not validate")
            with floor_engine.begin() as connection:
                if kind == "json":
                    parameters: Any = {"rows": document(rows)}
                else:
                    parameters = rows
                stored = connection.execute(statements[kind], parameters).all()
            if len(stored) != len(rows):
                raise RuntimeError(f"the {kind} upsert stored {len(stored)} rows")

        return run_one

    bodies: dict[str, list[bytes]] = {"old": [], "new": []}

    def update(app: TuotempoApp, key: str) -> Callable[[], None]:
        def run_one() -> None:
            expect(*call(app, bodies[key].pop(), "updateReservations"), rb"<tns:CREATED>100<")

        return run_one

    def page(app: TuotempoApp, size: int) -> Callable[[], None]:
        body = page_request(credentials, size)

        def run_one() -> None:
            expect(*call(app, body, "getReservations"), rf"<tns:COUNT>{size}<".encode())

        return run_one

    variants: dict[str, Callable[[], None]] = {
        "floor: lxml parse + XSD check": floor,
        "stock Spyne echo, 100 items": echo_call,
        "fast SOAP work (read + write)": fast_soap_work,
        "updateReservations 100 new, spyne": update(old, "old"),
        "updateReservations 100 new, fast": update(new, "new"),
        **{f"db floor: parse+XSD+upsert ({kind})": db_floor(kind) for kind in upserts},
        "getReservations 100 rows, spyne": page(old, 100),
        "getReservations 100 rows, fast": page(new, 100),
        "getReservations 500 rows, spyne": page(old, 500),
        "getReservations 500 rows, fast": page(new, 500),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    total = args.warmup + args.rounds
    bodies["old"] = [fresh() for _ in range(total)]
    # The fast engine and the floor get the same envelopes (same items), round by round.
    now = utcnow()
    for _ in range(total):
        items = make_items(rng, f"B{next(counter)}")
        body = make_envelope(credentials, items)
        bodies["new"].append(body)
        for kind in upserts:
            rows = floor_rows(items, floor_ids[kind], next(first_seq), now)
            floor_inputs[kind].append((body, rows))
    for round_ in range(total):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            started = time.perf_counter()
            variants[name]()
            if round_ >= args.warmup:
                samples[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    python = sys.version.split()[0]
    print(f"{url.split(':')[0]}, {args.rounds} rounds, medians in ms (Python {python})")
    for name in names:
        print(f"  {name:<38} {median[name]:8.2f}")
    floor_ms = median["floor: lxml parse + XSD check"]
    echo_ms = median["stock Spyne echo, 100 items"]
    work = median["fast SOAP work (read + write)"]
    print("ratios")
    db_floor_ms = min(median[f"db floor: parse+XSD+upsert ({kind})"] for kind in upserts)
    update_ms = median["updateReservations 100 new, fast"]
    print(
        f"  {'updateReservations fast / db floor':<38} {update_ms / db_floor_ms:8.2f}x"
        " (target <= 1.5)"
    )
    print(f"  fast SOAP work / floor                 {work / floor_ms:8.2f}x (target <= 3)")
    print(f"  stock Spyne echo / fast SOAP work      {echo_ms / work:8.2f}x (target >= 5)")
    for what in (
        "updateReservations 100 new",
        "getReservations 100 rows",
        "getReservations 500 rows",
    ):
        print(
            f"  {what + ', spyne / fast':<38} "
            f"{median[what + ', spyne'] / median[what + ', fast']:8.2f}x"
        )
    old.store.dispose()
    new.store.dispose()
    floor_engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
