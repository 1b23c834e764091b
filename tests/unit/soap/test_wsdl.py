"""The published WSDL: committed copy equals the generated one, and it keeps the rules."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from tuotempo_soap.soap.application import build_wsdl

COMMITTED = Path(__file__).resolve().parents[3] / "wsdl" / "tuotempo.wsdl"
XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"


def test_committed_wsdl_is_current() -> None:
    assert COMMITTED.read_bytes() == build_wsdl(), "run: tuotempo-soap wsdl export"


def test_wsdl_rules_for_client_generators() -> None:
    text = COMMITTED.read_text()
    root = etree.fromstring(COMMITTED.read_bytes())
    assert 'nillable="true"' not in text
    assert "xs:integer" not in text
    assert "soap12" not in text and "2003/05/soap-envelope" not in text
    assert set(root.nsmap) == {"xs", "soap", "wsdl", "tns"}
    children = [child.tag.replace(WSDL, "") for child in root]
    assert children[-2:] == ["binding", "service"]
    operations = {op.get("name") for op in root.iter(f"{WSDL}operation")}
    assert operations == {
        "updateReservations",
        "getReservations",
        "updateMessages",
        "searchMessages",
    }
    for op in root.find(f"{WSDL}portType"):
        assert op.find(f"{WSDL}fault").get("message") == "tns:ServiceFault"
    schema = root.find(f"{WSDL}types/{XS}schema")
    assert schema.get("targetNamespace") == root.get("targetNamespace")
    standalone = etree.Element(schema.tag, dict(schema.attrib), nsmap=root.nsmap)
    standalone.extend(list(schema))
    etree.XMLSchema(standalone)  # a valid XSD


def test_required_guide_fields_are_required() -> None:
    root = etree.fromstring(COMMITTED.read_bytes())
    reservation = root.find(f".//{XS}complexType[@name='Reservation']")
    min_occurs = {
        el.get("name"): el.get("minOccurs", "1") for el in reservation.iter(f"{XS}element")
    }
    assert {name for name, occurs in min_occurs.items() if occurs == "1"} == {
        "APP_LID",
        "APP_DATE",
        "RESOURCE_LID",
    }
    assert min_occurs["USER_MOBILE_PHONE"] == "0"
