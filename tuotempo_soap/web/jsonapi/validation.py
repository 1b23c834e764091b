"""A request body pydantic refused, as one ``ApiError`` naming the field.

The first problem is reported (``MESSAGES[2].TEXT must be a string``), with
its path as the error's field. Messages say what was expected, never what
was sent: pydantic's messages do not quote the input, and a key the caller
invented is echoed to the caller but never written to the log.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from ...soap.faults import VALIDATION_ERROR
from . import errors
from .errors import ApiError
from .models import Message, SearchMessagesRequest, UpdateMessagesRequest

# Field names the log may write: ours, whatever the request spelled.
KNOWN_FIELDS = frozenset(
    name
    for model in (UpdateMessagesRequest, Message, SearchMessagesRequest)
    for name in model.model_fields
)
_SHOWN_NAME = 64  # an invented key is echoed back, cut to this length

_EXPECTED = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "list_type": "must be an array",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "missing": "is required",
}


def path(location: Sequence[int | str], *, for_log: bool = False) -> str | None:
    """``("MESSAGES", 2, "TEXT")`` -> ``MESSAGES[2].TEXT``; None for the body itself."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part
        if part not in KNOWN_FIELDS:
            name = "<unknown>" if for_log else part[:_SHOWN_NAME]
        text += f".{name}" if text else name
    return text or None


def first_error(invalid: ValidationError) -> ApiError:
    error = invalid.errors(include_url=False, include_input=False)[0]
    kind = error["type"]
    if kind == "json_invalid":
        reason = str((error.get("ctx") or {}).get("error", "not JSON"))
        return ApiError(errors.MALFORMED_JSON, f"The body is not well-formed JSON: {reason}", None)
    location = error["loc"]
    field = path(location)
    shown = path(location, for_log=True)
    if field is None:
        return ApiError(VALIDATION_ERROR, "The body must be a JSON object", None)
    if kind == "extra_forbidden":
        message = f"{field} is not a field of this request"
    elif kind in _EXPECTED:
        message = f"{field} {_EXPECTED[kind]}"
    elif kind == "value_error":  # our own checks (models.Text): the reason, as we wrote it
        message = f"{field} {(error.get('ctx') or {}).get('error', 'is not valid')}"
    else:
        message = f"{field}: {error['msg']}"
    return ApiError(VALIDATION_ERROR, message, field, log_field=shown)
