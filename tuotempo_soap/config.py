"""One settings object, read from ``TUOTEMPO_*`` environment variables, built once.

Entry points call ``Settings.from_env()`` and pass the result down; nothing else
reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
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


def _seconds(env: Mapping[str, str], name: str, default: float, *, zero: bool = True) -> float:
    """A duration in seconds; 0 (when ``zero``) means "no bound"."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value >= 0 or value == float("inf") or (value == 0 and not zero):
        raise ValueError(f"{name} must be {'0 or more' if zero else 'more than 0'} seconds")
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


SOAP_ENGINES = ("fast", "spyne")


def _soap_engine(env: Mapping[str, str]) -> str:
    raw = (env.get("TUOTEMPO_SOAP_ENGINE") or "").strip().lower() or "fast"
    if raw not in SOAP_ENGINES:
        raise ValueError(f"TUOTEMPO_SOAP_ENGINE must be fast or spyne, not {raw!r}")
    return raw


IPNetwork = IPv4Network | IPv6Network
# Loopback: the proxy runs on the same machine (as gunicorn's forwarded_allow_ips).
DEFAULT_TRUSTED_PROXIES: tuple[IPNetwork, ...] = (ip_network("127.0.0.1"), ip_network("::1"))


def _networks(
    env: Mapping[str, str], name: str, default: tuple[IPNetwork, ...]
) -> tuple[IPNetwork, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return tuple(
            ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
        )
    except ValueError:
        raise ValueError(
            f"{name} must be a comma-separated list of IP addresses or networks, not {raw!r}"
        ) from None


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
    # Bounds on every wait for the database, in seconds (README, "Timeouts"):
    # connecting, one statement (0 = none), a lock (0 = none), a pooled
    # connection; and how long /healthz waits for its ping.
    db_connect_timeout: float = 3.0
    db_statement_timeout: float = 15.0
    db_lock_timeout: float = 5.0
    db_pool_timeout: float = 5.0
    health_timeout: float = 1.5
    # Password guessing (README, "Security"): Argon2 checks at once per process,
    # how long a request waits for one, and the failure throttle's rule.
    auth_max_concurrent_hashes: int = 1
    auth_hash_wait_seconds: float = 0.5
    auth_failures_before_delay: int = 3
    auth_failures_before_lock: int = 10
    auth_lock_seconds: float = 60.0
    auth_failure_memory_seconds: float = 900.0
    # Behind a reverse proxy (deploy/nginx.conf): how many proxies set X-Forwarded-*,
    # and which peers may be one. 0 = no proxy: the headers are not believed at all.
    trusted_proxy_hops: int = 0
    trusted_proxies: tuple[IPNetwork, ...] = DEFAULT_TRUSTED_PROXIES
    log_level: str = "INFO"
    # Message gateway (see README, "Message gateway").
    senders_file: Path | None = None
    worker_batch_size: int = 20
    worker_poll_seconds: float = 2.0
    worker_lease_seconds: int = 120
    # Sends in flight at once per worker process (1 = one after another).
    worker_concurrency: int = 16
    max_send_attempts: int = 6
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    # Signs the confirm/cancel links of e-mails; set it in production (and the
    # same on every server), else a key is kept in the data directory.
    secret_key: str | None = None
    public_url: str | None = None  # how patients reach this server (links in e-mails)
    clock_file: Path | None = None  # tests only: see tuotempo_soap.clock
    # How SOAP requests of our operations are read and answered: "fast" (lxml,
    # soap/fast.py) or "spyne" (Spyne's own path). The wire is the same.
    soap_engine: str = "fast"

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
            db_connect_timeout=_seconds(env, "TUOTEMPO_DB_CONNECT_TIMEOUT", 3.0, zero=False),
            db_statement_timeout=_seconds(env, "TUOTEMPO_DB_STATEMENT_TIMEOUT", 15.0),
            db_lock_timeout=_seconds(env, "TUOTEMPO_DB_LOCK_TIMEOUT", 5.0),
            db_pool_timeout=_seconds(env, "TUOTEMPO_DB_POOL_TIMEOUT", 5.0, zero=False),
            health_timeout=_seconds(env, "TUOTEMPO_HEALTH_TIMEOUT", 1.5, zero=False),
            auth_max_concurrent_hashes=_int(env, "TUOTEMPO_AUTH_MAX_CONCURRENT_HASHES", 1),
            auth_hash_wait_seconds=_float(env, "TUOTEMPO_AUTH_HASH_WAIT_SECONDS", 0.5),
            auth_failures_before_delay=_int(
                env, "TUOTEMPO_AUTH_FAILURES_BEFORE_DELAY", 3, minimum=0
            ),
            auth_failures_before_lock=_int(env, "TUOTEMPO_AUTH_FAILURES_BEFORE_LOCK", 10),
            auth_lock_seconds=_float(env, "TUOTEMPO_AUTH_LOCK_SECONDS", 60.0),
            auth_failure_memory_seconds=_float(env, "TUOTEMPO_AUTH_FAILURE_MEMORY_SECONDS", 900.0),
            trusted_proxy_hops=_int(env, "TUOTEMPO_TRUSTED_PROXY_HOPS", 0, minimum=0),
            trusted_proxies=_networks(env, "TUOTEMPO_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
            log_level=(env.get("TUOTEMPO_LOG_LEVEL") or "INFO").upper(),
            senders_file=Path(env["TUOTEMPO_SENDERS_FILE"])
            if env.get("TUOTEMPO_SENDERS_FILE")
            else None,
            worker_batch_size=_int(env, "TUOTEMPO_WORKER_BATCH_SIZE", 20),
            worker_poll_seconds=_float(env, "TUOTEMPO_WORKER_POLL_SECONDS", 2.0),
            worker_lease_seconds=_int(env, "TUOTEMPO_WORKER_LEASE_SECONDS", 120),
            worker_concurrency=_int(env, "TUOTEMPO_WORKER_CONCURRENCY", 16),
            max_send_attempts=_int(env, "TUOTEMPO_MAX_SEND_ATTEMPTS", 6),
            retry_base_seconds=_float(env, "TUOTEMPO_RETRY_BASE_SECONDS", 30.0),
            retry_max_seconds=_float(env, "TUOTEMPO_RETRY_MAX_SECONDS", 3600.0),
            secret_key=env.get("TUOTEMPO_SECRET_KEY") or None,
            public_url=(env.get("TUOTEMPO_PUBLIC_URL") or "").rstrip("/") or None,
            clock_file=Path(env["TUOTEMPO_CLOCK_FILE"]) if env.get("TUOTEMPO_CLOCK_FILE") else None,
            soap_engine=_soap_engine(env),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
