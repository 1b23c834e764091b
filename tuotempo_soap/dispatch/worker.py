"""The outbox worker: claim due messages, send them, record what happened.

Nothing is lost if a worker stops: messages wait in the database. A claimed
message carries a lease; a worker that dies mid-send leaves it to run out and
another worker sends it again with the same idempotency key (the message's
random reference), which a provider that supports keys uses to drop the duplicate. Temporary
failures come back after an exponential backoff with jitter; permanent ones,
and the last allowed attempt, end in FAILED with the reason.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..domain.message import MessageStatus
from ..errors import StoreUnavailableError, TuotempoError
from ..services.instances import utcnow
from ..store.engine import Store
from ..store.outbox import MessageRepository
from .base import Outcome, OutgoingMessage, SendResult
from .config import DispatchConfig

log = logging.getLogger(__name__)

MAX_OUTAGE_PAUSE = 30.0  # seconds between tries while the database is unavailable


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
        # Runs before each batch: the reminder planner and the clinic callbacks
        # ride on the worker's loop, so one process does all the sending.
        self.housekeeping = housekeeping

    def run_once(self) -> int:
        """Send one batch of due messages; return how many were attempted."""
        if self.housekeeping is not None:
            self.housekeeping()
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.worker_lease_seconds)
        with self.store.unit_of_work(write=True) as connection:
            repo = MessageRepository(connection)
            expired = repo.expire_due(now)
            batch = repo.claim(now, self.worker_id, lease, self.settings.worker_batch_size)
            # Recorded before anything is handed over: receipts and patients'
            # answers are then accepted from this provider only.
            providers = {int(row["id"]): self._provider(row) for row in batch}
            references = repo.stamp_claimed(self.worker_id, providers)
            for row in batch:
                row["provider"] = providers[int(row["id"])]
                row["reference"] = references[int(row["id"])]
        if expired:
            log.info("expired %d message(s) before sending", expired)
        # Stop well before the lease ends: past it another worker may take the
        # same messages, and only providers that honour idempotency keys would
        # drop the duplicate. What is left goes back to the queue at once.
        deadline = lease - timedelta(seconds=self.settings.worker_lease_seconds / 4)
        for index, row in enumerate(batch):
            if self.clock() >= deadline:
                self._release([int(r["id"]) for r in batch[index:]])
                return index
            self._send(row)
        return len(batch)

    def _release(self, message_ids: list[int]) -> None:
        with self.store.unit_of_work(write=True) as connection:
            MessageRepository(connection).release(message_ids, self.worker_id, self.clock())
        log.info("gave %d message(s) back before their lease ran out", len(message_ids))

    def run(self, stop: threading.Event, *, once: bool = False) -> int:
        """Loop until ``stop`` is set (or the queue is empty, with ``once``).

        A database that is down or stuck (the store's timeouts turn both into
        ``StoreUnavailableError``) pauses the loop with a growing wait instead
        of ending the worker: the messages wait in the database, and a worker
        that exited would need an operator to come back.
        """
        total = 0
        pause = 0.0
        while not stop.is_set():
            try:
                sent = self.run_once()
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
                break
            if sent < self.settings.worker_batch_size:
                stop.wait(self.settings.worker_poll_seconds if not once else 0)
        return total

    def _provider(self, row: dict[str, Any]) -> str | None:
        try:
            return self.dispatch.provider_name_for(row["instance_name"], row["channel"])
        except TuotempoError:  # no route: _send raises it again, outside the claim
            return None

    def _send(self, row: dict[str, Any]) -> None:
        instance, channel = row["instance_name"], row["channel"]
        provider = self.dispatch.provider_name_for(instance, channel)
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
        self.dispatch.rate_limiter(provider).acquire()
        try:
            result = self.dispatch.sender_for(instance, channel).send(message)
        except Exception as exc:  # a sender bug must not kill the worker
            log.exception("sender %s crashed on message %s", provider, row["id"])
            result = SendResult.retry(f"sender error: {type(exc).__name__}")
        self._record(row, provider, result)

    def _record(self, row: dict[str, Any], provider: str, result: SendResult) -> None:
        now = self.clock()
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
        with self.store.unit_of_work(write=True) as connection:
            repo = MessageRepository(connection)
            finished = repo.finish(int(row["id"]), self.worker_id, values)
            if not finished and result.outcome is Outcome.SENT:
                # A receipt got there first, or our lease ran out: keep what is
                # there, but do not forget the provider's id for later receipts.
                repo.remember_provider_id(int(row["id"]), provider, result.provider_message_id)
        log.info(
            "message %s via %s: %s (attempt %d)", row["id"], provider, values["status"], attempts
        )
