"""Defence against password guessing: who may have a password checked, and when.

Failures are counted in three scopes, each with its own rule (see ``Rule``):

* ``pair``: one user (instance + user name) from one client address, the
  strictest: a HIS that mistypes its password is only slowed down by itself;
* ``address``: one client address, whatever user it names (password spraying),
  three times as lenient, and never applied to a user that signed in from that
  address lately (an integrator's host serving several clinics is not locked
  for all of them because one clinic's password is wrong);
* ``user``: one user from every address (a guessing attack spread over many
  addresses), five times as lenient, and never applied to a request whose
  password is in the accepted-password cache or that comes from an address
  that signed in as that user in the last day. So an attacker who hammers a
  user from elsewhere cannot lock the real HIS out.

An address that may be a reverse proxy (``TUOTEMPO_TRUSTED_PROXIES``,
loopback by default) stands for clients we cannot tell apart: only the user
scope counts its requests, without the "signed in from there" exemption. Behind
a proxy, set ``TUOTEMPO_TRUSTED_PROXY_HOPS`` so that the client's own address
is counted instead.

A scope that is waiting (growing delay) or locked is answered at once with
``Client.TooManyAttempts``, before the database or the password hash is
touched: delays are never served by sleeping, which would hand the attacker
our worker threads. A refused request does not count as a failure; nor does a
``Server.Busy`` answer (no free Argon2 slot, see ``passwords.HashSlots``),
except from an address that failed a password lately, so that an attacker's
retries cannot keep the slots busy unseen.

The bookkeeping lives in this process's memory (one ``AuthGuard`` per
application, so per gunicorn worker): an attacker whose requests are spread
over N worker processes gets at most N times the budget. Counters expire on
the injectable clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache

from .. import clock
from ..config import IPNetwork, Settings
from ..errors import TooManyAttemptsError
from .passwords import HashSlots

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1)
# Each table holds at most this many keys (about 200 bytes each); the least
# recently used key is forgotten first when an attacker invents names faster.
MAX_ENTRIES = 16384
# How long an address that signed in as a user stays exempt from that user's lock.
KNOWN_ADDRESS_SECONDS = 24 * 3600.0
FIRST_DELAY_SECONDS = 1.0
ADDRESS_FACTOR = 3
USER_FACTOR = 5


@dataclass(frozen=True)
class Rule:
    """``delay_after`` attempts go ahead at once; from the ``delay_after``-th failure
    on, the scope waits 1 s, 2 s, 4 s ... after each failure; from the
    ``lock_after``-th on, every failure locks it for ``lock_seconds``."""

    delay_after: int
    lock_after: int
    lock_seconds: float

    def wait_after(self, failures: int) -> float:
        if failures >= self.lock_after:
            return self.lock_seconds
        if failures < self.delay_after:
            return 0.0
        return min(FIRST_DELAY_SECONDS * 2 ** (failures - self.delay_after), self.lock_seconds)

    def scaled(self, factor: int) -> Rule:
        return Rule(self.delay_after * factor, self.lock_after * factor, self.lock_seconds)


@dataclass(frozen=True)
class Attempt:
    """One sign-in: the user and address it is counted under (no request value kept)."""

    user: bytes  # a digest of instance + user name: bounded size, nothing to leak
    address: str
    shared: bool = False  # the address may be a proxy for many clients

    @property
    def pair(self) -> tuple[bytes, str]:
        return self.user, self.address

    @classmethod
    def of(
        cls,
        instance: str,
        username: str,
        address: str | None,
        shared: Sequence[IPNetwork] = (),
    ) -> Attempt:
        digest = hashlib.blake2b(
            f"{instance}\0{username}".encode("utf-8", "replace"), digest_size=16
        ).digest()
        return cls(digest, client_key(address), _within(address, shared))


def _within(address: str | None, networks: Sequence[IPNetwork]) -> bool:
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def client_key(address: str | None) -> str:
    """The address a client is counted under: IPv4 as is, IPv6 by its /64 (one host
    usually owns a whole /64, so single IPv6 addresses cost an attacker nothing)."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class _Scope:
    """Failure counts of one scope: key -> (failures, time of the last failure)."""

    def __init__(
        self, name: str, rule: Rule, memory_seconds: float, timer: Callable[[], float]
    ) -> None:
        self.name = name
        self.rule = rule
        self._entries: TTLCache[object, tuple[int, float]] = TTLCache(
            MAX_ENTRIES, memory_seconds, timer=timer
        )

    def wait(self, key: object, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        failures, last = entry
        return max(0.0, self.rule.wait_after(failures) - (now - last))

    def fail(self, key: object, now: float) -> int:
        failures = self._entries.get(key, (0, now))[0] + 1
        # Writing the key again also restarts its expiry: a counter is forgotten
        # only after ``memory_seconds`` without a failure.
        self._entries[key] = (failures, now)
        return failures

    def known(self, key: object) -> bool:
        return key in self._entries

    def forget(self, key: object) -> None:
        self._entries.pop(key, None)


class LoginThrottle:
    def __init__(
        self,
        *,
        failures_before_delay: int,
        failures_before_lock: int,
        lock_seconds: float,
        memory_seconds: float,
        shared_addresses: Sequence[IPNetwork] = (),
        now: Callable[[], datetime] = clock.utcnow,
    ) -> None:
        self._now = now
        self.shared_addresses = tuple(shared_addresses)
        pair = Rule(failures_before_delay, failures_before_lock, lock_seconds)
        memory = max(memory_seconds, lock_seconds)
        self._pair = _Scope("pair", pair, memory, self._seconds)
        self._address = _Scope("address", pair.scaled(ADDRESS_FACTOR), memory, self._seconds)
        self._user = _Scope("user", pair.scaled(USER_FACTOR), memory, self._seconds)
        self._known: TTLCache[tuple[bytes, str], bool] = TTLCache(
            MAX_ENTRIES, KNOWN_ADDRESS_SECONDS, timer=self._seconds
        )
        self._lock = threading.Lock()

    def _seconds(self) -> float:
        return (self._now() - _EPOCH).total_seconds()

    def attempt(self, instance: str, username: str, address: str | None) -> Attempt:
        return Attempt.of(instance, username, address, self.shared_addresses)

    def check(self, attempt: Attempt) -> None:
        """Refuse an address that failed too often, for this user or for any."""
        if attempt.shared:
            return
        with self._lock:
            now = self._seconds()
            pair_wait = self._pair.wait(attempt.pair, now)
            address_wait = 0.0
            if attempt.pair not in self._known:
                address_wait = self._address.wait(attempt.address, now)
        if address_wait > 0 and address_wait >= pair_wait:
            raise _refusal("from your address", address_wait)
        if pair_wait > 0:
            raise _refusal("for this user from your address", pair_wait)

    def check_user(self, attempt: Attempt) -> None:
        """Refuse a user under attack, except for addresses it signed in from lately.

        Called only when the password is not in the accepted-password cache.
        """
        with self._lock:
            now = self._seconds()
            if not attempt.shared and attempt.pair in self._known:
                return
            wait = self._user.wait(attempt.user, now)
        if wait > 0:
            raise _refusal("for this user", wait)

    def failed(self, attempt: Attempt) -> None:
        with self._lock:
            now = self._seconds()
            counts = [(self._user, self._user.fail(attempt.user, now))]
            if not attempt.shared:
                counts.append((self._pair, self._pair.fail(attempt.pair, now)))
                counts.append((self._address, self._address.fail(attempt.address, now)))
        for scope, failures in counts:
            if failures == scope.rule.lock_after:
                # Once per lock, not per refused request; never the user name.
                log.warning(
                    "sign-in lock (%s scope) after %d failed passwords from %s",
                    scope.name,
                    failures,
                    attempt.address,
                )

    def busy(self, attempt: Attempt) -> None:
        """A request refused ``Server.Busy`` (no slot to check its password).

        Counted as a failure of its address and pair only when the address has
        failed a password lately: an attacker then cannot keep the slots busy
        with retries the throttle never sees, while a client with a clean record
        or one that signed in from there lately (the real HIS) is never slowed
        down by the load others cause.
        """
        if attempt.shared:
            return
        with self._lock:
            now = self._seconds()
            if not self._address.known(attempt.address) or attempt.pair in self._known:
                return
            self._pair.fail(attempt.pair, now)
            self._address.fail(attempt.address, now)

    def succeeded(self, attempt: Attempt) -> None:
        """The address knows the password: clear its own count for this user, and
        exempt the pair from the address and user locks for a day.

        The address and user counts stay: an attacker who owns one account must
        not be able to wipe its spraying record by signing in with it.
        """
        if attempt.shared:
            return
        with self._lock:
            self._pair.forget(attempt.pair)
            self._known[attempt.pair] = True


def _refusal(scope: str, wait: float) -> TooManyAttemptsError:
    seconds = max(1, math.ceil(wait))
    return TooManyAttemptsError(
        f"Too many failed sign-ins {scope}; try again in {seconds} s", retry_after=seconds
    )


@dataclass(frozen=True)
class AuthGuard:
    """Everything one process needs to let passwords be checked safely."""

    slots: HashSlots
    throttle: LoginThrottle

    @classmethod
    def from_settings(
        cls, settings: Settings, now: Callable[[], datetime] = clock.utcnow
    ) -> AuthGuard:
        return cls(
            slots=HashSlots(settings.auth_max_concurrent_hashes, settings.auth_hash_wait_seconds),
            throttle=LoginThrottle(
                failures_before_delay=settings.auth_failures_before_delay,
                failures_before_lock=settings.auth_failures_before_lock,
                lock_seconds=settings.auth_lock_seconds,
                memory_seconds=settings.auth_failure_memory_seconds,
                shared_addresses=settings.trusted_proxies,
                now=now,
            ),
        )
