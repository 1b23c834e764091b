"""The outbox worker on a real database with an injected clock and a scripted sender."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import make_instance
from tests.scripted_dispatch import OneProvider, ScriptedSender
from tuotempo_soap.config import Settings
from tuotempo_soap.dispatch.base import OutgoingMessage, SendResult
from tuotempo_soap.dispatch.worker import ONCE_GIVE_BACK_PASSES, OutboxWorker, backoff_seconds
from tuotempo_soap.errors import StoreUnavailableError
from tuotempo_soap.services import instances, messages, timelines
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.outbox import MessageRepository
from tuotempo_soap.store.tables import message_attempts
from tuotempo_soap.store.tables import messages as messages_table

T0 = datetime(2027, 3, 1, 9, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def only_this_tests_messages(store: Store) -> None:
    """The PostgreSQL test database is shared by the whole session, and a worker
    claims every due message whatever its instance: withdraw what earlier tests
    (SOAP fuzzing, inbound answers...) left queued, so the scripted sender sees
    this test's messages only."""
    with store.unit_of_work(write=True) as connection:
        connection.execute(
            update(messages_table)
            .where(messages_table.c.status.in_(("QUEUED", "SENDING")))
            .values(status="CANCELLED")
        )


@pytest.fixture
def tuned(settings: Settings) -> Settings:
    return replace(
        settings,
        max_send_attempts=3,
        retry_base_seconds=10,
        retry_max_seconds=60,
        worker_lease_seconds=60,
        worker_batch_size=10,
    )


def queue(store: Store, clock: Clock, *legacy_ids: str, **extra: Any) -> tuple[Any, list[int]]:
    name = make_instance(store).instance
    instance = instances.get_instance(store, name)
    items = [
        {"LEGACY_ID": lid, "CHANNEL": "SMS", "TO": "612345678", "TEXT": "hola", **extra}
        for lid in legacy_ids
    ]
    outcome = messages.update_messages(store, instance, items, max_items=100, now=clock.now)
    queued = [i.message_id for i in outcome.items]
    assert all(message_id is not None for message_id in queued), outcome
    return instance, [int(message_id) for message_id in queued if message_id is not None]


def row(store: Store, message_id: int) -> Any:
    with store.unit_of_work() as connection:
        return (
            connection.execute(select(messages_table).where(messages_table.c.id == message_id))
            .mappings()
            .one()
        )


def worker(
    store: Store, sender: ScriptedSender, settings: Settings, clock: Clock, name: str = "w1"
) -> OutboxWorker:
    return OutboxWorker(store, OneProvider(sender), settings, worker_id=name, clock=clock)  # type: ignore[arg-type]


def test_backoff_grows_and_is_capped() -> None:
    low = [backoff_seconds(n, 10, 60, rand=lambda a, b: a) for n in range(1, 6)]
    high = [backoff_seconds(n, 10, 60, rand=lambda a, b: b) for n in range(1, 6)]
    assert high == [10, 20, 40, 60, 60]
    assert low == [5, 10, 20, 30, 30]


def test_temporary_failures_back_off_then_give_up(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (mid,) = queue(store, clock, "r1")
    sender = ScriptedSender(*(SendResult.retry("HTTP 503") for _ in range(3)))
    w = worker(store, sender, tuned, clock)
    assert w.run_once() == 1
    first = row(store, mid)
    assert first["status"] == "QUEUED" and first["attempts"] == 1
    assert T0 + timedelta(seconds=5) <= first["next_attempt_at"] <= T0 + timedelta(seconds=10)
    assert w.run_once() == 0  # not due yet
    clock.now = first["next_attempt_at"]
    assert w.run_once() == 1
    second = row(store, mid)
    assert second["attempts"] == 2 and second["next_attempt_at"] > clock.now
    clock.now = second["next_attempt_at"]
    w.run_once()
    final = row(store, mid)
    assert final["status"] == "FAILED" and final["attempts"] == 3
    assert (
        final["last_error"].startswith("gave up after 3 attempts")
        and final["failed_at"] == clock.now
    )
    clock.now += timedelta(days=1)
    assert w.run_once() == 0 and len(sender.sent) == 3


def test_permanent_failure_is_not_retried(store: Store, tuned: Settings, clock: Clock) -> None:
    _, (mid,) = queue(store, clock, "p1")
    sender = ScriptedSender(SendResult.permanent("HTTP 400 invalid number"))
    w = worker(store, sender, tuned, clock)
    w.run_once()
    clock.now += timedelta(hours=1)
    w.run_once()
    assert row(store, mid)["status"] == "FAILED" and len(sender.sent) == 1


def test_a_dead_workers_lease_runs_out_then_another_sends(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (mid,) = queue(store, clock, "l1")
    with store.unit_of_work(write=True) as connection:  # "dead" claims it, then dies
        (claimed,) = MessageRepository(connection).claim(T0, "dead", T0 + timedelta(seconds=60), 10)
    assert claimed["id"] == mid
    sender = ScriptedSender()
    survivor = worker(store, sender, tuned, clock, "alive")
    clock.now = T0 + timedelta(seconds=30)
    assert survivor.run_once() == 0  # the lease still holds
    clock.now = T0 + timedelta(seconds=61)
    assert survivor.run_once() == 1
    done = row(store, mid)
    assert done["status"] == "SENT" and done["attempts"] == 2 and done["claimed_by"] == "alive"
    assert [m.message_id for m in sender.sent] == [
        mid
    ]  # the same id: the provider's idempotency key
    with store.unit_of_work(write=True) as connection:  # the dead worker's late answer is ignored
        assert not MessageRepository(connection).finish(mid, "dead", {"status": "FAILED"})
    assert row(store, mid)["status"] == "SENT"


def test_receipt_before_the_worker_records_the_send(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (mid,) = queue(store, clock, "x1")

    class ReceiptFirst(ScriptedSender):
        def send(self, message: OutgoingMessage) -> SendResult:
            # The provider's callback lands while we are still waiting for its answer.
            assert (
                messages.apply_receipt(
                    store,
                    "scripted",
                    provider_message_id=None,
                    reference=message.reference,
                    delivered=True,
                    error=None,
                    now=clock.now,
                )
                == "applied"
            )
            return SendResult.sent("prov-9")

    worker(store, ReceiptFirst(), tuned, clock).run_once()
    final = row(store, mid)
    assert final["status"] == "DELIVERED" and final["provider_message_id"] == "prov-9"
    assert (
        messages.apply_receipt(
            store,
            "scripted",
            provider_message_id="prov-9",
            reference=None,
            delivered=False,
            error="late",
            now=clock.now,
        )
        == "ignored"
    )


def test_scheduled_and_expired(store: Store, tuned: Settings, clock: Clock) -> None:
    _, (later,) = queue(store, clock, "s1", SEND_AT="01/03/2027 12:00")  # Madrid: 11:00 UTC
    _, (doomed,) = queue(
        store, clock, "s2", SEND_AT="01/03/2027 11:00", EXPIRES_AT="01/03/2027 11:30"
    )
    sender = ScriptedSender()
    w = worker(store, sender, tuned, clock)
    assert w.run_once() == 0
    clock.now = datetime(2027, 3, 1, 10, 45)  # UTC: s2 is due (10:00 UTC) but expired at 10:30 UTC
    w.run_once()
    assert row(store, doomed)["status"] == "EXPIRED" and sender.sent == []
    clock.now = datetime(2027, 3, 1, 11, 0)
    assert w.run_once() == 1 and row(store, later)["status"] == "SENT"


def test_worker_gives_back_what_it_cannot_send_within_its_lease(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, ids = queue(store, clock, "g1", "g2", "g3")

    class Slow(ScriptedSender):
        def send(self, message: OutgoingMessage) -> SendResult:
            clock.now += timedelta(seconds=25)  # each send takes 25 s of a 60 s lease
            return super().send(message)

    sender = Slow()
    # One send at a time, so each starts 25 s after the previous one (the
    # overlapped variant is in test_outbox_concurrency.py).
    one_by_one = replace(tuned, worker_concurrency=1)
    assert worker(store, sender, one_by_one, clock).run_once() == 2  # the third would pass 45 s
    states = [row(store, mid)["status"] for mid in ids]
    assert states == ["SENT", "SENT", "QUEUED"]
    assert row(store, ids[2])["attempts"] == 0 and row(store, ids[2])["claimed_by"] is None


def test_each_message_goes_out_under_a_random_reference_recorded_with_its_provider(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (new, legacy) = queue(store, clock, "ref-1", "ref-2")
    first = row(store, new)["reference"]
    assert first and len(first) == 24 and not first.isdigit()
    with store.unit_of_work(write=True) as connection:  # queued before references existed
        connection.execute(
            update(messages_table).where(messages_table.c.id == legacy).values(reference=None)
        )
    sender = ScriptedSender()
    worker(store, sender, tuned, clock).run_once()
    by_id = {m.message_id: m for m in sender.sent}
    assert by_id[new].reference == first  # the same on every attempt: the idempotency key
    assert by_id[legacy].reference and by_id[legacy].reference == row(store, legacy)["reference"]
    assert by_id[legacy].reference != first
    assert {row(store, mid)["provider"] for mid in (new, legacy)} == {"scripted"}


class FlakyStore(Store):
    """The real store, but the database is 'down' for the first ``outages`` units of work."""

    def __init__(self, real: Store, outages: int) -> None:
        super().__init__(real.engine)
        self.outages = outages

    def unit_of_work(self, *, write: bool = False) -> Any:
        if self.outages > 0:
            self.outages -= 1
            raise StoreUnavailableError("The database is unavailable; retry later")
        return super().unit_of_work(write=write)


class RecordingStop(threading.Event):
    """A stop event whose waits are recorded instead of slept; stops after ``limit`` waits."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.limit = limit

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


def test_the_worker_waits_out_a_database_outage_and_then_sends(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (mid,) = queue(store, clock, "outage-1")
    sender = ScriptedSender(SendResult.sent("p-1"))
    flaky = FlakyStore(store, outages=3)
    stop = RecordingStop(limit=4)
    OutboxWorker(flaky, OneProvider(sender), tuned, worker_id="w1", clock=clock).run(stop)  # type: ignore[arg-type]
    assert stop.waits[:3] == [1.0, 2.0, 4.0]  # growing pauses while the database is away
    assert row(store, mid)["status"] == "SENT" and len(sender.sent) == 1


def test_a_single_pass_still_reports_the_outage(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    single = OutboxWorker(FlakyStore(store, outages=1), OneProvider(ScriptedSender()), tuned)  # type: ignore[arg-type]
    with pytest.raises(StoreUnavailableError):
        single.run(threading.Event(), once=True)


class StallingStore(Store):
    """The real store, but the machine 'stalls' for 50 s of a 60 s lease after each
    of the first ``stalls`` write transactions (a claim, a give-back): the claimed
    messages are past their hand-out deadline before any is handed out."""

    def __init__(self, real: Store, clock: Clock, stalls: int) -> None:
        super().__init__(real.engine)
        self.clock = clock
        self.stalls = stalls

    @contextmanager
    def unit_of_work(self, *, write: bool = False) -> Iterator[Any]:
        with super().unit_of_work(write=write) as connection:
            yield connection
        if write and self.stalls > 0:
            self.stalls -= 1
            self.clock.now += timedelta(seconds=50)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_single_pass_goes_on_after_giving_every_message_back(
    store: Store, tuned: Settings, clock: Clock, concurrency: int
) -> None:
    """A --once run whose claim was all given back at its deadline claims again:
    the messages are due at once, and the queue is not empty."""
    _, ids = queue(store, clock, *(f"stall-{concurrency}-{n}" for n in range(3)))
    sender = ScriptedSender()
    stalling = StallingStore(store, clock, stalls=1)
    settings = replace(tuned, worker_concurrency=concurrency)
    w = OutboxWorker(stalling, OneProvider(sender), settings, worker_id="w1", clock=clock)  # type: ignore[arg-type]
    assert w.run(threading.Event(), once=True) == 3
    assert [row(store, mid)["status"] for mid in ids] == ["SENT"] * 3
    assert [row(store, mid)["attempts"] for mid in ids] == [1] * 3  # the give-back is not counted
    assert len(sender.sent) == 3


def test_a_single_pass_that_can_never_hand_out_ends_after_a_few_give_backs(
    store: Store, tuned: Settings, clock: Clock
) -> None:
    _, (mid,) = queue(store, clock, "never")
    stalling = StallingStore(store, clock, stalls=1000)
    w = OutboxWorker(stalling, OneProvider(ScriptedSender()), tuned, worker_id="w1", clock=clock)  # type: ignore[arg-type]
    assert w.run(threading.Event(), once=True) == 0
    # Each pass: a claim and a give-back, both write transactions.
    assert 1000 - stalling.stalls == 2 * ONCE_GIVE_BACK_PASSES
    assert row(store, mid)["status"] == "QUEUED" and row(store, mid)["attempts"] == 0


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_attempt_and_its_answer_is_kept_for_the_timeline(
    store: Store, tuned: Settings, clock: Clock, concurrency: int
) -> None:
    """Two answers the provider did not accept, then the send it did: three
    attempts recorded (by the one-at-a-time and the overlapped worker alike),
    and the message's timeline shows both refusals with their answers."""
    instance, (mid,) = queue(store, clock, f"tries-{concurrency}")
    sender = ScriptedSender(
        SendResult.retry("HTTP 503 from gateway"),
        SendResult.retry("timed out after 10 s"),
        SendResult.sent("gw-42"),
    )
    w = worker(store, sender, replace(tuned, worker_concurrency=concurrency), clock)
    for _ in range(3):
        w.run(threading.Event(), once=True)
        clock.now = max(clock.now, row(store, mid)["next_attempt_at"])
    assert row(store, mid)["status"] == "SENT" and len(sender.sent) == 3
    with store.unit_of_work() as connection:
        kept = connection.execute(
            select(message_attempts)
            .where(message_attempts.c.message_id == mid)
            .order_by(message_attempts.c.attempt)
        ).mappings()
        tries = [(r["attempt"], r["outcome"], r["error"], r["provider_message_id"]) for r in kept]
    assert tries == [
        (1, "retry", "HTTP 503 from gateway", None),
        (2, "retry", "timed out after 10 s", None),
        (3, "sent", None, "gw-42"),
    ]
    steps = timelines.message_detail(store, instance, mid).steps
    refused = [(s.values["number"], s.values["error"]) for s in steps if s.name == "ATTEMPT"]
    assert refused == [("1", "HTTP 503 from gateway"), ("2", "timed out after 10 s")]
    assert [s.name for s in steps][-1] == "SENT" and "ATTEMPTS" not in [s.name for s in steps]
