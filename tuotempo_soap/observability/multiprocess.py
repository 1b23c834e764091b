"""prometheus_client's multiprocess mode under gunicorn: one /metrics for all workers.

Each process writes its metric values to files in ``PROMETHEUS_MULTIPROC_DIR``
and a scrape, in whichever worker serves it, adds all the files up. The
variable must be set before prometheus_client is imported, so gunicorn.conf.py
calls ``use_multiprocess_dir()`` in the master while it reads its settings,
before the application is loaded: an operator's directory is used as it is
(shared with ``tuotempo-soap worker`` and ``poll`` their counters show on the
same /metrics); without one, a private temporary directory lives as long as
the master (``on_exit`` removes it).

A dead worker's files stay: its counts are part of the totals. So that they
do not pile up (``max_requests`` replaces workers all day), ``child_exit``
folds them into one archive file per metric type and deletes them, under an
exclusive lock that scrapes share (``reading``), so no scrape counts a worker
twice or not at all. This module imports prometheus_client only inside those
functions.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
# Which directory this server made for itself (a re-executed master, gunicorn's
# USR2 upgrade, inherits the variable but makes its own: the old master
# removes its directory when it exits).
_PRIVATE_ENV = "_TUOTEMPO_PRIVATE_METRICS_DIR"  # not a setting: no TUOTEMPO_ prefix
_LOCK_FILE = ".lock"  # not *.db: prometheus_client reads every *.db file
_ARCHIVED_TYPES = ("counter", "histogram")
_made: dict[str, str] = {}


def use_multiprocess_dir() -> str:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for this process and its children; return it."""
    current = os.environ.get(ENV)
    inherited_private = current is not None and current == os.environ.get(_PRIVATE_ENV)
    if current and (not inherited_private or current == _made.get("dir")):
        os.makedirs(current, exist_ok=True)
        return current
    made = tempfile.mkdtemp(prefix="tuotempo-metrics-")
    _made["dir"] = made
    os.environ[ENV] = made
    os.environ[_PRIVATE_ENV] = made
    return made


@contextmanager
def _locked(path: str, mode: int) -> Iterator[None]:
    with open(os.path.join(path, _LOCK_FILE), "a+b") as lock:
        fcntl.flock(lock.fileno(), mode)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def reading(path: str) -> Any:
    """Held while a scrape reads the files."""
    return _locked(path, fcntl.LOCK_SH)


def retire(pid: int, path: str | None = None) -> None:
    """What to do when process ``pid`` has exited: drop its live gauges and fold
    its counters and histograms into the archive files."""
    path = path or os.environ.get(ENV)
    if not path or not os.path.isdir(path):
        return
    from prometheus_client import multiprocess
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    multiprocess.mark_process_dead(pid, path)
    with _locked(path, fcntl.LOCK_EX):
        for kind in _ARCHIVED_TYPES:
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead):
                continue
            archive = os.path.join(path, f"{kind}_archive.db")
            sources = [name for name in (archive, dead) if os.path.exists(name)]
            # accumulate=False: the values as stored (histogram buckets not cumulative).
            merged = multiprocess.MultiProcessCollector.merge(sources, accumulate=False)
            partial = os.path.join(path, f".{kind}_archive.partial")
            if os.path.exists(partial):
                os.remove(partial)
            written = MmapedDict(partial)
            try:
                for metric in merged:
                    for sample in metric.samples:
                        key = mmap_key(
                            metric.name,
                            sample.name,
                            list(sample.labels),
                            list(sample.labels.values()),
                            metric.documentation,
                        )
                        written.write_value(key, sample.value, 0.0)
            finally:
                written.close()
            os.replace(partial, archive)
            os.remove(dead)


# --- gunicorn server hooks (gunicorn.conf.py names them) ----------------------


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's master, after a worker exited (a crash, max_requests, a reload)."""
    try:
        retire(worker.pid)
    except Exception as exc:  # metrics housekeeping must never stop the master
        server.log.warning("metrics files of worker %s kept: %s", worker.pid, type(exc).__name__)


def on_exit(server: Any) -> None:
    """gunicorn's master, stopping (its workers are gone and folded in by now):
    its own files are folded in too, and a private directory goes."""
    made = _made.pop("dir", None)
    if made is not None:
        shutil.rmtree(made, ignore_errors=True)
        return
    try:
        retire(os.getpid())
    except Exception as exc:
        server.log.warning("metrics files of the master kept: %s", type(exc).__name__)
