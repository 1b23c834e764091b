"""The one place where errors become the JSON API's error answers.

The codes are the SOAP faultcodes of the same problems (``soap/faults.py``,
``errors.py``), so an integrator that handles one handles the other; only
``Client.MalformedJSON`` is new (SOAP's is ``Client.MalformedXML``). The
HTTP status says the kind of refusal, as HTTP clients and proxies expect,
where SOAP answers every fault with 500.

Field names are the request's: a body path (``MESSAGES[2].TEXT``), the
``Authorization`` header or the ``instance`` of the path, where SOAP says
``AUTH`` and ``INSTANCE``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from ...errors import (
    AuthenticationError,
    InstanceDisabledError,
    TooManyAttemptsError,
    TuotempoError,
)
from ...soap.faults import (
    INTERNAL_ERROR,
    REQUEST_NOT_ALLOWED,
    REQUEST_TOO_LARGE,
    UNKNOWN_OPERATION,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
)

AUTHENTICATION_FAILED = AuthenticationError.code
INSTANCE_DISABLED = InstanceDisabledError.code
TOO_MANY_ATTEMPTS = TooManyAttemptsError.code
BATCH_TOO_LARGE = "Client.BatchTooLarge"
SERVER_BUSY = "Server.Busy"
DATABASE_UNAVAILABLE = "Server.DatabaseUnavailable"
MALFORMED_JSON = "Client.MalformedJSON"
NOT_FOUND = UNKNOWN_OPERATION  # Client.ResourceNotFound, as SOAP says of an unknown operation

# Each code the API sends, with its HTTP status (the OpenAPI description lists
# them per operation from here).
HTTP_STATUS: Mapping[str, int] = {
    VALIDATION_ERROR: 400,
    MALFORMED_JSON: 400,
    AUTHENTICATION_FAILED: 401,
    INSTANCE_DISABLED: 403,
    NOT_FOUND: 404,
    REQUEST_NOT_ALLOWED: 405,
    REQUEST_TOO_LARGE: 413,
    BATCH_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    TOO_MANY_ATTEMPTS: 429,
    INTERNAL_ERROR: 500,
    SERVER_BUSY: 503,
    DATABASE_UNAVAILABLE: 503,
}

_FIELDS = {"AUTH": "Authorization", "INSTANCE": "instance"}
BASIC_CHALLENGE = 'Basic realm="tuotempo", charset="UTF-8"'


def http_status(code: str) -> int:
    if code in HTTP_STATUS:
        return HTTP_STATUS[code]
    if code.startswith("Server."):
        return 500 if code == INTERNAL_ERROR else 503
    return 400


@dataclasses.dataclass(eq=False)  # an exception stays hashable
class ApiError(Exception):
    """A refusal, ready to send: ``headers`` go with it (``Allow``, ``Retry-After`` ...)."""

    code: str
    message: str
    field: str | None = None
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # The field as the log may write it: a name the caller made up (an unknown
    # key) is a request value, and request values stay out of the log.
    log_field: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)
        if self.log_field is None:
            self.log_field = self.field
        if self.code == AUTHENTICATION_FAILED:
            self.headers.append(("WWW-Authenticate", BASIC_CHALLENGE))

    @property
    def status(self) -> int:
        return http_status(self.code)

    def with_headers(self, headers: Iterable[tuple[str, str]]) -> ApiError:
        self.headers.extend(headers)
        return self


def from_domain(error: TuotempoError) -> ApiError:
    """A service's error in the API's words: same code, fields renamed, and the
    sign-in messages speaking of Basic credentials instead of the AUTH block."""
    field_name = _FIELDS.get(error.field or "", error.field)
    if isinstance(error, AuthenticationError):
        return ApiError(
            error.code,
            "Unknown instance, user or password; check the instance in the path and "
            "the HTTP Basic user name and password",
            "Authorization",
        )
    answer = ApiError(error.code, error.message, field_name)
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int):
        answer.headers.append(("Retry-After", str(retry_after)))
    return answer
