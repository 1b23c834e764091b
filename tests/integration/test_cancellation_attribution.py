"""The poller reading back a cancellation made on our side keeps who made it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.test_clinic_sync import (
    T0,
    ScriptedClinic,
    appointment,
    poll,
    setup,
    stored,
)
from tuotempo_soap.domain.clinic import ClinicAppointmentStatus
from tuotempo_soap.services import reservations
from tuotempo_soap.services.clinic_sync import reservation_item
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.repositories import InstanceRepository, ReservationRepository

__all__ = ["setup"]  # the fixture: an instance integrated with a scripted clinic

CANCELLED = ClinicAppointmentStatus.CANCELLED


def test_a_patient_cancellation_read_back_from_the_clinic_stays_the_patients(
    store: Store, setup: tuple[Any, ScriptedClinic]
) -> None:
    instance, clinic = setup
    clinic.appointments = [appointment("P1"), appointment("P2")]
    poll(store, clinic, T0)
    # P1: the patient answered "no" to a reminder (what the answer use case writes);
    # the platform forwards it with CancelAppointment and the clinic cancels it.
    with store.unit_of_work(write=True) as connection:
        seq = InstanceRepository(connection).lock_for_changes(instance.id) + 1
        repo = ReservationRepository(connection)
        row = repo.by_app_lids(instance.id, ["P1"])["P1"]
        repo.update_many(
            [
                {
                    "row_id": row.id,
                    "status": "CANCELLED by USER",
                    "status_changed_by": "PATIENT",
                    "status_changed_at": T0,
                    "patient_answer": "CANCELLED",
                    "patient_answer_channel": "SMS",
                    "patient_answer_at": T0,
                    "change_seq": seq,
                }
            ]
        )
        InstanceRepository(connection).advance_seq(instance.id, seq)
    # P2: the HIS itself reported that the patient cancelled (A.1.2).
    item = {**reservation_item(appointment("P2")), "STATUS": "CANCELLED by USER"}
    assert reservations.update_reservations(store, instance, [item], max_items=1).items[0].ok
    before = stored(store, instance)

    clinic.appointments = [appointment("P1", CANCELLED), appointment("P2", CANCELLED)]
    (outcome,) = poll(store, clinic, T0 + dt.timedelta(minutes=2))
    assert outcome.ok and outcome.appointments == 2
    after = stored(store, instance)
    for lid, by in (("P1", "PATIENT"), ("P2", "HIS")):
        got = after[lid]
        assert (got["STATUS"], got["STATUS_CHANGED_BY"]) == ("CANCELLED by USER", by), lid
        assert got["PATIENT_ANSWER"] == "CANCELLED", lid
        assert got["PATIENT_ANSWER_CHANNEL"] == before[lid]["PATIENT_ANSWER_CHANNEL"], lid


def test_a_cancellation_at_the_clinic_is_the_clinics(
    store: Store, setup: tuple[Any, ScriptedClinic]
) -> None:
    instance, clinic = setup
    clinic.appointments = [appointment("D1")]
    poll(store, clinic, T0)
    clinic.appointments = [appointment("D1", CANCELLED)]
    poll(store, clinic, T0 + dt.timedelta(minutes=2))
    got = stored(store, instance)["D1"]
    assert (got["STATUS"], got["STATUS_CHANGED_BY"]) == ("CANCELLED by ADMIN", "HIS")
