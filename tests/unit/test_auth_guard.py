"""The password-guessing rules (growing delay, lock, scopes, exemptions) on a fake clock,
and the bound on concurrent Argon2 checks."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import datetime, timedelta
from ipaddress import ip_network

import pytest

from tuotempo_soap.errors import ServerBusyError, TooManyAttemptsError
from tuotempo_soap.services.auth_guard import Attempt, LoginThrottle, Rule, client_key
from tuotempo_soap.services.passwords import (
    HASH_NICENESS,
    HashSlots,
    hash_password,
    verify_password,
)

T0 = datetime(2027, 3, 1, 9, 0, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def throttle(fake_clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(
        failures_before_delay=3,
        failures_before_lock=10,
        lock_seconds=60,
        memory_seconds=900,
        now=fake_clock,
    )


def refused_for(throttle: LoginThrottle, attempt: Attempt, *, user: bool = False) -> int | None:
    """Seconds the attempt is told to wait, or None when it may go ahead."""
    try:
        throttle.check(attempt)
        if user:
            throttle.check_user(attempt)
    except TooManyAttemptsError as refusal:
        assert refusal.code == "Client.TooManyAttempts" and refusal.field == "AUTH"
        assert f"try again in {refusal.retry_after} s" in refusal.message
        return refusal.retry_after
    return None


def test_rule_gives_free_failures_then_a_doubling_delay_then_the_lock() -> None:
    rule = Rule(delay_after=3, lock_after=10, lock_seconds=60)
    waits = [rule.wait_after(failures) for failures in range(1, 12)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert Rule(2, 20, 10).wait_after(10) == 10  # the delay never exceeds the lock


def test_growing_delay_then_lock_then_unlock_after_the_window(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    attempt = Attempt.of("tt_a", "his", "203.0.113.7")
    for _ in range(2):
        assert refused_for(throttle, attempt) is None
        throttle.failed(attempt)
    expected = [1, 2, 4, 8, 16, 32, 60]  # after failures 3..9
    for wait in expected:
        assert refused_for(throttle, attempt) is None
        throttle.failed(attempt)
        assert refused_for(throttle, attempt) == wait
        fake_clock.advance(wait - 0.5)
        assert refused_for(throttle, attempt) == 1  # still waiting, half a second left
        fake_clock.advance(0.5)
    # The 10th failure locks for 60 s; so does every failure after it while remembered.
    throttle.failed(attempt)
    assert refused_for(throttle, attempt) == 60
    fake_clock.advance(59)
    assert refused_for(throttle, attempt) == 1
    fake_clock.advance(1)
    assert refused_for(throttle, attempt) is None
    throttle.failed(attempt)
    assert refused_for(throttle, attempt) == 60


def test_refused_requests_do_not_extend_the_wait(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    attempt = Attempt.of("tt_a", "his", "203.0.113.7")
    for _ in range(10):
        throttle.failed(attempt)
    for _ in range(5):
        fake_clock.advance(10)
        refused_for(throttle, attempt)
    fake_clock.advance(10)
    assert refused_for(throttle, attempt) is None


def test_failures_are_forgotten_after_the_memory_window(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    attempt = Attempt.of("tt_a", "his", "203.0.113.7")
    for _ in range(10):
        throttle.failed(attempt)
    fake_clock.advance(899)
    throttle.check(attempt)
    throttle.failed(attempt)  # 11 failures: locked again, and the memory restarts
    assert refused_for(throttle, attempt) == 60
    fake_clock.advance(901)
    throttle.failed(attempt)  # counted from 1 again: free
    assert refused_for(throttle, attempt) is None


def test_success_clears_the_pair_but_not_the_address_record(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    his = Attempt.of("tt_a", "his", "203.0.113.7")
    for _ in range(5):
        throttle.failed(his)
    fake_clock.advance(60)
    throttle.succeeded(his)
    for _ in range(2):
        throttle.failed(his)
    assert refused_for(throttle, his) is None  # two fresh failures are free again
    # The address's own count went on: 7 failures; 2 more users' failures reach 9.
    for name in ("x1", "x2"):
        throttle.failed(Attempt.of("tt_a", name, "203.0.113.7"))
    assert refused_for(throttle, Attempt.of("tt_a", "x3", "203.0.113.7")) == 1


def test_spraying_users_from_one_address_is_throttled_per_address(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    for index in range(30):
        attempt = Attempt.of("tt_a", f"user{index}", "198.51.100.9")
        fake_clock.advance(61)  # never waiting: only the address count grows
        assert refused_for(throttle, attempt) is None
        throttle.failed(attempt)
    assert refused_for(throttle, Attempt.of("tt_b", "anyone", "198.51.100.9")) == 60
    # Another address is not concerned.
    assert refused_for(throttle, Attempt.of("tt_a", "his", "198.51.100.10")) is None


def test_an_attack_spread_over_addresses_locks_the_user_but_not_its_known_address(
    throttle: LoginThrottle,
) -> None:
    his = Attempt.of("tt_a", "his", "192.0.2.10")
    throttle.succeeded(his)  # the real HIS signed in from its address
    for index in range(50):  # three wrong passwords each from many addresses
        attacker = Attempt.of("tt_a", "his", f"203.0.113.{index // 3 + 1}")
        throttle.failed(attacker)
    newcomer = Attempt.of("tt_a", "his", "203.0.113.200")
    assert refused_for(throttle, newcomer) is None  # its own address has no record
    assert refused_for(throttle, newcomer, user=True) == 60  # but the user is locked
    assert refused_for(throttle, his, user=True) is None  # the HIS's address is not
    assert refused_for(throttle, Attempt.of("tt_a", "other", "203.0.113.200"), user=True) is None


def test_busy_answers_count_only_against_addresses_that_failed_lately(
    throttle: LoginThrottle,
) -> None:
    clean = Attempt.of("tt_a", "his", "192.0.2.10")
    for _ in range(50):  # the real HIS, refused Server.Busy while others flood us
        throttle.busy(clean)
    assert refused_for(throttle, clean, user=True) is None
    attacker = Attempt.of("tt_a", "his", "203.0.113.5")
    throttle.failed(attacker)
    throttle.busy(attacker)
    throttle.busy(attacker)  # retries that found no free slot now count
    assert refused_for(throttle, attacker) == 1


def test_an_address_locked_for_spraying_still_serves_users_known_there(
    throttle: LoginThrottle, fake_clock: FakeClock
) -> None:
    # An integrator's host: clinic A's HIS works, clinic B's password is wrong.
    host = "198.51.100.9"
    working = Attempt.of("tt_a", "his", host)
    throttle.succeeded(working)
    for _ in range(30):
        fake_clock.advance(61)
        throttle.failed(Attempt.of("tt_b", "his", host))
    assert refused_for(throttle, Attempt.of("tt_c", "his", host)) == 60
    assert refused_for(throttle, working, user=True) is None


def test_a_proxy_address_is_counted_per_user_only(fake_clock: FakeClock) -> None:
    throttle = LoginThrottle(
        failures_before_delay=3,
        failures_before_lock=10,
        lock_seconds=60,
        memory_seconds=900,
        shared_addresses=(ip_network("127.0.0.1/32"), ip_network("::1/128")),
        now=fake_clock,
    )
    his = throttle.attempt("tt_a", "his", "127.0.0.1")
    assert his.shared and not throttle.attempt("tt_a", "his", "127.0.0.2").shared
    throttle.succeeded(his)  # no exemption: everyone behind the proxy shares the address
    for index in range(40):
        throttle.failed(throttle.attempt("tt_a", f"user{index}", "127.0.0.1"))
    assert refused_for(throttle, throttle.attempt("tt_a", "newcomer", "::1"), user=True) is None
    for _ in range(15):
        throttle.failed(throttle.attempt("tt_a", "his", "127.0.0.1"))
    assert refused_for(throttle, his) is None  # no pair or address scope for a proxy
    assert refused_for(throttle, his, user=True) == 1  # the user scope (x5) counts
    for _ in range(50):
        throttle.busy(his)  # never counted for a proxy
    fake_clock.advance(1)
    assert refused_for(throttle, his, user=True) is None


def test_user_and_address_keys() -> None:
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == client_key("") == "unknown"
    # Instance and user are kept as a fixed-size digest, never as given.
    attempt = Attempt.of("tt_a", "x" * 100000, "192.0.2.1")
    assert len(attempt.user) == 16
    assert Attempt.of("tt_a", "bc", None).user != Attempt.of("tt_ab", "c", None).user


def test_hash_slots_run_at_most_their_size_and_let_as_many_wait() -> None:
    slots = HashSlots(2, wait_seconds=30)
    release = threading.Event()
    running = 0
    most = 0
    busy = 0
    done = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(30)  # stands for the Argon2 work
        with lock:
            running -= 1

    def check() -> None:
        nonlocal busy, done
        try:
            slots.run(work)
        except ServerBusyError:
            with lock:
                busy += 1
            return
        with lock:
            done += 1

    threads = [threading.Thread(target=check) for _ in range(7)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # 2 running, 2 waiting, 3 refused at once
        with lock:
            if running == 2 and busy == 3:
                break
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert (most, busy, done) == (2, 3, 4)


def test_hash_slots_run_argon2_at_a_lower_cpu_priority() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("thread priorities are per thread on Linux only")
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    theirs = HashSlots(1, 1).run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert theirs == min(19, mine + HASH_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_a_password_check_without_a_free_slot_is_refused_quickly() -> None:
    stored = hash_password("correct horse battery")
    slots = HashSlots(1, wait_seconds=0.1)
    release = threading.Event()
    holder = threading.Thread(target=slots.run, args=(lambda: release.wait(30),))
    holder.start()
    try:
        time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(ServerBusyError) as busy:
            verify_password(stored, "a wrong password", slots)
        assert time.monotonic() - started < 2.0
    finally:
        release.set()
        holder.join(timeout=30)
    assert busy.value.code == "Server.Busy"
    assert verify_password(stored, "correct horse battery", slots)  # the slot is free again
