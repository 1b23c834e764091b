"""The outbox worker's pipelined passes, on a real database (SQLite and PostgreSQL).

``run`` claims the next batch while the previous one is still being sent; these
tests hold sends open until that claim has happened (bounded waits: a worker
that claims only between batches fails them instead of hanging them), then
check that nothing is sent twice, that a crash re-sends only what was in flight
and under the same reference, and that the housekeeping does not run before
every batch of a busy queue.
"""

from __future__ import annotations

import queue as queue_module
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.test_outbox import (
    T0,
    Clock,
    OneProvider,
    ScriptedSender,
    only_this_tests_messages,  # noqa: F401 - autouse fixture, shared queue on PostgreSQL
    queue,
    row,
)
from tests.integration.test_outbox_concurrency import (
    DatabaseGoneStore,
    ThreadSafeSender,
    WorkerKilled,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch import worker as worker_module
from tuotempo_soap.dispatch.base import OutgoingMessage
from tuotempo_soap.dispatch.worker import Claimed, OutboxWorker
from tuotempo_soap.errors import StoreUnavailableError
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.outbox import MessageRepository

WAIT = 10.0  # seconds any thread waits for another before the test gives up


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pipelined(settings: Settings) -> Settings:
    # Batches of 4 through 4 send threads: the next claim is due as soon as
    # the first batch is handed out, while all four are still in flight.
    return replace(
        settings,
        max_send_attempts=3,
        retry_base_seconds=10,
        retry_max_seconds=60,
        worker_lease_seconds=60,
        worker_batch_size=4,
        worker_concurrency=4,
    )


class CountingClaims:
    """Wraps a worker's ``_claim``: counts the claims, and sets ``second`` once
    a second claim (the pipelined one) has been made."""

    def __init__(self, worker: OutboxWorker) -> None:
        self.worker = worker
        self.real = worker._claim
        self.count = 0
        self.sizes: list[int] = []
        self.second = threading.Event()
        worker._claim = self  # type: ignore[method-assign]

    def __call__(self, *, housekeeping: bool) -> Claimed:
        claimed = self.real(housekeeping=housekeeping)
        self.count += 1
        self.sizes.append(len(claimed[0]))
        if self.count >= 2:
            self.second.set()
        return claimed


def make_worker(
    store: Store,
    sender: ScriptedSender,
    settings: Settings,
    clock: Clock,
    name: str = "w1",
    housekeeping: Any = None,
) -> OutboxWorker:
    return OutboxWorker(
        store,
        OneProvider(sender),  # type: ignore[arg-type]
        settings,
        worker_id=name,
        clock=clock,
        housekeeping=housekeeping,
    )


def test_the_next_batch_is_claimed_while_the_first_is_in_flight_and_nothing_goes_twice(
    store: Store, pipelined: Settings, clock: Clock
) -> None:
    _, mids = queue(store, clock, *(f"pipe-{n}" for n in range(10)))
    held: list[bool] = []

    class HeldUntilTheNextClaim(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            if message.message_id in mids[:4]:  # the first batch
                held.append(claims.second.wait(WAIT))

    sender = HeldUntilTheNextClaim()
    worker = make_worker(store, sender, pipelined, clock)
    claims = CountingClaims(worker)
    assert worker.run(threading.Event(), once=True) == 10

    # Every send of the first batch saw the second claim happen while it was
    # still in flight: the claim did not wait for the batch to finish.
    assert held == [True] * 4 and sender.most_active >= 4
    assert sorted(m.message_id for m in sender.sent) == sorted(mids)  # each exactly once
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}
    assert {row(store, mid)["attempts"] for mid in mids} == {1}
    # 4 + 4 + 2, the short batch ends the pass, then one empty claim ends --once.
    assert claims.sizes == [4, 4, 2, 0]


@pytest.mark.parametrize("crash", ["sender-killed", "database-gone"])
def test_a_crash_in_a_pipelined_pass_resends_only_what_was_in_flight_with_the_same_reference(
    store: Store, pipelined: Settings, clock: Clock, crash: str
) -> None:
    _, mids = queue(store, clock, *(f"pcrash-{crash}-{n}" for n in range(12)))
    references = {mid: row(store, mid)["reference"] for mid in mids}
    victim = mids[5]  # in the second batch, claimed while the first was in flight
    flaky = DatabaseGoneStore(store)

    class Crashing(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            if message.message_id == victim:
                if crash == "sender-killed":
                    raise WorkerKilled()
                flaky.armed = True  # from here on nothing can be recorded or claimed

    first = Crashing()
    dying = make_worker(flaky, first, pipelined, clock, "dying")
    claims = CountingClaims(dying)
    expected = WorkerKilled if crash == "sender-killed" else StoreUnavailableError
    with pytest.raises(expected):
        dying.run(threading.Event(), once=True)
    flaky.armed = False
    assert claims.count >= 2  # the crash came in a pipelined batch
    recorded = {mid for mid in mids if row(store, mid)["status"] == "SENT"}
    assert victim not in recorded
    first_ids = [m.message_id for m in first.sent]
    assert len(first_ids) == len(set(first_ids))  # the dying worker sent nothing twice

    clock.now = T0 + timedelta(seconds=61)  # the dying worker's leases have run out
    second = ThreadSafeSender()
    make_worker(store, second, pipelined, clock, "survivor").run(threading.Event(), once=True)
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}  # nothing lost
    # Only what was sent but not recorded goes out again, never a recorded one...
    resent = {m.message_id for m in second.sent} & set(first_ids)
    assert victim in resent and resent.isdisjoint(recorded)
    assert sorted(m.message_id for m in second.sent) == sorted(set(mids) - recorded)
    # ...and every send of the message carries the same idempotency key.
    for message in [*first.sent, *second.sent]:
        assert message.reference == references[message.message_id]


def test_housekeeping_runs_once_per_pass_on_a_busy_queue(
    store: Store, pipelined: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "HOUSEKEEPING_SECONDS", 3600.0)
    _, mids = queue(store, clock, *(f"house-{n}" for n in range(14)))
    runs: list[int] = []
    sender = ThreadSafeSender()
    worker = make_worker(
        store, sender, pipelined, clock, housekeeping=lambda: runs.append(len(sender.sent))
    )
    claims = CountingClaims(worker)
    assert worker.run(threading.Event(), once=True) == 14
    # Four claims of one busy pass (4 + 4 + 4 + 2), then the empty claim of the
    # next pass: the planner ran before each pass, not before each batch.
    assert claims.sizes == [4, 4, 4, 2, 0]
    assert runs == [0, 14]
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}


def test_housekeeping_still_runs_on_time_during_a_long_pass(
    store: Store, pipelined: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker_module, "HOUSEKEEPING_SECONDS", 0.0)  # "always due"
    _, mids = queue(store, clock, *(f"due-{n}" for n in range(9)))
    runs: list[int] = []
    worker = make_worker(
        store, ThreadSafeSender(), pipelined, clock, housekeeping=lambda: runs.append(1)
    )
    claims = CountingClaims(worker)
    assert worker.run(threading.Event(), once=True) == 9
    assert len(runs) == claims.count  # once before every claim
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}


def test_a_stop_during_a_pass_claims_no_more_and_finishes_what_it_holds(
    store: Store, pipelined: Settings, clock: Clock
) -> None:
    _, mids = queue(store, clock, *(f"stop-{n}" for n in range(12)))
    stop = threading.Event()

    class StopsTheWorker(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            stop.set()  # SIGTERM while the first sends are in flight

    sender = StopsTheWorker()
    worker = make_worker(store, sender, pipelined, clock)
    claims = CountingClaims(worker)
    sent = worker.run(stop)
    # What was claimed went out and was recorded; the rest waits, unclaimed.
    claimed = sum(claims.sizes)
    assert sent == claimed == len(sender.sent) < len(mids)
    states = [row(store, mid)["status"] for mid in mids]
    assert states.count("SENT") == claimed and states.count("QUEUED") == len(mids) - claimed


def test_sends_go_on_while_outcomes_are_being_recorded(
    store: Store, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outcomes go to the database four at a time (never on a timer here); at
    # most two such rounds wait while a recording is under way.
    monkeypatch.setattr(worker_module, "FLUSH_AT", 4)
    monkeypatch.setattr(worker_module, "FLUSH_SECONDS", 60.0)
    monkeypatch.setattr(worker_module, "BACKLOG_ROUNDS", 2)
    tuned = replace(settings, worker_batch_size=20, worker_concurrency=4, worker_lease_seconds=60)
    _, mids = queue(store, clock, *(f"rec-{n}" for n in range(20)))
    twelve = threading.Event()

    class Counting(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            if len(self.sent) >= 12:
                twelve.set()

    sender = Counting()
    worker = make_worker(store, sender, tuned, clock)
    real = worker._record_many
    held: list[bool] = []

    def slow_database(outcomes: list[Any]) -> None:
        if not held:  # the first recording waits for 12 sends to have started
            held.append(twelve.wait(WAIT))
        real(outcomes)

    worker._record_many = slow_database  # type: ignore[method-assign]
    assert worker.run_once() == 20
    # 4 sends in the recording, then two rounds more (the backlog) went out
    # while it was under way: no send waited for the database.
    assert held == [True]
    assert sorted(m.message_id for m in sender.sent) == sorted(mids)
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}


@pytest.mark.parametrize("limit", [2, 10])
def test_one_claim_takes_lapsed_leases_first_then_queued_messages(
    store: Store, clock: Clock, limit: int
) -> None:
    _, (lapsed, first, second) = queue(store, clock, "lap-1", "lap-2", "lap-3")
    with store.unit_of_work(write=True) as connection:  # "dead" claims one, then dies
        (taken,) = MessageRepository(connection).claim(T0, "dead", T0 + timedelta(seconds=60), 1)
    assert taken["id"] == lapsed
    later = T0 + timedelta(seconds=61)
    with store.unit_of_work(write=True) as connection:
        claimed = MessageRepository(connection).claim_for_sending(
            later, "alive", later + timedelta(seconds=60), limit, lambda instance, channel: "gw"
        )
    expected = [lapsed, first, second][:limit]
    assert [row["id"] for row in claimed] == expected
    assert [row["attempts"] for row in claimed] == [2, 1, 1][:limit]
    for message_id in expected:
        stored = row(store, message_id)
        assert (stored["status"], stored["claimed_by"], stored["provider"]) == (
            "SENDING",
            "alive",
            "gw",
        )


class FutureFirst(queue_module.SimpleQueue):  # type: ignore[type-arg]
    """The worker's report queue, reordered once: send reports wait until the
    first database report (a Future) arrives, then follow it, so the worker's
    thread takes them in one wake-up, as a thread that woke late would. From
    then on, a plain queue."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[Any] | None = []
        self.lock = threading.Lock()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        with self.lock:
            if self.held is not None and not isinstance(item, Future):
                self.held.append(item)
                return
            super().put(item)
            for report in self.held or []:
                super().put(report)
            self.held = None


def test_a_failed_claim_taken_together_with_send_reports_ends_the_pass(
    store: Store, pipelined: Settings, clock: Clock
) -> None:
    """The next batch's claim fails (the database is gone) and is reported in
    the same wake-up as the first batch's four sends: the pass waits for those
    sends, records them, and ends with the failure, instead of waiting forever
    for reports it had already taken."""
    _, mids = queue(store, clock, *(f"together-{n}" for n in range(8)))
    reports = FutureFirst()
    sender = ThreadSafeSender()
    worker = make_worker(store, sender, pipelined, clock)
    worker._reports_queue = lambda: reports  # type: ignore[method-assign]
    real_claim = worker._claim
    claims: list[int] = []

    def claim(*, housekeeping: bool) -> Claimed:
        claims.append(1)
        if len(claims) == 1:
            return real_claim(housekeeping=housekeeping)
        deadline = time.monotonic() + WAIT
        while len(reports.held or []) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the first batch's sends all reported (and held)
        raise StoreUnavailableError("The database is unavailable; retry later")

    worker._claim = claim  # type: ignore[method-assign]
    raised: list[BaseException] = []

    def run() -> None:
        try:
            worker.run(threading.Event(), once=True)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT * 2)
    assert not thread.is_alive(), "the worker waited forever for reports it had taken"
    assert [type(exc) for exc in raised] == [StoreUnavailableError] and len(claims) == 2
    first_batch = sorted(m.message_id for m in sender.sent)
    assert first_batch == sorted(mids[:4])
    # Those four were recorded: none goes out again.
    assert {row(store, mid)["status"] for mid in mids[:4]} == {"SENT"}
