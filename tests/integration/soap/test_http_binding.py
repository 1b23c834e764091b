"""Content-Type and SOAPAction, as the README's table states them (WS-I BP 1.1
R1109, R1115, R2744, R2745): what every toolkit sends is accepted, a wrong
media type is a 415 fault, and a SOAPAction naming another operation than the
Body never runs the Body's."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.conftest import Credentials
from tests.integration.soap.conftest import (
    TNS,
    WSDL_FILE,
    SoapHttp,
    auth_xml,
    envelope,
    fault_of,
    reservation_xml,
)

SOAP_BINDING = "{http://schemas.xmlsoap.org/wsdl/soap/}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"


def read_back(http: SoapHttp, who: Credentials, lid: str) -> etree._Element | None:
    response = http.post(
        envelope("getReservations", auth_xml(who) + f"<t:APP_LID>{lid}</t:APP_LID>")
    )
    assert response.status_code == 200, response.data[:300]
    return etree.fromstring(response.data).find(f".//{{{TNS}}}RESERVATION")


def test_the_wsdl_soap_actions_are_accepted(http: SoapHttp, his: Credentials) -> None:
    """What generated clients send: the WSDL's soapAction, quoted (R2744)."""
    binding = etree.parse(str(WSDL_FILE)).getroot().find(f"{WSDL}binding")
    actions = {
        op.get("name"): op.find(f"{SOAP_BINDING}operation").get("soapAction")
        for op in binding.findall(f"{WSDL}operation")
    }
    assert set(actions) == {
        "updateReservations",
        "getReservations",
        "updateMessages",
        "searchMessages",
    }
    for operation in ("getReservations", "searchMessages"):
        response = http.post(
            envelope(operation, auth_xml(his)), soap_action=f'"{actions[operation]}"'
        )
        assert response.status_code == 200, response.data[:300]


@pytest.mark.parametrize(
    "soap_action",
    [
        None,  # no header at all
        '""',  # R2745's empty value; many toolkits send it whatever the WSDL says
        "",
        "getReservations",  # unquoted, as the demo's curl line sends it
        '"getReservations"',
        '"http://tuotempo-soap.org/v1/getReservations"',
        "http://tuotempo-soap.org/v1#getReservations",
        ' "getReservations" ',
    ],
)
def test_accepted_soap_actions(http: SoapHttp, his: Credentials, soap_action: str | None) -> None:
    response = http.post(envelope("getReservations", auth_xml(his)), soap_action=soap_action)
    assert response.status_code == 200, response.data[:300]


@pytest.mark.parametrize(
    "soap_action",
    [
        '"updateReservations"',
        "updateReservations",
        '"urn:other"',
        '"getReservationsX"',
        '"x/getReservations/y"',
    ],
)
def test_a_soap_action_for_another_operation_runs_nothing(
    http: SoapHttp, his: Credentials, soap_action: str
) -> None:
    """The Body writes a reservation, the SOAPAction asks for something else:
    refused, and nothing is written."""
    body = envelope(
        "updateReservations",
        auth_xml(his) + f"<t:RESERVATIONS>{reservation_xml('ACT-1')}</t:RESERVATIONS>",
    )
    if soap_action.strip('"') == "updateReservations":
        body = envelope("getReservations", auth_xml(his))
    fault = fault_of(http.post(body, soap_action=soap_action))
    assert (fault.status, fault.code) == (500, "soap:Client.SOAPActionMismatch")
    assert fault.detail_text("FIELD") == "SOAPAction"
    assert read_back(http, his, "ACT-1") is None


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/xml",
        "text/xml; charset=utf-8",
        'TEXT/XML; Charset="UTF-8"',
        "text/xml;charset=UTF-8",
    ],
)
def test_accepted_content_types(http: SoapHttp, his: Credentials, content_type: str | None) -> None:
    response = http.post(envelope("getReservations", auth_xml(his)), content_type=content_type)
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/x-www-form-urlencoded",  # curl --data without -H
        'multipart/related; type="text/xml"; boundary=x',
        "text/plain",
        "xml",
        "text/xml; charset=klingon",
    ],
)
def test_refused_content_types(http: SoapHttp, his: Credentials, content_type: str) -> None:
    fault = fault_of(
        http.post(envelope("getReservations", auth_xml(his)), content_type=content_type)
    )
    assert (fault.status, fault.code) == (415, "soap:Client.UnsupportedMediaType")
    assert fault.detail_text("FIELD") == "Content-Type"
    assert "text/xml" in fault.string


def test_a_soap_11_envelope_as_soap_12_media_type_is_refused(
    http: SoapHttp, his: Credentials
) -> None:
    fault = fault_of(
        http.post(envelope("getReservations", auth_xml(his)), content_type="application/soap+xml")
    )
    assert (fault.status, fault.code) == (415, "soap:Client.UnsupportedMediaType")


def test_the_charset_parameter_is_honoured(http: SoapHttp, his: Credentials) -> None:
    """A Latin-1 body without an XML declaration, as its Content-Type says."""
    body = envelope(
        "updateReservations",
        auth_xml(his)
        + f"<t:RESERVATIONS>{reservation_xml('CS-1', NOTES='Núñez, 3º')}</t:RESERVATIONS>",
    ).encode("latin-1")
    response = http.post(body, content_type="text/xml; charset=ISO-8859-1")
    assert response.status_code == 200, response.data[:300]
    row = read_back(http, his, "CS-1")
    assert row is not None and row.findtext(f"{{{TNS}}}NOTES") == "Núñez, 3º"


def test_an_encoding_declaration_wins_over_a_hard_wired_charset(
    http: SoapHttp, his: Credentials
) -> None:
    body = '<?xml version="1.0" encoding="ISO-8859-1"?>' + envelope(
        "updateReservations",
        auth_xml(his) + f"<t:RESERVATIONS>{reservation_xml('CS-2', NOTES='Peña')}</t:RESERVATIONS>",
    )
    response = http.post(body.encode("latin-1"), content_type="text/xml; charset=utf-8")
    assert response.status_code == 200, response.data[:300]
    row = read_back(http, his, "CS-2")
    assert row is not None and row.findtext(f"{{{TNS}}}NOTES") == "Peña"
