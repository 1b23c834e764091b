"""The OpenAPI 3.1 description of the JSON API, built from its declarations:
the body models (``models``), the endpoints and the codes each may answer
(``routes``) and the HTTP status of each code (``errors``).

Served at ``/api/v1/openapi.json``; ``docs/generate_openapi.py`` writes the
same document to ``docs/openapi.yaml``, and a test holds the two equal.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema

from ... import __version__
from ...services.instances import INSTANCE_NAME
from . import errors, routes
from .models import ErrorAnswer

SCHEMAS = "#/components/schemas/{model}"

_INFO_DESCRIPTION = """\
Messages over plain HTTPS (guide A.5): updateMessages and searchMessages of the \
SOAP service as JSON, with the same field names, the same checks, the same \
per-item results and the same error codes.

**Signing in.** The instance is the first path segment after `/api/v1/` \
(`/api/v1/tt_acme/messages`) and one of its API users signs in with HTTP Basic \
(`Authorization: Basic base64(user:password)`), the user and password that go \
in the AUTH block over SOAP. Wrong passwords are throttled as over SOAP \
(429 `Client.TooManyAttempts` with `Retry-After`).

**Errors.** Every refusal is `{"error": {"code", "field", "message", \
"reference"}}`: `code` is the SOAP faultcode of the same problem, `field` the \
body path, header or path parameter at fault, `reference` the request's id \
(also in the `X-Request-ID` header of every answer). Refused items of a batch \
are not errors: the answer is 200 and each ITEM says what became of its message.
"""


class _Schema(GenerateJsonSchema):
    """pydantic's JSON Schema with two changes: answer fields that may be absent
    are described without ``null`` (answers leave out what they do not have,
    as SOAP leaves out absent elements), and fields carry no generated title."""

    def default_schema(self, schema: Any) -> JsonSchemaValue:
        inner = schema["schema"]
        if (
            self.mode == "serialization"
            and schema.get("default", ...) is None
            and inner["type"] == "nullable"
        ):
            return self.generate_inner(inner["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _schemas() -> dict[str, Any]:
    models: list[tuple[Any, Any]] = []
    for endpoint in routes.ENDPOINTS:
        if endpoint.request is not None:
            models.append((endpoint.request, "validation"))
        if endpoint.answer is not None:
            models.append((endpoint.answer, "serialization"))
    models.append((ErrorAnswer, "serialization"))
    _, top = models_json_schema(
        models,
        ref_template=SCHEMAS,
        union_format="primitive_type_array",
        schema_generator=_Schema,
    )
    return dict(sorted(top["$defs"].items()))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=name)}


def _error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[errors.http_status(code)].append(code)
    answers: dict[str, Any] = {}
    for status in sorted(by_status):
        listed = ", ".join(f"`{code}`" for code in by_status[status])
        answer: dict[str, Any] = {
            "description": f"error.code {listed}",
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
            "content": {"application/json": {"schema": _ref("ErrorAnswer")}},
        }
        if errors.AUTHENTICATION_FAILED in by_status[status]:
            answer["headers"]["WWW-Authenticate"] = {
                "description": errors.BASIC_CHALLENGE,
                "schema": {"type": "string"},
            }
        if errors.TOO_MANY_ATTEMPTS in by_status[status]:
            answer["headers"]["Retry-After"] = {
                "description": "Seconds to wait before signing in again",
                "schema": {"type": "integer"},
            }
        if errors.REQUEST_NOT_ALLOWED in by_status[status]:
            answer["headers"]["Allow"] = {
                "description": "The methods the resource answers",
                "schema": {"type": "string"},
            }
        answers[str(status)] = answer
    return answers


def _operation(endpoint: routes.Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation,
        "summary": endpoint.summary,
        "description": endpoint.description,
    }
    ok: dict[str, Any] = {
        "description": "The answer",
        "headers": {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}},
    }
    if endpoint.authenticated:
        operation["security"] = [{"basic": []}]
        operation["parameters"] = [{"$ref": "#/components/parameters/instance"}]
    else:
        operation["security"] = []
    if endpoint.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.request.__name__)}},
        }
    if endpoint.answer is not None:
        ok["content"] = {"application/json": {"schema": _ref(endpoint.answer.__name__)}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    operation["responses"] = {"200": ok, **_error_responses(endpoint.codes)}
    return operation


def _path(rule: str) -> str:
    return rule.replace("<", "{").replace(">", "}")


def openapi_document() -> dict[str, Any]:
    """The description, as plain JSON values."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tuotempo-soap messages API",
            "version": __version__,
            "description": _INFO_DESCRIPTION,
        },
        "paths": {
            _path(endpoint.rule): {endpoint.method.lower(): _operation(endpoint)}
            for endpoint in routes.ENDPOINTS
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "An API user of the instance named in the path",
                }
            },
            "parameters": {
                "instance": {
                    "name": "instance",
                    "in": "path",
                    "required": True,
                    "description": "The instance the credentials belong to, e.g. tt_acme",
                    "schema": {"type": "string", "pattern": INSTANCE_NAME.pattern},
                }
            },
            "headers": {
                "RequestId": {
                    "description": "The request's id: in every log line written for it, "
                    "and the reference of an error",
                    "schema": {"type": "string"},
                }
            },
        },
    }


@functools.cache
def openapi_json() -> bytes:
    """The description as served (built once per process)."""
    return json.dumps(openapi_document(), ensure_ascii=False, indent=1).encode()
