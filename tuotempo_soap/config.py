"""One settings object, read from ``TUOTEMPO_*`` environment variables, built once.

``Settings`` is one validated model (a frozen pydantic dataclass, so
``dataclasses.replace`` works on it): each field is read by pydantic-settings
from the variable ``TUOTEMPO_<FIELD NAME>``, an empty variable means "the
default", and a value that does not fit is refused with the variable's name and
what it expects (``SettingsError``). Entry points call ``Settings.from_env()``
and pass the result down; nothing else reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "TUOTEMPO_"
SOAP_ENGINES = ("fast", "spyne")

IPNetwork = IPv4Network | IPv6Network
# Loopback: the proxy runs on the same machine (as gunicorn's forwarded_allow_ips).
DEFAULT_TRUSTED_PROXIES: tuple[IPNetwork, ...] = (ip_network("127.0.0.1"), ip_network("::1"))


class SettingsError(ValueError):
    """A ``TUOTEMPO_*`` variable holds a value that does not fit; the message names
    each such variable and what it expects."""


def env_name(field: str) -> str:
    """The variable of a settings field: ``max_page_size`` -> ``TUOTEMPO_MAX_PAGE_SIZE``."""
    return f"{ENV_PREFIX}{field.upper()}"


# The description of a field is what its variable expects, in the words of the
# error message: "TUOTEMPO_X must be <description>, not 'value'". The helpers
# are typed as their default so that type checkers see a field with a default.
def _count(default: int, minimum: int = 1) -> int:
    return Field(default=default, ge=minimum, description=f"a whole number, at least {minimum}")


def _positive(default: float) -> float:
    return Field(default=default, gt=0, allow_inf_nan=False, description="a number more than 0")


def _seconds(default: float, *, zero: bool = True) -> float:
    """A duration in seconds; 0 (when ``zero``) means "no bound"."""
    if zero:
        return Field(
            default=default,
            ge=0,
            allow_inf_nan=False,
            description="a number of seconds, 0 (no bound) or more",
        )
    return Field(
        default=default, gt=0, allow_inf_nan=False, description="a number of seconds more than 0"
    )


# ``from_env(mapping)`` reads that mapping instead of ``os.environ`` (tests,
# tools): the source below takes the variables from here while a model is built.
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("tuotempo_environ", default=None)


class _EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source, over a given mapping of variables."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        if environ is None:
            environ = os.environ
        return {
            (key if self.case_sensitive else key.lower()): value
            for key, value in environ.items()
            if not (self.env_ignore_empty and value == "")
        }


@dataclass(frozen=True, config=ConfigDict(validate_default=True))
class Settings:
    """Everything an operator can set. Defaults give a working embedded server."""

    data_dir: Path = Field(default=Path("tuotempo-data"), description="a directory path")
    # Default: an SQLite file in ``data_dir``.
    database_url: str = Field(default="", description="a database URL")
    auto_migrate: bool = Field(default=True, description="true or false")
    max_batch_items: int = _count(1000)
    max_page_size: int = _count(500)
    default_page_size: int = _count(100)  # never more than max_page_size
    max_body_bytes: int = _count(8 * 1024 * 1024, minimum=1024)
    # Bounds on every wait for the database, in seconds (README, "Timeouts"):
    # connecting, one statement (0 = none), a lock (0 = none), a pooled
    # connection; and how long /healthz waits for its ping.
    db_connect_timeout: float = _seconds(3.0, zero=False)
    db_statement_timeout: float = _seconds(15.0)
    db_lock_timeout: float = _seconds(5.0)
    db_pool_timeout: float = _seconds(5.0, zero=False)
    health_timeout: float = _seconds(1.5, zero=False)
    # Password guessing (README, "Security"): Argon2 checks at once per process,
    # how long a request waits for one, and the failure throttle's rule.
    auth_max_concurrent_hashes: int = _count(1)
    auth_hash_wait_seconds: float = _positive(0.5)
    auth_failures_before_delay: int = _count(3, minimum=0)
    auth_failures_before_lock: int = _count(10)
    auth_lock_seconds: float = _positive(60.0)
    auth_failure_memory_seconds: float = _positive(900.0)
    # Behind a reverse proxy (deploy/nginx.conf): how many proxies set X-Forwarded-*,
    # and which peers may be one. 0 = no proxy: the headers are not believed at all.
    trusted_proxy_hops: int = _count(0, minimum=0)
    trusted_proxies: tuple[IPNetwork, ...] = Field(
        default=DEFAULT_TRUSTED_PROXIES,
        description="a comma-separated list of IP addresses or networks",
    )
    log_level: str = Field(default="INFO", description="a logging level such as INFO or DEBUG")
    # Log lines (README, "Operating"): one JSON object per line, or plain text.
    # Unset: JSON (gunicorn.conf.py, the worker), text for ``serve --demo``.
    log_format: Literal["json", "text"] | None = Field(default=None, description="json or text")
    # Who may scrape /metrics (web/metrics.py): with a token, only with
    # ``Authorization: Bearer <token>``; the peers allowed (unset: loopback only
    # without a token, any with one). The token is kept out of the repr.
    metrics_token: str | None = Field(default=None, repr=False, description="a secret string")
    metrics_allow: tuple[IPNetwork, ...] | None = Field(
        default=None, description="a comma-separated list of IP addresses or networks"
    )
    # Message gateway (see README, "Message gateway").
    senders_file: Path | None = Field(default=None, description="a file path")
    worker_batch_size: int = _count(20)
    worker_poll_seconds: float = _positive(2.0)
    worker_lease_seconds: int = _count(120)
    # Sends in flight at once per worker process (1 = one after another).
    worker_concurrency: int = _count(16)
    max_send_attempts: int = _count(6)
    retry_base_seconds: float = _positive(30.0)
    retry_max_seconds: float = _positive(3600.0)
    # Signs the confirm/cancel links of e-mails; set it in production (and the
    # same on every server), else a key is kept in the data directory. Kept out
    # of the settings' repr, which may end up in a log.
    secret_key: str | None = Field(default=None, repr=False, description="a secret string")
    # How patients reach this server (links in e-mails).
    public_url: str | None = Field(
        default=None, description="a URL such as https://memo.example.com"
    )
    clock_file: Path | None = Field(
        default=None, description="a file path"
    )  # tests: tuotempo_soap.clock
    # How SOAP requests of our operations are read and answered: "fast" (lxml,
    # soap/fast.py) or "spyne" (Spyne's own path). The wire is the same.
    soap_engine: Literal["fast", "spyne"] = Field(default="fast", description="fast or spyne")
    # The back office (/admin, web/admin/). Its session cookies are signed with
    # this key: set it in production, the same on every server (else a key is
    # kept in the data directory, and a session opened on one server is unknown
    # to the others). Kept out of the settings' repr.
    admin_secret: str | None = Field(
        default=None,
        repr=False,
        min_length=32,
        description="a secret string of 32 characters or more",
    )
    # The cookie's Secure flag: auto = when the request came over https (as seen
    # behind a trusted proxy), or always / never.
    admin_cookie_secure: Literal["auto", "true", "false"] = Field(
        default="auto", description="auto, true or false"
    )
    # A session ends after this long without a request, and this long after sign-in.
    admin_session_idle_seconds: float = _positive(1800.0)
    admin_session_max_seconds: float = _positive(12 * 3600.0)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``env`` (default: the process environment) alone.

        Raises ``SettingsError`` naming every variable that is wrong.
        """
        raw = _variables(os.environ if env is None else env)
        try:
            return cls(**raw)  # type: ignore[arg-type]  # text, read by the validators
        except ValidationError as exc:
            raise SettingsError(_explain(exc, raw)) from None

    @field_validator("data_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @field_validator("database_url", mode="after")
    @classmethod
    def _default_database(cls, value: str, info: ValidationInfo) -> str:
        if value.strip():
            return value.strip()
        data_dir = info.data.get("data_dir") or Path("tuotempo-data").resolve()
        return f"sqlite:///{data_dir / 'tuotempo.db'}"

    @field_validator("default_page_size", mode="after")
    @classmethod
    def _within_max_page(cls, value: int, info: ValidationInfo) -> int:
        maximum = info.data.get("max_page_size")
        return min(value, maximum) if maximum is not None else value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return DEFAULT_TRUSTED_PROXIES
        # strict=False: 10.1.2.3/8 means the network 10.0.0.0/8, as operators write it.
        return tuple(
            ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
        )

    @field_validator("metrics_allow", mode="before")
    @classmethod
    def _metrics_networks(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return (
            tuple(
                ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
            )
            or None
        )

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_word(cls, value: object) -> object:
        return (value.strip().lower() or None) if isinstance(value, str) else value

    @field_validator("metrics_token", mode="after")
    @classmethod
    def _no_blank_token(cls, value: str | None) -> str | None:
        return (value or "").strip() or None

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper() or "INFO"

    @field_validator("public_url", mode="after")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return (value or "").strip().rstrip("/") or None

    @field_validator("secret_key", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("admin_cookie_secure", mode="before")
    @classmethod
    def _secure_word(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        return {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false"}.get(
            word, word
        )

    @field_validator("soap_engine", mode="before")
    @classmethod
    def _engine_name(cls, value: object) -> object:
        return (value.strip().lower() or "fast") if isinstance(value, str) else value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class _Variables(BaseSettings):
    """The ``TUOTEMPO_*`` variables as text, one field per settings field (added
    by ``_variables``); ``Settings`` itself reads and checks the values."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_ignore_empty=True,  # TUOTEMPO_X= means the default, as it always did
        extra="ignore",  # TUOTEMPO_TEST_DATABASE_URL and friends belong to others
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment only: no arguments, no .env file, no secrets directory.
        return (_EnvironSource(settings_cls),)


_VARIABLES = create_model(
    "SettingsVariables",
    __base__=_Variables,
    **{field.name: (str | None, None) for field in dataclasses.fields(Settings)},  # type: ignore[call-overload]
)


def _variables(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings fields set in ``environ``, as given (blank ones left out)."""
    token = _ENVIRON.set(environ)
    try:
        values = _VARIABLES().model_dump(exclude_none=True)
    finally:
        _ENVIRON.reset(token)
    return {name: value for name, value in values.items() if isinstance(value, str)}


def _explain(error: ValidationError, raw: Mapping[str, str]) -> str:
    """One line per refused variable: its name, what it expects, what it holds."""
    lines = []
    seen = set()
    fields = Settings.__pydantic_fields__  # type: ignore[attr-defined]
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        if field in seen:
            continue
        seen.add(field)
        info = fields.get(field)
        expected = (info.description if info is not None else None) or "a valid value"
        lines.append(
            f"{env_name(field)} must be {expected}, not {raw.get(field, problem.get('input'))!r}"
        )
    return "; ".join(lines)
