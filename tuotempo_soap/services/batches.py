"""What every batch operation answers: one outcome per item, and the whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from ..errors import BatchTooLargeError, RequestValidationError


class _Item(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def action(self) -> StrEnum | None: ...


Item = TypeVar("Item", bound=_Item)


@dataclass
class Batch(Generic[Item]):
    items: list[Item]

    @property
    def result(self) -> str:
        """OK (every item taken), PARTIAL (some refused) or ERROR (none taken)."""
        good = sum(1 for item in self.items if item.ok)
        if good == len(self.items):
            return "OK"
        return "PARTIAL" if good else "ERROR"

    def count(self, action: StrEnum) -> int:
        return sum(1 for item in self.items if item.action is action)

    @property
    def failed(self) -> int:
        return sum(1 for item in self.items if not item.ok)


def check_size(items: Sequence[object], name: str, max_items: int) -> None:
    """1 to ``max_items`` items, or a whole-request error naming the field."""
    if not items:
        raise RequestValidationError(f"{name} is empty; send 1 or more", field=name)
    if len(items) > max_items:
        raise BatchTooLargeError(
            f"{name} has {len(items)} items; at most {max_items} per call", field=name
        )
