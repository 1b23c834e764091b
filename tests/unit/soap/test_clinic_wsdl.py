"""The published clinic-side WSDL: committed copy equals a fresh export, and it keeps the rules."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from examples.clinic_server.app import build_wsdl

COMMITTED = Path(__file__).resolve().parents[3] / "wsdl" / "clinic.wsdl"
XS = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
OPERATIONS = {
    "searchAvailabilities",
    "addAppointment",
    "deleteAppointment",
    "checkAppointment",
    "getAppointments",
    "getCenters",
    "KeyEntities",
    "SearchAppointments",
    "CancelAppointment",
    "getTestResultsList",
    "getTestResultContent",
}


def test_committed_wsdl_is_current() -> None:
    assert COMMITTED.read_bytes() == build_wsdl(), (
        "run: python -m examples.clinic_server export-wsdl"
    )


def test_wsdl_rules_for_client_and_server_generators() -> None:
    text = COMMITTED.read_text()
    root = etree.fromstring(COMMITTED.read_bytes())
    assert 'nillable="true"' not in text
    assert "xs:integer" not in text
    assert "soap12" not in text and "2003/05/soap-envelope" not in text
    assert set(root.nsmap) == {"xs", "soap", "wsdl", "tns"}
    children = [child.tag.replace(WSDL, "") for child in root]
    assert children[-2:] == ["binding", "service"]
    port_type = root.find(f"{WSDL}portType")
    assert {op.get("name") for op in port_type} == OPERATIONS
    for op in port_type:
        assert op.find(f"{WSDL}fault").get("message") == "tns:ClinicFault", op.get("name")
    binding = root.find(f"{WSDL}binding")
    assert {op.get("name") for op in binding.findall(f"{WSDL}operation")} == OPERATIONS
    for op in binding.findall(f"{WSDL}operation"):
        assert op.find(f"{WSDL}fault/{SOAP}fault").get("name") == "ClinicFault"
    schema = root.find(f"{WSDL}types/{XS}schema")
    assert schema.get("targetNamespace") == root.get("targetNamespace")
    standalone = etree.Element(schema.tag, dict(schema.attrib), nsmap=root.nsmap)
    standalone.extend(list(schema))
    etree.XMLSchema(standalone)  # a valid XSD


def test_fault_detail_is_typed() -> None:
    root = etree.fromstring(COMMITTED.read_bytes())
    fault = root.find(f".//{XS}complexType[@name='ClinicFault']")
    assert [el.get("name") for el in fault.iter(f"{XS}element")] == ["CODE", "MESSAGE"]
