"""A flood of wrong passwords against a real gunicorn (gunicorn.conf.py) leaves a valid
client fast and the workers' memory bounded.

Before the defence, each wrong password cost a worker 64 MiB and ~150 ms of Argon2,
as many at once as there were threads: the same flood made the valid client's
median latency 15 to 150 times its idle figure and grew each worker by 257 MiB.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import make_instance
from tests.e2e.authflood import run_flood
from tests.e2e.conftest import start_gunicorn
from tuotempo_soap.store.engine import Store

# The ratio of two latencies measured on this machine: no other test may share its cores.
pytestmark = [pytest.mark.e2e, pytest.mark.exclusive]


def test_a_flood_of_wrong_passwords_leaves_a_valid_client_fast_and_memory_bounded(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    his = make_instance(store)
    process, base, log = start_gunicorn(database_url, tmp_path)
    try:
        # 16 attackers from 8 loopback addresses, each at most 10 wrong passwords
        # a second (a flood of any cheap request faster than that measures this
        # 2-core machine, load generator included, not the password path), 8 s.
        result = run_flood(
            process.pid,
            int(urlsplit(base).port or 0),
            his.instance,
            his.username,
            his.password,
            threads=16,
            rate=10,
            addresses=8,
            max_requests=3000,
            max_seconds=8.0,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    figures = (
        f"idle median {result.idle_median * 1000:.1f} ms, "
        f"flood median {result.flood_median * 1000:.1f} ms over {len(result.flooded)} calls, "
        f"flood {result.flood.sent} requests {dict(result.flood.answers)}, "
        f"RSS growth MiB {result.growth_mib}"
    )
    assert len(result.flooded) >= 20, figures
    assert result.flood_median <= 3 * result.idle_median, figures
    assert result.growth_mib and max(result.growth_mib.values()) < 100, figures
    # The throttle answered the attackers, not only the bound on hashing.
    assert result.flood.answers["Client.TooManyAttempts"] > 0, figures
    assert "Traceback" not in log.read_text()
