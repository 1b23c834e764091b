"""What the handlers need at run time, attached to the Spyne application."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import Settings
from ..services.auth_guard import AuthGuard
from ..store.engine import Store


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: Store
    # Password-guessing defence: one per application, so per worker process.
    auth_guard: AuthGuard = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_guard", AuthGuard.from_settings(self.settings))
