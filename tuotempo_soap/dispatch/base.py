"""The sender interface every provider implements.

A sender never raises for a provider problem: it answers with a ``SendResult``
saying whether the message went out, should be retried later, or can never be
sent. The worker owns retries, backoff and status; senders own the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # temporary: timeout, 5xx, 429, connection refused
    PERMANENT = "permanent"  # never retry: invalid number, rejected, 4xx


@dataclass(frozen=True)
class OutgoingMessage:
    """What a sender needs.

    ``reference`` is what the provider gets from us: the idempotency key and the
    reference it quotes back in receipts and answers. It is random (never the
    sequential ``message_id``, which stays ours, for logs), and the same on
    every attempt, so a provider that honours keys drops a resend.
    """

    message_id: int
    instance: str
    channel: str  # SMS, EMAIL, VOICE, FAX, PUSH, WHATSAPP
    recipient: str  # E.164 phone, e-mail address or push token
    text: str
    reference: str
    sender_id: str | None = None  # SMS sender id / caller id as the HIS asked
    subject: str | None = None
    language: str | None = None
    email_from: str | None = None  # from the instance settings
    reply_to: str | None = None


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None  # short, for operators and searchMessages; no patient data

    @classmethod
    def sent(cls, provider_message_id: str | None = None) -> SendResult:
        return cls(Outcome.SENT, provider_message_id)

    @classmethod
    def retry(cls, error: str) -> SendResult:
        return cls(Outcome.RETRY, error=error)

    @classmethod
    def permanent(cls, error: str) -> SendResult:
        return cls(Outcome.PERMANENT, error=error)


class Sender(Protocol):
    """One configured provider. ``name`` is its key in the dispatch configuration."""

    name: str

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def close(self) -> None: ...
