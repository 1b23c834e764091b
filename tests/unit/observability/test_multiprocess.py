"""prometheus_client's multiprocess mode as gunicorn.conf.py sets it up: the
directory, and a dead worker's files folded into the archive without changing
any total."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tuotempo_soap.observability import multiprocess

WORK = """
import sys
from tuotempo_soap.observability import metrics
n = int(sys.argv[1])
for _ in range(n):
    metrics.observe_soap_request("getReservations", None, 0.02)
metrics.observe_soap_request("updateMessages", "Client.ValidationError", 0.3)
metrics.observe_batch("updateMessages", 40 * n)
metrics.count_sends([("sms-gw", "sent")] * n + [("sms-gw", "retry")])
print(__import__("os").getpid())
"""


def _run_worker(directory: Path, n: int) -> int:
    """A process doing some counted work with ``directory`` as its metrics files."""
    done = subprocess.run(
        [sys.executable, "-c", WORK, str(n)],
        env={**os.environ, multiprocess.ENV: str(directory)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(done.stdout.strip())


def _totals(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    collector = MultiProcessCollector(None, path=str(directory))
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in collector.collect()
        for sample in metric.samples
    }


def test_a_dead_workers_counts_stay_in_the_totals_and_its_files_go(tmp_path: Path) -> None:
    first, second = _run_worker(tmp_path, 3), _run_worker(tmp_path, 5)
    before = _totals(tmp_path)
    assert (
        before[("tuotempo_soap_requests_total", (("fault", ""), ("operation", "getReservations")))]
        == 8
    )
    assert (
        before[("tuotempo_dispatch_sends_total", (("outcome", "sent"), ("provider", "sms-gw")))]
        == 8
    )
    multiprocess.retire(first, str(tmp_path))
    assert _totals(tmp_path) == before
    multiprocess.retire(second, str(tmp_path))
    assert _totals(tmp_path) == before
    files = sorted(path.name for path in tmp_path.glob("*.db"))
    assert files == ["counter_archive.db", "histogram_archive.db"]
    # A worker started later adds to the archived totals.
    third = _run_worker(tmp_path, 2)
    after = _totals(tmp_path)
    key = (
        "tuotempo_soap_request_duration_seconds_count",
        (("operation", "getReservations"), ("result", "ok")),
    )
    assert after[key] == before[key] + 2
    multiprocess.retire(third, str(tmp_path))
    assert _totals(tmp_path) == after


def test_the_directory_is_the_operators_or_a_private_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multiprocess, "_made", {})
    chosen = tmp_path / "shared"
    monkeypatch.setenv(multiprocess.ENV, str(chosen))
    monkeypatch.delenv(multiprocess._PRIVATE_ENV, raising=False)
    assert multiprocess.use_multiprocess_dir() == str(chosen) and chosen.is_dir()
    multiprocess.on_exit(None)
    assert chosen.is_dir()  # the operator's is never removed

    monkeypatch.delenv(multiprocess.ENV)
    private = multiprocess.use_multiprocess_dir()
    assert os.environ[multiprocess.ENV] == private and Path(private).is_dir()
    assert multiprocess.use_multiprocess_dir() == private  # a reload keeps it
    # A re-executed master (gunicorn's USR2) inherits the variable and makes its own.
    monkeypatch.setattr(multiprocess, "_made", {})
    fresh = multiprocess.use_multiprocess_dir()
    assert fresh != private
    multiprocess.on_exit(None)
    assert not Path(fresh).exists()
    os.rmdir(private)
