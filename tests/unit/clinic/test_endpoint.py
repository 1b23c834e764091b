from __future__ import annotations

import pytest
import zeep.exceptions

import tuotempo_soap.clinic as clinic
from tuotempo_soap.clinic import ClinicEndpoint
from tuotempo_soap.clinic.endpoint import host_of
from tuotempo_soap.clinic.transport import check_answer

from .fakes import response


def test_the_exported_names_are_pinned() -> None:
    assert sorted(clinic.__all__) == [
        "Appointment",
        "Availability",
        "BookingResult",
        "Center",
        "ClinicAppointmentStatus",
        "ClinicAuthenticationError",
        "ClinicClientFactory",
        "ClinicEndpoint",
        "ClinicError",
        "ClinicProtocolError",
        "ClinicRejectedError",
        "ClinicTimeoutError",
        "ClinicUnavailableError",
        "DeleteResult",
        "KeyEntity",
        "PatientData",
        "TestResult",
        "TestResultContent",
        "TestResultStatus",
        "ZeepClinicClient",
        "build_clinic_client",
    ]
    for name in clinic.__all__:
        assert getattr(clinic, name) is not None


def test_endpoint_defaults_and_auth() -> None:
    endpoint = ClinicEndpoint("https://clinic.example/ws?wsdl", username="u", password="p4ss")
    assert (endpoint.timeout_seconds, endpoint.read_retries) == (10.0, 3)
    assert endpoint.endpoint_url is None and endpoint.center_lid is None
    assert endpoint.auth() == {"USERNAME": "u", "PASSWORD": "p4ss"}
    assert "p4ss" not in repr(endpoint)
    assert ClinicEndpoint("https://clinic.example/ws?wsdl").auth() is None


@pytest.mark.parametrize(
    "options",
    [{"wsdl_url": ""}, {"timeout_seconds": 0}, {"read_retries": -1}, {"retry_backoff_seconds": -1}],
)
def test_endpoint_refuses_nonsense(options: dict[str, object]) -> None:
    settings: dict[str, object] = {"wsdl_url": "http://clinic.example/ws?wsdl", **options}
    with pytest.raises(ValueError):
        ClinicEndpoint(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://user:secret@clinic.example:8443/ws?wsdl", "clinic.example:8443"),
        ("http://clinic.example/ws", "clinic.example"),
        ("/etc/clinic.wsdl", "local-file"),
        ("file:///etc/clinic.wsdl", "local-file"),
    ],
)
def test_host_of_never_shows_credentials_or_paths(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, "<soap:Envelope/>", "text/xml"),
        (200, "\ufeff <?xml version='1.0'?><Envelope/>", "text/xml"),
        (500, "<soap:Envelope><soap:Body><soap:Fault/></soap:Body></soap:Envelope>", "text/xml"),
        (500, "<Envelope/>", "application/soap+xml; charset=utf-8"),
        (202, "", "text/xml"),
    ],
)
def test_soap_answers_go_to_zeep(status: int, body: str, content_type: str) -> None:
    check_answer(response(status, body, content_type))


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (500, "", "text/plain"),
        (500, "<html>Internal Server Error</html>", "text/html"),
        (503, "Service Unavailable", "text/plain"),
        (302, "", "text/html"),
        (404, "<html>not found</html>", "text/xml"),
    ],
)
def test_http_errors_without_soap_are_transport_errors(
    status: int, body: str, content_type: str
) -> None:
    with pytest.raises(zeep.exceptions.TransportError) as caught:
        check_answer(response(status, body, content_type))
    assert caught.value.status_code == status
    assert caught.value.content is None  # never the body: it may name patients


def test_a_200_that_is_not_xml_is_a_syntax_error() -> None:
    with pytest.raises(zeep.exceptions.XMLSyntaxError):
        check_answer(response(200, "OK, booked for +34600111222", "text/plain"))
