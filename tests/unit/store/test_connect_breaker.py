"""The connect breaker: fail fast while the database is known unreachable,
one trial at a time after a pause, closed again by the first success."""

from __future__ import annotations

from tuotempo_soap.store.engine import ConnectBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_until_a_connection_fails() -> None:
    breaker = ConnectBreaker(pause=1.0, monotonic=Clock())
    assert all(breaker.allow() for _ in range(5))
    breaker.record(True)
    assert breaker.allow()


def test_open_after_a_failure_then_one_trial_after_the_pause() -> None:
    clock = Clock()
    breaker = ConnectBreaker(pause=1.0, monotonic=clock)
    assert breaker.allow()
    breaker.record(False)
    assert not breaker.allow()
    clock.now += 0.99
    assert not breaker.allow()
    clock.now += 0.02
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # no second attempt while the trial runs
    breaker.record(False)
    assert not breaker.allow()  # a failed trial waits a new pause
    clock.now += 1.01
    assert breaker.allow()
    breaker.record(True)
    assert all(breaker.allow() for _ in range(3))


def test_a_busy_pool_says_nothing_about_the_database() -> None:
    clock = Clock()
    breaker = ConnectBreaker(pause=1.0, monotonic=clock)
    breaker.record(False)
    clock.now += 2
    assert breaker.allow()
    breaker.record(None)  # the trial met a full pool
    assert breaker.allow()  # still open: the next caller is the new trial
    assert not breaker.allow()
