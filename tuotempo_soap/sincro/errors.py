"""The agent's errors: one base class, one subclass per thing that can fail.

The command maps each to an exit code; a loop run logs it and tries again at the
next interval. Messages name the setting, view, column or field at fault and
never carry a patient's value.
"""

from __future__ import annotations

from ..errors import TuotempoError


class SincroError(TuotempoError):
    """Base class of the agent's errors."""

    code = "Sincro.Error"


class SincroConfigError(SincroError):
    """The configuration file or a setting in it is wrong; ``field`` names it."""

    code = "Sincro.BadConfiguration"


class ClinicDatabaseError(SincroError):
    """The clinic's database refused what the agent asked (a missing view or
    column, a missing privilege, a trigger that failed)."""

    code = "Sincro.ClinicDatabase"


class ClinicDatabaseUnavailableError(ClinicDatabaseError):
    """The clinic's database could not be reached: worth another try later."""

    code = "Sincro.ClinicDatabaseUnavailable"


class ServerError(SincroError):
    """Our server answered with a fault for the whole call (bad credentials, a
    disabled instance, a request it could not read)."""

    code = "Sincro.ServerRefused"

    def __init__(self, message: str, *, fault_code: str | None = None, field: str | None = None):
        super().__init__(message, field=field)
        self.fault_code = fault_code


class ServerUnavailableError(ServerError):
    """No answer from our server (refused connection, timeout, HTTP 5xx): the
    changes stay pending and go at the next run."""

    code = "Sincro.ServerUnavailable"


class StateError(SincroError):
    """The local state file cannot be used (another instance's, unreadable)."""

    code = "Sincro.State"
