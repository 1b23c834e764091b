"""Password hashing (Argon2id) with a small in-process cache of recent successes.

Argon2 is slow on purpose (tens of milliseconds); a HIS calls us many times a
minute with the same credentials. After one full verification we remember an
HMAC of the password under a per-process random key, tied to the exact stored
hash, so a changed password or a different process always verifies again. The
cache never holds a password or anything that can be turned back into one.

Each full verification needs 64 MiB and about 150 ms of CPU (spread over
Argon2's four lanes), so a process runs only as many at once as its
``HashSlots`` allow, at a lower CPU priority; a request that cannot get a slot
soon is answered ``Server.Busy`` instead of queueing its thread (and 64 MiB)
behind the others. Who may try at all is decided before, in ``auth_guard``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import ServerBusyError

T = TypeVar("T")
_hasher = PasswordHasher()
_process_key = secrets.token_bytes(32)
# Verified against when the user does not exist, so that an unknown user costs
# the same time as a wrong password and names cannot be probed.
_dummy_hash: str | None = None


def _dummy() -> str:
    # Built on first use, not at import: workers and the CLI never need it.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class VerifiedCache:
    def __init__(self, size: int = 1024, ttl_seconds: float = 300.0) -> None:
        self._entries: OrderedDict[tuple[str, bytes], float] = OrderedDict()
        self._size = size
        self._ttl = ttl_seconds
        self._lock = threading.Lock()

    def _key(self, stored_hash: str, password: str) -> tuple[str, bytes]:
        return stored_hash, hmac.new(_process_key, password.encode(), hashlib.sha256).digest()

    def hit(self, stored_hash: str, password: str) -> bool:
        key = self._key(stored_hash, password)
        with self._lock:
            expires = self._entries.get(key)
            if expires is None or expires < time.monotonic():
                self._entries.pop(key, None)
                return False
            self._entries.move_to_end(key)
            return True

    def remember(self, stored_hash: str, password: str) -> None:
        key = self._key(stored_hash, password)
        with self._lock:
            self._entries[key] = time.monotonic() + self._ttl
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_cache = VerifiedCache()


# Argon2 runs this much nicer than the request threads, so that while it keeps the
# cores busy the operating system still serves the (cheap) requests of clients
# whose password is cached first.
HASH_NICENESS = 10


def _lower_priority() -> None:
    # Linux keeps a nice value per thread, and the threads Argon2 starts for its
    # lanes inherit it. Elsewhere the call would lower the whole process: skip.
    if sys.platform.startswith("linux"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


class HashSlots:
    """At most ``size`` Argon2 computations at once in this process, and at most
    ``size`` more requests waiting for one, each for at most ``wait_seconds``.

    Anything beyond is answered ``ServerBusyError`` at once: a worker thread
    parked behind other (most likely wrong) passwords would be a thread taken
    from clients whose password is already in the cache. The computations run
    on ``size`` dedicated threads at a lower CPU priority (``HASH_NICENESS``).
    """

    def __init__(self, size: int, wait_seconds: float) -> None:
        self._size = size
        self._wait = wait_seconds
        self._running = threading.BoundedSemaphore(size)
        self._admitted = threading.BoundedSemaphore(2 * size)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use, in the worker process (gunicorn forks after building the app).
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._size, thread_name_prefix="argon2", initializer=_lower_priority
                )
            return self._pool

    def run(self, work: Callable[[], T]) -> T:
        if not self._admitted.acquire(blocking=False):
            raise _busy()
        try:
            if not self._running.acquire(timeout=self._wait):
                raise _busy()
            try:
                # Holding one of ``size`` permits: the pool of ``size`` threads never queues.
                return self._executor().submit(work).result()
            finally:
                self._running.release()
        finally:
            self._admitted.release()


def _busy() -> ServerBusyError:
    return ServerBusyError("The server is busy checking other passwords; retry in a few seconds")


def is_cached(stored_hash: str, password: str) -> bool:
    """Whether this exact password was verified against this hash recently (cheap)."""
    return _cache.hit(stored_hash, password)


def verify_password(stored_hash: str | None, password: str, slots: HashSlots | None = None) -> bool:
    """Full check (cache first); ``slots`` bounds how many run at once."""
    if stored_hash is not None and _cache.hit(stored_hash, password):
        return True
    try:
        if slots is None:
            _hasher.verify(stored_hash or _dummy(), password)
        else:
            slots.run(lambda: _hasher.verify(stored_hash or _dummy(), password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if stored_hash is None:
        return False
    _cache.remember(stored_hash, password)
    return True
