"""What a clinic's own web services answer, as plain frozen values.

The clinic-side contract (``wsdl/clinic.wsdl``) spells everything as text in the
guide's formats; these types hold it read and normalised: dates and times as
``datetime`` values, statuses as enums, absent optional fields as ``None``.
Fields that identify a patient (names, phones, e-mail, id number, birth date) are
left out of ``repr`` so an object that ends up in a log line does not carry them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from .formats import FormatError


class ClinicAppointmentStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class TestResultStatus(StrEnum):
    __test__ = False  # a domain enum, not something for pytest to collect

    VALID = "VALID"
    CANCELLED = "CANCELLED"


# Clinics spell the guide's two values every way English allows.
_APPOINTMENT_STATUSES = {
    "confirmed": ClinicAppointmentStatus.CONFIRMED,
    "confirm": ClinicAppointmentStatus.CONFIRMED,
    "booked": ClinicAppointmentStatus.CONFIRMED,
    "cancelled": ClinicAppointmentStatus.CANCELLED,
    "canceled": ClinicAppointmentStatus.CANCELLED,
    "cancel": ClinicAppointmentStatus.CANCELLED,
    "deleted": ClinicAppointmentStatus.CANCELLED,
}
_TEST_RESULT_STATUSES = {
    "valid": TestResultStatus.VALID,
    "cancelled": TestResultStatus.CANCELLED,
    "canceled": TestResultStatus.CANCELLED,
}


def parse_appointment_status(text: str) -> ClinicAppointmentStatus:
    """``Confirmed``, ``CONFIRMED``, ``cancelled``, ``Canceled`` ...; anything else is an
    error: guessing would turn an unknown state into a booked or a free slot."""
    try:
        return _APPOINTMENT_STATUSES[text.strip().lower()]
    except KeyError:
        raise FormatError(f"'{text.strip()}' is not an appointment status") from None


def parse_test_result_status(text: str) -> TestResultStatus:
    try:
        return _TEST_RESULT_STATUSES[text.strip().lower()]
    except KeyError:
        raise FormatError(f"'{text.strip()}' is not a test result status") from None


@dataclass(frozen=True, kw_only=True)
class Availability:
    """A free slot; pass it back unchanged to book it."""

    resource_lid: str
    activity_lid: str
    insurance_lid: str | None = None
    date: dt.date
    start: dt.time
    end: dt.time | None = None
    availability_lid: str | None = None
    price: str | None = None  # the clinic's text ("25.00", "25,00 EUR"): not ours to reinterpret
    center_lid: str | None = None


@dataclass(frozen=True, kw_only=True)
class Appointment:
    app_lid: str
    status: ClinicAppointmentStatus
    date: dt.date
    start: dt.time
    end: dt.time | None = None
    user_lid: str
    user_tid: str | None = None
    mobile_phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    insurance_lid: str | None = None
    activity_lid: str
    activity_name: str | None = None
    activity_group_lid: str | None = None
    activity_group_name: str | None = None
    resource_lid: str
    resource_first_name: str | None = None
    resource_second_name: str | None = None
    location_lid: str | None = None
    location_name: str | None = None
    app_tid: str | None = None
    center_lid: str | None = None


@dataclass(frozen=True, kw_only=True)
class PatientData:
    """Who to book for. Pattern 1 identifies the patient by our id (``user_tid``);
    pattern 2 by the clinic's (``user_lid``), absent for a patient new to the clinic."""

    user_tid: str | None = None
    user_lid: str | None = None
    first_name: str | None = field(default=None, repr=False)
    second_name: str | None = field(default=None, repr=False)
    third_name: str | None = field(default=None, repr=False)
    gender: str | None = None  # "M" or "F", as the guide spells it
    date_of_birth: dt.date | None = field(default=None, repr=False)
    mobile_phone: str | None = field(default=None, repr=False)
    landline_phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    id_number: str | None = field(default=None, repr=False)

    def personal_values(self) -> tuple[str, ...]:
        """The values to keep out of logs and error messages."""
        values = (
            self.first_name,
            self.second_name,
            self.third_name,
            self.mobile_phone,
            self.landline_phone,
            self.email,
            self.id_number,
        )
        return tuple(value for value in values if value)


@dataclass(frozen=True, kw_only=True)
class BookingResult:
    """``reconciled`` says the booking was found after a lost answer, not answered."""

    ok: bool
    app_lid: str | None = None
    user_lid: str | None = None
    error_message: str | None = None
    reconciled: bool = False


@dataclass(frozen=True, kw_only=True)
class DeleteResult:
    """``already_done`` says a retried call was refused because the first one had
    already cancelled the appointment (checked, not assumed)."""

    ok: bool
    app_lid: str | None = None
    error_message: str | None = None
    already_done: bool = False


@dataclass(frozen=True, kw_only=True)
class Center:
    center_lid: str
    name: str
    description: str | None = None
    address: str | None = None
    phone: str | None = None
    website_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class KeyEntity:
    """One row of the all-inclusive catalogue: an activity a resource performs."""

    activity_lid: str
    activity_name: str
    resource_lid: str
    resource_first_name: str
    resource_second_name: str | None = None
    insurance_lid: str | None = None
    insurance_name: str | None = None
    activity_group_lid: str | None = None
    activity_group_name: str | None = None
    price: str | None = None
    duration_minutes: int | None = None
    location_lid: str | None = None
    location_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class TestResult:
    __test__ = False

    download_lid: str
    status: TestResultStatus
    download_code: str
    file_type: str
    user_lid: str
    filename: str | None = None
    user_tid: str | None = None
    mobile_phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    id_number: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class TestResultContent:
    __test__ = False

    download_lid: str
    status: TestResultStatus
    content: bytes | None = field(default=None, repr=False)
    error_message: str | None = None
