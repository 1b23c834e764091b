"""A portal's centers on the in-memory unit of work: each reached through an
instance's clinic integration; a plain instance is a portal of its one center."""

from __future__ import annotations

import pytest

from tuotempo_soap.errors import ConflictError, NotFoundError
from tuotempo_soap.services import clinic_sync, instances, portal
from tuotempo_soap.services.instances import Instance

from .fakes import FakeUnitOfWork


def test_centers_are_added_listed_and_removed(uow: FakeUnitOfWork, instance: Instance) -> None:
    group = instances.create_instance(uow, "tt_group", timezone="Europe/Madrid", country="ES")
    with pytest.raises(NotFoundError):  # not reachable until its clinic is configured
        portal.add_center(uow, group.name, "C2", via=instance.name)
    clinic_sync.configure(uow, instance.name, wsdl_url="http://clinic.example/ws?wsdl")

    portal.add_center(uow, group.name, "C2", via=instance.name, name="Norte")
    portal.add_center(uow, group.name, "C1", via=instance.name)
    portal.add_center(uow, group.name, "C2", via=instance.name, name="Norte 2")  # replaced

    listed = portal.centers(uow, group.name)
    assert [(c.center_lid, c.name, c.via.name) for c in listed] == [
        ("C1", None, instance.name),
        ("C2", "Norte 2", instance.name),
    ]
    portal.remove_center(uow, group.name, "C1")
    with pytest.raises(NotFoundError) as missing:
        portal.remove_center(uow, group.name, "C1")
    assert missing.value.field == "center"
    assert [c.center_lid for c in portal.centers(uow, group.name)] == ["C2"]
    # A plain instance: one center, itself.
    [own] = portal.centers(uow, instance.name)
    assert (own.center_lid, own.via.id) == (None, instance.id)


def test_an_integration_other_portals_reach_centers_through_is_not_removed(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    group = instances.create_instance(uow, "tt_group", timezone="Europe/Madrid", country="ES")
    clinic_sync.configure(uow, instance.name, wsdl_url="http://clinic.example/ws?wsdl")
    portal.add_center(uow, group.name, "C1", via=instance.name)

    with pytest.raises(ConflictError) as refused:
        clinic_sync.remove(uow, instance.name)

    assert "portal remove-center tt_group C1" in str(refused.value)
    assert instance.id in uow.tables.integrations
    portal.remove_center(uow, group.name, "C1")
    clinic_sync.remove(uow, instance.name)
    assert instance.id not in uow.tables.integrations
