"""Reservations per second through gunicorn (``gunicorn.conf.py``), and where the CPU goes.

A real gunicorn (``gunicorn -c gunicorn.conf.py``) on 127.0.0.1 against a
throwaway PostgreSQL database (or SQLite), ``--clients`` threads each sending
100-item updateReservations batches of new reservations (new APP_LIDs, new
mobile numbers) over one keep-alive connection (``http.client``) for
``--seconds``. Every answer is checked (HTTP 200, ``CREATED`` 100) and at the
end the rows stored are counted against the reservations sent.

The load generator stays lean so the figures measure the server: each client
has a few envelopes built before the clock starts, with a 6-character marker
in every APP_LID and mobile number that is replaced by the batch number (one
bytes ``replace`` per request) so every batch is new to the server.

Each server measured (``--engines fast,spyne``: one per
``TUOTEMPO_SOAP_ENGINE``; or ``--variant`` for other settings or another
checkout) is started once; ``--rounds`` windows per server run interleaved
(A, B, B, A, ...) so load from elsewhere on the machine hits them alike, and
the medians over the rounds are printed with the ratio of the first server to
each other. For each window the CPU time of the gunicorn workers, of the
PostgreSQL backends serving the bench database, of this process (the clients)
and of everything else on the machine (from ``/proc``) is printed per request,
next to the idle time: on a 2-core machine that says who uses the cores.
Prints figures; asserts nothing.

    python bench/bench_gunicorn_throughput.py [--sqlite] [--clients 4] [--seconds 8] \
        [--rounds 3] [--engines fast,spyne]
    python bench/bench_gunicorn_throughput.py --variant now: \
        --variant 'before:TREE=/tmp/old-checkout' \
        --variant 'w4:GUNICORN_CMD_ARGS=--workers 4 --threads 8'
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_update_reservations import make_envelope, make_items  # noqa: E402
from databases import temporary_postgres  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from tests.conftest import make_instance  # noqa: E402
from tests.e2e.conftest import stop_process  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.store import tables  # noqa: E402
from tuotempo_soap.store.bootstrap import open_store  # noqa: E402
from tuotempo_soap.store.engine import Store, build_engine  # noqa: E402

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"updateReservations"'}
CREATED_ALL = b"<tns:CREATED>100</tns:CREATED>"
# Replaced by the batch number (6 digits): in APP_LID (unique) and in the
# mobile number ("6" + batch + item: a new Spanish mobile for every item).
MARK = b"~~~~~~"
TEMPLATES_PER_CLIENT = 8
TICK = os.sysconf("SC_CLK_TCK")


def templates(
    rng: random.Random, credentials: dict[str, str], client: int, patients: list[str]
) -> list[bytes]:
    """Envelopes of 100 realistic items with ``MARK`` where the batch number goes.

    Without ``patients`` every item has a mobile number never sent before (the
    batch number is part of it); with them, each item's number is one of theirs.
    """
    out = []
    for t in range(TEMPLATES_PER_CLIENT):
        items = make_items(rng, f"c{client}t{t}")
        for n, item in enumerate(items):
            item["APP_LID"] = f"C{client}-{MARK.decode()}-{n:02d}"
            fresh = f"6{MARK.decode()}{n:02d}"
            item["USER_MOBILE_PHONE"] = rng.choice(patients) if patients else fresh
        out.append(make_envelope(credentials, items))
    return out


# --- CPU accounting from /proc ---------------------------------------------------


def process_ticks(pid: int) -> int:
    """utime + stime of one process (all its threads), in clock ticks; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def machine_ticks() -> tuple[int, int]:
    """(busy, idle) ticks of the whole machine, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    busy = sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy, idle


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@dataclass
class CpuSnapshot:
    workers: dict[int, int]
    backends: dict[int, int]
    client: float
    machine: tuple[int, int]


class CpuMeter:
    """CPU of the gunicorn workers, the bench database's backends, this process, the rest."""

    def __init__(self, gunicorn_pid: int, database_url: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        url = make_url(database_url)
        self.database = url.database if url.get_backend_name() == "postgresql" else None
        # Asked on the server's maintenance database, so the question is no backend of ours.
        self.admin = (
            build_engine(url.set(database="postgres").render_as_string(hide_password=False))
            if self.database
            else None
        )

    def backend_pids(self) -> list[int]:
        if self.admin is None:
            return []
        with self.admin.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %(name)s",
                {"name": self.database},
            )
            return [int(pid) for (pid,) in rows]

    def snapshot(self) -> CpuSnapshot:
        times = os.times()
        return CpuSnapshot(
            workers={pid: process_ticks(pid) for pid in children(self.gunicorn_pid)},
            backends={pid: process_ticks(pid) for pid in self.backend_pids()},
            client=times.user + times.system,
            machine=machine_ticks(),
        )

    @staticmethod
    def spent(before: dict[int, int], after: dict[int, int]) -> float:
        """Seconds; a process that appeared in between counts from its start."""
        return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / TICK

    def sample_waits(self, stop: threading.Event, into: list[tuple[int, int]]) -> None:
        """Every 100 ms until ``stop``: (backends of the bench database waiting
        for a lock, backends running a statement). Waiting ones queue behind
        the instance's change lock: the serial part of a batch."""
        if self.admin is None:
            return
        with self.admin.connect() as connection:
            while not stop.wait(0.1):
                waiting, active = connection.exec_driver_sql(
                    "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
                    " count(*) FILTER (WHERE state = 'active')"
                    " FROM pg_stat_activity WHERE datname = %(name)s"
                    " AND backend_type = 'client backend'",
                    {"name": self.database},
                ).one()
                into.append((int(waiting), int(active)))
                connection.rollback()

    def dispose(self) -> None:
        if self.admin is not None:
            self.admin.dispose()


# --- one measured window ----------------------------------------------------------


@dataclass
class Window:
    label: str
    reservations: int
    wall: float
    latencies: list[float]
    failures: list[str]
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, by who
    # Mean backends waiting for a lock / running a statement (PostgreSQL only).
    lock_waiting: float = 0.0
    db_active: float = 0.0

    @property
    def rate(self) -> float:
        return self.reservations / self.wall

    @property
    def requests(self) -> int:
        return len(self.latencies)


def connect(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()  # TCP_NODELAY is set by http.client
    return connection


def post(connection: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    connection.request("POST", "/soap", body, HEADERS)
    answer = connection.getresponse()
    return answer.status, answer.read()


def measure(
    label: str,
    port: int,
    bodies: list[list[bytes]],
    batch_numbers: Iterator[int],
    seconds: float,
    meter: CpuMeter,
) -> tuple[Window, int]:
    """One window; returns it and the reservations stored by the warm-up requests."""
    connections = [connect(port) for _ in bodies]
    warmed = 0
    # Warm-up, one client after the other: each worker verifies the password once
    # (Argon2, then cached) without racing the others for the hashing slots.
    for connection, own in zip(connections, bodies, strict=True):
        body = own[0].replace(MARK, b"%06d" % next(batch_numbers))
        status, answer = post(connection, body)
        if status != 200 or CREATED_ALL not in answer:
            raise RuntimeError(f"warm-up failed {status}: {answer[:300]!r}")
        warmed += 100
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(bodies) + 1)
    stop_at = [0.0]

    def client(connection: http.client.HTTPConnection, own: list[bytes]) -> None:
        mine: list[float] = []
        start.wait()
        deadline = stop_at[0]
        for number in batch_numbers:
            body = own[number % len(own)].replace(MARK, b"%06d" % number)
            started = time.perf_counter()
            try:
                status, answer = post(connection, body)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                break
            mine.append(time.perf_counter() - started)
            if status != 200 or CREATED_ALL not in answer:
                with lock:
                    failures.append(f"HTTP {status}: {answer[:200]!r}")
                mine.pop()
            if time.monotonic() >= deadline:
                break
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=client, args=(connection, own))
        for connection, own in zip(connections, bodies, strict=True)
    ]
    for thread in threads:
        thread.start()
    waits: list[tuple[int, int]] = []
    sampling = threading.Event()
    sampler = threading.Thread(target=meter.sample_waits, args=(sampling, waits))
    sampler.start()
    before = meter.snapshot()
    began = time.monotonic()
    stop_at[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - began
    after = meter.snapshot()
    sampling.set()
    sampler.join()
    for connection in connections:
        connection.close()
    workers = meter.spent(before.workers, after.workers)
    backends = meter.spent(before.backends, after.backends)
    client_cpu = after.client - before.client
    busy = (after.machine[0] - before.machine[0]) / TICK
    idle = (after.machine[1] - before.machine[1]) / TICK
    window = Window(
        label,
        reservations=100 * len(latencies),
        wall=wall,
        latencies=latencies,
        failures=failures,
        cpu={
            "workers": workers,
            "postgres": backends,
            "client": client_cpu,
            "other": max(0.0, busy - workers - backends - client_cpu),
            "idle": idle,
        },
    )
    if waits:
        window.lock_waiting = statistics.mean(w for w, _ in waits)
        window.db_active = statistics.mean(a for _, a in waits)
    return window, warmed


def describe(window: Window) -> str:
    ordered = sorted(window.latencies) or [0.0]
    median = statistics.median(ordered) * 1000
    p95 = ordered[int(0.95 * (len(ordered) - 1))] * 1000
    per_request = {
        who: seconds * 1000 / max(1, window.requests) for who, seconds in window.cpu.items()
    }
    cpu = "  ".join(f"{who} {ms:4.1f}" for who, ms in per_request.items())
    failed = f"  FAILED {len(window.failures)}" if window.failures else ""
    cpu += f"  | lock-waiting {window.lock_waiting:.2f} of {window.db_active:.2f} active"
    return (
        f"{window.label:8s} {window.rate:7.0f} reservations/s  {window.requests / window.wall:5.1f}"
        f" req/s  median {median:4.0f} ms  p95 {p95:4.0f} ms  | CPU ms/request: {cpu}{failed}"
    )


def stored(store: Store, instance_name: str) -> int:
    with store.engine.connect() as connection:
        instance_id = connection.execute(
            select(tables.instances.c.id).where(tables.instances.c.name == instance_name)
        ).scalar_one()
        return int(
            connection.execute(
                select(func.count()).where(tables.reservations.c.instance_id == instance_id)
            ).scalar_one()
        )


@dataclass
class Variant:
    """One server to measure: a label, extra environment, and the source tree it runs."""

    label: str
    env: dict[str, str]
    tree: Path = ROOT


def variant(text: str) -> Variant:
    """``label:KEY=VALUE;KEY=VALUE``; the key TREE names another checkout to run (before/after)."""
    label, _, spec = text.partition(":")
    env = dict(part.split("=", 1) for part in spec.split(";") if part.strip())
    tree = Path(env.pop("TREE")).resolve() if "TREE" in env else ROOT
    return Variant(label.strip(), env, tree)


def start_server(
    database_url: str, workdir: Path, chosen: Variant
) -> tuple[subprocess.Popen[bytes], int]:
    """``gunicorn -c gunicorn.conf.py`` of the variant's tree, run from that tree."""
    port = free_port()
    log = workdir / f"gunicorn-{chosen.label}.log"
    env = {
        **os.environ,
        "TUOTEMPO_DATABASE_URL": database_url,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
        "TUOTEMPO_AUTO_MIGRATE": "0",
        **chosen.env,
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(chosen.tree / "gunicorn.conf.py")]
    command += ["--bind", f"127.0.0.1:{port}", "tuotempo_soap.wsgi:application"]
    process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
        command, cwd=chosen.tree, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return process, port
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"gunicorn did not answer in 60 s: {log.read_text()[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    label: str
    process: subprocess.Popen[bytes]
    port: int
    instances: list[str]
    bodies: list[list[bytes]]
    meter: CpuMeter
    expected: int = 0
    windows: list[Window] = field(default_factory=list)


def run(args: argparse.Namespace, database_url: str, workdir: Path) -> None:
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=True)
    rng = random.Random(7)
    batch_numbers = itertools.count(1)
    servers: list[Server] = []
    try:
        for chosen in args.variants:
            # All clients act for one instance (one HIS), unless --instances says otherwise.
            logins = [make_instance(store).auth() for _ in range(max(1, args.instances))]
            patients = [f"6{rng.randrange(10**8):08d}" for _ in range(args.patients)]
            bodies = [
                templates(rng, logins[c % len(logins)], c, patients) for c in range(args.clients)
            ]
            process, port = start_server(database_url, workdir, chosen)
            meter = CpuMeter(process.pid, database_url)
            servers.append(
                Server(
                    chosen.label,
                    process,
                    port,
                    [login["INSTANCE"] for login in logins],
                    bodies,
                    meter,
                )
            )
        backend = make_url(database_url).get_backend_name()
        phones = f"numbers of {args.patients} patients" if args.patients else "new numbers"
        print(
            f"{backend}, {args.clients} clients, {args.instances} instance(s), "
            f"{phones}, "
            f"{args.rounds} rounds of {args.seconds:.0f} s per server; "
            f"load average {load_average()}"
        )
        for round_ in range(args.rounds):
            order = servers if round_ % 2 == 0 else servers[::-1]
            for server in order:
                window, warmed = measure(
                    server.label,
                    server.port,
                    server.bodies,
                    batch_numbers,
                    args.seconds,
                    server.meter,
                )
                server.expected += warmed + window.reservations
                server.windows.append(window)
                print(f"  round {round_ + 1}: {describe(window)}")
                for failure in window.failures[:3]:
                    print(f"    {failure}")
        print(f"medians over {args.rounds} rounds (load average now {load_average()}):")
        rates = {}
        for server in servers:
            windows = server.windows
            rates[server.label] = statistics.median(w.rate for w in windows)
            latencies = [statistics.median(w.latencies) * 1000 for w in windows if w.latencies]
            cpu = {
                who: statistics.median(w.cpu[who] * 1000 / max(1, w.requests) for w in windows)
                for who in windows[0].cpu
            }
            count = sum(stored(store, name) for name in server.instances)
            check = "all stored" if count == server.expected else "MISMATCH"
            print(
                f"  {server.label:8s} {rates[server.label]:7.0f} reservations/s, median request "
                f"{statistics.median(latencies):.0f} ms, CPU ms/request "
                + "  ".join(f"{who} {ms:.1f}" for who, ms in cpu.items())
                + f"; rows {count} of {server.expected} sent ({check})"
            )
        first = servers[0].label
        for server in servers[1:]:
            print(f"  {first} / {server.label}: {rates[first] / rates[server.label]:.2f}x")
    finally:
        for server in servers:
            stop_process(server.process)
            server.meter.dispose()
        store.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument(
        "--postgres-server", default="postgresql://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="instances the clients act for (default 1: one HIS; each instance's writes "
        "are serialised by its change lock)",
    )
    parser.add_argument(
        "--patients",
        type=int,
        default=0,
        help="draw the items' mobile numbers from this many patients (default 0: every item "
        "a number never seen before, the costliest case for the phone check)",
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one window")
    parser.add_argument("--rounds", type=int, default=3, help="windows per server")
    parser.add_argument(
        "--engines",
        default="fast,spyne",
        help="comma-separated TUOTEMPO_SOAP_ENGINE values, one server each (default fast,spyne)",
    )
    parser.add_argument(
        "--variant",
        type=variant,
        action="append",
        default=[],
        help="instead of --engines: 'label:KEY=VALUE;KEY=VALUE' (environment of that server, "
        "e.g. GUNICORN_CMD_ARGS=--workers 4; TREE=/path runs another checkout); repeatable",
    )
    args = parser.parse_args()
    args.variants = args.variant or [
        Variant(engine, {"TUOTEMPO_SOAP_ENGINE": engine})
        for engine in (e.strip() for e in args.engines.split(","))
        if engine
    ]
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        if args.sqlite:
            run(args, f"sqlite:///{workdir}/bench.db", workdir)
        else:
            with temporary_postgres(args.postgres_server, prefix="bench_gunicorn") as url:
                run(args, url, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
