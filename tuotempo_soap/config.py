"""One settings object, read from ``TUOTEMPO_*`` environment variables, built once.

Entry points call ``Settings.from_env()`` and pass the result down; nothing else
reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set. Defaults give a working embedded server."""

    data_dir: Path
    database_url: str
    auto_migrate: bool = True
    max_batch_items: int = 1000
    max_page_size: int = 500
    default_page_size: int = 100
    max_body_bytes: int = 8 * 1024 * 1024
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("TUOTEMPO_DATA_DIR") or "tuotempo-data").resolve()
        url = env.get("TUOTEMPO_DATABASE_URL") or f"sqlite:///{data_dir / 'tuotempo.db'}"
        max_page = _int(env, "TUOTEMPO_MAX_PAGE_SIZE", 500)
        return cls(
            data_dir=data_dir,
            database_url=url,
            auto_migrate=_bool(env, "TUOTEMPO_AUTO_MIGRATE", True),
            max_batch_items=_int(env, "TUOTEMPO_MAX_BATCH_ITEMS", 1000),
            max_page_size=max_page,
            default_page_size=min(_int(env, "TUOTEMPO_DEFAULT_PAGE_SIZE", 100), max_page),
            max_body_bytes=_int(env, "TUOTEMPO_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=1024),
            log_level=(env.get("TUOTEMPO_LOG_LEVEL") or "INFO").upper(),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
