"""The checker's vocabulary: a check, its outcome, and what a run is told to do."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .contract import Limit
from .exchange import Exchange

if TYPE_CHECKING:
    from .context import Context


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not applicable"


class RuleBrokenError(Exception):
    """The clinic broke the check's rule; the message says how (never a patient value)."""

    def __init__(self, message: str, *exchanges: Exchange) -> None:
        super().__init__(message)
        self.message = message
        self.exchanges = list(exchanges)


class NotApplicableError(Exception):
    """The check cannot be made in this run; the message says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Kind(enum.Enum):
    BEHAVIOUR = "behaviour"  # makes calls and judges what the clinic does
    ANSWERS = "answers"  # judges every answer the run received, after the run


@dataclass(frozen=True)
class Check:
    """One rule of the contract. ``run`` returns an optional note when the rule
    holds, raises ``RuleBrokenError`` when it does not and ``NotApplicableError`` when it
    cannot be told."""

    name: str
    operation: str
    rule: str
    run: Callable[[Context], str | None]
    writes: bool = False
    kind: Kind = Kind.BEHAVIOUR


@dataclass
class Result:
    check: Check
    status: Status
    detail: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    # The exchanges the failure is about (the first is shown first), when known.
    culprits: list[Exchange] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.check.name


@dataclass(frozen=True)
class CheckConfig:
    """What one run does. ``limits`` are per operation; ``overlap`` is how far
    before a change the delta reads ask from, as the poller does (clock skew)."""

    address: str
    limits: dict[str, Limit]
    overlap: timedelta
    http_timeout: float
    allow_writes: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    center_lid: str | None = None
    activity_lid: str | None = None
    skip: frozenset[str] = frozenset()
    run_id: str = "conformance"
    # Wall-clock "now" (UTC, aware) for LAST_REQUEST_TIMESTAMP and date windows.
    now: Callable[[], datetime] | None = None


@dataclass
class Report:
    address: str
    results: list[Result]
    allow_writes: bool
    started_at: datetime
    seconds: float
    leftovers: list[str] = field(default_factory=list)  # APP_LIDs we could not undo

    def count(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status is status)

    @property
    def failed(self) -> bool:
        return self.count(Status.FAILED) > 0


def counted(n: int, word: str) -> str:
    """``1 answer``, ``3 answers``: for the notes of a report."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
