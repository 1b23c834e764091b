"""Tests that must have the machine to themselves while pytest-xdist runs others.

A load test compares a valid client's latency during a flood with its latency
at rest. On a 2-core machine a test running on the other xdist worker at the
same time takes a share of the cores the flood test measures, and skews the
ratio either way. A test marked ``exclusive`` therefore waits until no other
test runs, and no other test starts until it ends.

The workers coordinate through two ``flock`` files in the session's shared
temporary directory: a readers-writer lock (``room``: every test holds it
shared, an exclusive test holds it alone) behind a turnstile (``turnstile``:
taken briefly by every test on its way in, held by an exclusive test while it
waits), so a waiting exclusive test is not starved by other workers' tests
taking the shared lock one after another. A worker that dies releases its
locks with its file descriptors. Without xdist the tests already run one at a
time and nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

MARKER = "exclusive"


class ExclusiveRoom:
    """The two lock files of one test session, opened once per worker process."""

    def __init__(self, directory: Path) -> None:
        self._turnstile: IO[bytes] = open(directory / "exclusive.turnstile", "ab")  # noqa: SIM115
        self._room: IO[bytes] = open(directory / "exclusive.room", "ab")  # noqa: SIM115

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Run beside other ordinary tests, never beside an exclusive one."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._room, fcntl.LOCK_SH)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(self._room, fcntl.LOCK_UN)

    @contextmanager
    def alone(self) -> Iterator[None]:
        """Wait for the tests running on other workers to end; keep new ones out."""
        fcntl.flock(self._turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._room, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._room, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._turnstile, fcntl.LOCK_UN)

    def close(self) -> None:
        self._turnstile.close()
        self._room.close()


def running_under_xdist() -> bool:
    return "PYTEST_XDIST_WORKER" in os.environ
