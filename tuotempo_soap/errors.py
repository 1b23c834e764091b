"""Every error the project raises on purpose, with a stable code.

Entry points map these to their own shapes in one place each (SOAP faults in
``soap/faults.py``, exit codes in ``cli/``). The ``code`` is part of the public
contract: HIS vendors branch on it, so never rename one.
"""

from __future__ import annotations


class TuotempoError(Exception):
    """Base class: ``code`` is the stable fault code, ``field`` names the culprit."""

    code = "Server.InternalError"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AuthenticationError(TuotempoError):
    """Unknown instance, unknown user or wrong password (deliberately indistinct)."""

    code = "Client.AuthenticationFailed"


class InstanceDisabledError(TuotempoError):
    """The credentials are right but an operator has switched the instance off
    (``tuotempo-soap instance disable``): nothing is read or stored until it is
    switched back on. Said only after the password was checked, so it tells
    nothing to someone who does not hold the credentials."""

    code = "Client.InstanceDisabled"


class RequestValidationError(TuotempoError):
    """The request as a whole is unusable (a bad filter, a wrong type, a missing block)."""

    code = "Client.ValidationError"


class BatchTooLargeError(TuotempoError):
    """More items than the configured maximum for one call."""

    code = "Client.BatchTooLarge"


class RequestTooLargeError(TuotempoError):
    """The HTTP body is larger than the configured maximum."""

    code = "Client.RequestTooLarge"


class MalformedRequestError(TuotempoError):
    """The body is not well-formed XML, or carries a DTD we refuse to read."""

    code = "Client.MalformedXML"


class NotFoundError(TuotempoError):
    """A named thing (instance, user) does not exist; used by the CLI."""

    code = "Client.NotFound"


class ConflictError(TuotempoError):
    """A named thing already exists, or is not in the state an action needs
    (retrying a message that is not FAILED)."""

    code = "Client.Conflict"


class ForbiddenError(TuotempoError):
    """The caller is known but may not act on this (a back-office operator outside
    the instances they were given)."""

    code = "Client.Forbidden"


class StoreUnavailableError(TuotempoError):
    """The database cannot be reached or refused the work; the caller may retry."""

    code = "Server.DatabaseUnavailable"


class TooManyAttemptsError(TuotempoError):
    """Too many wrong passwords lately for this user or from this address; wait and retry.

    ``retry_after`` (whole seconds) is also said in the message, for people.
    """

    code = "Client.TooManyAttempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="AUTH")
        self.retry_after = retry_after


class ServerBusyError(TuotempoError):
    """Every password-checking slot of the process is taken; the caller may retry."""

    code = "Server.Busy"
