"""Back-office operators: their accounts, the instances each may see, sign-in.

Operators are people of the platform (or of a clinic) who use the back office
under ``/admin``; they are not the HIS's SOAP users (``api_users``). An
operator sees every instance (``all_instances``) or only those granted to it.
Passwords are Argon2id like the API users' (``services/passwords.py``), and
sign-in goes through the same password-guessing defence (``auth_guard``),
counted apart from SOAP users (see ``OPERATOR_SCOPE``).

Every function takes the ``Store`` and plain values, returns ``Operator``
values and raises ``RequestValidationError`` (bad name or password, naming the
field), ``NotFoundError`` (no such operator or instance) or ``ConflictError``
(the name is taken).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import AuthenticationError, NotFoundError, RequestValidationError, ServerBusyError
from ..store.records import OperatorRecord
from .auth_guard import AuthGuard
from .instances import (
    MIN_PASSWORD_LENGTH,
    USERNAME,
    Instance,
    get_instance,
    list_instances,
    utcnow,
)
from .passwords import hash_password, verify_password
from .unit_of_work import Store

# The throttle keys a sign-in by (instance, user); operators have no instance.
# No instance is named this (names start with tt_), so an operator and a SOAP
# user of the same name are counted apart.
OPERATOR_SCOPE = "\x00operators"


@dataclass(frozen=True)
class Operator:
    """A back-office operator as the web layer needs it (never the password hash)."""

    id: int
    username: str
    all_instances: bool
    # The instances granted (names, sorted); meaningless when ``all_instances``.
    instances: tuple[str, ...]
    instance_ids: frozenset[int]
    # Changes whenever the password does: a session remembers the one it was
    # opened with, so changing a password signs out every open session.
    session_key: str

    def may_see(self, instance_id: int) -> bool:
        return self.all_instances or instance_id in self.instance_ids


def _operator(row: OperatorRecord) -> Operator:
    return Operator(
        id=row.id,
        username=row.username,
        all_instances=row.all_instances,
        instances=tuple(name for _, name in row.granted),
        instance_ids=frozenset(instance_id for instance_id, _ in row.granted),
        session_key=hashlib.blake2b(row.password_hash.encode(), digest_size=16).hexdigest(),
    )


def _check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise RequestValidationError(
            f"operator name {username!r} may use letters, digits and . _ @ - (at most 64)",
            field="username",
        )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RequestValidationError(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def _row(store: Store, username: str) -> OperatorRecord:
    with store.begin() as uow:
        row = uow.operators.by_username(username)
    if row is None:
        raise NotFoundError(f"no operator named {username}", field="username")
    return row


def add_operator(
    store: Store,
    username: str,
    password: str,
    *,
    all_instances: bool = False,
    instances: Sequence[str] = (),
) -> Operator:
    """Create an operator who sees every instance (``all_instances``) or those
    named in ``instances`` (more can be granted later with ``grant``).

    Raises ``RequestValidationError`` for a bad name (letters, digits, ``._@-``,
    at most 64) or a password shorter than 10 characters, ``NotFoundError`` for
    an unknown instance, ``ConflictError`` when the name is taken.
    """
    _check_username(username)
    _check_password(password)
    granted = [get_instance(store, name) for name in instances]
    password_hash = hash_password(password)
    now = utcnow()
    with store.begin(write=True) as uow:
        operator_id = uow.operators.add(username, password_hash, all_instances, now)
        for instance in granted:
            uow.operators.grant(operator_id, instance.id, now)
        uow.commit()
    return get_operator(store, username)


def set_password(store: Store, username: str, password: str) -> None:
    """Replace an operator's password; every session opened with the old one ends."""
    _check_password(password)
    row = _row(store, username)
    password_hash = hash_password(password)
    with store.begin(write=True) as uow:
        uow.operators.set_password(row.id, password_hash, utcnow())
        uow.commit()


def grant(store: Store, username: str, instance_name: str) -> Operator:
    """Let the operator see ``instance_name`` (granting it twice is harmless)."""
    row = _row(store, username)
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        uow.operators.grant(row.id, instance.id, utcnow())
        uow.commit()
    return get_operator(store, username)


def revoke(store: Store, username: str, instance_name: str) -> Operator:
    """Take ``instance_name`` away from the operator (effective on the next request).

    Raises ``NotFoundError`` when it was not granted. An operator with
    ``all_instances`` still sees it: use ``set_all_instances(..., False)``.
    """
    row = _row(store, username)
    instance = get_instance(store, instance_name)
    with store.begin(write=True) as uow:
        revoked = uow.operators.revoke(row.id, instance.id)
        uow.commit()
    if not revoked:
        raise NotFoundError(f"{instance_name} is not granted to {username}", field="instance")
    return get_operator(store, username)


def set_all_instances(store: Store, username: str, all_instances: bool) -> Operator:
    """Let the operator see every instance (True) or only those granted (False)."""
    row = _row(store, username)
    with store.begin(write=True) as uow:
        uow.operators.set_all_instances(row.id, all_instances, utcnow())
        uow.commit()
    return get_operator(store, username)


def remove_operator(store: Store, username: str) -> None:
    """Delete the operator and its grants; its open sessions end on their next request."""
    row = _row(store, username)
    with store.begin(write=True) as uow:
        uow.operators.remove(row.id)
        uow.commit()


def get_operator(store: Store, username: str) -> Operator:
    """The operator named ``username``, or ``NotFoundError``."""
    return _operator(_row(store, username))


def operator_by_id(store: Store, operator_id: int) -> Operator | None:
    """The operator with this id, or None (removed since): one query, for sessions."""
    with store.begin() as uow:
        row = uow.operators.by_id(operator_id)
    return _operator(row) if row is not None else None


def list_operators(store: Store) -> list[Operator]:
    """Every operator, by name."""
    with store.begin() as uow:
        return [_operator(row) for row in uow.operators.all()]


def visible_instances(store: Store, operator: Operator) -> list[Instance]:
    """The instances this operator may see, by name."""
    return [i for i in list_instances(store) if operator.may_see(i.id)]


def authenticate(
    store: Store,
    username: str,
    password: str,
    *,
    guard: AuthGuard,
    client_address: str | None,
) -> Operator:
    """The operator these credentials belong to, or ``AuthenticationError``.

    An unknown name and a wrong password give the same answer and cost the
    same time. ``guard`` refuses addresses and names with too many recent
    failures first (``TooManyAttemptsError``, with ``retry_after``) and bounds
    the Argon2 checks running at once (``ServerBusyError``).
    """
    attempt = guard.throttle.attempt(OPERATOR_SCOPE, username, client_address)
    guard.throttle.check(attempt)
    guard.throttle.check_user(attempt)
    with store.begin() as uow:
        row = uow.operators.by_username(username) if username else None
    try:
        verified = verify_password(row.password_hash if row else None, password or "", guard.slots)
    except ServerBusyError:
        guard.throttle.busy(attempt)
        raise
    if not verified or row is None:
        guard.throttle.failed(attempt)
        raise AuthenticationError("Unknown operator or wrong password")
    guard.throttle.succeeded(attempt)
    return _operator(row)
