"""The fault mapping's pure parts: Spyne's faults in our words, and what an
unexpected error leaves in the log (its stack, never its message)."""

from __future__ import annotations

import logging

import pytest
from spyne import Fault
from spyne.error import ResourceNotFoundError, ValidationError

from tuotempo_soap.errors import TooManyAttemptsError
from tuotempo_soap.soap.faults import (
    fault_for,
    operation_name,
    redacted_traceback,
    service_fault,
)

PHONE = "612 345 678"


def _parse(value: str) -> int:
    return int(value)


def test_an_unexpected_error_is_logged_with_its_stack_and_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        try:
            _parse(PHONE)
        except ValueError as inner:
            raise KeyError(f"no row for {PHONE}") from inner
    except KeyError as caught:
        error = caught
        fault = service_fault(error, "{http://tuotempo-soap.org/v1}searchMessages")
    assert fault.code == "Server.InternalError"
    reference = fault.message.split("reference ")[1].split()[0]
    text = caplog.text
    assert f"unexpected error in searchMessages (reference {reference})" in text
    assert "builtins.ValueError (message withheld)" in text
    assert "builtins.KeyError (message withheld)" in text
    assert "in _parse" in text and "return int(value)" in text  # the stack, both exceptions
    assert PHONE not in text and PHONE not in redacted_traceback(error)


@pytest.mark.parametrize(
    ("spyne_fault", "code"),
    [
        (ValidationError(PHONE, "Could not cast %r to integer"), "Client.ValidationError"),
        (ResourceNotFoundError(f"{{urn:x}}{PHONE}"), "Client.ResourceNotFound"),
        (Fault("Client.SoapError", f"No Envelope in {PHONE}"), "Client.InvalidEnvelope"),
        (Fault("Client.XMLSyntaxError", f"bad {PHONE}"), "Client.MalformedXML"),
        (Fault("Client.SomethingNew", PHONE), "Client.ValidationError"),
    ],
)
def test_spyne_faults_in_our_words(spyne_fault: Fault, code: str) -> None:
    fault = service_fault(spyne_fault)
    assert (fault.code, fault.field) == (code, None)
    assert PHONE not in fault.message and fault.detail is not None


def test_a_throttle_refusal_keeps_its_retry_time() -> None:
    fault = fault_for(
        TooManyAttemptsError("Too many failed sign-ins; try again in 4 s", retry_after=4)
    )
    assert (fault.code, fault.field, fault.retry_after) == ("Client.TooManyAttempts", "AUTH", 4)


@pytest.mark.parametrize(
    ("requested", "logged"),
    [
        ("{http://tuotempo-soap.org/v1}getReservations", "getReservations"),
        ("{urn:other}getReservations", None),
        (f"{{http://tuotempo-soap.org/v1}}Quastenberg{PHONE}", None),
        (None, None),
    ],
)
def test_only_our_operation_names_reach_the_log(requested: str | None, logged: str | None) -> None:
    assert operation_name(requested) == logged
