"""How many slow connections (slowloris) does each way of running the server survive?

For each setup, in one run, on loopback only:

* ``serve``: ``tuotempo-soap serve`` (one gunicorn gthread worker, the settings of cli/serve.py);
* ``gunicorn.conf.py``: ``gunicorn -c gunicorn.conf.py tuotempo_soap.wsgi:application``;
* ``nginx``: deploy/nginx.conf (TLS, a self-signed certificate) in front of the same
  gunicorn.conf.py server (needs ``nginx`` on the PATH).

For N in ``--counts`` it opens N slow connections from 32 addresses 127.0.1.x (a partial request,
then one byte a second: ``--kind header`` never finishes the header, ``--kind body``
sends a whole header and trickles the body), waits ``--settle`` seconds, then sends
``--probes`` normal ``GET /healthz`` requests on new connections from 127.0.0.1, one
after the other. N is survived when every probe is answered within ``--limit`` (2 s).
The slow connections are then closed and the server gets up to 15 s to recover
before the next N. The ramp of a setup stops at its first failure.

Usage (from the repository root)::

    python bench/bench_slowloris.py                                   # all three, header
    python bench/bench_slowloris.py --kind body --setups serve,nginx
    python bench/bench_slowloris.py --counts 4,8,16,32,64,128,256,512

Figures per setup and N: slow connections held, reopened (closed by the server and
opened again), the probes' worst latency, and survived or not. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness lives with the tests it serves

from tests.e2e.conftest import start_gunicorn, stop_process  # noqa: E402
from tests.e2e.slowloris import (  # noqa: E402
    SlowClients,
    client_tls,
    free_port,
    nginx_binary,
    probe,
    raise_fd_limit,
    start_nginx,
)


@dataclass
class Target:
    name: str
    url: str
    cafile: Path | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.url.split("://", 1)[1].partition(":")
        return host, int(port)


@contextmanager
def serve_target(workdir: Path) -> Iterator[Target]:
    port = free_port()
    env = {**os.environ, "TUOTEMPO_DATA_DIR": str(workdir / "serve-data")}
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tuotempo_soap.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise RuntimeError("serve did not answer in 30 s")
        yield Target("serve", url)
    finally:
        stop_process(process)


@contextmanager
def gunicorn_target(workdir: Path) -> Iterator[Target]:
    workdir.mkdir(parents=True, exist_ok=True)
    process, url, _log = start_gunicorn(f"sqlite:///{workdir / 'gunicorn.db'}", workdir)
    try:
        yield Target("gunicorn.conf.py", url)
    finally:
        stop_process(process)


@contextmanager
def nginx_target(workdir: Path) -> Iterator[Target]:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    with gunicorn_target(workdir / "behind-nginx") as upstream:
        nginx = start_nginx(binary, workdir / "nginx", upstream.url.split("://", 1)[1])
        try:
            yield Target("nginx + gunicorn.conf.py", nginx.url, nginx.cafile)
        finally:
            nginx.stop()


SETUPS = {"serve": serve_target, "gunicorn": gunicorn_target, "nginx": nginx_target}


def _healthy(target: Target, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = probe("healthz", lambda t: _get(target, t))
        if result.seconds is not None:
            return True
        time.sleep(0.5)
    return False


def _get(target: Target, timeout: float) -> requests.Response:
    return requests.get(f"{target.url}/healthz", timeout=timeout, verify=str(target.cafile or True))


def ramp(target: Target, args: argparse.Namespace) -> None:
    host, port = target.host_port
    tls = client_tls(target.cafile) if target.cafile else None
    for count in args.counts:
        slow = SlowClients(host, port, count, kind=args.kind, tls=tls, max_seconds=args.settle + 60)
        with slow:
            time.sleep(args.settle)
            results = [
                probe("healthz", lambda t: _get(target, t), limit=args.limit)
                for _ in range(args.probes)
            ]
            held, reopened = slow.held, slow.reopened
        answered = [r.seconds for r in results if r.seconds is not None]
        survived = len(answered) == len(results)
        worst = f"{max(answered):.2f} s" if answered else "-"
        print(
            f"{target.name:<26} {count:>5} {held:>5} {reopened:>8} "
            f"{len(answered):>3}/{len(results):<3} {worst:>8}  {'yes' if survived else 'NO'}",
            flush=True,
        )
        if not _healthy(target, 15):
            print(f"{target.name}: did not recover within 15 s", flush=True)
            return
        if not survived:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", default="serve,gunicorn,nginx")
    parser.add_argument("--kind", choices=("header", "body"), default="header")
    parser.add_argument(
        "--counts",
        default="2,3,4,5,6,8,12,16,24,32,40,48,56,64,96,128,256",
        type=lambda text: [int(part) for part in text.split(",")],
    )
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--limit", type=float, default=2.0)
    args = parser.parse_args()
    raise_fd_limit(max(args.counts) * 2 + 256)
    print(f"slow {args.kind} connections; a probe counts when answered within {args.limit} s")
    print(f"{'setup':<26} {'slow':>5} {'held':>5} {'reopened':>8} {'answered':<7} {'worst':>8}  ok")
    with tempfile.TemporaryDirectory(prefix="bench-slowloris-") as tmp:
        for name in args.setups.split(","):
            workdir = Path(tmp) / name
            workdir.mkdir()
            with SETUPS[name](workdir) as target:
                ramp(target, args)


if __name__ == "__main__":
    main()
