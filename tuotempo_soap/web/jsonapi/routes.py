"""The JSON API's endpoints: one declaration each, read by the router and by
the OpenAPI description alike."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from werkzeug.routing import Map, Rule

from . import errors
from .models import (
    SearchMessagesRequest,
    SearchMessagesResult,
    UpdateMessagesRequest,
    UpdateMessagesResult,
)

PREFIX = "/api/v1"

# What any authenticated operation may answer besides its result.
_SIGN_IN = (
    errors.AUTHENTICATION_FAILED,
    errors.TOO_MANY_ATTEMPTS,
    errors.INSTANCE_DISABLED,
    errors.SERVER_BUSY,
)
_BODY = (
    errors.VALIDATION_ERROR,
    errors.MALFORMED_JSON,
    errors.REQUEST_TOO_LARGE,
    errors.UNSUPPORTED_MEDIA_TYPE,
    errors.REQUEST_NOT_ALLOWED,
)
_ALWAYS = (errors.INTERNAL_ERROR, errors.DATABASE_UNAVAILABLE)


@dataclass(frozen=True)
class Endpoint:
    operation: str  # the contract's operation name, also the OpenAPI operationId
    rule: str  # werkzeug's syntax: <instance> is a path segment
    method: str
    summary: str
    description: str
    request: type[BaseModel] | None
    answer: type[BaseModel] | None
    codes: tuple[str, ...]  # the error codes it may answer with

    @property
    def metric(self) -> str:
        """Its name in the metrics and the log lines (SOAP's are the bare names)."""
        return f"json.{self.operation}"

    @property
    def authenticated(self) -> bool:
        return self.request is not None


UPDATE_MESSAGES = Endpoint(
    operation="updateMessages",
    rule=f"{PREFIX}/<instance>/messages",
    method="POST",
    summary="Queue messages (updateMessages)",
    description=(
        "Hands messages to the gateway, as the SOAP operation updateMessages does: each "
        "is checked and queued on its own (one ITEM per message, in order), all in one "
        "transaction. A LEGACY_ID this instance has used before is not queued again: its "
        "ITEM says ALREADY_QUEUED with the first message's MESSAGE_ID, so a call may be "
        "retried safely. RESULT is OK, PARTIAL or ERROR; the HTTP status is 200 for all "
        "three."
    ),
    request=UpdateMessagesRequest,
    answer=UpdateMessagesResult,
    codes=(*_SIGN_IN, *_BODY, errors.BATCH_TOO_LARGE, *_ALWAYS),
)

SEARCH_MESSAGES = Endpoint(
    operation="searchMessages",
    rule=f"{PREFIX}/<instance>/messages/search",
    method="POST",
    summary="Find messages and what became of them (searchMessages)",
    description=(
        "The SOAP operation searchMessages: the instance's messages matching every filter "
        "given, oldest first, a page at a time (pass NEXT_PAGE_TOKEN back as PAGE_TOKEN "
        "while MORE_RESULTS is true). A POST, so that phone numbers and e-mail addresses "
        "never appear in a URL. Send {} for every message."
    ),
    request=SearchMessagesRequest,
    answer=SearchMessagesResult,
    codes=(*_SIGN_IN, *_BODY, *_ALWAYS),
)

DESCRIPTION = Endpoint(
    operation="openapi",
    rule=f"{PREFIX}/openapi.json",
    method="GET",
    summary="This description (OpenAPI 3.1)",
    description="The OpenAPI 3.1 description of this API, as JSON. No credentials needed.",
    request=None,
    answer=None,
    codes=(errors.REQUEST_NOT_ALLOWED, errors.INTERNAL_ERROR),
)

ENDPOINTS = (UPDATE_MESSAGES, SEARCH_MESSAGES, DESCRIPTION)
BY_OPERATION = {endpoint.operation: endpoint for endpoint in ENDPOINTS}
UNKNOWN = "json.unknown"  # the metrics' and logs' name for a request no endpoint matched
METRIC_NAMES = frozenset({*(endpoint.metric for endpoint in ENDPOINTS), UNKNOWN})


def url_map() -> Map:
    # A trailing slash is no other resource, and never a redirect (a client
    # would re-send a POST as a GET).
    return Map(
        [
            Rule(endpoint.rule, endpoint=endpoint.operation, methods=[endpoint.method])
            for endpoint in ENDPOINTS
        ],
        strict_slashes=False,
        merge_slashes=False,
    )
