"""The WSGI application behind ``/api/v1``.

A request is routed, checked for size, signed in (HTTP Basic, the instance in
the path), read and validated, then handed to the very operation the SOAP
engines call (``soap/operations.py``), with the same runtime: same services,
same limits, same sign-in throttle. Its answer is sent through the answer
model. Every refusal becomes one ``ApiError`` and leaves here as the error
body of ``errors``; nothing escapes as a traceback.

Each request is counted once in the requests metric (``json.<operation>``
and the code sent) and every line logged while it is answered carries its
request id; error lines name the code, the field and the operation, never a
value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import (
    ClientDisconnected,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from ...errors import TuotempoError
from ...observability import context, metrics
from ...services import instances
from ...soap import operations
from ...soap.faults import redacted_traceback
from ...soap.runtime import Runtime
from . import errors, routes
from .errors import ApiError
from .models import (
    SearchMessagesRequest,
    SearchMessagesResult,
    UpdateMessagesRequest,
    UpdateMessagesResult,
)
from .openapi import openapi_json
from .validation import first_error

StartResponse = Callable[..., Any]
Body = TypeVar("Body", bound=BaseModel)
JSON = "application/json"
log = logging.getLogger(__name__)

_NO_STORE = ("Cache-Control", "no-store")
_CHUNK = 64 * 1024


class JsonApi:
    """updateMessages and searchMessages as JSON over HTTPS (guide A.5)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.urls = routes.url_map()
        self._handlers: dict[str, Callable[[Request, Mapping[str, Any]], Response]] = {
            routes.UPDATE_MESSAGES.operation: self._update_messages,
            routes.SEARCH_MESSAGES.operation: self._search_messages,
            routes.DESCRIPTION.operation: self._description,
        }

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            response = self._answer(Request(environ))
        finally:
            request = context.current()
            if request is not None:
                metrics.observe_json_request(request.operation, request.fault, request.seconds())
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        endpoint: routes.Endpoint | None = None
        try:
            endpoint, values = self._route(request)
            return self._handlers[endpoint.operation](request, values)
        except ApiError as error:
            return self._refuse(error, endpoint)
        except TuotempoError as error:
            return self._refuse(errors.from_domain(error), endpoint)
        except Exception as error:
            reference = context.reference()
            log.error(
                "unexpected error in %s (reference %s)\n%s",
                endpoint.metric if endpoint else routes.UNKNOWN,
                reference,
                redacted_traceback(error),
            )
            internal = ApiError(
                errors.INTERNAL_ERROR, f"Internal error; quote reference {reference} to support"
            )
            return self._refuse(internal, endpoint)

    def _route(self, request: Request) -> tuple[routes.Endpoint, Mapping[str, Any]]:
        adapter = self.urls.bind_to_environ(request.environ)
        try:
            operation, values = adapter.match()
        except MethodNotAllowed as exc:
            allowed = sorted(exc.valid_methods or [])
            operation, _ = adapter.match(method=allowed[0]) if allowed else (None, {})
            if operation is not None:
                context.note_operation(routes.BY_OPERATION[operation].metric)
            raise ApiError(
                errors.REQUEST_NOT_ALLOWED,
                f"This resource answers {' and '.join(allowed)} only",
                headers=[("Allow", ", ".join(allowed))],
            ) from None
        except (NotFound, RequestRedirect):
            context.note_operation(routes.UNKNOWN)
            raise ApiError(
                errors.NOT_FOUND,
                f"No such resource; the API is described at {routes.DESCRIPTION.rule}",
            ) from None
        endpoint = routes.BY_OPERATION[operation]
        context.note_operation(endpoint.metric)
        return endpoint, values

    # --- the operations ----------------------------------------------------

    def _update_messages(self, request: Request, values: Mapping[str, Any]) -> Response:
        instance = self._sign_in(request, values["instance"])
        body = self._body(request, UpdateMessagesRequest)
        items = [message.model_dump() for message in body.MESSAGES]
        answer = operations.update_messages(self.runtime, instance, items)
        return self._ok(UpdateMessagesResult, answer)

    def _search_messages(self, request: Request, values: Mapping[str, Any]) -> Response:
        instance = self._sign_in(request, values["instance"])
        body = self._body(request, SearchMessagesRequest)
        answer = operations.search_messages(self.runtime, instance, body.model_dump())
        return self._ok(SearchMessagesResult, answer)

    def _description(self, request: Request, values: Mapping[str, Any]) -> Response:
        return Response(openapi_json(), 200, [_NO_STORE], content_type=JSON)

    # --- the steps -----------------------------------------------------------

    def _sign_in(self, request: Request, instance_name: str) -> instances.Instance:
        limit = self.runtime.settings.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise self._too_large()  # before any password check: the cheap refusal first
        credentials = request.authorization
        if credentials is None or credentials.type != "basic" or credentials.username is None:
            raise ApiError(
                errors.AUTHENTICATION_FAILED,
                "Send the API user of the instance as HTTP Basic credentials "
                "(Authorization: Basic base64(user:password))",
                "Authorization",
            )
        instance = instances.authenticate(
            self.runtime.store,
            instance_name,
            credentials.username,
            credentials.password or "",
            guard=self.runtime.auth_guard,
            client_address=request.remote_addr,  # a trusted proxy has already set it
        )
        context.note_instance(instance.name)
        return instance

    def _body(self, request: Request, model: type[Body]) -> Body:
        media = request.mimetype
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if not (media == JSON or (media.startswith("application/") and media.endswith("+json"))):
            raise ApiError(
                errors.UNSUPPORTED_MEDIA_TYPE,
                "Send the body as Content-Type: application/json",
                "Content-Type",
            )
        if charset not in ("utf-8", "utf8"):
            raise ApiError(
                errors.UNSUPPORTED_MEDIA_TYPE, "JSON bodies are UTF-8 (RFC 8259)", "Content-Type"
            )
        data = self._read(request)
        try:
            return model.model_validate_json(data)
        except ValidationError as invalid:
            raise first_error(invalid) from None

    def _read(self, request: Request) -> bytes:
        """The body, up to the limit. werkzeug's stream is safe (no reading past
        a Content-Length, nothing from a stream the server does not end), but at
        its maximum it stops without a word; so it is allowed one byte more,
        which tells an oversized body sent without a length."""
        limit = self.runtime.settings.max_body_bytes
        request.max_content_length = limit + 1
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = request.stream.read(min(_CHUNK, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except RequestEntityTooLarge:
            raise self._too_large() from None
        except ClientDisconnected:
            raise ApiError(
                errors.MALFORMED_JSON, "The body ended before its Content-Length"
            ) from None
        if size > limit:
            raise self._too_large()
        return b"".join(chunks)

    def _too_large(self) -> ApiError:
        return ApiError(
            errors.REQUEST_TOO_LARGE,
            f"The request body is larger than {self.runtime.settings.max_body_bytes} bytes; "
            "send fewer messages per call",
        )

    def _ok(self, model: type[BaseModel], answer: dict[str, Any]) -> Response:
        # Through the answer model: what is sent is what the description says;
        # absent fields are left out, as SOAP leaves out absent elements.
        body = model.model_validate(answer).model_dump_json(exclude_none=True)
        return Response(body, 200, [_NO_STORE], content_type=JSON)

    def _refuse(self, error: ApiError, endpoint: routes.Endpoint | None) -> Response:
        request = context.current()
        operation = (request.operation if request else None) or (
            endpoint.metric if endpoint else routes.UNKNOWN
        )
        context.note_fault(error.code, operation)
        level = logging.ERROR if error.code.startswith("Server.") else logging.INFO
        log.log(
            level,
            "json error %s field=%s operation=%s",
            error.code,
            error.log_field or "-",
            operation,
        )
        body = {
            "error": {
                "code": error.code,
                "field": error.field,
                "message": error.message,
                "reference": context.reference(),
            }
        }
        return Response(
            json.dumps(body), error.status, [_NO_STORE, *error.headers], content_type=JSON
        )
