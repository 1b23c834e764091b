"""What does a flood of wrong passwords do to a valid client and to the workers' memory?

Starts a real ``gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application`` on
127.0.0.1 (a fresh SQLite file, or a temporary PostgreSQL database with
``--postgres``), creates one instance with one API user, then:

1. idle: ``--idle-calls`` getReservations of the valid client (127.0.0.1), one
   after the other, 20 ms apart (its password is cached in every worker first);
2. flood: ``--threads`` attackers on keep-alive connections from ``--addresses``
   other loopback addresses (127.0.1.x) send wrong passwords, each at most R a
   second (even threads guess the valid user's password, odd threads spray
   made-up users), at most ``--max-requests`` or ``--seconds``; meanwhile the
   valid client keeps calling, and the workers' RSS (/proc/<pid>/status, children
   of the gunicorn master) is sampled every 20 ms.

One fresh server per R in ``--rates`` (default ``20,0``; 0 = as fast as answers
come back). Unpaced, the flood measures the cost of any request on a 2-core
machine that also runs the load generator (a flood of malformed envelopes slows
the valid client as much): in production a proxy's per-address rate limit
(deploy/nginx.conf) stands in front of that.

Usage (from the repository root)::

    python bench/bench_auth_flood.py
    python bench/bench_auth_flood.py --postgres --threads 32 --addresses 32 --rates 10
    python bench/bench_auth_flood.py --env TUOTEMPO_AUTH_MAX_CONCURRENT_HASHES=2

Figures: the valid client's median and p95 ms idle and under the flood (and their
ratio), each worker's RSS before and its growth at the peak, and what the flood's
requests were answered (fault codes). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness lives with the tests it serves

from databases import temporary_postgres  # noqa: E402  (bench/databases.py)

from tests.e2e.authflood import percentile, run_flood  # noqa: E402
from tests.e2e.conftest import start_gunicorn, stop_process  # noqa: E402
from tuotempo_soap.config import Settings  # noqa: E402
from tuotempo_soap.services import instances  # noqa: E402
from tuotempo_soap.store.bootstrap import open_store  # noqa: E402


@contextmanager
def database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if args.postgres:
        with temporary_postgres(args.postgres_url, prefix="bench_auth") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'bench.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TUOTEMPO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--addresses", type=int, default=8)
    parser.add_argument(
        "--rates", default="20,0", help="requests a second per attacker thread; 0 = unpaced"
    )
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--idle-calls", type=int, default=60)
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)"
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)

    for rate in (float(part) for part in args.rates.split(",")):
        run_one(args, extra, rate)


def run_one(args: argparse.Namespace, extra: dict[str, str], rate: float) -> None:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-auth-")))
        url = stack.enter_context(database(args, workdir))
        store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": url}), migrate=True)
        stack.callback(store.dispose)
        instances.create_instance(store, "tt_bench_auth")
        password = "bench-password-1234"
        instances.add_user(store, "tt_bench_auth", "his", password)

        process, base, _ = start_gunicorn(url, workdir, extra_env=extra)
        stack.callback(stop_process, process)
        port = int(urlsplit(base).port or 0)
        result = run_flood(
            process.pid,
            port,
            "tt_bench_auth",
            "his",
            password,
            threads=args.threads,
            rate=rate,
            addresses=args.addresses,
            max_requests=args.max_requests,
            max_seconds=args.seconds,
            idle_calls=args.idle_calls,
        )

    ms = 1000.0
    backend = "PostgreSQL" if args.postgres else "SQLite"
    pace = f"{rate:g}/s each" if rate else "unpaced"
    print(f"\nserver: gunicorn.conf.py, {backend}, {extra or 'default settings'}")
    print(
        f"flood: {args.threads} threads ({pace}) from {args.addresses} addresses, "
        f"{result.flood.sent} requests in {args.seconds:g} s at most, "
        f"{result.flood.errors} connection errors"
    )
    for code, count in result.flood.answers.most_common():
        print(f"  {code:28} {count}")
    print(f"{'valid client':14} {'calls':>6} {'median ms':>10} {'p95 ms':>10}")
    for name, values in (("idle", result.idle), ("under flood", result.flooded)):
        if values:
            print(
                f"{name:14} {len(values):>6} {ms * percentile(values, 0.5):>10.1f} "
                f"{ms * percentile(values, 0.95):>10.1f}"
            )
    if result.flooded:
        print(f"median ratio (flood / idle): {result.flood_median / result.idle_median:.2f}")
    for pid, growth in result.growth_mib.items():
        print(
            f"worker {pid}: RSS before {result.before_mib[pid]:.0f} MiB, "
            f"peak growth {growth:.0f} MiB"
        )


if __name__ == "__main__":
    main()
