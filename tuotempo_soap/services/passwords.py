"""Password hashing (Argon2id) with a small in-process cache of recent successes.

Argon2 is slow on purpose (tens of milliseconds); a HIS calls us many times a
minute with the same credentials. After one full verification we remember an
HMAC of the password under a per-process random key, tied to the exact stored
hash, so a changed password or a different process always verifies again. The
cache never holds a password or anything that can be turned back into one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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


def verify_password(stored_hash: str | None, password: str) -> bool:
    if stored_hash is not None and _cache.hit(stored_hash, password):
        return True
    try:
        _hasher.verify(stored_hash or _dummy(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if stored_hash is None:
        return False
    _cache.remember(stored_hash, password)
    return True
