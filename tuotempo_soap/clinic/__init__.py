"""Calling a clinic's own web services (``wsdl/clinic.wsdl``) through zeep.

One factory builds the clients (``factory``: timeouts, the per-process WSDL
cache, hardened XML parsing), one module maps zeep, requests and lxml failures to
the project's errors (``errors``), and ``ZeepClinicClient`` offers one typed
method per operation, returning the plain values of ``domain.clinic``, retrying
reads and reconciling lost bookings (``client``).
"""

from ..domain.clinic import (
    Appointment,
    Availability,
    BookingResult,
    Center,
    ClinicAppointmentStatus,
    DeleteResult,
    KeyEntity,
    PatientData,
    TestResult,
    TestResultContent,
    TestResultStatus,
)
from .client import ZeepClinicClient
from .endpoint import ClinicEndpoint
from .errors import (
    ClinicAuthenticationError,
    ClinicError,
    ClinicProtocolError,
    ClinicRejectedError,
    ClinicTimeoutError,
    ClinicUnavailableError,
)
from .factory import ClinicClientFactory, build_clinic_client

__all__ = [
    "Appointment",
    "Availability",
    "BookingResult",
    "Center",
    "ClinicAppointmentStatus",
    "ClinicAuthenticationError",
    "ClinicClientFactory",
    "ClinicEndpoint",
    "ClinicError",
    "ClinicProtocolError",
    "ClinicRejectedError",
    "ClinicTimeoutError",
    "ClinicUnavailableError",
    "DeleteResult",
    "KeyEntity",
    "PatientData",
    "TestResult",
    "TestResultContent",
    "TestResultStatus",
    "ZeepClinicClient",
    "build_clinic_client",
]
