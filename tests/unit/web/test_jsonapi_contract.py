"""The JSON API speaks the SOAP contract's words: its bodies have the WSDL's
field names, in the WSDL's order, with the same required fields; its
operations are counted under bounded metric names; each code it may send has
an HTTP status."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import tuotempo_soap.soap.compat  # noqa: F401  (before Spyne)
from tuotempo_soap.observability import metrics
from tuotempo_soap.soap import operations, types
from tuotempo_soap.soap.service import TuotempoService
from tuotempo_soap.web.jsonapi import errors, models, routes
from tuotempo_soap.web.jsonapi.openapi import openapi_document


def _spyne_fields(spyne_type: Any) -> list[tuple[str, bool]]:
    return [(name, kind.Attributes.min_occurs >= 1) for name, kind in spyne_type._type_info.items()]


def _answer_fields(model: type[BaseModel]) -> list[tuple[str, bool]]:
    return [(name, info.is_required()) for name, info in model.model_fields.items()]


def _schema_fields(name: str) -> list[tuple[str, bool]]:
    """What the published description says of a request body."""
    schema = openapi_document()["components"]["schemas"][name]
    required = set(schema.get("required", ()))
    return [(field, field in required) for field in schema["properties"]]


def _operation_args(operation: str) -> list[tuple[str, bool]]:
    method = TuotempoService.public_methods[operation]
    return [item for item in _spyne_fields(method.in_message) if item[0] != "AUTH"]


@pytest.mark.parametrize(
    ("model", "spyne_type"),
    [
        (models.MessageItemResult, types.MessageItemResult),
        (models.UpdateMessagesResult, types.UpdateMessagesResult),
        (models.StoredMessage, types.StoredMessage),
        (models.SearchMessagesResult, types.SearchMessagesResult),
    ],
)
def test_answers_have_the_wsdl_fields(model: type[BaseModel], spyne_type: Any) -> None:
    assert _answer_fields(model) == _spyne_fields(spyne_type)


def test_a_message_has_the_wsdl_fields_and_the_schema_requires_what_the_wsdl_does() -> None:
    assert list(models.Message.model_fields) == list(operations.MESSAGE_FIELDS)
    assert _schema_fields("Message") == _spyne_fields(types.Message)
    # The model itself lets them be absent: the service answers MISSING_FIELD per item.
    assert not any(info.is_required() for info in models.Message.model_fields.values())


def test_request_bodies_have_the_operations_arguments() -> None:
    assert _schema_fields("SearchMessagesRequest") == _operation_args("searchMessages")
    assert _schema_fields("UpdateMessagesRequest") == _operation_args("updateMessages")


def test_the_metric_names_are_the_endpoints_and_bounded() -> None:
    assert metrics.JSON_OPERATIONS == routes.METRIC_NAMES
    assert not metrics.JSON_OPERATIONS & metrics.SOAP_OPERATIONS


def test_every_code_an_endpoint_may_send_has_its_http_status() -> None:
    for endpoint in routes.ENDPOINTS:
        for code in endpoint.codes:
            assert code in errors.HTTP_STATUS, (endpoint.operation, code)
    assert errors.http_status("Client.SomethingNew") == 400
    assert errors.http_status("Server.SomethingNew") == 503
