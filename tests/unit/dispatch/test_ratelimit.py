"""The token bucket, on a fake clock: nothing here really sleeps."""

from __future__ import annotations

import threading

import pytest

from tuotempo_soap.dispatch.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(rate: float | None, burst: int | None = None) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, burst, clock=clock, sleep=clock.sleep), clock


def test_no_rate_means_no_limit() -> None:
    bucket, clock = limiter(None)
    assert bucket.unlimited
    for _ in range(1000):
        bucket.acquire()
        assert bucket.try_acquire()
    assert clock.sleeps == []


def test_a_burst_then_one_token_per_interval() -> None:
    bucket, clock = limiter(2, burst=2)
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.now += 0.25
    assert not bucket.try_acquire()
    clock.now += 0.25
    assert bucket.try_acquire()
    assert not bucket.try_acquire()


def test_acquire_sleeps_exactly_until_the_next_token() -> None:
    bucket, clock = limiter(4, burst=1)
    bucket.acquire()
    assert clock.sleeps == []
    bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.25)]
    bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.25), pytest.approx(0.25)]


def test_sustained_rate_holds_over_many_sends() -> None:
    bucket, clock = limiter(10, burst=5)
    start = clock.now
    for _ in range(105):
        bucket.acquire()
    # The first five ride the burst; the other hundred cost a tenth of a second each.
    assert clock.now - start == pytest.approx(10.0)


def test_idle_time_saves_up_no_more_than_the_burst() -> None:
    bucket, clock = limiter(1, burst=3)
    for _ in range(3):
        assert bucket.try_acquire()
    clock.now += 3600
    assert [bucket.try_acquire() for _ in range(5)] == [True, True, True, False, False]


def test_waiters_queue_up_instead_of_sharing_one_token() -> None:
    clock = FakeClock()
    waits: list[float] = []
    bucket = RateLimiter(1, 1, clock=clock, sleep=waits.append)  # sleeping moves no clock
    assert bucket.try_acquire()
    # Three callers arrive at the same instant: each reserves the next free
    # slot, so they wait 1, 2 and 3 seconds rather than all waking for one token.
    for _ in range(3):
        bucket.acquire()
    assert waits == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]
    assert not bucket.try_acquire()


def test_default_burst_is_one_second_of_tokens() -> None:
    assert RateLimiter(20).burst == 20
    assert RateLimiter(2.5).burst == 3
    assert RateLimiter(0.2).burst == 1


@pytest.mark.parametrize(("rate", "burst"), [(0, None), (-1, None), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(rate, burst)


def test_threads_never_get_more_tokens_than_there_are() -> None:
    bucket, _clock = limiter(1, burst=50)  # the fake clock never moves: no refills
    granted: list[bool] = []
    lock = threading.Lock()

    def grab() -> None:
        for _ in range(20):
            ok = bucket.try_acquire()
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(granted) == 160
    assert sum(granted) == 50
