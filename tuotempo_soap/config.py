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


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be more than 0")
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
    # Message gateway (see README, "Message gateway").
    senders_file: Path | None = None
    worker_batch_size: int = 20
    worker_poll_seconds: float = 2.0
    worker_lease_seconds: int = 120
    max_send_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    # Signs the confirm/cancel links of e-mails; set it in production (and the
    # same on every server), else a key is kept in the data directory.
    secret_key: str | None = None
    public_url: str | None = None  # how patients reach this server (links in e-mails)
    clock_file: Path | None = None  # tests only: see tuotempo_soap.clock

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
            senders_file=Path(env["TUOTEMPO_SENDERS_FILE"])
            if env.get("TUOTEMPO_SENDERS_FILE")
            else None,
            worker_batch_size=_int(env, "TUOTEMPO_WORKER_BATCH_SIZE", 20),
            worker_poll_seconds=_float(env, "TUOTEMPO_WORKER_POLL_SECONDS", 2.0),
            worker_lease_seconds=_int(env, "TUOTEMPO_WORKER_LEASE_SECONDS", 120),
            max_send_attempts=_int(env, "TUOTEMPO_MAX_SEND_ATTEMPTS", 6),
            retry_base_seconds=_float(env, "TUOTEMPO_RETRY_BASE_SECONDS", 30.0),
            retry_max_seconds=_float(env, "TUOTEMPO_RETRY_MAX_SECONDS", 3600.0),
            secret_key=env.get("TUOTEMPO_SECRET_KEY") or None,
            public_url=(env.get("TUOTEMPO_PUBLIC_URL") or "").rstrip("/") or None,
            clock_file=Path(env["TUOTEMPO_CLOCK_FILE"]) if env.get("TUOTEMPO_CLOCK_FILE") else None,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
