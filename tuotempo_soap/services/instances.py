"""Instances (``tt_*`` accounts), their API users, and request authentication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from .. import clock
from ..domain.phones import is_valid_region
from ..errors import (
    AuthenticationError,
    ConflictError,
    InstanceDisabledError,
    NotFoundError,
    RequestValidationError,
    ServerBusyError,
)
from ..store.records import InstanceRecord
from .auth_guard import AuthGuard
from .passwords import hash_password, is_cached, verify_password
from .unit_of_work import Store

INSTANCE_NAME = re.compile(r"^tt_[A-Za-z0-9_]{1,60}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}$")
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Instance:
    """What a request needs to know about the instance it acts for."""

    id: int
    name: str
    timezone: str
    country: str
    language: str
    store_patient_identity: bool
    # Set while an operator has switched the instance off (see ``disable_instance``).
    disabled_at: datetime | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def utcnow() -> datetime:
    """Naive UTC: the store keeps every timestamp in UTC without an offset."""
    return clock.utcnow()


def _instance(record: InstanceRecord) -> Instance:
    return Instance(
        id=record.id,
        name=record.name,
        timezone=record.timezone,
        country=record.country,
        language=record.language,
        store_patient_identity=bool(record.store_patient_identity),
        disabled_at=record.disabled_at,
    )


def create_instance(
    store: Store,
    name: str,
    *,
    timezone: str = "Europe/Madrid",
    country: str = "ES",
    language: str = "es",
    store_patient_identity: bool = False,
    email_from: str | None = None,
    email_reply_to: str | None = None,
) -> Instance:
    if not INSTANCE_NAME.match(name):
        raise RequestValidationError(
            f"instance name {name!r} must start with tt_ and use letters, digits and _",
            field="name",
        )
    _check_settings(timezone, country, language, email_from, email_reply_to)
    with store.begin(write=True) as uow:
        if uow.instances.by_name(name) is not None:
            raise ConflictError(f"instance {name} already exists", field="name")
        instance_id = uow.instances.add(
            {
                "name": name,
                "timezone": timezone,
                "country": country.upper(),
                "language": language,
                "store_patient_identity": store_patient_identity,
                "email_from": email_from,
                "email_reply_to": email_reply_to,
                "created_at": utcnow(),
            }
        )
        uow.commit()
    return Instance(
        instance_id, name, timezone, country.upper(), language, bool(store_patient_identity)
    )


def _check_settings(
    timezone: str | None,
    country: str | None,
    language: str | None,
    email_from: str | None = None,
    email_reply_to: str | None = None,
) -> None:
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise RequestValidationError(
                f"{timezone!r} is not an IANA time zone such as Europe/Madrid", field="timezone"
            ) from None
    if country is not None and not is_valid_region(country):
        raise RequestValidationError(
            f"{country!r} is not a two-letter country code such as ES", field="country"
        )
    if language is not None and not LANGUAGE.match(language):
        raise RequestValidationError(
            f"{language!r} is not a language code such as es", field="language"
        )
    for name, address in (("email-from", email_from), ("reply-to", email_reply_to)):
        if address:
            try:
                validate_email(address, check_deliverability=False)
            except EmailNotValidError:
                raise RequestValidationError(
                    f"{address!r} is not an e-mail address", field=name
                ) from None


def update_instance(store: Store, name: str, **changes: object) -> Instance:
    """Change an instance's settings; ``None`` values leave a setting as it is."""
    allowed = {
        "timezone",
        "country",
        "language",
        "store_patient_identity",
        "email_from",
        "email_reply_to",
    }
    values = {key: value for key, value in changes.items() if value is not None}
    unknown = set(values) - allowed
    if unknown:
        raise RequestValidationError(f"unknown instance settings: {sorted(unknown)}")
    _check_settings(
        values.get("timezone"),  # type: ignore[arg-type]
        values.get("country"),  # type: ignore[arg-type]
        values.get("language"),  # type: ignore[arg-type]
        values.get("email_from"),  # type: ignore[arg-type]
        values.get("email_reply_to"),  # type: ignore[arg-type]
    )
    if "country" in values:
        values["country"] = str(values["country"]).upper()
    instance = get_instance(store, name)
    if values:
        with store.begin(write=True) as uow:
            uow.instances.update(instance.id, values)
            uow.commit()
    return get_instance(store, name)


def disable_instance(store: Store, name: str, *, now: datetime | None = None) -> bool:
    """Switch an instance off (no SOAP answers, no sends) without deleting
    anything; False when it already was off."""
    instance = get_instance(store, name)
    with store.begin(write=True) as uow:
        changed = uow.instances.set_disabled(instance.id, now or utcnow())
        uow.commit()
    return changed


def enable_instance(store: Store, name: str) -> bool:
    """Switch a disabled instance back on; False when it was not off."""
    instance = get_instance(store, name)
    with store.begin(write=True) as uow:
        changed = uow.instances.set_disabled(instance.id, None)
        uow.commit()
    return changed


def disabled_since(store: Store, name: str) -> datetime | None:
    """When the instance was switched off, or None while it is on."""
    instance = get_instance(store, name)
    with store.begin() as uow:
        record = uow.instances.by_id(instance.id)
    return None if record is None else record.disabled_at


# Rows deleted per transaction while an instance is removed (store/removal.py).
REMOVAL_BATCH = 5000


def removal_preview(store: Store, name: str) -> dict[str, int]:
    """How many rows of each table ``remove_instance`` would delete (non-empty
    tables only), for the operator to confirm."""
    instance = get_instance(store, name)
    with store.begin() as uow:
        counts = {
            table: uow.removal.count(table, instance.id) for table in uow.removal.owned_tables()
        }
    return {table: count for table, count in counts.items() if count}


def remove_instance(store: Store, name: str, *, batch_size: int = REMOVAL_BATCH) -> dict[str, int]:
    """Delete an instance and everything it owns; returns the rows deleted per table.

    Refused (``ConflictError``) while another portal reaches centers through
    this instance's clinic integration: those centers would vanish with it. The
    instance is switched off first, so no SOAP call or send touches it while
    its rows go, a batch per transaction; if the removal is interrupted, the
    instance stays disabled and running it again finishes the job.
    """
    instance = get_instance(store, name)
    with store.begin() as uow:
        routed = uow.portals.routed_through(instance.id)
        tables = uow.removal.owned_tables()
    if routed:
        steps = "; ".join(
            f"tuotempo-soap portal remove-center {portal} {center}" for portal, center in routed
        )
        raise ConflictError(
            f"{name} reaches centers of other portals through its clinic integration; "
            f"remove them first: {steps}",
            field="instance",
        )
    with store.begin(write=True) as uow:
        uow.instances.set_disabled(instance.id, utcnow())
        uow.commit()
    deleted: dict[str, int] = {}
    # "Which appointment do you mean?" questions name no instance (one may list
    # several clinics' reminders): those listing its reminders go before them.
    with store.begin(write=True) as uow:
        if asked := uow.reply_questions.forget_instance(instance.id):
            deleted["reply_questions"] = asked
        uow.commit()
    for table in tables:
        while True:
            with store.begin(write=True) as uow:
                count = uow.removal.delete_batch(table, instance.id, batch_size)
                uow.commit()
            if count:
                deleted[table] = deleted.get(table, 0) + count
            if count < batch_size:
                break
    with store.begin(write=True) as uow:
        uow.removal.delete_instance(instance.id)
        uow.commit()
    return deleted


def list_instances(store: Store) -> list[Instance]:
    with store.begin() as uow:
        return [_instance(record) for record in uow.instances.list()]


def get_instance(store: Store, name: str) -> Instance:
    with store.begin() as uow:
        record = uow.instances.by_name(name)
    if record is None:
        raise NotFoundError(f"no instance named {name}", field="instance")
    return _instance(record)


def get_instance_by_id(store: Store, instance_id: int) -> Instance:
    with store.begin() as uow:
        record = uow.instances.by_id(instance_id)
    if record is None:
        raise NotFoundError(f"no instance with id {instance_id}", field="instance")
    return _instance(record)


def known_countries(store: Store) -> list[str]:
    """The default phone countries of all instances (to read numbers without a prefix)."""
    with store.begin() as uow:
        return uow.instances.countries()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RequestValidationError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def add_user(store: Store, instance_name: str, username: str, password: str) -> None:
    if not USERNAME.match(username):
        raise RequestValidationError(
            f"user name {username!r} may use letters, digits and . _ @ - (at most 64)",
            field="username",
        )
    _check_password(password)
    password_hash = hash_password(password)
    instance = get_instance(store, instance_name)
    taken = ConflictError(f"user {username} already exists in {instance_name}", field="username")
    try:
        with store.begin(write=True) as uow:
            if uow.users.get(instance.id, username) is not None:
                raise taken
            uow.users.add(instance.id, username, password_hash, utcnow())
            uow.commit()
    except ConflictError:
        # Also when a concurrent call added the same user between our read and write.
        raise taken from None


def set_password(store: Store, instance_name: str, username: str, password: str) -> None:
    _check_password(password)
    password_hash = hash_password(password)
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        user = uow.users.get(instance.id, username)
        if user is None:
            raise NotFoundError(f"no user {username} in {instance_name}", field="username")
        uow.users.set_password(user.id, password_hash, utcnow())
        uow.commit()


def remove_user(store: Store, instance_name: str, username: str) -> None:
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        user = uow.users.get(instance.id, username)
        if user is None:
            raise NotFoundError(f"no user {username} in {instance_name}", field="username")
        uow.users.remove(user.id)
        uow.commit()


def list_users(store: Store, instance_name: str) -> list[str]:
    instance = get_instance(store, instance_name)
    with store.begin() as uow:
        return uow.users.usernames(instance.id)


def authenticate(
    store: Store,
    instance_name: str,
    username: str,
    password: str,
    *,
    guard: AuthGuard,
    client_address: str | None,
) -> Instance:
    """The instance these credentials act for, or ``AuthenticationError``.

    Unknown instance, unknown user and wrong password give the same answer and
    cost the same time, so none of them can be probed. ``guard`` refuses, before
    any work, addresses and users with too many recent failures
    (``TooManyAttemptsError``) and bounds the Argon2 checks running at once
    (``ServerBusyError``); see ``auth_guard``.
    """
    attempt = guard.throttle.attempt(instance_name, username, client_address)
    guard.throttle.check(attempt)
    # The instance and the user's hash in one statement (one round trip per request).
    with store.begin() as uow:
        row, stored_hash = (
            uow.users.login(instance_name, username) if instance_name else (None, None)
        )
    password = password or ""
    if row is not None and stored_hash is not None and is_cached(stored_hash, password):
        # A password this process accepted lately: the user's own lock (another
        # address guessing at it) must not shut the real HIS out.
        guard.throttle.succeeded(attempt)
        return _enabled(_instance(row))
    guard.throttle.check_user(attempt)
    try:
        verified = verify_password(stored_hash, password, guard.slots)
    except ServerBusyError:
        guard.throttle.busy(attempt)
        raise
    if not verified or row is None:
        guard.throttle.failed(attempt)
        raise AuthenticationError(
            "Unknown instance, user or password; check INSTANCE, USERNAME and PASSWORD"
        )
    guard.throttle.succeeded(attempt)
    return _enabled(_instance(row))


def _enabled(instance: Instance) -> Instance:
    """The instance, unless an operator switched it off; checked after the
    password, so only a holder of the credentials learns that it is off."""
    if instance.disabled_at is not None:
        raise InstanceDisabledError(
            f"Instance {instance.name} is disabled by its operator; nothing is read or "
            "stored until it is enabled again. Contact the platform's support",
            field="INSTANCE",
        )
    return instance
