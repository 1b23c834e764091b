from __future__ import annotations

import pytest
import requests
import zeep.exceptions
from lxml import etree
from urllib3.exceptions import MaxRetryError, NewConnectionError

from tuotempo_soap.clinic import (
    ClinicAuthenticationError,
    ClinicError,
    ClinicProtocolError,
    ClinicRejectedError,
    ClinicTimeoutError,
    ClinicUnavailableError,
)
from tuotempo_soap.clinic.errors import map_error, redact
from tuotempo_soap.errors import TuotempoError

TNS = "http://tuotempo-soap.org/clinic/v1"


def mapped(exc: BaseException, **kwargs: object) -> ClinicError:
    result = map_error(exc, operation="getAppointments", host="clinic.test:8100", **kwargs)  # type: ignore[arg-type]
    assert result is not None
    assert result.operation == "getAppointments"
    assert result.host == "clinic.test:8100"
    assert "clinic.test:8100" in result.message
    assert "getAppointments" in result.message
    return result


def typed_detail(code: str) -> etree._Element:
    detail = etree.Element("detail")
    fault = etree.SubElement(detail, f"{{{TNS}}}ClinicFault")
    etree.SubElement(fault, f"{{{TNS}}}CODE").text = code
    etree.SubElement(fault, f"{{{TNS}}}MESSAGE").text = "whatever"
    return detail


@pytest.mark.parametrize(
    ("code", "detail", "kind"),
    [
        ("soap11env:Client.AuthenticationFailed", None, ClinicAuthenticationError),
        ("soap:Client", "Client.AuthenticationFailed", ClinicAuthenticationError),
        ("Client.BadCredentials", None, ClinicAuthenticationError),
        ("soap11env:Server.Unavailable", "Server.Unavailable", ClinicUnavailableError),
        ("soap11env:Server", None, ClinicUnavailableError),
        ("{http://www.w3.org/2003/05/soap-envelope}Receiver", None, ClinicUnavailableError),
        ("soap11env:Client.ValidationError", "Client.ValidationError", ClinicRejectedError),
        ("Sender", None, ClinicRejectedError),
        ("ns0:Mystery", None, ClinicProtocolError),
        (None, None, ClinicProtocolError),
    ],
)
def test_faults_by_code(code: str | None, detail: str | None, kind: type[ClinicError]) -> None:
    exc = zeep.exceptions.Fault(
        "refused", code=code, detail=typed_detail(detail) if detail else None
    )
    error = mapped(exc)
    assert type(error) is kind
    if detail:
        assert error.fault_code == detail


def test_fault_text_is_redacted_and_cut() -> None:
    text = (
        "Patient Ana Martinez (+34 600 111 222, ana@example.org, DNI 12345678Z) "
        "cannot book: " + "x" * 500
    )
    error = mapped(
        zeep.exceptions.Fault(text, code="Client.Refused"),
        redact_values=("Ana", "Martinez", "12345678Z"),
    )
    for secret in ("Ana", "Martinez", "600 111 222", "ana@example.org", "12345678Z"):
        assert secret not in error.message
    assert len(error.message) < 300


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, ClinicUnavailableError),
        (502, ClinicUnavailableError),
        (503, ClinicUnavailableError),
        (429, ClinicUnavailableError),
        (401, ClinicAuthenticationError),
        (403, ClinicAuthenticationError),
        (404, ClinicProtocolError),
        (301, ClinicProtocolError),
    ],
)
def test_http_status_without_soap(status: int, kind: type[ClinicError]) -> None:
    error = mapped(
        zeep.exceptions.TransportError("HTTP", status_code=status, content=b"+34600111222")
    )
    assert type(error) is kind
    assert error.status_code == status
    assert "+34600111222" not in error.message


def test_wsdl_download_http_error() -> None:
    answer = requests.Response()
    answer.status_code = 503
    error = mapped(requests.HTTPError("503", response=answer))
    assert type(error) is ClinicUnavailableError


def test_read_timeout_may_have_reached_the_clinic() -> None:
    error = mapped(requests.ReadTimeout("read timed out"))
    assert isinstance(error, ClinicTimeoutError)
    assert isinstance(error, ClinicUnavailableError)
    assert error.request_sent


def test_connect_timeout_never_left() -> None:
    error = mapped(requests.ConnectTimeout("connect timed out"))
    assert isinstance(error, ClinicTimeoutError)
    assert not error.request_sent


def test_refused_connection_never_left() -> None:
    refused = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    exc = requests.ConnectionError(MaxRetryError(None, "/clinic", refused))  # type: ignore[arg-type]
    error = mapped(exc)
    assert type(error) is ClinicUnavailableError
    assert not error.request_sent
    assert "could not connect" in error.message


def test_dropped_connection_may_have_reached_the_clinic() -> None:
    error = mapped(requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    assert type(error) is ClinicUnavailableError
    assert error.request_sent
    chunked = mapped(requests.exceptions.ChunkedEncodingError("connection broken"))
    assert type(chunked) is ClinicUnavailableError


@pytest.mark.parametrize(
    "exc",
    [
        zeep.exceptions.DTDForbidden("definitions", "file:///etc/passwd", None),
        zeep.exceptions.EntitiesForbidden("xxe", "file:///etc/passwd"),
        zeep.exceptions.ExternalReferenceForbidden("http://evil.test/x.xsd"),
        zeep.exceptions.XMLSyntaxError("Invalid XML content received"),
        zeep.exceptions.ValidationError("Missing element APP_LID", path=["APP_LID"]),
        zeep.exceptions.XMLParseError("bad"),
        zeep.exceptions.LookupError("no such type"),
        requests.TooManyRedirects("too many"),
    ],
)
def test_unreadable_or_forbidden_xml_is_a_protocol_error(exc: BaseException) -> None:
    assert type(mapped(exc)) is ClinicProtocolError


def test_lxml_syntax_error() -> None:
    try:
        etree.fromstring(b"<unclosed")
    except etree.XMLSyntaxError as exc:
        assert type(mapped(exc)) is ClinicProtocolError


def test_foreign_bugs_are_not_ours_to_map() -> None:
    assert map_error(KeyError("x"), operation="getCenters", host="h") is None


def test_clinic_errors_are_project_errors_with_stable_codes() -> None:
    codes = {
        ClinicError: "Server.ClinicError",
        ClinicUnavailableError: "Server.ClinicUnavailable",
        ClinicTimeoutError: "Server.ClinicUnavailable",
        ClinicAuthenticationError: "Server.ClinicAuthenticationFailed",
        ClinicProtocolError: "Server.ClinicProtocolError",
        ClinicRejectedError: "Client.ClinicRejected",
    }
    for kind, code in codes.items():
        assert issubclass(kind, TuotempoError)
        assert kind.code == code


def test_redact() -> None:
    assert redact("call +34 600-111-222 or a@b.es, patient Ana", ["Ana"]) == (
        "call <redacted> or <redacted>, patient <redacted>"
    )
    # Short values would redact half the message.
    assert redact("slot 09:00 taken", ["09"]) == "slot 09:00 taken"
