"""The checker's contract data agrees with the published contract and with the
timeouts the platform really uses."""

from __future__ import annotations

import inspect
from pathlib import Path

from lxml import etree

from tuotempo_soap.clinic.conformance.contract import (
    NOT_NULL,
    OPERATIONS,
    TNS,
    WRITE_OPERATIONS,
    XS,
    contract_date,
    contract_operations,
    contract_path,
    contract_time,
    default_limits,
    response_element,
    schema,
)
from tuotempo_soap.clinic.endpoint import DEFAULT_TIMEOUT_SECONDS, ClinicEndpoint
from tuotempo_soap.services import portal

ROOT = Path(__file__).resolve().parents[4]
PUBLISHED = ROOT / "wsdl" / "clinic.wsdl"


def test_packaged_contract_is_the_published_one() -> None:
    assert contract_path().read_bytes() == PUBLISHED.read_bytes(), (
        "copy it: cp wsdl/clinic.wsdl tuotempo_soap/clinic/conformance/clinic.wsdl"
    )


def test_every_operation_of_the_contract_is_checked() -> None:
    assert set(OPERATIONS) == contract_operations()
    assert set(OPERATIONS) > WRITE_OPERATIONS
    for operation in OPERATIONS:
        answer = etree.Element(response_element(operation))
        schema().validate(answer)
        # The element is declared (the complaint is about its content, if any).
        assert "No matching global declaration" not in str(schema().error_log), operation


def _types_of_elements(root: etree._Element) -> dict[str, str]:
    """Element name -> its complexType, for every element declared in a type."""
    found: dict[str, str] = {}
    for element in root.iter(f"{{{XS}}}element"):
        kind = element.get("type", "")
        if kind.startswith("tns:"):
            found.setdefault(element.get("name", ""), kind[4:])
    return found


def test_not_null_fields_are_what_the_schema_requires() -> None:
    root = etree.parse(str(PUBLISHED)).getroot()
    types = _types_of_elements(root)
    for record, fields in NOT_NULL.items():
        declared = root.find(f".//{{{XS}}}complexType[@name='{types[record]}']")
        assert declared is not None, record
        required = {
            element.get("name")
            for element in declared.iter(f"{{{XS}}}element")
            if element.get("minOccurs") != "0" and element.get("type") == "xs:string"
        }
        assert set(fields) == required, record


def test_dates_and_times_are_read_strictly() -> None:
    assert contract_date("24/02/2027") is not None
    for text in ("2027-02-24", "24/2/2027", "31/02/2027", "24/02/27", " 24/02/2027"):
        assert contract_date(text) is None, text
    assert contract_time("09:05") == "09:05"
    for text in ("9:05", "24:00", "09:60", "09:05:00", "0905"):
        assert contract_time(text) is None, text


def test_default_limits_are_the_platforms_timeouts() -> None:
    limits = default_limits()
    assert {limit.seconds for limit in limits.values()} == {DEFAULT_TIMEOUT_SECONDS}
    portal_default = inspect.signature(portal.search).parameters["per_center_timeout"].default
    assert limits["searchAvailabilities"].seconds == portal_default
    endpoint = ClinicEndpoint(wsdl_url="http://clinic.test/clinic?wsdl")
    assert limits["SearchAppointments"].seconds == endpoint.timeout_seconds
    assert limits["SearchAppointments"].who == "the poller's timeout"
    assert {limit.seconds for limit in default_limits(0.25).values()} == {0.25}


def test_the_schema_rejects_what_the_contract_forbids() -> None:
    xsd = schema()
    ok = etree.fromstring(
        f'<tns:getCentersResponse xmlns:tns="{TNS}"><tns:getCentersResult><tns:CENTERS>'
        "<tns:CENTER><tns:CENTER_LID>C1</tns:CENTER_LID><tns:CENTER_NAME>A</tns:CENTER_NAME>"
        "</tns:CENTER></tns:CENTERS></tns:getCentersResult></tns:getCentersResponse>"
    )
    assert xsd.validate(ok)
    missing = etree.fromstring(
        f'<tns:getCentersResponse xmlns:tns="{TNS}"><tns:getCentersResult><tns:CENTERS>'
        "<tns:CENTER><tns:CENTER_LID>C1</tns:CENTER_LID></tns:CENTER></tns:CENTERS>"
        "</tns:getCentersResult></tns:getCentersResponse>"
    )
    assert not xsd.validate(missing)
