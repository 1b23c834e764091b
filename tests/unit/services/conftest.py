"""Services on the in-memory unit of work (``fakes.py``): no database."""

from __future__ import annotations

import pytest

from tuotempo_soap.services import instances
from tuotempo_soap.services.instances import Instance

from .fakes import FakeUnitOfWork


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def instance(uow: FakeUnitOfWork) -> Instance:
    """An instance; the counts of calls and commits start after it."""
    created = instances.create_instance(uow, "tt_clinic", timezone="Europe/Madrid", country="ES")
    uow.calls.clear()
    uow.commits = 0
    return created
