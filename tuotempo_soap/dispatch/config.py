"""The dispatch configuration: which providers exist, and which one sends what.

One JSON file (``examples/dispatch.example.json``) names the providers and
routes each (instance, channel) pair to one of them. It is validated whole at
start-up, so a typo stops the worker with the exact key at fault instead of
failing message by message at three in the morning. Secrets never live in the
file: a ``*_env`` key names the environment variable that holds them.

Without a file every message goes to ``data_dir/outbox-sent.log`` (the demo).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..domain.message import Channel
from ..errors import TuotempoError
from .base import Sender
from .ratelimit import RateLimiter
from .receipts import RECEIPT_AUTHS, RECEIPT_FORMATS, ReceiptSettings
from .senders.file import FileSender
from .senders.http import (
    FIELD_NAMES,
    BasicAuth,
    BearerAuth,
    HeaderAuth,
    HttpAuth,
    HttpFormat,
    HttpSender,
    HttpSettings,
    StaticValue,
)
from .senders.smtp import SmtpSender, SmtpSettings

log = logging.getLogger(__name__)

WILDCARD = "*"
DEFAULT_PROVIDER = "console"
DEFAULT_FILE = "outbox-sent.log"
PROVIDER_TYPES = ("smtp", "http", "file")
HTTP_METHODS = ("POST", "PUT", "PATCH")
HTTP_FORMATS: tuple[HttpFormat, ...] = ("json", "form")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token

T = TypeVar("T")
S = TypeVar("S", bound=str)


class ConfigurationError(TuotempoError):
    """The dispatch configuration is unusable; ``field`` is the dotted key at fault."""

    code = "Server.ConfigurationError"


def _error(key: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"{key} {problem}", field=key)


_ABSENT = object()


class _Section:
    """One JSON object being read: every read is checked and remembered, so that
    ``done()`` can refuse keys nobody asked for (a misspelt key is an error, not
    a silently ignored setting). Keys starting with ``_`` are comments."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise _error(path or "the configuration", "must be a JSON object")
        self.data: dict[str, Any] = data
        self.path = path
        self._read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def raw(self, name: str) -> object:
        """The value, ``None`` for JSON null, ``_ABSENT`` when the key is not there."""
        self._read.add(name)
        return self.data.get(name, _ABSENT)

    def _typed(self, name: str, kind: type[T] | tuple[type, ...], what: str) -> T | None:
        value = self.raw(name)
        if value is _ABSENT or value is None:
            return None
        # bool is an int in Python, never in a configuration file.
        if isinstance(value, bool) and kind is not bool:
            raise _error(self.key(name), f"must be {what}")
        if not isinstance(value, kind):
            raise _error(self.key(name), f"must be {what}")
        return value  # type: ignore[return-value]

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._typed(name, str, "a string")
        if value is None:
            return default
        if not value.strip():
            raise _error(self.key(name), "must not be empty")
        return value.strip()

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise _error(self.key(name), "is missing")
        return value

    def nullable_text(self, name: str, default: str | None) -> str | None:
        """Like ``text``, but an explicit null means "none" rather than "the default"."""
        if self.data.get(name, _ABSENT) is None:
            self._read.add(name)
            return None
        return self.text(name, default)

    def flag(self, name: str, default: bool) -> bool:
        value = self._typed(name, bool, "true or false")
        return default if value is None else bool(value)

    def number(self, name: str, default: float | None) -> float | None:
        value = self._typed(name, (int, float), "a number")
        if value is None:
            return default
        # Python's json reads NaN and Infinity; neither is a rate or a timeout.
        if not (math.isfinite(value) and value > 0):
            raise _error(self.key(name), "must be more than 0")
        return float(value)

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._typed(name, int, "a whole number")
        if value is None:
            return default
        if not low <= value <= high:
            raise _error(self.key(name), f"must be between {low} and {high}")
        return int(value)

    def choice(self, name: str, options: Sequence[S], default: S | None) -> S:
        """One of ``options``; a ``None`` default makes the key required."""
        value = self.text(name)
        if value is None:
            if default is None:
                raise _error(self.key(name), "is missing")
            return default
        for option in options:
            if option == value:
                return option
        allowed = ", ".join(options)
        raise _error(self.key(name), f"must be one of: {allowed} (not {value!r})")

    def header(self, name: str, default: str | None) -> str | None:
        value = self.nullable_text(name, default)
        if value is not None and not _HEADER_NAME.match(value):
            raise _error(self.key(name), f"is not a valid HTTP header name: {value!r}")
        return value

    def section(self, name: str) -> _Section | None:
        value = self.raw(name)
        if value is _ABSENT or value is None:
            return None
        return _Section(value, self.key(name))

    def secret(self, name: str, env: Mapping[str, str]) -> str:
        """The value of the environment variable that ``name`` names; both must exist."""
        variable = self.text(name)
        if variable is None:
            raise _error(self.key(name), "is missing (the environment variable to read)")
        value = env.get(variable)
        if not value:
            raise _error(self.key(name), f"names {variable}, which is not set in the environment")
        return value

    def done(self) -> None:
        unknown = sorted(k for k in self.data if k not in self._read and not k.startswith("_"))
        if unknown:
            raise _error(self.key(unknown[0]), "is not a known setting")


@dataclass(frozen=True)
class ProviderConfig:
    """One validated provider; ``settings`` is what its sender is built from."""

    name: str
    type: str
    settings: SmtpSettings | HttpSettings | Path
    rate_per_second: float | None = None
    burst: int | None = None
    receipts: ReceiptSettings | None = None
    max_concurrency: int | None = None  # sends in flight at once, per worker process


class DispatchConfig:
    """Providers and routes; builds each sender and rate limiter once, on first use.

    Safe to share between worker threads. Call ``close()`` when the worker stops.
    """

    def __init__(
        self, providers: Mapping[str, ProviderConfig], routes: Mapping[tuple[str, str], str]
    ) -> None:
        for (instance, channel), provider in routes.items():
            if provider not in providers:
                raise _error(f"routes.{instance}.{channel}", f"names unknown provider {provider!r}")
        self.providers = dict(providers)
        self.routes = dict(routes)
        self._lock = threading.Lock()
        self._senders: dict[str, Sender] = {}
        self._limiters: dict[str, RateLimiter] = {}

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(self.providers)

    def provider(self, name: str) -> ProviderConfig:
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigurationError(f"no provider named {name!r}", field="providers") from None

    def provider_name_for(self, instance: str, channel: str) -> str:
        """Most specific route first: instance+channel, instance+*, *+channel, *+*."""
        channel = channel.upper()
        for key in (
            (instance, channel),
            (instance, WILDCARD),
            (WILDCARD, channel),
            (WILDCARD, WILDCARD),
        ):
            name = self.routes.get(key)
            if name is not None:
                return name
        raise ConfigurationError(
            f"no route for instance {instance!r}, channel {channel}: add routes.*.{channel} "
            f"or routes.*.*",
            field="routes",
        )

    def sender_for(self, instance: str, channel: str) -> Sender:
        return self.sender(self.provider_name_for(instance, channel))

    def sender(self, provider_name: str) -> Sender:
        with self._lock:
            sender = self._senders.get(provider_name)
            if sender is None:
                sender = build_sender(self.provider(provider_name))
                self._senders[provider_name] = sender
            return sender

    def rate_limiter(self, provider_name: str) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(provider_name)
            if limiter is None:
                provider = self.provider(provider_name)
                limiter = RateLimiter(provider.rate_per_second, provider.burst)
                self._limiters[provider_name] = limiter
            return limiter

    def max_concurrency(self, provider_name: str) -> int | None:
        """The provider's own cap on sends in flight per worker; None leaves it to the worker."""
        return self.provider(provider_name).max_concurrency

    def receipt_settings(self, provider_name: str) -> ReceiptSettings | None:
        """None when the provider takes no receipts, or there is no such provider
        (the name comes from a URL, so both mean "not found" to the caller)."""
        provider = self.providers.get(provider_name)
        return provider.receipts if provider is not None else None

    def close(self) -> None:
        with self._lock:
            senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            try:
                sender.close()
            except Exception:  # one stubborn sender must not keep the others open
                log.exception("closing provider %s failed", sender.name)


def build_sender(provider: ProviderConfig) -> Sender:
    settings = provider.settings
    if isinstance(settings, SmtpSettings):
        return SmtpSender(provider.name, settings)
    if isinstance(settings, HttpSettings):
        return HttpSender(provider.name, settings)
    return FileSender(provider.name, settings)


def default_config(data_dir: Path) -> DispatchConfig:
    console = ProviderConfig(DEFAULT_PROVIDER, "file", data_dir / DEFAULT_FILE)
    return DispatchConfig({DEFAULT_PROVIDER: console}, {(WILDCARD, WILDCARD): DEFAULT_PROVIDER})


def load_dispatch_config(
    path: Path | None, data_dir: Path, env: Mapping[str, str] | None = None
) -> DispatchConfig:
    """Read and validate the file; ``None`` gives the file-only demo default.

    Raises ``ConfigurationError`` naming the dotted key at fault.
    """
    env = os.environ if env is None else env
    if path is None:
        return default_config(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read dispatch configuration {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not valid JSON: {exc}") from None
    return parse_dispatch_config(data, data_dir, env)


def parse_dispatch_config(data: object, data_dir: Path, env: Mapping[str, str]) -> DispatchConfig:
    root = _Section(data, "")
    providers_section = root.section("providers")
    if providers_section is None:
        raise _error("providers", "is missing")
    providers = {
        name: _provider(name, _Section(raw, providers_section.key(name)), data_dir, env)
        for name, raw in providers_section.data.items()
        if not name.startswith("_")
    }
    if not providers:
        raise _error("providers", "must name at least one provider")
    _own_receipt_secrets(providers)
    routes_section = root.section("routes")
    if routes_section is None:
        raise _error("routes", "is missing")
    routes = _routes(routes_section, providers)
    root.done()
    return DispatchConfig(providers, routes)


def _own_receipt_secrets(providers: Mapping[str, ProviderConfig]) -> None:
    """Each provider's inbound endpoints take only its own credentials; two providers
    sharing a secret could post receipts and patients' answers as each other."""
    owner: dict[str, str] = {}
    for name, provider in providers.items():
        if provider.receipts is None:
            continue
        first = owner.setdefault(provider.receipts.secret, name)
        if first != name:
            raise _error(
                f"providers.{name}.receipts.secret_env",
                f"holds the same secret as providers.{first}.receipts; give each provider its own",
            )


def _routes(
    section: _Section, providers: Mapping[str, ProviderConfig]
) -> dict[tuple[str, str], str]:
    channels = [c.value for c in Channel]
    routes: dict[tuple[str, str], str] = {}
    for instance in section.data:
        if instance.startswith("_"):
            continue
        by_channel = section.section(instance)
        if by_channel is None:
            raise _error(section.key(instance), "must be an object of channel: provider")
        for channel in by_channel.data:
            if channel.startswith("_"):
                continue
            key = by_channel.key(channel)
            if channel.upper() not in channels and channel != WILDCARD:
                raise _error(key, f"is not a channel; expected * or one of: {', '.join(channels)}")
            provider = by_channel.required_text(channel)
            if provider not in providers:
                raise _error(key, f"names unknown provider {provider!r}")
            routes[(instance, channel.upper())] = provider
    return routes


def _provider(name: str, s: _Section, data_dir: Path, env: Mapping[str, str]) -> ProviderConfig:
    kind = s.choice("type", PROVIDER_TYPES, None)
    if kind == "file":
        path = Path(s.text("path", DEFAULT_FILE) or DEFAULT_FILE)
        s.done()
        return ProviderConfig(name, kind, path if path.is_absolute() else data_dir / path)
    settings = _smtp(s, env) if kind == "smtp" else _http(s, env)
    receipts_section = s.section("receipts")
    receipts = _receipts(receipts_section, env) if receipts_section is not None else None
    rate = s.number("rate_per_second", None)
    burst = s.integer("burst", None, 1, 100_000)
    max_concurrency = s.integer("max_concurrency", None, 1, 1000)
    s.done()
    return ProviderConfig(name, kind, settings, rate, burst, receipts, max_concurrency)


def _smtp(s: _Section, env: Mapping[str, str]) -> SmtpSettings:
    use_ssl = s.flag("ssl", False)
    starttls = s.flag("starttls", False)
    if use_ssl and starttls:
        raise _error(s.key("starttls"), "cannot be true together with ssl")
    username = s.text("username")
    # Only a username makes the password (and its variable) required.
    password = s.secret("password_env", env) if username else None
    if not username:
        s.text("password_env")
    from_address = s.text("from")
    if from_address is not None and "@" not in parseaddr(from_address)[1]:
        raise _error(s.key("from"), f"is not an e-mail address: {from_address!r}")
    default_port = 465 if use_ssl else 587 if starttls else 25
    return SmtpSettings(
        host=s.required_text("host"),
        port=s.integer("port", default_port, 1, 65535) or default_port,
        starttls=starttls,
        ssl=use_ssl,
        username=username,
        password=password,
        from_address=from_address,
        timeout_seconds=s.number("timeout_seconds", 10.0) or 10.0,
    )


def _http(s: _Section, env: Mapping[str, str]) -> HttpSettings:
    url = s.required_text("url")
    parts = urlsplit(url)
    if parts.username or parts.password:  # checked first: the next message quotes the URL
        raise _error(s.key("url"), "must not carry credentials; use auth with a *_env secret")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(s.key("url"), f"must be an http:// or https:// URL, not {url!r}")
    fields = _fields(s.section("fields"))
    static_fields = _static_fields(s.section("static_fields"), fields)
    return HttpSettings(
        url=url,
        method=s.choice("method", HTTP_METHODS, "POST"),
        format=s.choice("format", HTTP_FORMATS, "json"),
        auth=_auth(s.section("auth"), env),
        fields=fields,
        static_fields=static_fields,
        idempotency_header=s.header("idempotency_header", "Idempotency-Key"),
        message_id_path=s.nullable_text("message_id_path", None),
        timeout_seconds=s.number("timeout_seconds", 10.0) or 10.0,
    )


def _fields(s: _Section | None) -> dict[str, str]:
    if s is None:
        return {"to": "to", "text": "text"}
    fields: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in FIELD_NAMES:
        theirs = s.required_text(name) if name in ("to", "text") else s.nullable_text(name, None)
        if theirs is None:
            continue
        if theirs in owner:
            raise _error(s.key(name), f"uses {theirs!r}, already used by {s.key(owner[theirs])}")
        owner[theirs] = name
        fields[name] = theirs
    s.done()
    return fields


def _static_fields(s: _Section | None, fields: Mapping[str, str]) -> dict[str, StaticValue]:
    if s is None:
        return {}
    taken = set(fields.values())
    static: dict[str, StaticValue] = {}
    for name, value in s.data.items():
        if name.startswith("_"):
            continue
        if not isinstance(value, str | int | float | bool):
            raise _error(s.key(name), "must be a string, number or boolean")
        if name in taken:
            raise _error(s.key(name), "is also a mapped field; one of them must go")
        static[name] = value
    return static


def _auth(s: _Section | None, env: Mapping[str, str]) -> HttpAuth | None:
    if s is None:
        return None
    kind = s.choice("type", ("basic", "bearer", "header"), None)
    auth: HttpAuth
    if kind == "basic":
        auth = BasicAuth(s.required_text("username"), s.secret("password_env", env))
    elif kind == "bearer":
        auth = BearerAuth(s.secret("token_env", env))
    else:
        name = s.header("name", None)
        if name is None:
            raise _error(s.key("name"), "is missing")
        auth = HeaderAuth(name, s.secret("value_env", env))
    s.done()
    return auth


def _receipts(s: _Section, env: Mapping[str, str]) -> ReceiptSettings:
    secret = s.secret("secret_env", env)
    auth = s.choice("auth", RECEIPT_AUTHS, "hmac-sha256")
    if auth == "hmac-sha256":
        header_key, other, default = "signature_header", "secret_header", "X-Signature"
    else:
        header_key, other, default = "secret_header", "signature_header", "X-Receipt-Secret"
    if other in s.data:
        raise _error(s.key(other), f"does not apply to auth {auth}")
    header = s.header(header_key, default)
    if header is None:
        raise _error(s.key(header_key), "is missing")
    id_field = s.nullable_text("id_field", "id")
    reference_field = s.nullable_text("reference_field", "reference")
    if id_field is None and reference_field is None:
        raise _error(s.key("id_field"), "and reference_field cannot both be null")
    settings = ReceiptSettings(
        secret=secret,
        auth=auth,
        header=header,
        format=s.choice("format", RECEIPT_FORMATS, "json"),
        id_field=id_field,
        reference_field=reference_field,
        status_field=s.text("status_field", "status") or "status",
        error_field=s.nullable_text("error_field", "error"),
    )
    s.done()
    return settings
