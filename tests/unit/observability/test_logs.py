"""Log lines as JSON objects or text, each carrying the request it was
written for; gunicorn's own handlers follow the same format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tuotempo_soap.observability import context, logs


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tuotempo_soap.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logs.configure("INFO", "json")  # installs the record factory (the root handler is pytest's)
    try:
        yield logger, stream, handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_json_line_carries_the_request_it_was_written_for(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("json"))
    request, token = context.begin({"HTTP_X_REQUEST_ID": "req-for-the-log-1"})
    try:
        context.note_operation("updateMessages")
        context.note_instance("tt_clinic")
        logger.info("soap fault %s field=%s", "Client.ValidationError", "TO")
    finally:
        context.end(token)
    logger.warning("outside any request")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "soap fault Client.ValidationError field=TO"
    assert first["level"] == "INFO" and first["logger"] == "tuotempo_soap.test_logs"
    assert first["time"].endswith("Z") and isinstance(first["pid"], int)
    assert (first["request_id"], first["instance"], first["operation"]) == (
        "req-for-the-log-1",
        "tt_clinic",
        "updateMessages",
    )
    assert "request_id" not in second and second["level"] == "WARNING"
    assert request.request_id == "req-for-the-log-1"


def test_a_text_line_ends_with_the_request(
    captured: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = captured
    handler.setFormatter(logs.formatter("text"))
    _, token = context.begin({"HTTP_X_REQUEST_ID": "req-for-the-log-2"})
    try:
        logger.info("hello")
    finally:
        context.end(token)
    logger.info("bye")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO tuotempo_soap.test_logs: hello [request_id=req-for-the-log-2]")
    assert second.endswith("INFO tuotempo_soap.test_logs: bye")


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="json or text"):
        logs.configure("INFO", "xml")


def test_gunicorn_handlers_take_the_format_and_get_their_own_back() -> None:
    gunicorn_error = logging.getLogger("gunicorn.error")
    handler = logging.StreamHandler(io.StringIO())
    own = logging.Formatter("%(asctime)s [%(process)d] [%(levelname)s] %(message)s")
    handler.setFormatter(own)
    gunicorn_error.addHandler(handler)
    try:
        logs.configure("INFO", "json")
        assert isinstance(handler.formatter, logs.JsonLineFormatter)
        logs.configure("INFO", "text")
        assert handler.formatter is own
    finally:
        gunicorn_error.removeHandler(handler)
        logs.configure("INFO", "json")
