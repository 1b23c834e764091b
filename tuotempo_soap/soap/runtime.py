"""What the handlers need at run time, attached to the Spyne application."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..store.engine import Store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
