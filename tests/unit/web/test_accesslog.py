"""The access log keeps routes and flags, never tokens or query values."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config

from tuotempo_soap.web.accesslog import AccessLogger, loggable_uri

TOKEN = "WzEyLCJjYW5jZWwiXQ.aw3tiQ.fM4aoZdLTdmFJK85oxvyp-HyIDY"


@pytest.mark.parametrize(
    ("uri", "logged"),
    [
        (f"/answer/{TOKEN}", "/answer/<token>"),
        (f"/answer/{TOKEN}?x={TOKEN}", "/answer/<token>?x=-"),
        (f"//answer/{TOKEN}", "//answer/<token>"),
        (f"/x/answer/{TOKEN}", "/x/answer/<token>"),
        ("/soap?wsdl", "/soap?wsdl"),
        ("/healthz?612345678=1&t=abc", "/healthz?-=-&t=-"),
        ("/receipts/sms-gw", "/receipts/sms-gw"),
        (f"https://memo.example/answer/{TOKEN}", "https://memo.example/answer/<token>"),
    ],
)
def test_loggable_uri(uri: str, logged: str) -> None:
    assert loggable_uri(uri) == logged


def test_every_atom_that_holds_the_target_is_cleaned() -> None:
    config = Config()
    config.set("accesslog", "-")
    logger = AccessLogger(config)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/answer/{TOKEN}?t={TOKEN}",
        "PATH_INFO": f"/answer/{TOKEN}",
        "QUERY_STRING": f"t={TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"https://memo.example/answer/{TOKEN}",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=5))
    assert atoms["r"] == "GET /answer/<token>?t=- HTTP/1.1"
    assert (atoms["U"], atoms["q"]) == ("/answer/<token>", "t=-")
    assert atoms["f"] == atoms["{referer}i"] == "https://memo.example/answer/<token>"
    assert not any(TOKEN in str(value) for value in atoms.values())
    logging.getLogger("gunicorn.access").handlers.clear()


def test_in_json_an_access_is_one_object_with_the_requests_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import json

    from tuotempo_soap.observability import context, logs

    monkeypatch.setitem(logs._state, "format", "json")
    logging.getLogger("gunicorn.access").handlers.clear()
    config = Config()
    config.set("accesslog", "-")
    logger = AccessLogger(config)
    stream = io.StringIO()
    for handler in logging.getLogger("gunicorn.access").handlers:
        handler.stream = stream  # type: ignore[attr-defined]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/answer/{TOKEN}?t={TOKEN}",
        "PATH_INFO": f"/answer/{TOKEN}",
        "QUERY_STRING": f"t={TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    request, token = context.begin(environ)
    request.instance, request.operation, request.fault = "tt_x", "getReservations", "Client.X"
    context.end(token)  # gunicorn logs after the application has returned
    response = SimpleNamespace(status="409 Conflict", sent=10, headers=[])
    try:
        logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=5))
    finally:
        logging.getLogger("gunicorn.access").handlers.clear()
    line = json.loads(stream.getvalue())
    assert line["message"] == "POST /answer/<token>?t=- HTTP/1.1 409"
    assert {key: line[key] for key in ("path", "query", "status", "bytes", "remote")} == {
        "path": "/answer/<token>",
        "query": "t=-",
        "status": 409,
        "bytes": 10,
        "remote": "127.0.0.1",
    }
    assert line["duration_ms"] == 5.0 and line["logger"] == "gunicorn.access"
    assert (line["request_id"], line["instance"], line["operation"], line["fault"]) == (
        request.request_id,
        "tt_x",
        "getReservations",
        "Client.X",
    )
    assert TOKEN not in stream.getvalue()
