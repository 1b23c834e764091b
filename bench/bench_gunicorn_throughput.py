"""Reservations per second through gunicorn (``gunicorn.conf.py``), per SOAP engine.

A real gunicorn on 127.0.0.1 against a throwaway PostgreSQL database (or SQLite),
``--clients`` threads each sending 100-item updateReservations batches of new
reservations for ``--seconds``; the two engines (``TUOTEMPO_SOAP_ENGINE=spyne``,
the old path, and ``fast``) run one after the other in the same run, so the
ratio is measured under the same conditions. Prints figures; asserts nothing.

    python bench/bench_gunicorn_throughput.py [--sqlite] [--clients 4] [--seconds 15]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_update_reservations import make_envelope, make_items  # noqa: E402
from databases import temporary_postgres  # noqa: E402

from tests.conftest import make_instance  # noqa: E402
from tests.e2e.conftest import start_gunicorn, stop_process  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.store.bootstrap import open_store  # noqa: E402

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"updateReservations"'}


def measure(url: str, bodies: list[list[bytes]], seconds: float) -> tuple[int, list[float]]:
    """Send each client's bodies in turn until time is up; (reservations, latencies)."""
    stop_at = time.monotonic() + seconds
    latencies: list[float] = []
    sent = [0]
    lock = threading.Lock()

    def client(own: list[bytes]) -> None:
        session = requests.Session()
        for body in own:
            if time.monotonic() >= stop_at:
                break
            started = time.perf_counter()
            answer = session.post(f"{url}/soap", data=body, headers=HEADERS, timeout=60)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200 or b"<tns:RESULT>OK</tns:RESULT>" not in answer.content:
                raise RuntimeError(f"unexpected answer {answer.status_code}: {answer.text[:300]}")
            with lock:
                latencies.append(elapsed)
                sent[0] += 100

    threads = [threading.Thread(target=client, args=(own,)) for own in bodies]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent[0], [time.monotonic() - started, *latencies]


def run(database_url: str, clients: int, seconds: float, batches: int) -> None:
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=True)
    rng = random.Random(7)
    results = {}
    for engine in ("spyne", "fast"):
        credentials = make_instance(store).auth()
        bodies = [
            [
                make_envelope(credentials, make_items(rng, f"{engine}-{c}-{b}"))
                for b in range(batches)
            ]
            for c in range(clients)
        ]
        with tempfile.TemporaryDirectory() as workdir:
            process, url, _log = start_gunicorn(
                database_url,
                Path(workdir),
                extra_env={"TUOTEMPO_SOAP_ENGINE": engine, "TUOTEMPO_AUTO_MIGRATE": "0"},
            )
            try:
                # Warm up: each worker verifies the password once (Argon2), fills caches.
                for own in bodies:
                    requests.post(f"{url}/soap", data=own.pop(), headers=HEADERS, timeout=60)
                reservations, timing = measure(url, bodies, seconds)
            finally:
                stop_process(process)
        wall, latencies = timing[0], timing[1:]
        results[engine] = reservations / wall
        p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))] * 1000
        median = statistics.median(latencies) * 1000
        print(
            f"{engine:5s}: {reservations / wall:8.0f} reservations/s  "
            f"({len(latencies) / wall:5.1f} requests/s, median {median:.0f} ms, "
            f"p95 {p95:.0f} ms, {clients} clients, {wall:.1f} s)"
        )
    store.dispose()
    print(f"fast / spyne: {results['fast'] / results['spyne']:.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--postgres-server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--batches", type=int, default=400, help="prepared batches per client")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as directory:
            run(f"sqlite:///{directory}/bench.db", args.clients, args.seconds, args.batches)
    else:
        with temporary_postgres(args.postgres_server, prefix="bench_gunicorn") as url:
            run(url, args.clients, args.seconds, args.batches)
    return 0


if __name__ == "__main__":
    sys.exit(main())
