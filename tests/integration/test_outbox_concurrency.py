"""The outbox worker with overlapped sends, on a real database (SQLite and PostgreSQL).

Every wait on another thread is bounded (barrier timeouts), so a worker that
sends one message after another fails these tests instead of hanging them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.integration.test_outbox import (
    T0,
    Clock,
    OneProvider,
    ScriptedSender,
    only_this_tests_messages,  # noqa: F401 - autouse fixture, shared queue on PostgreSQL
    queue,
    row,
)
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch import worker as worker_module
from tuotempo_soap.dispatch.base import OutgoingMessage, SendResult
from tuotempo_soap.dispatch.config import ConfigurationError, parse_dispatch_config
from tuotempo_soap.dispatch.worker import OutboxWorker
from tuotempo_soap.errors import StoreUnavailableError
from tuotempo_soap.services import messages
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.tables import messages as messages_table

WAIT = 10.0  # seconds any thread waits for another before the test gives up


class CappedProvider(OneProvider):
    """One scripted provider that allows ``cap`` sends in flight at once."""

    def __init__(self, sender: ScriptedSender, cap: int | None) -> None:
        super().__init__(sender)
        self.cap = cap

    def max_concurrency(self, provider: str) -> int | None:
        return self.cap


class ThreadSafeSender(ScriptedSender):
    """Records every send (from any thread); subclasses add what happens in between."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def during(self, message: OutgoingMessage) -> None:
        pass

    def send(self, message: OutgoingMessage) -> SendResult:
        with self.lock:
            self.sent.append(message)
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.during(message)
        finally:
            with self.lock:
                self.active -= 1
        return SendResult.sent(f"p-{message.message_id}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def overlapped(settings: Settings) -> Settings:
    return replace(
        settings,
        max_send_attempts=3,
        retry_base_seconds=10,
        retry_max_seconds=60,
        worker_lease_seconds=60,
        worker_batch_size=10,
        worker_concurrency=16,
    )


def make_worker(
    store: Store,
    sender: ScriptedSender,
    settings: Settings,
    clock: Clock,
    name: str = "w1",
    cap: int | None = None,
) -> OutboxWorker:
    provider = CappedProvider(sender, cap)
    return OutboxWorker(store, provider, settings, worker_id=name, clock=clock)  # type: ignore[arg-type]


def ids(count: int, prefix: str) -> list[str]:
    return [f"{prefix}-{n}" for n in range(count)]


def test_sends_within_a_worker_overlap(store: Store, overlapped: Settings, clock: Clock) -> None:
    _, mids = queue(store, clock, *ids(6, "ov"))
    together = threading.Barrier(6, timeout=WAIT)

    class AllAtOnce(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            together.wait()  # only passes once all six are being sent at the same time

    sender = AllAtOnce()
    assert make_worker(store, sender, overlapped, clock).run_once() == 6
    assert sender.most_active == 6
    assert [row(store, mid)["status"] for mid in mids] == ["SENT"] * 6


def test_a_providers_concurrency_cap_is_honoured(
    store: Store, overlapped: Settings, clock: Clock
) -> None:
    _, mids = queue(store, clock, *ids(8, "cap"))

    class Slowish(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            time.sleep(0.05)  # long enough for the worker to hand out more if it would

    sender = Slowish()
    assert make_worker(store, sender, overlapped, clock, cap=2).run_once() == 8
    assert sender.most_active == 2
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}


def test_max_concurrency_in_the_senders_file(tmp_path: Path) -> None:
    def provider(extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "providers": {"gw": {"type": "http", "url": "http://127.0.0.1:9/sms", **extra}},
            "routes": {"*": {"*": "gw"}},
        }

    assert (
        parse_dispatch_config(provider({"max_concurrency": 4}), tmp_path, {}).max_concurrency("gw")
        == 4
    )
    assert parse_dispatch_config(provider({}), tmp_path, {}).max_concurrency("gw") is None
    with pytest.raises(ConfigurationError, match=r"providers\.gw\.max_concurrency"):
        parse_dispatch_config(provider({"max_concurrency": 0}), tmp_path, {})


def test_outcomes_are_recorded_in_one_statement(
    store: Store, overlapped: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outcomes wait at most FLUSH_SECONDS; on a loaded machine ten threads may
    # take longer than that to start, which is not what this test is about.
    monkeypatch.setattr(worker_module, "FLUSH_SECONDS", 60.0)
    _, mids = queue(store, clock, *ids(10, "one"))
    finishing: list[tuple[str, bool]] = []

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        # The statements that record an outcome are the ones that set sent_at.
        assignments = statement.split("WHERE")[0]
        if statement.lstrip().upper().startswith("UPDATE MESSAGES") and "sent_at=" in assignments:
            finishing.append((statement, many))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert make_worker(store, ThreadSafeSender(), overlapped, clock).run_once() == 10
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    # One statement for all ten: an executemany on SQLite, one UPDATE ... FROM
    # unnest(arrays) on PostgreSQL.
    assert len(finishing) == 1
    statement, many = finishing[0]
    if store.dialect == "postgresql":
        assert not many and "unnest(" in statement
    else:
        assert many
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}


def test_outcomes_of_several_kinds_are_recorded_with_backoff_and_failure(
    store: Store, overlapped: Settings, clock: Clock
) -> None:
    _, (ok, later, never) = queue(store, clock, "k-ok", "k-later", "k-never")
    by_id = {
        ok: SendResult.sent("p-ok"),
        later: SendResult.retry("HTTP 503"),
        never: SendResult.permanent("HTTP 400 invalid number"),
    }

    class ByMessage(ThreadSafeSender):
        def send(self, message: OutgoingMessage) -> SendResult:
            super().send(message)
            return by_id[message.message_id]

    assert make_worker(store, ByMessage(), overlapped, clock).run_once() == 3
    sent, retried, failed = row(store, ok), row(store, later), row(store, never)
    assert sent["status"] == "SENT" and sent["provider_message_id"] == "p-ok"
    assert sent["lease_until"] is None
    assert retried["status"] == "QUEUED" and retried["last_error"] == "HTTP 503"
    assert T0 + timedelta(seconds=5) <= retried["next_attempt_at"] <= T0 + timedelta(seconds=10)
    assert failed["status"] == "FAILED" and failed["last_error"] == "HTTP 400 invalid number"


def test_receipts_racing_overlapped_sends(store: Store, overlapped: Settings, clock: Clock) -> None:
    _, mids = queue(store, clock, *ids(4, "race"))

    class ReceiptFirst(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            # The provider's callback lands while we still wait for its answer.
            outcome = messages.apply_receipt(
                store,
                "scripted",
                provider_message_id=None,
                reference=message.reference,
                delivered=True,
                error=None,
                now=clock.now,
            )
            assert outcome == "applied"

    assert make_worker(store, ReceiptFirst(), overlapped, clock).run_once() == 4
    for mid in mids:
        final = row(store, mid)
        assert final["status"] == "DELIVERED" and final["provider_message_id"] == f"p-{mid}"


def test_the_lease_deadline_stops_overlapped_hand_outs(
    store: Store, overlapped: Settings, clock: Clock
) -> None:
    _, mids = queue(store, clock, *ids(10, "late"))
    started = threading.Barrier(2, timeout=WAIT)
    advanced = threading.Barrier(2, timeout=WAIT)
    tick = threading.Lock()

    class Slow(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            started.wait()  # both in flight
            with tick:
                clock.now += timedelta(seconds=25)  # each takes 25 s of a 60 s lease
            advanced.wait()  # neither returns before the clock says 50 s

    sender = Slow()
    assert make_worker(store, sender, overlapped, clock, cap=2).run_once() == 2
    states = [row(store, mid)["status"] for mid in mids]
    assert states.count("SENT") == 2 and states.count("QUEUED") == 8
    assert all(
        row(store, mid)["attempts"] == 0 and row(store, mid)["claimed_by"] is None
        for mid in mids
        if row(store, mid)["status"] == "QUEUED"
    )


def test_two_overlapping_workers_never_send_the_same_message(
    store: Store, overlapped: Settings, clock: Clock
) -> None:
    _, mids = queue(store, clock, *ids(60, "two"))

    class Brief(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            time.sleep(0.002)

    sender = Brief()  # shared: it sees every send of both workers
    stop = threading.Event()
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            make_worker(store, sender, overlapped, clock, name).run(stop, once=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("wa", "wb")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads)
    sent_ids = [m.message_id for m in sender.sent]
    assert sorted(sent_ids) == sorted(mids)  # each exactly once
    with store.unit_of_work() as connection:
        statuses = connection.execute(
            select(messages_table.c.status).where(messages_table.c.id.in_(mids))
        ).scalars()
        assert set(statuses) == {"SENT"}


class WorkerKilled(BaseException):
    """What the worker's thread sees when the process is being torn down."""


class DatabaseGoneStore(Store):
    """The real store, until ``armed``: then every write unit of work fails."""

    def __init__(self, real: Store) -> None:
        super().__init__(real.engine)
        self.armed = False

    def unit_of_work(self, *, write: bool = False) -> Any:
        if write and self.armed:
            raise StoreUnavailableError("The database is unavailable; retry later")
        return super().unit_of_work(write=write)


@pytest.mark.parametrize("crash", ["sender-killed", "database-gone"])
def test_a_crash_mid_batch_loses_nothing_and_resends_under_the_same_reference(
    store: Store, overlapped: Settings, clock: Clock, crash: str
) -> None:
    _, mids = queue(store, clock, *ids(8, f"crash-{crash}"))
    references = {mid: row(store, mid)["reference"] for mid in mids}
    victim = mids[3]
    flaky = DatabaseGoneStore(store)

    class Crashing(ThreadSafeSender):
        def during(self, message: OutgoingMessage) -> None:
            if crash == "sender-killed" and message.message_id == victim:
                raise WorkerKilled()
            if crash == "database-gone":
                flaky.armed = True  # nothing of this batch can be recorded

    first = Crashing()
    settings = replace(overlapped, worker_concurrency=3)
    provider: Any = CappedProvider(first, None)
    dying = OutboxWorker(flaky, provider, settings, worker_id="dying", clock=clock)
    expected = WorkerKilled if crash == "sender-killed" else StoreUnavailableError
    with pytest.raises(expected):
        dying.run_once()
    flaky.armed = False
    recorded = {mid for mid in mids if row(store, mid)["status"] == "SENT"}
    if crash == "sender-killed":
        # The others' outcomes were recorded before the crash went up.
        assert victim not in recorded and recorded
    else:
        assert not recorded

    clock.now = T0 + timedelta(seconds=61)  # the dead worker's lease has run out
    second = ThreadSafeSender()
    survivor = make_worker(store, second, overlapped, clock, "survivor")
    survivor.run(threading.Event(), once=True)
    assert {row(store, mid)["status"] for mid in mids} == {"SENT"}  # nothing lost
    first_ids = {m.message_id for m in first.sent}
    resent = [m for m in second.sent if m.message_id in first_ids]
    # Only what was in flight (sent, outcome unrecorded) goes out again...
    assert {m.message_id for m in resent}.isdisjoint(recorded)
    assert sorted(m.message_id for m in second.sent) == sorted(set(mids) - recorded)
    # ...and with the same idempotency key as the first time.
    for message in [*first.sent, *second.sent]:
        assert message.reference == references[message.message_id]
    assert resent
