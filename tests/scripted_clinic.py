"""A scripted clinic web-services client for the poller's tests: the
appointments and key entities it answers, whether it is down, and what it was
asked (shared by the unit tests on fakes and the integration tests)."""

from __future__ import annotations

import datetime as dt

from tuotempo_soap.clinic import ClinicUnavailableError
from tuotempo_soap.domain.clinic import Appointment, ClinicAppointmentStatus, KeyEntity


def appointment(
    app_lid: str, status: ClinicAppointmentStatus = ClinicAppointmentStatus.CONFIRMED
) -> Appointment:
    return Appointment(
        app_lid=app_lid,
        status=status,
        date=dt.date(2027, 3, 2),
        start=dt.time(9, 30),
        user_lid="P1",
        activity_lid="VISIT",
        resource_lid="DR1",
        resource_first_name="Ana",
        resource_second_name="Ruiz",
        mobile_phone="612345678",
    )


class ScriptedClinic:
    def __init__(self) -> None:
        self.name = ""
        self.appointments: list[Appointment] = []
        self.down = False
        self.asked_since: list[dt.datetime | None] = []
        self.entity_calls = 0

    def search_appointments(
        self, *, changed_since: dt.datetime | None, center_lid: str | None
    ) -> list[Appointment]:
        self.asked_since.append(changed_since)
        if self.down:
            raise ClinicUnavailableError("clinic.example:443 did not answer SearchAppointments")
        return list(self.appointments)

    def key_entities(self, *, center_lid: str | None) -> list[KeyEntity]:
        self.entity_calls += 1
        return [
            KeyEntity(
                activity_lid="VISIT",
                activity_name="Visit",
                resource_lid="DR1",
                resource_first_name="Ana",
                insurance_lid="INS1",
                insurance_name="Mutua",
                location_lid="L1",
                location_name="Centro",
                price="30",
                duration_minutes=20,
            ),
            KeyEntity(
                activity_lid="ECO",
                activity_name="Echo",
                resource_lid="DR1",
                resource_first_name="Ana",
                duration_minutes=30,
            ),
        ]
