"""The outbox worker: claim due messages, send them, record what happened.

Nothing is lost if a worker stops: messages wait in the database. A claimed
message carries a lease; a worker that dies mid-send leaves it to run out and
another worker sends it again with the same idempotency key (the message's
random reference), which a provider that supports keys uses to drop the duplicate. Temporary
failures come back after an exponential backoff with jitter; permanent ones,
and the last allowed attempt, end in FAILED with the reason.

Within a worker, up to ``worker_concurrency`` sends are in flight at once (and
at most a provider's ``max_concurrency`` through that provider, each still
under its rate limit), on a thread pool: a gateway's answer time is network
waiting, not work. The worker's own thread only hands the claimed messages out
and collects what comes back; one database thread records the outcomes in
batches (one statement per batch instead of a transaction per message) and
makes the claims, so no send waits for a commit. A message is still handed out
once per claim; only what is in flight (sent, outcome not yet recorded) when a
worker dies is sent again, after its lease, under the same reference.

While the queue keeps yielding full batches, ``run`` claims the next batch as
soon as fewer messages are left to hand out than there are send threads, while
the previous batch's last sends are still in flight: the threads never stand
idle waiting for the database. Every claimed message keeps its own lease
deadline. The housekeeping (reminder planner, clinic callbacks) and the expiry
sweep run before the first claim of each pass and then at most once every
``HOUSEKEEPING_SECONDS`` while the queue stays busy; the claim itself never
takes an expired message, so the sweep only updates their status.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..domain.message import MessageStatus
from ..errors import StoreUnavailableError, TuotempoError
from ..observability import metrics
from ..services.instances import utcnow
from ..store.engine import Store
from ..store.outbox import MessageRepository
from .base import Outcome, OutgoingMessage, SendResult
from .config import DispatchConfig

log = logging.getLogger(__name__)

# What the status a send outcome writes says, in the metrics' words.
_SEND_OUTCOME = {
    MessageStatus.SENT.value: "sent",
    MessageStatus.QUEUED.value: "retry",
    MessageStatus.FAILED.value: "failed",
}
MAX_OUTAGE_PAUSE = 30.0  # seconds between tries while the database is unavailable
FLUSH_SECONDS = 0.1  # longest an overlapped send's outcome waits to be recorded
FLUSH_AT = 32  # outcomes recorded together once that many are waiting, at the latest
BACKLOG_ROUNDS = 2  # rounds of outcomes waiting for the database before hand-outs pause
HOUSEKEEPING_SECONDS = 1.0  # longest the planner and the expiry sweep wait on a busy queue
# ``run(once=True)`` goes on after a pass that only gave messages back (they are
# due again at once), but not forever on a machine too slow to hand any out.
ONCE_GIVE_BACK_PASSES = 3

# What ``_claim`` gives the send loop: the claimed rows and the deadline to
# hand them out by.
Claimed = tuple[list[dict[str, Any]], datetime]
# A send's outcome: the claimed row, its provider, what the sender answered.
Delivery = tuple[dict[str, Any], str, SendResult]
# What the send loop waits for: a send that ended (its result, or what it
# raised), or the database thread's work (a recording, a claim) that ended.
_Report = tuple[dict[str, Any], str, SendResult | BaseException] | Future[Any]


def backoff_seconds(
    attempt: int, base: float, cap: float, rand: Callable[[float, float], float] = random.uniform
) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    Retries are persisted (``next_attempt_at``), not loops in memory, which is
    why this is a formula and not a retry library's decorator.
    """
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    return rand(delay / 2, delay)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        dispatch: DispatchConfig,
        settings: Settings,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        housekeeping: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.dispatch = dispatch
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        # Runs before each claim (at most every HOUSEKEEPING_SECONDS while the
        # queue stays busy): the reminder planner and the clinic callbacks ride
        # on the worker's loop, so one process does all the sending.
        self.housekeeping = housekeeping
        self._pool: ThreadPoolExecutor | None = None
        self._database: ThreadPoolExecutor | None = None
        self._housekept_at = -HOUSEKEEPING_SECONDS  # time.monotonic() of the last run
        self._given_back = 0  # messages ``_release`` gave back, ever: ``_loop`` reads the change

    def run_once(self) -> int:
        """Send one batch of due messages; return how many were attempted."""
        batch, deadline = self._claim(housekeeping=True)
        if self.settings.worker_concurrency <= 1 or len(batch) <= 1:
            for index, row in enumerate(batch):
                if self.clock() >= deadline:
                    self._release([int(r["id"]) for r in batch[index:]])
                    return index
                self._send(row)
            return len(batch)
        return self._send_overlapped(batch, deadline)

    def _claim(self, *, housekeeping: bool) -> Claimed:
        """Claim a batch in one transaction, with its provider and reference stamped;
        ``housekeeping`` first runs the housekeeping and the expiry sweep."""
        if housekeeping:
            self._housekept_at = time.monotonic()
            if self.housekeeping is not None:
                self.housekeeping()
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.worker_lease_seconds)
        expired = 0
        with self.store.unit_of_work(write=True) as connection:
            repo = MessageRepository(connection)
            if housekeeping:
                expired = repo.expire_due(now)
            # The provider is recorded with the claim, before anything is handed
            # over: receipts and patients' answers are then accepted from this
            # provider only.
            batch = repo.claim_for_sending(
                now, self.worker_id, lease, self.settings.worker_batch_size, self._route
            )
        if expired:
            log.info("expired %d message(s) before sending", expired)
        # Stop well before the lease ends: past it another worker may take the
        # same messages, and only providers that honour idempotency keys would
        # drop the duplicate. What is left goes back to the queue at once.
        return batch, lease - timedelta(seconds=self.settings.worker_lease_seconds / 4)

    def _pass(self, stop: threading.Event) -> int:
        """Overlapped sends over as many batches as the queue has full ones; how many
        messages were handed out.

        The next batch is claimed while the current one's last sends are in
        flight (``_send_overlapped`` asks for it); the pass ends after a batch
        that was not full, or when ``stop`` is set.
        """
        batch, deadline = self._claim(housekeeping=True)
        if not batch:
            return 0

        def refill() -> Claimed | None:
            if stop.is_set():
                return None
            due = time.monotonic() - self._housekept_at >= HOUSEKEEPING_SECONDS
            return self._claim(housekeeping=due)

        return self._send_overlapped(batch, deadline, refill)

    def _pool_for(self, size: int) -> AbstractContextManager[ThreadPoolExecutor]:
        """``run``'s long-lived pool (its threads keep their connections), or one for this call."""
        if self._pool is not None:
            return nullcontext(self._pool)
        workers = max(1, min(self.settings.worker_concurrency, size))
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbox-send")

    def _limit(self, provider: str) -> int:
        """Sends in flight at once through ``provider``: the worker's cap, or the provider's."""
        cap = self.settings.worker_concurrency
        provider_cap = self.dispatch.max_concurrency(provider)
        return min(cap, provider_cap) if provider_cap else cap

    def _send_overlapped(
        self,
        batch: list[dict[str, Any]],
        deadline: datetime,
        refill: Callable[[], Claimed | None] | None = None,
    ) -> int:
        """Hand ``batch`` out to a pool of send threads; record outcomes in batches.

        This thread only hands messages out and collects what comes back: send
        threads report through a queue, and the database work (recording
        outcomes, claiming the next batch) runs one statement group at a time
        on the worker's database thread, so no send waits for a commit. Each
        message's deadline (its claim's) is checked before it is handed out, as
        in the one-at-a-time loop: what is past it goes back to the queue.
        ``refill``, while the batches it returns are full, is asked for the
        next one as soon as fewer messages wait than there are send threads;
        None means no more.
        """
        concurrency = self.settings.worker_concurrency
        full = self.settings.worker_batch_size
        reports: queue.SimpleQueue[_Report] = self._reports_queue()
        pending: deque[tuple[dict[str, Any], datetime]] = deque((row, deadline) for row in batch)
        more = refill is not None and len(batch) >= full
        busy: Counter[str] = Counter()
        limits: dict[str, int] = {}
        in_flight = handed = 0
        outcomes: list[Delivery] = []  # not yet given to the database thread
        oldest = 0.0  # time.monotonic() of the oldest of them
        recording: Future[None] | None = None
        claiming: Future[Claimed | None] | None = None
        crash: BaseException | None = None
        # Outcomes are recorded a round of sends at a time (FLUSH_AT at least),
        # or after FLUSH_SECONDS at most: few statements, and little sent but
        # unrecorded (sent again after a crash, under the same references).
        # Hand-outs pause while BACKLOG_ROUNDS rounds wait for a slow database.
        flush_at = max(FLUSH_AT, concurrency)
        backlog = BACKLOG_ROUNDS * flush_at

        def attempt(row: dict[str, Any], provider: str) -> None:
            try:
                reports.put((row, provider, self._deliver(row, provider)))
            except BaseException as exc:  # reported to the worker's thread, never lost
                reports.put((row, provider, exc))

        def finished(future: Future[Any]) -> None:
            reports.put(future)

        with self._pool_for(len(batch)) as pool, self._database_thread() as database:
            try:
                while pending or in_flight or more or outcomes or recording or claiming:
                    while (
                        pending
                        and crash is None
                        and in_flight < concurrency
                        and len(outcomes) < backlog
                    ):
                        row, until = pending[0]
                        provider = row.get("provider") or self.dispatch.provider_name_for(
                            row["instance_name"], row["channel"]
                        )
                        if provider not in limits:
                            limits[provider] = self._limit(provider)
                        if busy[provider] >= limits[provider]:
                            break  # wait for one of its sends to end
                        now = self.clock()
                        if now >= until:
                            # Claims are made in order, so the late ones lead the queue.
                            late = []
                            while pending and now >= pending[0][1]:
                                late.append(int(pending.popleft()[0]["id"]))
                            self._release(late)
                            continue
                        self.dispatch.rate_limiter(provider).acquire()
                        pending.popleft()
                        pool.submit(attempt, row, provider)
                        busy[provider] += 1
                        in_flight += 1
                        handed += 1
                    if crash is not None:
                        more = False
                        if pending:
                            self._release([int(r["id"]) for r, _ in pending])
                            pending.clear()
                    if refill and more and claiming is None and len(pending) < concurrency:
                        # While this batch's last sends are in flight.
                        claiming = database.submit(refill)
                        claiming.add_done_callback(finished)
                    due = outcomes and (
                        len(outcomes) >= flush_at
                        or not (pending or in_flight)
                        or time.monotonic() - oldest >= FLUSH_SECONDS
                    )
                    if due and recording is None:
                        recording = database.submit(self._record_many, outcomes)
                        recording.add_done_callback(finished)
                        outcomes = []
                    if not (in_flight or recording or claiming):
                        continue  # more to hand out, or the loop ends
                    wait = None
                    if outcomes and recording is None:
                        wait = max(0.0, oldest + FLUSH_SECONDS - time.monotonic())
                    try:
                        got = [reports.get(timeout=wait)]
                    except queue.Empty:  # outcomes waited long enough: recorded above
                        continue
                    while True:
                        try:
                            got.append(reports.get_nowait())
                        except queue.Empty:
                            break
                    for index, report in enumerate(got):
                        if isinstance(report, Future):
                            if report.exception() is not None:
                                # A failure to record or to claim ends the pass
                                # (raised just below). The reports taken with it
                                # go back to the queue: the drain counts on
                                # receiving every send's report.
                                for later in got[index + 1 :]:
                                    reports.put(later)
                            if report is recording:
                                recording = None
                                report.result()  # a failure to record ends the pass
                            else:
                                claiming = None
                                claimed = report.result()
                                full_batch = claimed is not None and len(claimed[0]) >= full
                                more = crash is None and full_batch
                                if claimed is not None:
                                    rows, until = claimed
                                    pending.extend((row, until) for row in rows)
                            continue
                        row, provider, result = report
                        busy[provider] -= 1
                        in_flight -= 1
                        if isinstance(result, BaseException):
                            # Its outcome is unknown: like a send in flight at a
                            # crash, it stays claimed until the lease runs out.
                            crash = crash or result
                        else:
                            if not outcomes:
                                oldest = time.monotonic()
                            outcomes.append((row, provider, result))
            except BaseException:
                # Whatever is in flight ends on its own (the pool waits for it);
                # its outcome is recorded if the database still answers.
                self._drain_after_failure(reports, in_flight, outcomes, [recording, claiming])
                raise
        if crash is not None:
            raise crash
        return handed

    # The queue through which send threads and the database thread report to
    # the worker's thread (a seam for the tests, which reorder reports).
    _reports_queue: Callable[[], queue.SimpleQueue[_Report]] = queue.SimpleQueue

    def _database_thread(self) -> AbstractContextManager[ThreadPoolExecutor]:
        """``run``'s long-lived database thread, or one for this call."""
        if self._database is not None:
            return nullcontext(self._database)
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")

    def _drain_after_failure(
        self,
        reports: queue.SimpleQueue[_Report],
        in_flight: int,
        outcomes: list[Delivery],
        database_work: list[Future[Any] | None],
    ) -> None:
        """Wait for the sends and the database work under way; record what came back.

        A batch the database thread claimed meanwhile is left to its lease:
        nothing of it was sent.
        """
        for work in database_work:
            if work is not None:
                wait([work])
        while in_flight:
            report = reports.get()
            if isinstance(report, Future):
                continue
            row, provider, result = report
            in_flight -= 1
            if not isinstance(result, BaseException):
                outcomes.append((row, provider, result))
        try:
            self._record_many(outcomes)
        except Exception:  # the first failure is the one raised
            log.exception("could not record %d outcome(s) after a failure", len(outcomes))

    def _release(self, message_ids: list[int]) -> None:
        with self.store.unit_of_work(write=True) as connection:
            MessageRepository(connection).release(message_ids, self.worker_id, self.clock())
        self._given_back += len(message_ids)
        log.info("gave %d message(s) back before their lease ran out", len(message_ids))

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Loop until ``stop`` is set (or the queue is empty, with ``once``).

        A database that is down or stuck (the store's timeouts turn both into
        ``StoreUnavailableError``) pauses the loop with a growing wait instead
        of ending the worker: the messages wait in the database, and a worker
        that exited would need an operator to come back.
        """
        if self.settings.worker_concurrency > 1:
            self._pool = ThreadPoolExecutor(
                max_workers=self.settings.worker_concurrency, thread_name_prefix="outbox-send"
            )
            self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-db")
        try:
            return self._loop(stop, once=once)
        finally:
            pool, self._pool = self._pool, None
            database, self._database = self._database, None
            for executor in (pool, database):
                if executor is not None:
                    executor.shutdown(wait=True)

    def _loop(self, stop: threading.Event, *, once: bool) -> int:
        total = 0
        pause = 0.0
        giving_back = 0  # passes in a row that handed nothing out but gave messages back
        while not stop.is_set():
            given_back = self._given_back
            try:
                overlapped = self.settings.worker_concurrency > 1
                sent = self._pass(stop) if overlapped else self.run_once()
            except StoreUnavailableError as exc:
                if once:
                    raise
                pause = min(MAX_OUTAGE_PAUSE, max(1.0, pause * 2))
                log.warning("database unavailable (%s); retrying in %.0f s", exc.message, pause)
                stop.wait(pause)
                continue
            pause = 0.0
            total += sent
            if once and sent == 0:
                # The queue is empty, unless this pass claimed messages and gave
                # them all back at their hand-out deadline: they are due again.
                if self._given_back == given_back:
                    break
                giving_back += 1
                if giving_back >= ONCE_GIVE_BACK_PASSES:
                    log.warning(
                        "%d passes in a row gave every message back before its hand-out"
                        " deadline; leaving them queued",
                        giving_back,
                    )
                    break
                continue
            giving_back = 0
            if sent < self.settings.worker_batch_size:
                stop.wait(self.settings.worker_poll_seconds if not once else 0)
        return total

    def _route(self, instance: str, channel: str) -> str | None:
        try:
            return self.dispatch.provider_name_for(instance, channel)
        except TuotempoError:  # no route: _send raises it again, outside the claim
            return None

    def _send(self, row: dict[str, Any]) -> None:
        instance, channel = row["instance_name"], row["channel"]
        provider = self.dispatch.provider_name_for(instance, channel)
        self.dispatch.rate_limiter(provider).acquire()
        result = self._deliver(row, provider)
        self._record(row, provider, result)

    def _deliver(self, row: dict[str, Any], provider: str) -> SendResult:
        """Hand one message to its sender (any thread); a sender's crash becomes a retry."""
        instance, channel = row["instance_name"], row["channel"]
        message = OutgoingMessage(
            message_id=int(row["id"]),
            instance=instance,
            channel=channel,
            recipient=row["recipient"],
            text=row["body"],
            reference=row["reference"],
            sender_id=row["sender"],
            subject=row["subject"],
            language=row["language"],
            email_from=row["email_from"],
            reply_to=row["email_reply_to"],
        )
        try:
            return self.dispatch.sender_for(instance, channel).send(message)
        except Exception as exc:  # a sender bug must not kill the worker
            log.exception("sender %s crashed on message %s", provider, row["id"])
            return SendResult.retry(f"sender error: {type(exc).__name__}")

    def _record_many(self, outcomes: list[tuple[dict[str, Any], str, SendResult]]) -> None:
        """Record many send outcomes in one transaction, one UPDATE per shape."""
        if not outcomes:
            return
        now = self.clock()
        changes = [
            (int(row["id"]), self._values(row, provider, result, now))
            for row, provider, result in outcomes
        ]
        with self.store.unit_of_work(write=True) as connection:
            repo = MessageRepository(connection)
            unsure = repo.finish_many(self.worker_id, changes)
            repo.add_attempts(
                [_attempt(row, provider, result, now) for row, provider, result in outcomes]
            )
            # As in _record: a receipt got there first, or the lease ran out.
            repo.remember_provider_ids(
                {
                    int(row["id"]): (provider, result.provider_message_id)
                    for row, provider, result in outcomes
                    if int(row["id"]) in unsure
                    and result.outcome is Outcome.SENT
                    and result.provider_message_id is not None
                }
            )
        metrics.count_sends(
            (provider, _SEND_OUTCOME[values["status"]])
            for (_, provider, _), (_, values) in zip(outcomes, changes, strict=True)
        )
        if not log.isEnabledFor(logging.INFO):
            return
        for (row, provider, _), (_, values) in zip(outcomes, changes, strict=True):
            log.info(
                "message %s via %s: %s (attempt %d)",
                row["id"],
                provider,
                values["status"],
                int(row["attempts"]),
            )

    def _record(self, row: dict[str, Any], provider: str, result: SendResult) -> None:
        now = self.clock()
        attempts = int(row["attempts"])
        values = self._values(row, provider, result, now)
        with self.store.unit_of_work(write=True) as connection:
            repo = MessageRepository(connection)
            finished = repo.finish(int(row["id"]), self.worker_id, values)
            repo.add_attempts([_attempt(row, provider, result, now)])
            if not finished and result.outcome is Outcome.SENT:
                # A receipt got there first, or our lease ran out: keep what is
                # there, but do not forget the provider's id for later receipts.
                repo.remember_provider_id(int(row["id"]), provider, result.provider_message_id)
        metrics.count_sends([(provider, _SEND_OUTCOME[values["status"]])])
        log.info(
            "message %s via %s: %s (attempt %d)", row["id"], provider, values["status"], attempts
        )

    def _values(
        self, row: dict[str, Any], provider: str, result: SendResult, now: datetime
    ) -> dict[str, Any]:
        """The columns a send outcome sets: sent, retried after a backoff, or failed."""
        attempts = int(row["attempts"])
        values: dict[str, Any] = {"updated_at": now, "provider": provider}
        if result.outcome is Outcome.SENT:
            values.update(
                status=MessageStatus.SENT.value,
                sent_at=now,
                provider_message_id=result.provider_message_id,
                last_error=None,
            )
        elif result.outcome is Outcome.RETRY and attempts < self.settings.max_send_attempts:
            delay = backoff_seconds(
                attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds
            )
            values.update(
                status=MessageStatus.QUEUED.value,
                next_attempt_at=now + timedelta(seconds=delay),
                last_error=(result.error or "temporary failure")[:1000],
            )
        else:
            reason = result.error or "failed"
            if result.outcome is Outcome.RETRY:
                reason = f"gave up after {attempts} attempts: {reason}"
            values.update(
                status=MessageStatus.FAILED.value, failed_at=now, last_error=reason[:1000]
            )
        return values


def _attempt(
    row: dict[str, Any], provider: str, result: SendResult, now: datetime
) -> dict[str, Any]:
    """The ``message_attempts`` row of one send: recorded whatever became of the
    message (a receipt may have got there first), since the attempt was made."""
    return {
        "instance_id": int(row["instance_id"]),
        "message_id": int(row["id"]),
        "attempt": int(row["attempts"]),
        "at": now,
        "provider": provider,
        "outcome": result.outcome.value,
        "provider_message_id": result.provider_message_id,
        "error": result.error[:1000] if result.error else None,
    }
