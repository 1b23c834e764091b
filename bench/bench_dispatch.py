"""How many messages per second does the outbox worker send, with 1 and 2 processes,
this checkout against an earlier version (``--baseline``) or one send at a time
(concurrency 1) against overlapped sends?

For each configuration, in one run:

* a fresh database (a SQLite file by default; ``--postgres`` creates a
  temporary database on the local server and drops it at the end), migrated
  once by the bench (the workers run with TUOTEMPO_AUTO_MIGRATE=false), with
  one instance;
* the start-up cost of the worker processes: K ``tuotempo-soap worker --once``
  started together on the still empty queue (median of ``--startup-runs``),
  so the throughput can be read net of it;
* ``--messages`` SMS queued with ``update_messages`` in batches of 500;
* an HTTP sink on 127.0.0.1 in this process that answers 200 JSON with an id,
  counting requests, distinct Idempotency-Key values and when the first and
  the last request came (``--sink lean``: asyncio, parsing only what it needs,
  so that the sink, on the same cores, is not what is measured; ``--sink
  stdlib``: ``ThreadingHTTPServer``, about three times the CPU per request),
  and a senders file routing SMS to it (type http, json, no rate limit);
* K worker processes (``python -m tuotempo_soap.cli worker --once``) started
  together and timed until the last one exits (bounded by ``--timeout``),
  once per ``--concurrency`` value (TUOTEMPO_WORKER_CONCURRENCY; default 1,
  one send at a time, and 16), side by side in one table;
* then the same, 1 worker, against a sink that takes ``--slow-sink-ms`` (50)
  per request, with ``--slow-messages`` messages (0 skips it).

``--baseline TREE`` runs every configuration twice, interleaved: "before"
with workers importing the package from TREE (a source tree of the earlier
version, e.g. ``git archive <rev> | tar -x -C /tmp/before``), "after" with
this checkout's. ``--repeat N`` runs the whole plan N times, interleaved, and
prints medians: on a machine shared with others, one run proves little.

Three rates are printed: msg/s (messages over the whole run, start-up
included), net msg/s (start-up subtracted; noisy on short runs, as the
start-up is measured apart) and sink msg/s (requests per second between the
sink's first and last request: the sending rate alone).

Usage (from the repository root)::

    python bench/bench_dispatch.py                        # SQLite, 1 worker
    python bench/bench_dispatch.py --postgres             # PostgreSQL, 1 and 2 workers
    python bench/bench_dispatch.py --all                  # both, one table
    python bench/bench_dispatch.py --sqlite-workers 1,2   # opt-in: 2 workers on SQLite
    python bench/bench_dispatch.py --postgres --workers 1 --profile
    python bench/bench_dispatch.py --postgres --concurrency 1,8,16,32
    python bench/bench_dispatch.py --postgres --concurrency 16 --baseline /tmp/before --repeat 3

Only timings are reported; nothing is asserted about them. Every
configuration is checked outside the timed span: the messages' final status
values are counted in the database, and the sink's requests are compared with
its distinct idempotency keys (the difference is a duplicate send).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import pstats
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy
from databases import temporary_postgres  # bench/databases.py (this folder)
from sqlalchemy import func, select

import tuotempo_soap
from tuotempo_soap.config import Settings
from tuotempo_soap.services import instances
from tuotempo_soap.services.messages import MessageAction, update_messages
from tuotempo_soap.store import tables
from tuotempo_soap.store.bootstrap import open_store
from tuotempo_soap.store.engine import Store, build_engine

QUEUE_BATCH = 500
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
INSTANCE = "tt_bench_dispatch"
PROVIDER = "sink"
TEXTS = (
    "Recordatorio: tiene cita el {day}/03 a las {hour}:30 en Clinica Centro. "
    "Responda 1 para confirmar o 2 para anular.",
    "Su cita del {day}/04 a las {hour}:15 ha sido confirmada. Gracias.",
)
ATTEMPTED = re.compile(r"(\d+) message\(s\) attempted")
BEFORE, AFTER = "before", "after"  # --baseline's tree, this checkout


# --- the HTTP sink -------------------------------------------------------------


class Tally:
    """What a sink counts: requests, distinct idempotency keys, and when the first
    and the last request arrived (the rate the gateway saw, start-up left out)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.keys: set[str] = set()
        self.first = self.last = 0.0  # time.perf_counter()

    def count(self, key: str) -> None:
        now = time.perf_counter()
        with self.lock:
            if not self.requests:
                self.first = now
            self.requests += 1
            self.keys.add(key)
            self.last = now

    @property
    def span(self) -> float:
        """Seconds from the first request to the last."""
        with self.lock:
            return self.last - self.first


class Sink(Tally):
    """A gateway that accepts everything: 200 and ``{"id": ...}`` for every POST.

    HTTP/1.1 with Content-Length, so the sender's ``requests.Session`` keeps
    its connection alive, as it would with a real provider; TCP_NODELAY, or
    the body, written after the headers, waits for the client's delayed ACK
    (Nagle): about 40 ms per request on Linux, which would be all we measure.
    """

    def __init__(self, delay_seconds: float = 0.0) -> None:
        super().__init__()
        self.delay_seconds = delay_seconds
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                key = self.headers.get("Idempotency-Key") or ""
                sink.count(key)
                if sink.delay_seconds:
                    time.sleep(sink.delay_seconds)
                data = json.dumps({"id": f"sink-{key}", "status": "accepted"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LeanSink(Tally):
    """The same gateway on asyncio, parsing only what it needs (request line,
    headers, a Content-Length body): a real HTTP/1.1 server on 127.0.0.1 with
    kept-alive connections, at a fraction of ``http.server``'s CPU per request.

    The sink shares the machine's cores with the workers and the database; the
    stdlib server's ~0.25 ms of CPU per request would be measured as the
    worker's. ``delay_seconds`` answers later without holding anything up.
    """

    def __init__(self, delay_seconds: float = 0.0) -> None:
        super().__init__()
        self.delay_seconds = delay_seconds
        self.loop = asyncio.new_event_loop()
        sink = self

        class Connection(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                self.transport = transport
                self.buffer = b""
                sock = transport.get_extra_info("socket")
                if sock is not None:  # see Sink: no Nagle delay on the answer
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def data_received(self, data: bytes) -> None:
                self.buffer += data
                while True:
                    end = self.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        return
                    length, key = 0, ""
                    for line in self.buffer[:end].split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        name = name.strip().lower()
                        if name == b"content-length":
                            length = int(value)
                        elif name == b"idempotency-key":
                            key = value.strip().decode("latin-1")
                    if len(self.buffer) < end + 4 + length:
                        return  # the body is still on its way
                    self.buffer = self.buffer[end + 4 + length :]
                    sink.count(key)
                    if sink.delay_seconds:
                        sink.loop.call_later(sink.delay_seconds, self.answer, key)
                    else:
                        self.answer(key)

            def answer(self, key: str) -> None:
                if self.transport.is_closing():
                    return
                body = json.dumps({"id": f"sink-{key}", "status": "accepted"}).encode()
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                self.transport.write(head + body)

        ready = threading.Event()
        address: list[int] = []

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(Connection, "127.0.0.1", 0, backlog=256)
            )
            address.append(server.sockets[0].getsockname()[1])
            self.server = server
            ready.set()
            self.loop.run_forever()
            server.close()
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{address[0]}/sms"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def senders_config(url: str) -> dict[str, Any]:
    """Every SMS to the sink; no rate limit (no rate_per_second), so only the worker counts."""
    return {
        "providers": {
            PROVIDER: {
                "type": "http",
                "url": url,
                "method": "POST",
                "format": "json",
                "fields": {"to": "to", "text": "text", "sender_id": "from", "reference": "ref"},
                "idempotency_header": "Idempotency-Key",
                "message_id_path": "id",
                "timeout_seconds": 10,
            }
        },
        "routes": {"*": {"SMS": PROVIDER}},
    }


# --- the queue -----------------------------------------------------------------


def make_items(rng: random.Random, start: int, count: int) -> list[dict[str, str]]:
    """``count`` SMS as the HIS sends them: distinct LEGACY_IDs, Spanish mobiles."""
    return [
        {
            "LEGACY_ID": f"BENCH-{n:07d}",
            "CHANNEL": "SMS",
            "TO": f"6{rng.randrange(10**8):08d}",
            "TEXT": rng.choice(TEXTS).format(day=rng.randrange(10, 29), hour=rng.randrange(8, 20)),
            "SENDER": "CLINICA",
        }
        for n in range(start, start + count)
    ]


def queue_messages(store: Store, instance: instances.Instance, total: int, seed: int) -> float:
    """Queue ``total`` messages in batches of QUEUE_BATCH; seconds it took."""
    rng = random.Random(seed)
    started = time.perf_counter()
    for start in range(0, total, QUEUE_BATCH):
        items = make_items(rng, start, min(QUEUE_BATCH, total - start))
        outcome = update_messages(store, instance, items, max_items=QUEUE_BATCH)
        queued = outcome.count(MessageAction.QUEUED)
        if outcome.result != "OK" or queued != len(items):
            errors = [item.error for item in outcome.items if item.error][:3]
            raise RuntimeError(f"queued {queued}/{len(items)}: {outcome.result} {errors}")
    return time.perf_counter() - started


def status_counts(url: str) -> dict[str, int]:
    engine = build_engine(url)
    try:
        with engine.connect() as connection:
            query = select(tables.messages.c.status, func.count()).group_by(
                tables.messages.c.status
            )
            return {status: int(count) for status, count in connection.execute(query)}
    finally:
        engine.dispose()


# --- databases -----------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, server_url: str, workdir: Path) -> Iterator[str]:
    if backend == "postgresql":
        with temporary_postgres(server_url, "bench_dispatch") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'bench.db'}"


# --- worker processes ----------------------------------------------------------


def worker_env(
    args: argparse.Namespace, url: str, workdir: Path, concurrency: int, code: str = AFTER
) -> dict[str, str]:
    """This process's environment without any TUOTEMPO_*, plus the bench's settings.

    The workers (started in a scratch directory) import the package from the
    tree first on PYTHONPATH: the ``--baseline`` tree for BEFORE, the one this
    process imported for AFTER.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUOTEMPO_")}
    tree = Path(args.baseline) if code == BEFORE else Path(tuotempo_soap.__file__).parents[1]
    env["PYTHONPATH"] = str(tree.resolve())
    env.update(
        TUOTEMPO_DATABASE_URL=url,
        TUOTEMPO_DATA_DIR=str(workdir / "data"),
        TUOTEMPO_SENDERS_FILE=str(workdir / "senders.json"),
        TUOTEMPO_WORKER_BATCH_SIZE=str(args.batch_size),
        TUOTEMPO_WORKER_CONCURRENCY=str(concurrency),
        TUOTEMPO_LOG_LEVEL=args.log_level,
        # Migrated once by the bench: a --baseline tree's workers must not try
        # to migrate a schema newer than their own migrations.
        TUOTEMPO_AUTO_MIGRATE="false",
        # As in production: a configured signing key (before this was fixed,
        # workers started together raced to create the key file).
        TUOTEMPO_SECRET_KEY="bench-dispatch-signing-key",
    )
    return env


def worker_command(worker_id: str, profile_to: Path | None = None) -> list[str]:
    module = ["-m", "tuotempo_soap.cli", "worker", "--once", "--worker-id", worker_id]
    if profile_to is not None:
        return [sys.executable, "-m", "cProfile", "-o", str(profile_to), *module]
    return [sys.executable, *module]


@dataclass
class WorkerRun:
    seconds: float
    timed_out: bool
    exit_codes: list[int | None]
    attempted: list[int | None]
    cpu_seconds: float  # user + system of the worker processes
    logs: list[str] = field(default_factory=list)


def run_workers(
    count: int,
    env: Mapping[str, str],
    workdir: Path,
    timeout: float,
    label: str,
    profile_to: Path | None = None,
) -> WorkerRun:
    """Start ``count`` workers together; wait (at most ``timeout`` s) for all to exit."""
    logs = [workdir / f"{label}-w{k}.log" for k in range(1, count + 1)]
    handles = [path.open("wb") for path in logs]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    processes: list[subprocess.Popen[bytes]] = []
    started = time.perf_counter()
    try:
        for k, handle in enumerate(handles, start=1):
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and module
                    worker_command(f"w{k}", profile_to if k == 1 else None),
                    env=dict(env),
                    cwd=workdir,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
        timed_out = False
        deadline = started + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                timed_out = True
                break
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:  # only ours, by handle; a no-op for those that exited
            if process.poll() is None:
                process.kill()
                process.wait()
        for handle in handles:
            handle.close()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    outputs = [path.read_text(errors="replace") for path in logs]
    attempted = []
    for output in outputs:
        found = ATTEMPTED.search(output)
        attempted.append(int(found.group(1)) if found else None)
    return WorkerRun(
        seconds=elapsed,
        timed_out=timed_out,
        exit_codes=[process.returncode for process in processes],
        attempted=attempted,
        cpu_seconds=cpu,
        logs=outputs,
    )


def check_workers(run: WorkerRun, what: str) -> None:
    if run.timed_out or any(code != 0 for code in run.exit_codes):
        tail = "\n".join(log[-1500:] for log in run.logs)
        raise RuntimeError(
            f"{what}: exit codes {run.exit_codes}, timed out: {run.timed_out}\n{tail}"
        )


# --- one configuration ---------------------------------------------------------


@dataclass
class Result:
    code: str
    backend: str
    workers: int
    concurrency: int
    sink_delay_ms: float
    messages: int
    seconds: float
    startup_seconds: float
    queue_seconds: float
    requests: int
    distinct_keys: int
    sink_span_seconds: float  # first request the sink got -> last one
    statuses: dict[str, int]
    per_worker: list[int | None]
    worker_cpu_seconds: float
    sink_cpu_seconds: float
    timed_out: bool
    exit_codes: list[int | None]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def net_rate(self) -> float | None:
        # The workers start in parallel: their start-up is paid once per run.
        net = self.seconds - self.startup_seconds
        return self.messages / net if net > 0 else None

    @property
    def sink_rate(self) -> float | None:
        """Requests per second as the sink saw them, first to last: the sending
        rate with the start-up (and its noise) left out."""
        if self.requests < 2 or self.sink_span_seconds <= 0:
            return None
        return (self.requests - 1) / self.sink_span_seconds

    @property
    def all_sent(self) -> bool:
        return self.statuses == {"SENT": self.messages}


@dataclass(frozen=True)
class Config:
    code: str  # BEFORE (--baseline) or AFTER (this checkout)
    backend: str
    workers: int
    concurrency: int
    sink_delay_ms: float
    messages: int


def run_config(args: argparse.Namespace, config: Config, workdir: Path, profile: bool) -> Result:
    """One timed run, with its own start-up measurement: on a machine shared with
    others the load changes from one run to the next, and the net rate should
    subtract the start-up of its own moment."""
    backend, workers, concurrency = config.backend, config.workers, config.concurrency
    with fresh_database(backend, args.postgres_server, workdir) as url:
        settings = Settings.from_env(
            {
                "TUOTEMPO_DATABASE_URL": url,
                "TUOTEMPO_DATA_DIR": str(workdir / "data"),
                "TUOTEMPO_AUTO_MIGRATE": "false",  # migrated just below, explicitly
                "TUOTEMPO_LOG_LEVEL": "WARNING",
            }
        )
        store = open_store(settings, migrate=True)
        sink = (LeanSink if args.sink == "lean" else Sink)(config.sink_delay_ms / 1000)
        try:
            instance = instances.create_instance(store, INSTANCE)
            (workdir / "senders.json").write_text(json.dumps(senders_config(sink.url), indent=2))
            env = worker_env(args, url, workdir, concurrency, config.code)

            startups = []
            for n in range(args.startup_runs):
                # As many as the timed run starts: on two cores, two processes
                # starting together take longer than one.
                empty = run_workers(workers, env, workdir, args.timeout, f"startup{n}")
                check_workers(empty, "worker --once on an empty queue")
                startups.append(empty.seconds)

            queue_seconds = queue_messages(store, instance, config.messages, args.seed)
            store.dispose()

            profile_to = workdir / "worker.prof" if profile else None
            cpu_before = time.process_time()
            run = run_workers(workers, env, workdir, args.timeout, f"run{workers}", profile_to)
            sink_cpu = time.process_time() - cpu_before
            with sink.lock:
                requests, distinct = sink.requests, len(sink.keys)
            span = sink.span
        finally:
            sink.close()
            store.dispose()
        if run.timed_out or any(code != 0 for code in run.exit_codes):
            print(
                f"!! {backend}, {workers} worker(s): exit codes {run.exit_codes}, "
                f"timed out: {run.timed_out}; last lines of the first log:\n"
                f"{run.logs[0][-1500:] if run.logs else ''}",
                file=sys.stderr,
            )
        statuses = status_counts(url)
    if profile_to is not None and profile_to.exists():
        print_profile(profile_to, backend, args.top)
    return Result(
        code=config.code,
        backend=backend,
        workers=workers,
        concurrency=concurrency,
        sink_delay_ms=config.sink_delay_ms,
        messages=config.messages,
        seconds=run.seconds,
        startup_seconds=statistics.median(startups),
        queue_seconds=queue_seconds,
        requests=requests,
        distinct_keys=distinct,
        sink_span_seconds=span,
        statuses=statuses,
        per_worker=run.attempted,
        worker_cpu_seconds=run.cpu_seconds,
        sink_cpu_seconds=sink_cpu,
        timed_out=run.timed_out,
        exit_codes=run.exit_codes,
    )


# --- output --------------------------------------------------------------------


def print_profile(path: Path, backend: str, top: int) -> None:
    prefixes = sorted(
        {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"], str(ROOT)},
        key=len,
        reverse=True,
    )
    for order in ("cumulative", "tottime"):
        print(f"\ncProfile of worker w1 ({backend}), top {top} by {order}:")
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                for prefix in prefixes:
                    line = line.replace(prefix + os.sep, "")
                print(line)
    print()


COLUMNS = (
    ("code", 6),
    ("backend", 10),
    ("workers", 7),
    ("conc", 4),
    ("sink ms", 7),
    ("messages", 8),
    ("seconds", 8),
    ("msg/s", 7),
    ("start-up s", 10),
    ("net msg/s", 9),
    ("sink msg/s", 10),
    ("sink req", 8),
    ("keys", 6),
    ("dups", 4),
    ("all SENT", 8),
    ("per worker", 10),
    ("worker CPU s", 12),
    ("sink CPU s", 10),
)

# One setup, whatever the code: what "before" and "after" are compared on.
Setup = tuple[str, int, int, float, int]


def setup_of(r: Result) -> Setup:
    return (r.backend, r.workers, r.concurrency, r.sink_delay_ms, r.messages)


def print_table(args: argparse.Namespace, results: Sequence[Result]) -> None:
    print(
        f"\noutbox -> HTTP sink ({args.sink}) on 127.0.0.1; batch size {args.batch_size}, "
        f"log level {args.log_level}; {os.cpu_count()} CPUs; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}"
    )
    print("  ".join(f"{name:>{width}}" for name, width in COLUMNS))
    for r in results:
        # A run cut short by --timeout has no rate: it did not send them all.
        rate = "-" if r.timed_out else f"{r.rate:.0f}"
        net = "-" if r.timed_out or r.net_rate is None else f"{r.net_rate:.0f}"
        at_sink = "-" if r.timed_out or r.sink_rate is None else f"{r.sink_rate:.0f}"
        split = "/".join("?" if n is None else str(n) for n in r.per_worker)
        sent = "timeout" if r.timed_out else "yes" if r.all_sent else "NO"
        cells = (
            r.code,
            r.backend,
            r.workers,
            r.concurrency,
            f"{r.sink_delay_ms:g}",
            r.messages,
            f"{r.seconds:.2f}",
            rate,
            f"{r.startup_seconds:.2f}",
            net,
            at_sink,
            r.requests,
            r.distinct_keys,
            r.requests - r.distinct_keys,
            sent,
            split,
            f"{r.worker_cpu_seconds:.2f}",
            f"{r.sink_cpu_seconds:.2f}",
        )
        print(
            "  ".join(f"{cell!s:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True))
        )
    for r in results:
        if not r.all_sent:
            print(
                f"  {r.code}: {r.backend}, {r.workers} worker(s), concurrency {r.concurrency}: "
                f"final statuses {r.statuses}"
            )
    print_medians(results)
    print_speedups(results)
    queueing: dict[str, list[float]] = {}
    for r in results:
        queueing.setdefault(r.backend, []).append(r.messages / r.queue_seconds)
    queued = ", ".join(f"{b} {statistics.median(v):.0f}/s" for b, v in queueing.items())
    print(
        "  seconds: first worker started -> last exited; start-up s: median of the same "
        "workers' `worker --once` on an empty queue;\n  net msg/s: messages / (seconds - "
        "start-up s); sink msg/s: requests per second from the sink's first request to its "
        "last;\n  worker CPU s: user+sys of all workers; sink CPU s: this process (the sink) "
        "during the run.\n  "
        f"Queueing (update_messages, {QUEUE_BATCH}/call): {queued}"
    )


@dataclass(frozen=True)
class Median:
    rate: float  # msg/s, start-up included
    net: float | None  # msg/s, start-up subtracted
    at_sink: float | None  # msg/s the sink saw, first request to last
    duplicates: int  # over all the runs
    runs: int


def medians(results: Sequence[Result]) -> dict[tuple[str, Setup], Median]:
    """(code, setup) -> medians of its runs; only setups whose every run finished."""
    runs: dict[tuple[str, Setup], list[Result]] = {}
    for r in results:
        runs.setdefault((r.code, setup_of(r)), []).append(r)

    def median(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    return {
        key: Median(
            rate=statistics.median(r.rate for r in group),
            net=median([r.net_rate for r in group]),
            at_sink=median([r.sink_rate for r in group]),
            duplicates=sum(r.requests - r.distinct_keys for r in group),
            runs=len(group),
        )
        for key, group in runs.items()
        if not any(r.timed_out for r in group)
    }


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_medians(results: Sequence[Result]) -> None:
    table = medians(results)
    if max((m.runs for m in table.values()), default=0) < 2:
        return
    print("medians over the repeated runs (interleaved):")
    for (code, (backend, workers, conc, delay, messages)), m in table.items():
        print(
            f"  {code:>6}  {backend}, {workers} worker(s), concurrency {conc}, sink {delay:g} ms, "
            f"{messages} messages x{m.runs}: {m.rate:.0f} msg/s, net {_rate(m.net)} msg/s, "
            f"at the sink {_rate(m.at_sink)} msg/s, duplicates {m.duplicates}"
        )


def print_speedups(results: Sequence[Result]) -> None:
    """Medians of "after" against "before" (the --baseline tree) for the same setup;
    without a baseline, each concurrency against concurrency 1 (one send at a time)."""
    table = medians(results)
    baseline = any(code == BEFORE for code, _ in table)
    lines = []
    for (code, setup), after in table.items():
        backend, workers, conc, delay, messages = setup
        if baseline:
            if code != AFTER or (BEFORE, setup) not in table:
                continue
            before = table[BEFORE, setup]
            what = f"concurrency {conc}"
        else:
            one = (backend, workers, 1, delay, messages)
            if conc == 1 or (code, one) not in table:
                continue
            before = table[code, one]
            what = f"concurrency 1 -> {conc}"
        parts = [f"{before.rate:.0f} -> {after.rate:.0f} msg/s ({after.rate / before.rate:.1f}x)"]
        for name, old, new in (
            ("net", before.net, after.net),
            ("at the sink", before.at_sink, after.at_sink),
        ):
            if old and new:
                parts.append(f"{name} {old:.0f} -> {new:.0f} ({new / old:.1f}x)")
        lines.append(
            f"  {backend}, {workers} worker(s), sink {delay:g} ms, {what}: "
            f"{', '.join(parts)}; duplicates {after.duplicates}"
        )
    if lines:
        print("before -> after (medians, same runs):")
        print("\n".join(lines))


# --- arguments -----------------------------------------------------------------


def positive(text_value: str) -> int:
    value = int(text_value)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def counts(text_value: str) -> list[int]:
    try:
        values = [int(part) for part in text_value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers, e.g. 1,2") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("worker counts must be 1 or more")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL only: a temporary database (CREATE DATABASE bench_dispatch_...) per "
        "configuration on --postgres-server, dropped at the end",
    )
    where.add_argument("--all", action="store_true", help="SQLite, then PostgreSQL, one table")
    parser.add_argument(
        "--postgres-server",
        default=os.environ.get("TUOTEMPO_TEST_DATABASE_URL") or DEFAULT_PG_SERVER,
        help="server used by --postgres (default: $TUOTEMPO_TEST_DATABASE_URL or "
        f"{DEFAULT_PG_SERVER})",
    )
    parser.add_argument(
        "--workers",
        type=counts,
        default=[1, 2],
        help="worker processes on PostgreSQL, comma-separated (default 1,2)",
    )
    parser.add_argument(
        "--sqlite-workers",
        type=counts,
        default=[1],
        help="worker processes on SQLite (default 1, the supported setup; 1,2 to opt in)",
    )
    parser.add_argument(
        "--messages", type=positive, default=2000, help="SMS queued per run (default 2000)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=50,
        help="TUOTEMPO_WORKER_BATCH_SIZE of the workers (default 50)",
    )
    parser.add_argument(
        "--sink-delay-ms", type=float, default=0.0, help="sink answer delay (default 0)"
    )
    parser.add_argument(
        "--concurrency",
        type=counts,
        default=[1, 16],
        help="TUOTEMPO_WORKER_CONCURRENCY values, side by side (default 1,16; 1 = one "
        "send at a time, the worker before overlapped sends)",
    )
    parser.add_argument(
        "--slow-sink-ms",
        type=float,
        default=50.0,
        help="also run 1 worker against a sink this slow per request (default 50)",
    )
    parser.add_argument(
        "--slow-messages",
        type=int,
        default=400,
        help="messages for the slow-sink runs (default 400; 0 skips them)",
    )
    parser.add_argument(
        "--startup-runs",
        type=positive,
        default=3,
        help="`worker --once` runs on the empty queue; the median is reported (default 3)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds the workers of one run may take before they are killed (default 600)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="TUOTEMPO_LOG_LEVEL of the workers (default WARNING; INFO logs every message)",
    )
    parser.add_argument(
        "--baseline",
        metavar="TREE",
        help="a source tree of the version to compare with (e.g. `git archive <rev> | tar -x "
        "-C /tmp/before`): each configuration also runs with workers importing it, "
        "interleaved with this checkout's, side by side",
    )
    parser.add_argument(
        "--repeat",
        type=positive,
        default=1,
        help="run the whole plan this many times, interleaved, and print medians (default 1)",
    )
    parser.add_argument(
        "--sink",
        choices=("lean", "stdlib"),
        default="lean",
        help="the HTTP sink: asyncio (lean, default) or http.server (stdlib, ~3x the CPU "
        "per request, taken from the same cores as the workers)",
    )
    parser.add_argument("--seed", type=int, default=20240521, help="seed for the generated data")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run worker w1 of each 1-worker run under cProfile (slower) and print its top",
    )
    parser.add_argument(
        "--top", type=positive, default=20, help="profile entries shown (default 20)"
    )
    args = parser.parse_args(argv)
    if args.sink_delay_ms < 0 or args.slow_sink_ms < 0:
        parser.error("--sink-delay-ms and --slow-sink-ms must be 0 or more")
    if args.slow_messages < 0:
        parser.error("--slow-messages must be 0 or more")
    if args.timeout <= 0:
        parser.error("--timeout must be more than 0")
    if args.baseline and not (Path(args.baseline) / "tuotempo_soap" / "__init__.py").is_file():
        parser.error("--baseline must be a source tree with a tuotempo_soap package")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends: list[tuple[str, list[int]]] = []
    if not args.postgres:
        backends.append(("sqlite", args.sqlite_workers))
    if args.postgres or args.all:
        backends.append(("postgresql", args.workers))
    codes = [BEFORE, AFTER] if args.baseline else [AFTER]
    plan = [
        Config(code, backend, workers, concurrency, args.sink_delay_ms, args.messages)
        for backend, worker_counts in backends
        for workers in worker_counts
        for concurrency in args.concurrency
        for code in codes
    ]
    if args.slow_messages:
        plan += [
            Config(code, backend, 1, concurrency, args.slow_sink_ms, args.slow_messages)
            for backend, _ in backends
            for concurrency in args.concurrency
            for code in codes
        ]
    results = []
    for repeat in range(args.repeat):
        for config in plan:
            with tempfile.TemporaryDirectory(prefix="tuotempo-bench-dispatch-") as tmp:
                profile = (
                    args.profile
                    and repeat == 0
                    and config.workers == 1
                    and not config.sink_delay_ms
                )
                result = run_config(args, config, Path(tmp), profile)
            results.append(result)
            print(
                f"[{repeat + 1}/{args.repeat}] {config.code}: {config.backend}, "
                f"{config.workers} worker(s), concurrency {config.concurrency}, "
                f"sink {config.sink_delay_ms:g} ms: {result.messages} messages in "
                f"{result.seconds:.2f}s ({result.rate:.0f} msg/s, "
                f"{result.requests - result.distinct_keys} duplicates)",
                file=sys.stderr,
            )
    print_table(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
