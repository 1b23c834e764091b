"""How the reference clinic behaves: credentials, injected slowness and failures, "today".

One immutable ``ServerOptions`` is read from ``CLINIC_*`` environment variables
at start-up. A test changes it at run time through ``POST /_control`` (see
``app.py``), which swaps in a new object: a request reads the options once and
sees one consistent set, never half of an update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

OPERATIONS = frozenset(
    {
        "searchAvailabilities",
        "addAppointment",
        "deleteAppointment",
        "checkAppointment",
        "getAppointments",
        "getCenters",
        "KeyEntities",
        "SearchAppointments",
        "CancelAppointment",
        "getTestResultsList",
        "getTestResultContent",
    }
)
ALL_OPERATIONS = "*"
"""In ``fail_operations``: every operation fails."""

ENV_PREFIX = "CLINIC_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class ServerOptions:
    username: str | None = None
    """When set (or ``password`` is), every call must carry a matching ``AUTH``."""
    password: str | None = None
    delay_seconds: float = 0.0
    """Sleep this long before answering (a slow clinic, for timeout tests)."""
    delay_operations: frozenset[str] = field(default_factory=frozenset)
    """Operations the delay applies to; empty means all of them."""
    fail_operations: frozenset[str] = field(default_factory=frozenset)
    """Operations answered with a ``Server.Unavailable`` fault (``*``: all)."""
    fail_http_500: bool = False
    """Answer every SOAP POST with a bare HTTP 500 and no body (the WSDL is still served)."""
    today: date | None = None
    """The agenda's "today"; None means the real date (and the real time of day)."""
    weeks_ahead: int = 8
    """How far ahead the weekly availabilities are expanded into bookable slots."""
    enable_control: bool = False
    """Serve ``/_control``; only settable at start-up (``CLINIC_ENABLE_CONTROL=1``)."""

    def __post_init__(self) -> None:
        # Accept any iterable of names (a set, a list from JSON) but keep it hashable.
        for name in ("delay_operations", "fail_operations"):
            names = frozenset(getattr(self, name))
            unknown = names - OPERATIONS - {ALL_OPERATIONS}
            if unknown:
                raise ValueError(f"{name}: unknown operation(s) {', '.join(sorted(unknown))}")
            object.__setattr__(self, name, names)
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        if self.weeks_ahead < 1:
            raise ValueError("weeks_ahead must be at least 1")

    @property
    def auth_required(self) -> bool:
        return bool(self.username or self.password)

    def current_date(self) -> date:
        return self.today or date.today()

    def delays(self, operation: str) -> bool:
        return self.delay_seconds > 0 and (
            not self.delay_operations or operation in self.delay_operations
        )

    def fails(self, operation: str) -> bool:
        return operation in self.fail_operations or ALL_OPERATIONS in self.fail_operations

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServerOptions:
        """Options from ``CLINIC_<FIELD>`` variables (lists comma-separated)."""
        values: dict[str, Any] = {}
        for option in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + option.name.upper())
            if raw is not None:
                values[option.name] = _coerce(option.name, raw.strip())
        return cls(**values)

    def updated(self, changes: Mapping[str, Any]) -> ServerOptions:
        """A copy with ``changes`` (decoded JSON) applied; ValueError on a bad field."""
        known = {option.name for option in dataclasses.fields(self)} - {"enable_control"}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        values = {name: _coerce(name, value) for name, value in changes.items()}
        return dataclasses.replace(self, **values)

    def to_json(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": "***" if self.password else None,  # never echo a secret
            "delay_seconds": self.delay_seconds,
            "delay_operations": sorted(self.delay_operations),
            "fail_operations": sorted(self.fail_operations),
            "fail_http_500": self.fail_http_500,
            "today": self.today.isoformat() if self.today else None,
            "weeks_ahead": self.weeks_ahead,
            "enable_control": self.enable_control,
        }


def _coerce(name: str, value: Any) -> Any:
    """One parser for environment strings and JSON values alike."""
    if name in ("username", "password"):
        return None if value in (None, "") else str(value)
    if name == "delay_seconds":
        return float(value or 0)
    if name == "weeks_ahead":
        return int(value)
    if name in ("delay_operations", "fail_operations"):
        return _names(value)
    if name in ("fail_http_500", "enable_control"):
        return _flag(name, value)
    if name == "today":
        return _day(value)
    raise ValueError(f"unknown option: {name}")


def _names(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, Iterable):
        return frozenset(str(part) for part in value)
    raise ValueError(f"expected a list of operation names, got {value!r}")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}: expected true or false, got {value!r}")


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(str(value), pattern).date()
        except ValueError:
            continue
    raise ValueError(f"today: expected yyyy-mm-dd or dd/mm/yyyy, got {value!r}")
