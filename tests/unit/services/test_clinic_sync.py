"""The clinic poller and the calls back to the clinic, on the in-memory unit of
work with a scripted clinic client: what a poll stores and schedules, how a
down clinic backs off without losing the gap, one poller per instance, and
patients' cancellations forwarded with retries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.scripted_clinic import ScriptedClinic, appointment
from tuotempo_soap.domain.clinic import ClinicAppointmentStatus, DeleteResult
from tuotempo_soap.domain.reservation import ChangedBy
from tuotempo_soap.services import clinic_sync
from tuotempo_soap.services.instances import Instance

from .fakes import FakeUnitOfWork

T0 = datetime(2027, 3, 1, 8, 0)


@pytest.fixture
def clinic(uow: FakeUnitOfWork, instance: Instance) -> ScriptedClinic:
    clinic_sync.configure(
        uow, instance.name, wsdl_url="http://clinic.example/ws?wsdl", poll_interval_seconds=60
    )
    return ScriptedClinic()


def poll(uow: FakeUnitOfWork, clinic: Any, now: datetime, owner: str = "p1") -> list[Any]:
    return clinic_sync.poll_due(uow, owner=owner, build=lambda endpoint: clinic, now=now)


def by_lid(uow: FakeUnitOfWork) -> dict[str, Any]:
    return {r.app_lid: r for r in uow.tables.reservations.values()}


def test_a_poll_stores_appointments_and_entities_and_schedules_the_next(
    uow: FakeUnitOfWork, instance: Instance, clinic: ScriptedClinic
) -> None:
    clinic.appointments = [
        appointment("A1"),
        appointment("A2", ClinicAppointmentStatus.CANCELLED),
    ]

    (outcome,) = poll(uow, clinic, T0)

    assert outcome.ok and (outcome.appointments, outcome.stored, outcome.entities) == (2, 2, 2)
    stored = by_lid(uow)
    assert (stored["A1"].status, stored["A2"].status) == ("APPROVED", "CANCELLED by ADMIN")
    assert stored["A1"].resource_name == "Ana Ruiz"
    counts = clinic_sync.entity_counts(uow, instance)
    assert (counts["activities"], counts["relations"]) == (2, 2)
    integration = uow.tables.integrations[instance.id]
    assert integration.last_success_at == T0 and integration.poll_owner is None
    assert integration.next_poll_at == T0 + timedelta(seconds=60)
    assert clinic.asked_since == [None]  # the first poll reads everything
    # Not due again yet; then due, asked from the last success minus the overlap.
    assert poll(uow, clinic, T0 + timedelta(seconds=30)) == []
    (again,) = poll(uow, clinic, T0 + timedelta(seconds=60))
    assert again.ok and again.entities is None  # key entities once a day
    assert clinic.asked_since[-1] == (T0 - clinic_sync.OVERLAP).replace(tzinfo=UTC)


def test_a_down_clinic_backs_off_and_keeps_the_gap(
    uow: FakeUnitOfWork, instance: Instance, clinic: ScriptedClinic
) -> None:
    poll(uow, clinic, T0)
    clinic.down = True

    (failed,) = poll(uow, clinic, T0 + timedelta(minutes=1))
    (again,) = poll(uow, clinic, T0 + timedelta(minutes=2))

    assert not failed.ok and not again.ok and "did not answer" in (again.error or "")
    integration = uow.tables.integrations[instance.id]
    assert integration.consecutive_failures == 2
    assert integration.next_poll_at == T0 + timedelta(minutes=2, seconds=120)  # doubled
    assert integration.last_success_at == T0  # the gap is read again once it is back
    assert integration.poll_owner is None  # the lease is given back after a failure too


def test_one_poller_at_a_time_and_a_disabled_instance_is_left_alone(
    uow: FakeUnitOfWork, instance: Instance, clinic: ScriptedClinic
) -> None:
    integration = uow.tables.integrations[instance.id]
    uow.tables.integrations[instance.id] = replace(
        integration, poll_owner="other", poll_lease_until=T0 + timedelta(minutes=5)
    )
    (skipped,) = poll(uow, clinic, T0)
    assert skipped.skipped and clinic.asked_since == []

    uow.tables.integrations[instance.id] = integration
    uow.tables.instances[instance.id] = replace(uow.tables.instances[instance.id], disabled_at=T0)
    assert poll(uow, clinic, T0) == []
    (said,) = clinic_sync.poll_due(
        uow, owner="p1", build=lambda endpoint: clinic, now=T0, only=instance.name
    )
    assert not said.ok and "disabled" in (said.error or "") and clinic.asked_since == []


def test_a_cancellation_made_here_is_recorded_once_as_a_new_change(
    uow: FakeUnitOfWork, instance: Instance, clinic: ScriptedClinic
) -> None:
    clinic.appointments = [appointment("A1")]
    poll(uow, clinic, T0)
    before = len(uow.tables.changes)

    assert clinic_sync.record_cancellation(uow, instance, "A1", by=ChangedBy.PLATFORM, now=T0)
    assert clinic_sync.record_cancellation(uow, instance, "A1", by=ChangedBy.PATIENT, now=T0)
    assert not clinic_sync.record_cancellation(uow, instance, "NOPE", by=ChangedBy.PLATFORM)

    row = by_lid(uow)["A1"]
    assert (row.status, row.status_changed_by) == ("CANCELLED by ADMIN", "PLATFORM")
    [change] = uow.tables.changes[before:]  # the first cancellation stands
    assert (change["changed_by"], change["change_seq"]) == ("PLATFORM", row.change_seq)
    assert uow.tables.instances[instance.id].change_seq == row.change_seq


class Cancelling:
    """A clinic whose CancelAppointment answers ``results`` in turn."""

    def __init__(self, *results: DeleteResult) -> None:
        self.results = list(results)
        self.cancelled: list[str] = []

    def cancel_appointment(self, app_lid: str, user_lid: str, *, center_lid: str | None) -> Any:
        self.cancelled.append(app_lid)
        return self.results.pop(0)


def test_patients_cancellations_reach_the_clinic_with_retries(
    uow: FakeUnitOfWork, instance: Instance, clinic: ScriptedClinic
) -> None:
    uow.tables.callbacks.append(
        {
            "id": 900,
            "instance_id": instance.id,
            "reservation_id": 7,
            "app_lid": "A1",
            "user_lid": "P1",
            "action": "CancelAppointment",
            "status": "PENDING",
            "attempts": 0,
            "next_attempt_at": T0,
            "last_error": None,
            "created_at": T0,
            "updated_at": T0,
        }
    )
    answers = Cancelling(DeleteResult(ok=False, error_message="slot locked"), DeleteResult(ok=True))

    first = clinic_sync.process_callbacks(uow, build=lambda e: answers, now=T0)
    early = clinic_sync.process_callbacks(uow, build=lambda e: answers, now=T0)
    second = clinic_sync.process_callbacks(
        uow, build=lambda e: answers, now=T0 + timedelta(seconds=30)
    )

    assert (first.retried, early.retried + early.done, second.done) == (1, 0, 1)
    assert answers.cancelled == ["A1", "A1"]
    [callback] = uow.tables.callbacks
    assert (callback["status"], callback["attempts"], callback["last_error"]) == ("DONE", 2, None)
    assert [e.event for e in uow.tables.events] == ["CLINIC_CANCEL", "CLINIC_CANCEL"]
    assert "slot locked" in (uow.tables.events[0].detail or "")
