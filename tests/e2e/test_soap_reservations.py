"""updateReservations and getReservations over real HTTP against gunicorn."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault

from tests.conftest import Credentials
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tuotempo-soap.org/v1"


@pytest.fixture(scope="module")
def client(server: Server) -> zeep.Client:
    return zeep.Client(server.wsdl_url)


@pytest.fixture
def his(server: Server) -> Credentials:
    return server.new_instance()


def item(lid: str, **fields: Any) -> dict[str, Any]:
    return {"APP_LID": lid, "APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1", **fields}


def update(client: zeep.Client, who: Credentials, items: list[dict[str, Any]]) -> Any:
    return client.service.updateReservations(AUTH=who.auth(), RESERVATIONS={"RESERVATION": items})


def read_all(client: zeep.Client, who: Credentials, **filters: Any) -> list[Any]:
    rows: list[Any] = []
    cursor = filters.pop("LAST_REQUEST_TIMESTAMP", None)
    for _ in range(50):
        page = client.service.getReservations(
            AUTH=who.auth(), LAST_REQUEST_TIMESTAMP=cursor, **filters
        )
        rows += page.RESERVATIONS.RESERVATION if page.RESERVATIONS else []
        cursor = page.NEXT_REQUEST_TIMESTAMP
        if not page.MORE_RESULTS:
            return rows
    raise AssertionError("paging never ended")


def fault_of(response: requests.Response) -> tuple[str, str, str | None]:
    """(faultcode, faultstring, detail CODE) of a SOAP fault answer; fails on anything else."""
    assert response.status_code == 500, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, response.text[:300]
    code = fault.findtext("faultcode")
    detail_code = fault.findtext(f"detail/{{{TNS}}}ServiceFault/{{{TNS}}}CODE")
    return str(code), str(fault.findtext("faultstring")), detail_code


def post(
    server: Server, body: bytes | str, action: str = "updateReservations"
) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action}
    return requests.post(server.soap_url, data=data, headers=headers, timeout=60)


def envelope(operation: str, inner: str) -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:t="{TNS}"><soapenv:Body>'
        f"<t:{operation}>{inner}</t:{operation}></soapenv:Body></soapenv:Envelope>"
    )


def auth_xml(who: Credentials) -> str:
    return (
        f"<t:AUTH><t:INSTANCE>{who.instance}</t:INSTANCE><t:USERNAME>{who.username}</t:USERNAME>"
        f"<t:PASSWORD>{who.password}</t:PASSWORD></t:AUTH>"
    )


def test_a_thousand_item_batch_is_stored_and_read_back(
    client: zeep.Client, his: Credentials
) -> None:
    batch = [
        item(
            f"BIG-{i:04}", APP_START_TIME=f"{8 + i % 10}:{i % 60:02}", USER_MOBILE_PHONE=f"6{i:08}"
        )
        for i in range(1000)
    ]
    result = update(client, his, batch)
    assert (result.RESULT, result.CREATED, result.FAILED) == ("OK", 1000, 0)
    assert len({i.RESERVATION_ID for i in result.ITEMS.ITEM}) == 1000
    rows = read_all(client, his, MAX_RESULTS=500)
    assert [r.APP_LID for r in rows] == [f"BIG-{i:04}" for i in range(1000)]
    assert rows[7].APP_START_TIME == "15:07"

    again = update(client, his, batch)
    assert (again.RESULT, again.UNCHANGED, again.CREATED, again.UPDATED) == ("OK", 1000, 0, 0)


def test_bad_items_answered_item_by_item(client: zeep.Client, his: Credentials) -> None:
    batch = [
        item("OK-1", USER_MOBILE_PHONE="612 345 678"),
        item(""),  # generated clients always send the element; an empty one is "missing"
        item("BAD-DATE", APP_DATE="31/02/2026"),
        item("BAD-RES", RESOURCE_LID="R" * 60),
        item("BAD-STATUS", STATUS="SOMETIMES"),
        item("OK-2", USER_MOBILE_PHONE="12"),
    ]
    result = update(client, his, batch)
    assert (result.RESULT, result.CREATED, result.FAILED) == ("PARTIAL", 2, 4)
    answers = [(i.APP_LID, i.RESULT, i.ERROR_CODE, i.ERROR_FIELD) for i in result.ITEMS.ITEM]
    assert answers == [
        ("OK-1", "OK", None, None),
        (None, "ERROR", "MISSING_FIELD", "APP_LID"),
        ("BAD-DATE", "ERROR", "INVALID_DATE", "APP_DATE"),
        ("BAD-RES", "ERROR", "FIELD_TOO_LONG", "RESOURCE_LID"),
        ("BAD-STATUS", "ERROR", "INVALID_VALUE", "STATUS"),
        ("OK-2", "OK", None, None),
    ]
    assert "RESOURCE_LID" in result.ITEMS.ITEM[3].MESSAGE
    assert result.ITEMS.ITEM[5].WARNINGS.WARNING[0].startswith("USER_MOBILE_PHONE")
    rows = {r.APP_LID: r for r in read_all(client, his)}
    assert set(rows) == {"OK-1", "OK-2"}
    assert rows["OK-1"].USER_MOBILE_PHONE == "+34612345678"

    again = update(client, his, batch)
    assert (again.RESULT, again.UNCHANGED, again.CREATED, again.UPDATED) == ("PARTIAL", 2, 0, 0)


@pytest.mark.parametrize("what", ["password", "instance", "user"])
def test_bad_credentials_fault(client: zeep.Client, his: Credentials, what: str) -> None:
    auth = his.auth()
    auth[{"password": "PASSWORD", "instance": "INSTANCE", "user": "USERNAME"}[what]] = "tt_nope_x"
    with pytest.raises(Fault) as info:
        client.service.getReservations(AUTH=auth)
    assert info.value.code.endswith("Client.AuthenticationFailed")
    detail_code = info.value.detail.find(f"{{{TNS}}}ServiceFault/{{{TNS}}}CODE")
    assert detail_code is not None and detail_code.text == "Client.AuthenticationFailed"


def test_one_instance_cannot_read_or_overwrite_another(client: zeep.Client, server: Server) -> None:
    a, b = server.new_instance(), server.new_instance()
    update(client, b, [item("SECRET-1", NOTES="B's own")])
    assert read_all(client, a, APP_LID="SECRET-1") == []
    # A "overwriting" B's APP_LID only ever creates A's own reservation.
    written = update(client, a, [item("SECRET-1", NOTES="A was here")])
    assert written.ITEMS.ITEM[0].ACTION == "CREATED"
    assert [r.NOTES for r in read_all(client, b)] == ["B's own"]
    # Naming B's instance with A's credentials is refused.
    with pytest.raises(Fault) as info:
        client.service.getReservations(AUTH={**a.auth(), "INSTANCE": b.instance})
    assert info.value.code.endswith("Client.AuthenticationFailed")


def test_delta_reads_over_http_return_each_change_once(
    client: zeep.Client, his: Credentials
) -> None:
    first = client.service.getReservations(AUTH=his.auth())
    cursor = first.NEXT_REQUEST_TIMESTAMP
    update(client, his, [item("D-1"), item("D-2")])
    update(client, his, [item("D-1", STATUS="CANCELLED by USER")])
    page = client.service.getReservations(AUTH=his.auth(), LAST_REQUEST_TIMESTAMP=cursor)
    got = {r.APP_LID: r for r in page.RESERVATIONS.RESERVATION}
    assert set(got) == {"D-1", "D-2"}
    assert (got["D-1"].STATUS, got["D-1"].PATIENT_ANSWER, got["D-1"].PATIENT_ANSWER_CHANNEL) == (
        "CANCELLED by USER",
        "CANCELLED",
        "HIS",
    )
    update(client, his, [item("D-2", NOTES="moved"), item("D-3")])
    page = client.service.getReservations(
        AUTH=his.auth(), LAST_REQUEST_TIMESTAMP=page.NEXT_REQUEST_TIMESTAMP
    )
    assert sorted(r.APP_LID for r in page.RESERVATIONS.RESERVATION) == ["D-2", "D-3"]
    empty = client.service.getReservations(
        AUTH=his.auth(), LAST_REQUEST_TIMESTAMP=page.NEXT_REQUEST_TIMESTAMP
    )
    assert empty.COUNT == 0 and empty.RESERVATIONS is None


def test_hand_written_envelope_missing_app_lid(server: Server, his: Credentials) -> None:
    body = envelope(
        "updateReservations",
        auth_xml(his)
        + "<t:RESERVATIONS><t:RESERVATION><t:APP_DATE>01/01/2027</t:APP_DATE>"
        + "<t:RESOURCE_LID>R</t:RESOURCE_LID></t:RESERVATION></t:RESERVATIONS>",
    )
    response = post(server, body)
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{TNS}}}ERROR_CODE") == "MISSING_FIELD"
    assert root.findtext(f".//{{{TNS}}}ERROR_FIELD") == "APP_LID"


def test_malformed_xml_is_a_fault(server: Server) -> None:
    code, message, detail = fault_of(post(server, "<soapenv:Envelope><unclosed>"))
    assert code.endswith("Client.MalformedXML") and detail == "Client.MalformedXML"
    assert "well-formed" in message


def test_doctype_is_refused(server: Server, his: Credentials) -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        + envelope("getReservations", auth_xml(his) + "<t:APP_LID>&lol2;</t:APP_LID>")
    )
    code, message, _ = fault_of(post(server, body, "getReservations"))
    assert code.endswith("Client.MalformedXML") and "DOCTYPE" in message
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + envelope("getReservations", auth_xml(his) + "<t:APP_LID>&xxe;</t:APP_LID>")
    )
    response = post(server, xxe, "getReservations")
    assert "root:" not in response.text
    assert fault_of(response)[0].endswith("Client.MalformedXML")


def test_oversized_body_is_a_fault(server: Server, his: Credentials) -> None:
    filler = "<t:RESERVATION><t:APP_LID>X</t:APP_LID></t:RESERVATION>" * 200_000  # ~11 MB
    body = envelope(
        "updateReservations", auth_xml(his) + f"<t:RESERVATIONS>{filler}</t:RESERVATIONS>"
    )
    code, message, _ = fault_of(post(server, body))
    assert code.endswith("Client.RequestTooLarge") and "bytes" in message


def test_too_many_items_is_a_fault(client: zeep.Client, his: Credentials) -> None:
    with pytest.raises(Fault) as info:
        update(client, his, [item(f"M{i}") for i in range(1001)])
    assert info.value.code.endswith("Client.BatchTooLarge")


def test_wrong_types_and_missing_blocks_are_faults(server: Server, his: Credentials) -> None:
    bad_int = envelope("getReservations", auth_xml(his) + "<t:MAX_RESULTS>many</t:MAX_RESULTS>")
    assert fault_of(post(server, bad_int, "getReservations"))[0].endswith("Client.ValidationError")
    no_auth = envelope("getReservations", "")
    code, message, _ = fault_of(post(server, no_auth, "getReservations"))
    assert code.endswith("Client.ValidationError") and "AUTH" in message
    bad_date = envelope(
        "getReservations", auth_xml(his) + "<t:START_DATE>31/02/2027</t:START_DATE>"
    )
    response = post(server, bad_date, "getReservations")
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{TNS}}}FIELD") == "START_DATE"
    unknown = envelope("deleteEverything", auth_xml(his))
    assert fault_of(post(server, unknown, "deleteEverything"))[:3:2] == (
        "soap:Client.ResourceNotFound",
        "Client.ResourceNotFound",
    )


def test_served_wsdl_is_the_committed_one(server: Server) -> None:
    from tests.unit.soap.test_wsdl import COMMITTED
    from tuotempo_soap.soap.wsdl import LOCATION_PLACEHOLDER, with_location

    served = requests.get(server.wsdl_url, timeout=10)
    assert served.status_code == 200
    assert served.content == with_location(COMMITTED.read_bytes(), server.soap_url)
    assert LOCATION_PLACEHOLDER.encode() in COMMITTED.read_bytes()


def test_health_and_other_paths(server: Server) -> None:
    assert requests.get(f"{server.url}/healthz", timeout=5).json() == {
        "status": "ok",
        "database": True,
    }
    assert requests.get(f"{server.url}/nothing", timeout=5).status_code == 404
    response = requests.get(server.soap_url, timeout=5)
    assert response.status_code == 405 and b"Fault" in response.content


def test_no_patient_data_or_secret_in_the_server_log(
    client: zeep.Client, server: Server, his: Credentials
) -> None:
    marker_phone = f"6{secrets.randbelow(10**8):08}"
    update(
        client,
        his,
        [item("LOG-1", USER_MOBILE_PHONE=marker_phone, USER_EMAIL="ana.log@example.org")],
    )
    post(server, "<broken " + marker_phone)
    log = server.log.read_text()
    assert marker_phone not in log
    assert "ana.log@example.org" not in log
    assert his.password not in log
