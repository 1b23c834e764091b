"""The request id: which incoming ``X-Request-ID`` values are kept, and what
an error answer's reference is inside and outside a request."""

from __future__ import annotations

import pytest

from tuotempo_soap.observability import context


@pytest.mark.parametrize(
    "value",
    [
        "3f2a9c1e-77b0-4c1e-9d0a-5b6c7d8e9f00",  # a UUID
        "0123456789abcdef0123456789abcdef",  # nginx's $request_id
        "01HZX3K7Q9V2M8N4P6R5S1T0WY",  # a ULID
        "his.batch_2027-02-24.run-7",
    ],
)
def test_a_short_safe_token_is_kept(value: str) -> None:
    assert context.accepted_request_id(value) == value
    assert context.accepted_request_id(f"  {value} ") == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "abc123",  # too short to tell requests apart
        "x" * 65,  # too long
        "612345678",  # digits alone: a phone number looks like that
        "0034612345678",
        "req id with spaces",
        "abc123\r\nX-Evil: 1",  # a header or log line of its own
        "ana@example.org",
        "ñandú-12345678",
    ],
)
def test_anything_else_is_replaced(value: str | None) -> None:
    assert context.accepted_request_id(value) is None


def test_a_request_gets_the_callers_id_or_a_new_one() -> None:
    environ: dict[str, object] = {"HTTP_X_REQUEST_ID": "caller-chosen-id-1"}
    request, token = context.begin(environ)
    try:
        assert request.request_id == "caller-chosen-id-1"
        assert environ[context.ENVIRON_KEY] is request
        assert context.reference() == "caller-chosen-id-1"
        context.note_operation("getReservations")
        context.note_instance("tt_demo")
        context.note_fault("Client.ValidationError", "searchMessages")
        # The operation first noted stands; the fault's is for requests not yet named.
        assert (request.operation, request.instance, request.fault) == (
            "getReservations",
            "tt_demo",
            "Client.ValidationError",
        )
    finally:
        context.end(token)
    assert context.current() is None
    generated, token = context.begin({"HTTP_X_REQUEST_ID": "612345678"})
    context.end(token)
    assert generated.request_id != "612345678"
    assert context.accepted_request_id(generated.request_id) == generated.request_id


def test_outside_a_request_notes_do_nothing_and_references_are_fresh() -> None:
    context.note_operation("getReservations")
    context.note_fault("Server.InternalError")
    first, second = context.reference(), context.reference()
    assert first != second and len(first) == 16
