"""Back-office operators through the service the CLI calls: accounts, grants,
passwords and sign-in with the shared password-guessing throttle."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RequestValidationError,
    TooManyAttemptsError,
)
from tuotempo_soap.services import operators
from tuotempo_soap.services.auth_guard import AuthGuard
from tuotempo_soap.store.engine import Store

PASSWORD = "operator-password-1"


def name() -> str:
    return f"op_{secrets.token_hex(4)}"


def test_add_grant_revoke_and_list(store: Store) -> None:
    first, second = make_instance(store).instance, make_instance(store).instance
    who = name()
    added = operators.add_operator(store, who, PASSWORD, instances=[first])
    assert added.instances == (first,) and not added.all_instances
    first_id = next(iter(added.instance_ids))
    assert added.may_see(first_id)
    granted = operators.grant(store, who, second)
    assert set(granted.instances) == {first, second}
    assert operators.grant(store, who, second).instances == granted.instances  # harmless twice
    revoked = operators.revoke(store, who, first)
    assert revoked.instances == (second,) and not revoked.may_see(first_id)
    with pytest.raises(NotFoundError):
        operators.revoke(store, who, first)
    everything = operators.set_all_instances(store, who, True)
    assert everything.may_see(first_id)
    assert who in [o.username for o in operators.list_operators(store)]
    visible = {i.name for i in operators.visible_instances(store, everything)}
    assert {first, second} <= visible
    operators.remove_operator(store, who)
    with pytest.raises(NotFoundError):
        operators.get_operator(store, who)


def test_bad_names_passwords_and_duplicates_are_refused_naming_the_field(store: Store) -> None:
    with pytest.raises(RequestValidationError) as bad_name:
        operators.add_operator(store, "has space", PASSWORD)
    assert bad_name.value.field == "username"
    with pytest.raises(RequestValidationError) as short:
        operators.add_operator(store, name(), "short")
    assert short.value.field == "password"
    with pytest.raises(NotFoundError) as unknown:
        operators.add_operator(store, name(), PASSWORD, instances=["tt_no_such_one"])
    assert unknown.value.field == "instance"
    who = name()
    operators.add_operator(store, who, PASSWORD)
    with pytest.raises(ConflictError):
        operators.add_operator(store, who, PASSWORD)


def test_authenticate_and_the_throttle(store: Store, settings: Settings) -> None:
    guard = AuthGuard.from_settings(settings)
    who = name()
    added = operators.add_operator(store, who, PASSWORD)
    signed = operators.authenticate(store, who, PASSWORD, guard=guard, client_address="203.0.113.9")
    assert signed.id == added.id and signed.session_key == added.session_key
    for _ in range(settings.auth_failures_before_delay):
        with pytest.raises(AuthenticationError):
            operators.authenticate(
                store, who, "wrong-password", guard=guard, client_address="203.0.113.9"
            )
    with pytest.raises(TooManyAttemptsError):
        operators.authenticate(store, who, PASSWORD, guard=guard, client_address="203.0.113.9")
    # Another address is not slowed down by this one's failures.
    operators.authenticate(store, who, PASSWORD, guard=guard, client_address="198.51.100.4")
    with pytest.raises(AuthenticationError):
        operators.authenticate(
            store, "nobody_at_all", PASSWORD, guard=guard, client_address="198.51.100.5"
        )


def test_a_new_password_changes_the_session_key(store: Store) -> None:
    who = name()
    before = operators.add_operator(store, who, PASSWORD)
    operators.set_password(store, who, "another-password-2")
    assert operators.get_operator(store, who).session_key != before.session_key
