"""The SQL unit of work on a real database: what it commits stays, what it
does not is rolled back, database errors come out as the project's own."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import make_instance
from tuotempo_soap.errors import ConflictError, StoreUnavailableError
from tuotempo_soap.services import instances
from tuotempo_soap.store.engine import DatabaseTimeouts, Store, build_engine
from tuotempo_soap.store.records import InstanceRecord

NOW = datetime(2027, 3, 1, 9, 0)


def users_of(store: Store, name: str) -> list[str]:
    return instances.list_users(store, name)


def test_what_is_committed_stays_and_the_rest_is_rolled_back(store: Store) -> None:
    name = make_instance(store).instance
    target = instances.get_instance(store, name)

    with store.begin(write=True) as uow:
        uow.users.add(target.id, "kept", "hash", NOW)
        uow.commit()
    with store.begin(write=True) as uow:
        uow.users.add(target.id, "forgotten", "hash", NOW)  # no commit
    with pytest.raises(RuntimeError), store.begin(write=True) as uow:
        uow.users.add(target.id, "failed", "hash", NOW)
        raise RuntimeError("the service gave up")

    assert users_of(store, name) == ["his", "kept"]


def test_repositories_return_typed_records(store: Store) -> None:
    name = make_instance(store, timezone="Atlantic/Canary").instance

    with store.begin() as uow:
        found = uow.instances.by_name(name)
        user = uow.users.get(found.id if found else 0, "his")

    assert isinstance(found, InstanceRecord)
    assert (found.name, found.timezone, found.disabled_at) == (name, "Atlantic/Canary", None)
    assert user is not None and user.username == "his" and user.instance_id == found.id


def test_a_duplicate_is_a_conflict_not_a_database_error(store: Store) -> None:
    target = instances.get_instance(store, make_instance(store).instance)

    with pytest.raises(ConflictError) as raised, store.begin(write=True) as uow:
        uow.users.add(target.id, "his", "hash", NOW)
    assert raised.value.field == "username"


def test_a_unit_of_work_does_not_nest(store: Store) -> None:
    uow = store.begin()
    with uow, pytest.raises(RuntimeError), uow:
        pass


def test_a_database_that_is_not_there_is_unavailable() -> None:
    # Nothing listens on port 1: the connection is refused at once.
    engine = build_engine(
        "postgresql://nobody@127.0.0.1:1/none", timeouts=DatabaseTimeouts(connect=2)
    )
    store = Store(engine)
    try:
        with pytest.raises(StoreUnavailableError), store.begin() as uow:
            uow.instances.list()
    finally:
        store.dispose()
