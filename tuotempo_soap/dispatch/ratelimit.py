"""A token bucket that keeps one provider under its contractual sending rate.

The limit is per worker process: two worker processes sending through the same
provider together send at up to twice the configured rate, so an operator who
runs several divides ``rate_per_second`` between them. Within a process the
bucket is shared by every thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """``rate_per_second`` tokens a second, at most ``burst`` saved up; ``None`` is unlimited.

    ``burst`` defaults to one second's worth (at least 1), which matches how
    gateways usually state their limit ("20 messages per second").
    """

    def __init__(
        self,
        rate_per_second: float | None,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second is not None and not rate_per_second > 0:
            raise ValueError("rate_per_second must be more than 0, or None for no limit")
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_second = rate_per_second
        self.burst = burst if burst is not None else max(1, math.ceil(rate_per_second or 1))
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self.burst)  # a fresh worker may send a burst at once
        self._updated = clock()

    @property
    def unlimited(self) -> bool:
        return self.rate_per_second is None

    def _refill(self, rate: float) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * rate)
        self._updated = now

    def acquire(self) -> None:
        """Take one token, sleeping until it is there."""
        rate = self.rate_per_second
        if rate is None:
            return
        with self._lock:
            self._refill(rate)
            # Reserve the token now, even if it is not there yet: the balance
            # goes negative and each waiter sleeps its own share, so threads
            # are served in arrival order and nobody spins or sleeps twice.
            self._tokens -= 1.0
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)

    def try_acquire(self) -> bool:
        """Take one token if there is one now; never sleeps."""
        rate = self.rate_per_second
        if rate is None:
            return True
        with self._lock:
            self._refill(rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
