"""Back-office operators on the in-memory unit of work: an account and its
grants are one transaction; reads give the grants by instance name."""

from __future__ import annotations

import pytest

from tuotempo_soap.errors import ConflictError, NotFoundError
from tuotempo_soap.services import instances, operators
from tuotempo_soap.services.instances import Instance

from .fakes import FakeUnitOfWork

PASSWORD = "operator-password-1"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argon2 at its production cost is not what these tests are about.
    monkeypatch.setattr(operators, "hash_password", lambda password: f"hashed:{password}")


def test_an_operator_and_its_grants_are_written_together(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    other = instances.create_instance(uow, "tt_aaa", timezone="Europe/Madrid", country="ES")
    uow.commits = 0

    added = operators.add_operator(uow, "ana", PASSWORD, instances=[instance.name, other.name])

    assert uow.commits == 1
    assert uow.calls["FakeOperatorRepository.grant"] == 2
    assert added.instances == ("tt_aaa", "tt_clinic")  # by name
    assert added.instance_ids == {instance.id, other.id}
    assert added.may_see(other.id) and not added.all_instances


def test_a_taken_name_leaves_nothing_behind(uow: FakeUnitOfWork, instance: Instance) -> None:
    operators.add_operator(uow, "ana", PASSWORD)
    before = uow.tables.saved()

    with pytest.raises(ConflictError):
        operators.add_operator(uow, "ana", "another-password", instances=[instance.name])

    assert uow.tables.saved() == before


def test_grant_revoke_all_instances_and_remove(uow: FakeUnitOfWork, instance: Instance) -> None:
    operators.add_operator(uow, "ana", PASSWORD)

    assert operators.grant(uow, "ana", instance.name).instances == (instance.name,)
    assert operators.grant(uow, "ana", instance.name).instances == (instance.name,)
    assert operators.revoke(uow, "ana", instance.name).instances == ()
    with pytest.raises(NotFoundError) as not_granted:
        operators.revoke(uow, "ana", instance.name)
    assert not_granted.value.field == "instance"
    assert operators.set_all_instances(uow, "ana", True).may_see(instance.id)
    assert [o.username for o in operators.list_operators(uow)] == ["ana"]

    operators.remove_operator(uow, "ana")
    assert operators.list_operators(uow) == []
    with pytest.raises(NotFoundError):
        operators.get_operator(uow, "ana")


def test_a_new_password_changes_the_session_key(uow: FakeUnitOfWork, instance: Instance) -> None:
    before = operators.add_operator(uow, "ana", PASSWORD)
    operators.set_password(uow, "ana", "another-password-2")
    after = operators.operator_by_id(uow, before.id)
    assert after is not None and after.session_key != before.session_key
    assert operators.operator_by_id(uow, before.id + 1000) is None
