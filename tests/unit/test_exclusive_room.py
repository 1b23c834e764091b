"""The lock that lets a load test run alone under pytest-xdist (tests/exclusive.py).

Each ExclusiveRoom opens its own file descriptions, as each xdist worker does,
so three rooms on one directory stand for three workers."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from tests.exclusive import ExclusiveRoom


def _enter(
    room: ExclusiveRoom, alone: bool, entered: threading.Event, leave: threading.Event
) -> None:
    with room.alone() if alone else room.shared():
        entered.set()
        leave.wait(10)


def _wait_until_turnstile_taken(directory: Path) -> None:
    """Bounded: until another description holds the turnstile (a test waiting for the room)."""
    with open(directory / "exclusive.turnstile", "ab") as probe:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            fcntl.flock(probe, fcntl.LOCK_UN)
            time.sleep(0.01)
    raise AssertionError("nobody took the turnstile")


def test_ordinary_tests_share_the_room(tmp_path: Path) -> None:
    first, second = ExclusiveRoom(tmp_path), ExclusiveRoom(tmp_path)
    try:
        with first.shared():
            entered, leave = threading.Event(), threading.Event()
            thread = threading.Thread(target=_enter, args=(second, False, entered, leave))
            thread.start()
            assert entered.wait(10), "a second ordinary test had to wait"
            leave.set()
            thread.join(10)
    finally:
        first.close()
        second.close()


def test_an_exclusive_test_waits_for_running_ones_and_keeps_new_ones_out(tmp_path: Path) -> None:
    running, exclusive, newcomer = (ExclusiveRoom(tmp_path) for _ in range(3))
    events = {name: (threading.Event(), threading.Event()) for name in ("exclusive", "newcomer")}
    threads = {
        "exclusive": threading.Thread(target=_enter, args=(exclusive, True, *events["exclusive"])),
        "newcomer": threading.Thread(target=_enter, args=(newcomer, False, *events["newcomer"])),
    }
    try:
        with running.shared():
            threads["exclusive"].start()
            # The exclusive test now holds the turnstile and waits for the room.
            _wait_until_turnstile_taken(tmp_path)
            threads["newcomer"].start()
            assert not events["exclusive"][0].wait(0.3), "ran beside a running test"
        # The running test left: the exclusive one goes in, the newcomer still waits.
        assert events["exclusive"][0].wait(10)
        assert not events["newcomer"][0].wait(0.3), "a new test started beside the exclusive one"
        events["exclusive"][1].set()
        assert events["newcomer"][0].wait(10), "the newcomer never got in"
        events["newcomer"][1].set()
    finally:
        for _, leave in events.values():
            leave.set()
        for thread in threads.values():
            if thread.is_alive() or thread.ident:
                thread.join(10)
        for room in (running, exclusive, newcomer):
            room.close()
