"""The client through zeep and our transport, against a scripted clinic (no sockets)."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Callable

import pytest
import requests

from tuotempo_soap.clinic import (
    Availability,
    ClinicAuthenticationError,
    ClinicClientFactory,
    ClinicEndpoint,
    ClinicProtocolError,
    ClinicRejectedError,
    ClinicTimeoutError,
    ClinicUnavailableError,
    PatientData,
    ZeepClinicClient,
)

from .fakes import (
    CLINIC_URL,
    TNS,
    WSDL_URL,
    DictCache,
    ScriptedClinic,
    answer,
    envelope,
    fault,
    fields,
    operation_of,
    response,
    session_for,
)

MakeClient = Callable[..., ZeepClinicClient]

SLOT_XML = fields(
    RESOURCE_LID="C1-DR1",
    ACTIVITY_LID="VISIT",
    AVA_DATE="24/02/2027",
    AVA_START_TIME="09:00",
    AVAILABILITY_LID="C1-DR1-20270224-0900",
    AVA_END_TIME="09:20",
)


def availabilities(*slots: str) -> requests.Response:
    rows = "".join(f"<tns:AVAILABILITY>{slot}</tns:AVAILABILITY>" for slot in slots)
    return answer("searchAvailabilities", f"<tns:AVAILABILITIES>{rows}</tns:AVAILABILITIES>")


def body_of(request: requests.PreparedRequest) -> str:
    body = request.body
    return body.decode() if isinstance(body, bytes) else str(body)


def test_search_sends_credentials_center_and_guide_formats(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    clinic.script = [availabilities(SLOT_XML)]
    found = make_client().search_availabilities(
        "VISIT", start_day=dt.date(2027, 2, 24), min_time=dt.time(8, 5), max_results=5
    )
    assert found == [
        Availability(
            resource_lid="C1-DR1",
            activity_lid="VISIT",
            date=dt.date(2027, 2, 24),
            start=dt.time(9, 0),
            end=dt.time(9, 20),
            availability_lid="C1-DR1-20270224-0900",
        )
    ]
    sent = body_of(clinic.posts[0])
    for expected in ("platform", "s3cret", ">C1<", ">24/02/2027<", ">08:05<", ">5<"):
        assert expected in sent
    assert str(clinic.posts[0].url) == CLINIC_URL


def test_without_credentials_no_auth_block_is_sent(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    clinic.script = [answer("getCenters", "<tns:CENTERS/>")]
    assert make_client(username=None, password=None).get_centers() == []
    assert "AUTH" not in body_of(clinic.posts[0])


@pytest.mark.parametrize(
    "result", ["<tns:AVAILABILITIES/>", "", "<tns:AVAILABILITIES></tns:AVAILABILITIES>"]
)
def test_empty_results_are_empty_lists(
    clinic: ScriptedClinic, make_client: MakeClient, result: str
) -> None:
    clinic.script = [answer("searchAvailabilities", result)]
    assert make_client().search_availabilities("VISIT") == []


def test_http_500_without_soap_is_retried_then_unavailable(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    clinic.script = [response(500, b"", "text/plain") for _ in range(3)]
    with pytest.raises(ClinicUnavailableError) as caught:
        make_client(read_retries=2).get_centers()
    assert caught.value.status_code == 500
    assert len(clinic.posts) == 3


def test_an_html_error_page_is_unavailable_and_not_quoted(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>patient +34600111222</body></html>"
    clinic.script = [response(502, page, "text/html")]
    with pytest.raises(ClinicUnavailableError) as caught:
        make_client(read_retries=0).get_centers()
    assert caught.value.status_code == 502
    assert "+34600111222" not in str(caught.value)


def test_a_server_fault_is_retried_and_may_succeed(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    centers = "<tns:CENTERS><tns:CENTER>" + fields(CENTER_LID="C1", CENTER_NAME="Centro")
    clinic.script = [
        fault("Server.Unavailable", "try later"),
        requests.ReadTimeout("read timed out"),
        answer("getCenters", centers + "</tns:CENTER></tns:CENTERS>"),
    ]
    found = make_client(read_retries=3).get_centers()
    assert [center.center_lid for center in found] == ["C1"]
    assert len(clinic.posts) == 3


def test_timeouts_exhaust_the_retries(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    clinic.script = [requests.ReadTimeout("read timed out") for _ in range(4)]
    with pytest.raises(ClinicTimeoutError):
        make_client().key_entities()
    assert len(clinic.posts) == 4  # read_retries=3 after the first attempt


def test_an_auth_fault_is_not_retried(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    clinic.script = [fault("Client.AuthenticationFailed", "Wrong USERNAME or PASSWORD")]
    with pytest.raises(ClinicAuthenticationError) as caught:
        make_client().key_entities()
    assert caught.value.fault_code == "Client.AuthenticationFailed"
    assert len(clinic.posts) == 1


def test_a_client_fault_is_a_rejection(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    clinic.script = [fault("Client.ValidationError", "APP_LID is required")]
    with pytest.raises(ClinicRejectedError):
        make_client().check_appointment("A1")
    assert len(clinic.posts) == 1


def test_an_answer_that_is_not_xml_is_a_protocol_error(
    clinic: ScriptedClinic, make_client: MakeClient
) -> None:
    clinic.script = [response(200, "Service temporarily down", "text/plain")]
    with pytest.raises(ClinicProtocolError):
        make_client().get_centers()
    assert len(clinic.posts) == 1


def test_an_answer_with_a_dtd_is_refused(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + envelope("<tns:getCentersResponse><tns:getCentersResult/></tns:getCentersResponse>")
        .split("?>", 1)[1]
        .replace("<tns:getCentersResult/>", "<tns:getCentersResult>&xxe;</tns:getCentersResult>")
    )
    clinic.script = [response(200, hostile)]
    with pytest.raises(ClinicProtocolError, match="DTD"):
        make_client().get_centers()


def test_a_wsdl_with_a_dtd_is_refused(clinic: ScriptedClinic, factory: ClinicClientFactory) -> None:
    url = "http://clinic.test/hostile?wsdl"
    clinic.documents[url] = (
        b'<?xml version="1.0"?>\n<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + clinic.documents[WSDL_URL].split(b"?>", 1)[1]
    )
    with pytest.raises(ClinicProtocolError) as caught:
        factory.build(ClinicEndpoint(url))
    assert caught.value.operation == "WSDL"


def test_a_wsdl_importing_a_remote_schema_is_refused_without_fetching_it(
    clinic: ScriptedClinic, factory: ClinicClientFactory
) -> None:
    url = "http://clinic.test/importing?wsdl"
    remote = "http://evil.test/types.xsd"
    clinic.documents[url] = clinic.documents[WSDL_URL].replace(
        b'elementFormDefault="qualified">',
        b'elementFormDefault="qualified"><xs:import namespace="urn:evil" '
        + f'schemaLocation="{remote}"/>'.encode(),
        1,
    )
    with pytest.raises(ClinicProtocolError, match="ExternalReferenceForbidden"):
        factory.build(ClinicEndpoint(url))
    assert remote not in clinic.gets


def test_a_missing_wsdl_is_a_protocol_error(factory: ClinicClientFactory) -> None:
    with pytest.raises(ClinicProtocolError) as caught:
        factory.build(ClinicEndpoint("http://clinic.test/missing?wsdl"))
    assert caught.value.status_code == 404


def test_endpoint_override(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    clinic.script = [answer("getCenters", "<tns:CENTERS/>")]
    client = make_client(endpoint_url="http://other.test:8100/clinic")
    client.get_centers()
    assert str(clinic.posts[0].url) == "http://other.test:8100/clinic"
    assert client.host == "other.test:8100"


def test_the_wsdl_is_parsed_once_per_process(
    clinic: ScriptedClinic, factory: ClinicClientFactory
) -> None:
    first = factory.zeep_client(ClinicEndpoint(WSDL_URL))
    again = factory.zeep_client(ClinicEndpoint(WSDL_URL, username="other"))
    slower = factory.zeep_client(ClinicEndpoint(WSDL_URL, timeout_seconds=30))
    assert first is again
    assert slower is not first
    assert slower.wsdl is first.wsdl
    assert clinic.gets == [WSDL_URL]
    assert (first.transport.load_timeout, first.transport.operation_timeout) == (10.0, 10.0)
    assert slower.transport.operation_timeout == 30
    settings = first.settings
    assert (settings.forbid_dtd, settings.forbid_entities, settings.forbid_external) == (
        True,
        True,
        True,
    )
    assert (settings.strict, settings.xml_huge_tree) == (False, False)


def test_the_cache_can_be_cleared(clinic: ScriptedClinic) -> None:
    factory = ClinicClientFactory(
        wsdl_cache=DictCache(), session_factory=lambda: session_for(clinic)
    )
    first = factory.zeep_client(ClinicEndpoint(WSDL_URL))
    factory.clear()
    assert factory.zeep_client(ClinicEndpoint(WSDL_URL)) is not first


def test_check_appointment(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    appointment = fields(
        APP_LID="A1",
        STATUS="Canceled",
        APP_DATE="2027-02-24",
        APP_START_TIME="09:00",
        USER_LID="P1",
        ACTIVITY_LID="VISIT",
        RESOURCE_LID="C1-DR1",
    )
    clinic.script = [
        answer(
            "checkAppointment",
            f"<tns:RESULT>OK</tns:RESULT><tns:APPOINTMENT>{appointment}</tns:APPOINTMENT>",
        ),
        answer("checkAppointment", "<tns:RESULT>NOT_FOUND</tns:RESULT>"),
        answer("checkAppointment", fields(RESULT="ERROR", ERROR_MESSAGE="call +34600111222")),
    ]
    client = make_client()
    found = client.check_appointment("A1")
    assert found is not None
    assert found.status.value == "CANCELLED"
    assert client.check_appointment("A2") is None
    with pytest.raises(ClinicRejectedError) as caught:
        client.check_appointment("A3")
    assert "+34600111222" not in str(caught.value)


def test_test_result_content_is_bytes(clinic: ScriptedClinic, make_client: MakeClient) -> None:
    pdf = b"%PDF-1.4 fake"
    clinic.script = [
        answer(
            "getTestResultContent",
            fields(
                DOWNLOAD_LID="R1", STATUS="Valid", DOWNLOAD_CONTENT=base64.b64encode(pdf).decode()
            ),
        )
    ]
    content = make_client().get_test_result_content("R1")
    assert content.content == pdf


def test_booking_sends_the_patient_and_logs_none_of_it(
    clinic: ScriptedClinic, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    patient = PatientData(
        user_tid="TT-9",
        first_name="Ana",
        second_name="Martinez",
        mobile_phone="+34600111222",
        email="ana@example.org",
        id_number="12345678Z",
        date_of_birth=dt.date(1980, 5, 1),
        gender="F",
    )
    slot = Availability(
        resource_lid="C1-DR1",
        activity_lid="VISIT",
        date=dt.date(2027, 2, 24),
        start=dt.time(9, 0),
        availability_lid="S1",
    )
    clinic.script = [
        answer("addAppointment", fields(ADD_RESULT="OK", APP_LID="A7", USER_LID="P9")),
        fault("Client.Refused", "Ana Martinez (ana@example.org, +34600111222) is blocked"),
    ]
    client = make_client()
    caplog.set_level(logging.DEBUG)
    booked = client.add_appointment(slot, patient, "TT-APP-7")
    assert (booked.ok, booked.app_lid, booked.user_lid) == (True, "A7", "P9")
    sent = body_of(clinic.posts[0])
    assert operation_of(clinic.posts[0]) == "addAppointment"
    for expected in (
        "TT-9",
        "Ana",
        "+34600111222",
        "01/05/1980",
        "24/02/2027",
        "09:00",
        "TT-APP-7",
    ):
        assert expected in sent
    with pytest.raises(ClinicRejectedError) as caught:
        client.add_appointment(slot, patient, "TT-APP-8")
    logged = caplog.text + str(caught.value)
    for secret in ("Ana", "Martinez", "+34600111222", "ana@example.org", "12345678Z"):
        assert secret not in logged
    assert "addAppointment" in caplog.text


def test_namespace_of_the_fakes_matches_the_contract() -> None:
    from examples.clinic_server.contract import CLINIC_TNS

    assert TNS == CLINIC_TNS
