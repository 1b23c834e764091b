"""The poller against a real database, with a scripted clinic client."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import make_instance
from tests.scripted_clinic import ScriptedClinic, appointment
from tuotempo_soap.domain.clinic import ClinicAppointmentStatus
from tuotempo_soap.services import clinic_sync, instances, reservations
from tuotempo_soap.services.reservations import ReservationFilter
from tuotempo_soap.store.clinic import IntegrationRepository
from tuotempo_soap.store.engine import Store

T0 = dt.datetime(2027, 3, 1, 8, 0)


@pytest.fixture
def setup(store: Store) -> tuple[Any, ScriptedClinic]:
    name = make_instance(store).instance
    clinic_sync.configure(
        store, name, wsdl_url=f"http://clinic.example/{name}?wsdl", poll_interval_seconds=60
    )
    clinic = ScriptedClinic()
    clinic.name = name
    return instances.get_instance(store, name), clinic


def poll(store: Store, clinic: ScriptedClinic, now: dt.datetime, owner: str = "p1") -> list[Any]:
    """Poll what is due; on a shared database other tests' instances are left alone."""
    unreachable = ScriptedClinic()
    unreachable.down = True

    def build(endpoint: Any) -> ScriptedClinic:
        return clinic if endpoint.wsdl_url.endswith(f"/{clinic.name}?wsdl") else unreachable

    outcomes = clinic_sync.poll_due(store, owner=owner, build=build, now=now)  # type: ignore[arg-type]
    return [outcome for outcome in outcomes if outcome.instance == clinic.name]


def stored(store: Store, instance: Any) -> dict[str, Any]:
    page = reservations.get_reservations(
        store, instance, ReservationFilter(), default_page_size=100, max_page_size=100
    )
    return {str(r["APP_LID"]): r for r in page.reservations}


def test_poll_stores_appointments_and_entities(
    store: Store, setup: tuple[Any, ScriptedClinic]
) -> None:
    instance, clinic = setup
    clinic.appointments = [appointment("A1"), appointment("A2", ClinicAppointmentStatus.CANCELLED)]
    (outcome,) = poll(store, clinic, T0)
    assert outcome.ok and outcome.appointments == 2 and outcome.entities == 2
    rows = stored(store, instance)
    assert rows["A1"]["STATUS"] == "APPROVED" and rows["A2"]["STATUS"] == "CANCELLED by ADMIN"
    assert (
        rows["A1"]["RESOURCE_NAME"] == "Ana Ruiz"
        and rows["A1"]["USER_MOBILE_PHONE"] == "+34612345678"
    )
    assert clinic_sync.entity_counts(store, instance) == {
        "resources": 1,
        "activities": 2,
        "insurances": 1,
        "locations": 1,
        "relations": 2,
    }
    assert clinic.asked_since == [None]
    assert poll(store, clinic, T0 + dt.timedelta(seconds=30)) == []  # not due yet
    poll(store, clinic, T0 + dt.timedelta(seconds=61))
    # Asked again from the last success, minus the overlap; entities only once a day.
    assert clinic.asked_since[-1] == (T0 - clinic_sync.OVERLAP).replace(tzinfo=dt.UTC)
    assert clinic.entity_calls == 1


def test_a_down_clinic_keeps_the_gap_and_backs_off(
    store: Store, setup: tuple[Any, ScriptedClinic]
) -> None:
    instance, clinic = setup
    poll(store, clinic, T0)
    clinic.down = True
    (failed,) = poll(store, clinic, T0 + dt.timedelta(minutes=2))
    assert not failed.ok and "did not answer" in (failed.error or "")
    (again,) = poll(store, clinic, T0 + dt.timedelta(minutes=3))  # due after 60 s backoff
    assert not again.ok
    with store.unit_of_work() as connection:
        row = IntegrationRepository(connection).get(instance.id)
    assert row is not None and row.consecutive_failures == 2
    assert row.next_poll_at == T0 + dt.timedelta(minutes=3, seconds=120)  # doubled
    assert row.last_success_at == T0  # the gap is not skipped
    clinic.down = False
    clinic.appointments = [appointment("DURING")]
    (back,) = poll(store, clinic, T0 + dt.timedelta(minutes=10))
    assert back.ok and "DURING" in stored(store, instance)
    assert clinic.asked_since[-1] == (T0 - clinic_sync.OVERLAP).replace(tzinfo=dt.UTC)


def test_one_poller_per_instance(store: Store, setup: tuple[Any, ScriptedClinic]) -> None:
    instance, clinic = setup
    with store.unit_of_work(write=True) as connection:
        assert IntegrationRepository(connection).acquire(
            instance.id, "other", T0, T0 + dt.timedelta(minutes=10)
        )
    (outcome,) = poll(store, clinic, T0 + dt.timedelta(minutes=1))
    assert outcome.skipped and clinic.asked_since == []
    (later,) = poll(store, clinic, T0 + dt.timedelta(minutes=11))  # the other's lease ran out
    assert later.ok and not later.skipped


def test_a_disabled_instances_clinic_is_not_polled(
    store: Store, setup: tuple[Any, ScriptedClinic]
) -> None:
    instance, clinic = setup
    clinic.appointments = [appointment("A1")]
    instances.disable_instance(store, instance.name)
    assert poll(store, clinic, T0) == [] and clinic.asked_since == []
    asked = clinic_sync.poll_due(store, owner="p1", build=lambda _e: clinic, only=instance.name)  # type: ignore[arg-type,return-value]
    assert [(o.ok, o.error) for o in asked] == [
        (False, "the instance is disabled; enable it to poll its clinic")
    ]
    assert clinic.asked_since == [] and stored(store, instance) == {}

    instances.enable_instance(store, instance.name)
    (outcome,) = poll(store, clinic, T0 + dt.timedelta(seconds=1))
    assert outcome.ok and clinic.asked_since == [None] and set(stored(store, instance)) == {"A1"}
