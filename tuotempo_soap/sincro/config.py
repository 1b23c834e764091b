"""The agent's configuration: a small TOML file, secrets from the environment.

::

    [server]                      # our SOAP server, called as the HIS would
    url = "https://tuotempo.example/soap"
    instance = "tt_clinic"
    username = "sincro"
    password_env = "TUOTEMPO_SINCRO_PASSWORD"

    [clinic]                      # the clinic's database, read-only user
    database_url = "mysql+pymysql://tuotempo_sincro@db.clinic.lan/agenda"
    password_env = "TUOTEMPO_SINCRO_DATABASE_PASSWORD"
    change_column = "LAST_CHANGE" # optional: else every row is compared by checksum

    [formats]                     # optional: proprietary date and time columns
    APP_DATE = "yyyymmdd"

    [status]                      # optional: the clinic's status codes
    BOOKED = "APPROVED"

    [state]
    path = "sincro-state.db"      # relative to this file

Every key is checked (unknown keys are errors, so a typo is not silently
ignored) and an error names the key: ``clinic.change_column: ...``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ..domain.reservation import FIELDS, Status
from .errors import SincroConfigError
from .formats import DateFormat, TimeFormat

# Names of environment variables, not secrets.
DEFAULT_PASSWORD_ENV = "TUOTEMPO_SINCRO_PASSWORD"  # noqa: S105
DEFAULT_DATABASE_PASSWORD_ENV = "TUOTEMPO_SINCRO_DATABASE_PASSWORD"  # noqa: S105
CONFIG_ENV = "TUOTEMPO_SINCRO_CONFIG"
# The server refuses more than its TUOTEMPO_MAX_BATCH_ITEMS (1000 by default);
# the agent also halves a batch the server calls too large.
MAX_BATCH = 1000
_DATE_FIELDS = frozenset(s.name for s in FIELDS if s.kind == "date")
_TIME_FIELDS = frozenset(s.name for s in FIELDS if s.kind == "time")
_IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$#")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _identifier(value: str) -> str:
    value = value.strip()
    if not value or set(value) - _IDENTIFIER_CHARS:
        raise ValueError("must be a plain identifier (letters, digits, _)")
    return value


class ServerSection(_Section):
    url: str = Field(description="our SOAP endpoint, e.g. https://tuotempo.example/soap")
    wsdl_url: str | None = None
    instance: str
    username: str
    password_env: str = DEFAULT_PASSWORD_ENV
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    batch_size: int = Field(default=500, ge=1, le=MAX_BATCH)
    page_size: int = Field(default=500, ge=1, le=MAX_BATCH)

    @field_validator("url", "wsdl_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// address")
        return value


class ClinicSection(_Section):
    database_url: str
    password_env: str = DEFAULT_DATABASE_PASSWORD_ENV
    schema_name: str | None = Field(default=None, alias="schema")
    resources_view: str = "TT_RESOURCES"
    reservations_view: str = "TT_RESERVATIONS"
    delete_table: str = "TT_DELETE_RESERVATION"
    change_column: str | None = None
    timezone: str | None = None
    send_patient_identity: bool = False
    deletions: Literal["cancel", "ignore"] = "cancel"

    @field_validator(
        "schema_name", "resources_view", "reservations_view", "delete_table", "change_column"
    )
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @field_validator("database_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL such as mysql+pymysql://user@host/db, "
                "postgresql://user@host/db or mssql+pyodbc://user@dsn"
            ) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"'{value}' is not a time zone such as Europe/Madrid") from None
        return value


class StateSection(_Section):
    path: str = "sincro-state.db"


class RunSection(_Section):
    interval_seconds: float = Field(default=300.0, ge=1, le=86400)


class LogSection(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "text"


class ConfigFile(_Section):
    server: ServerSection
    clinic: ClinicSection
    formats: dict[str, str] = Field(default_factory=dict)
    status: dict[str, str] = Field(default_factory=dict)
    state: StateSection = Field(default_factory=StateSection)
    run: RunSection = Field(default_factory=RunSection)
    log: LogSection = Field(default_factory=LogSection)


@dataclass(frozen=True)
class SincroConfig:
    """Everything one agent needs, read and checked; secrets included."""

    server: ServerSection
    clinic: ClinicSection
    password: str
    database_url: URL
    date_formats: Mapping[str, DateFormat]
    time_formats: Mapping[str, TimeFormat]
    status_map: Mapping[str, str]
    state_path: Path
    interval_seconds: float
    log: LogSection
    zone: ZoneInfo | None

    @property
    def wsdl_url(self) -> str:
        return self.server.wsdl_url or f"{self.server.url}?wsdl"


def _location(error: Mapping[str, Any]) -> str:
    parts = [str(p) for p in error.get("loc", ())]
    return ".".join("schema" if p == "schema_name" else p for p in parts) or "configuration"


def load_config(path: Path, env: Mapping[str, str] | None = None) -> SincroConfig:
    """Read ``path`` (TOML) and the secrets it names from ``env``."""
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SincroConfigError(f"configuration file {path} does not exist") from None
    except OSError as exc:
        raise SincroConfigError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SincroConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _location(first)
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise SincroConfigError(f"{path}: {where}: {message}", field=where) from None
    return _complete(parsed, path, env)


def _complete(parsed: ConfigFile, path: Path, env: Mapping[str, str]) -> SincroConfig:
    password = env.get(parsed.server.password_env)
    if not password:
        raise SincroConfigError(
            f"the server password is read from the environment variable "
            f"{parsed.server.password_env}, which is not set",
            field="server.password_env",
        )
    url = make_url(parsed.clinic.database_url)
    database_password = env.get(parsed.clinic.password_env)
    if database_password:
        url = url.set(password=database_password)
    dates: dict[str, DateFormat] = {}
    times: dict[str, TimeFormat] = {}
    for name, pattern in parsed.formats.items():
        field = name.upper()
        try:
            if field in _DATE_FIELDS:
                dates[field] = DateFormat.named(pattern)
            elif field in _TIME_FIELDS:
                times[field] = TimeFormat.named(pattern)
            else:
                known = ", ".join(sorted(_DATE_FIELDS | _TIME_FIELDS))
                raise ValueError(f"is not a date or time field; these are: {known}")
        except ValueError as exc:
            raise SincroConfigError(
                f"{path}: formats.{name}: {exc}", field=f"formats.{name}"
            ) from None
    status_map: dict[str, str] = {}
    for code, guide in parsed.status.items():
        try:
            status_map[code.strip().upper()] = Status.parse(guide).value
        except ValueError as exc:
            raise SincroConfigError(
                f"{path}: status.{code}: {exc}", field=f"status.{code}"
            ) from None
    state_path = Path(parsed.state.path).expanduser()
    if not state_path.is_absolute():
        state_path = path.resolve().parent / state_path
    return SincroConfig(
        server=parsed.server,
        clinic=parsed.clinic,
        password=password,
        database_url=url,
        date_formats=dates,
        time_formats=times,
        status_map=status_map,
        state_path=state_path,
        interval_seconds=parsed.run.interval_seconds,
        log=parsed.log,
        zone=ZoneInfo(parsed.clinic.timezone) if parsed.clinic.timezone else None,
    )
