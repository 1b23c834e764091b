"""A scripted sender and a one-provider dispatch slice for tests that run the real outbox worker."""

from __future__ import annotations

from tuotempo_soap.dispatch.base import OutgoingMessage, SendResult
from tuotempo_soap.dispatch.ratelimit import RateLimiter


class ScriptedSender:
    name = "scripted"

    def __init__(self, *results: SendResult) -> None:
        self.results = list(results)
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> SendResult:
        self.sent.append(message)
        return self.results.pop(0) if self.results else SendResult.sent(f"p-{message.message_id}")

    def close(self) -> None:
        pass


class OneProvider:
    """The slice of DispatchConfig the worker uses, with one scripted provider."""

    def __init__(self, sender: ScriptedSender) -> None:
        self.sender = sender

    def provider_name_for(self, instance: str, channel: str) -> str:
        return "scripted"

    def sender_for(self, instance: str, channel: str) -> ScriptedSender:
        return self.sender

    def rate_limiter(self, provider: str) -> RateLimiter:
        return RateLimiter(None)

    def max_concurrency(self, provider: str) -> int | None:
        return None
