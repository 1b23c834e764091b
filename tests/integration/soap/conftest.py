"""The real WSGI application, built in-process over a real database, spoken to
over (in-memory) HTTP with werkzeug's test client: every byte the application
sends, status and headers included, without a server process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from werkzeug.test import Client, TestResponse

from tests.conftest import Credentials, make_instance
from tuotempo_soap.config import Settings
from tuotempo_soap.web.app import TuotempoApp, create_app

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://tuotempo-soap.org/v1"
WSDL_FILE = Path(__file__).resolve().parents[3] / "wsdl" / "tuotempo.wsdl"
XML = "text/xml; charset=utf-8"
_addresses = itertools.count(1)


def service_fault_schema() -> etree.XMLSchema:
    """The committed WSDL's schema, to validate a fault's detail against."""
    wsdl = etree.parse(str(WSDL_FILE)).getroot()
    schema = wsdl.find(
        "{http://schemas.xmlsoap.org/wsdl/}types/{http://www.w3.org/2001/XMLSchema}schema"
    )
    standalone = etree.Element(schema.tag, dict(schema.attrib), nsmap=wsdl.nsmap)
    standalone.extend(etree.fromstring(etree.tostring(schema)))
    return etree.XMLSchema(standalone)


@dataclass(frozen=True)
class SoapFault:
    status: int
    code: str  # faultcode as sent, prefix included
    string: str
    detail: Any  # the ServiceFault element, or None

    def detail_text(self, name: str) -> str | None:
        if self.detail is None:
            return None
        return self.detail.findtext(f"{{{TNS}}}{name}")


def fault_of(response: TestResponse) -> SoapFault:
    """The fault a response carries; fails on anything else."""
    assert response.headers["Content-Type"].startswith("text/xml"), response.data[:300]
    root = etree.fromstring(response.data)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None, response.data[:300]
    # The faultcode's prefix is the envelope's (a QName, SOAP 1.1 section 4.4).
    code = fault.findtext("faultcode") or ""
    assert fault.nsmap.get(code.partition(":")[0]) == SOAP_ENV, code
    return SoapFault(
        status=response.status_code,
        code=code,
        string=fault.findtext("faultstring") or "",
        detail=fault.find(f"detail/{{{TNS}}}ServiceFault"),
    )


class SoapHttp:
    """POSTs to ``/soap`` as a SOAP 1.1 client would, each from its own address
    (so the sign-in throttle of one case never answers another)."""

    def __init__(self, app: TuotempoApp) -> None:
        self.app = app
        self.client = Client(app)

    def post(
        self,
        body: str | bytes,
        *,
        soap_action: str | None = '""',
        content_type: str | None = XML,
        environ: dict[str, Any] | None = None,
    ) -> TestResponse:
        headers = {}
        if soap_action is not None:
            headers["SOAPAction"] = soap_action
        if content_type is not None:
            headers["Content-Type"] = content_type
        overrides = {"REMOTE_ADDR": f"10.9.{next(_addresses) % 250}.{next(_addresses) % 250}"}
        return self.client.post(
            "/soap",
            data=body.encode() if isinstance(body, str) else body,
            headers=headers,
            environ_overrides={**overrides, **(environ or {})},
        )


@pytest.fixture
def soap_app(settings: Settings) -> Iterator[TuotempoApp]:
    app = create_app(settings)
    yield app
    app.store.dispose()


@pytest.fixture
def http(soap_app: TuotempoApp) -> SoapHttp:
    return SoapHttp(soap_app)


@pytest.fixture
def his(soap_app: TuotempoApp) -> Credentials:
    return make_instance(soap_app.store)


def envelope(operation: str, inner: str, *, ns: str = SOAP_ENV, tns: str = TNS) -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ns}" xmlns:t="{tns}"><soapenv:Body>'
        f"<t:{operation}>{inner}</t:{operation}></soapenv:Body></soapenv:Envelope>"
    )


def auth_xml(who: Credentials, **override: str) -> str:
    values = {"INSTANCE": who.instance, "USERNAME": who.username, "PASSWORD": who.password}
    values.update(override)
    return "<t:AUTH>" + "".join(f"<t:{k}>{v}</t:{k}>" for k, v in values.items()) + "</t:AUTH>"


def reservation_xml(lid: str, **fields: str) -> str:
    values = {"APP_LID": lid, "APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1", **fields}
    return (
        "<t:RESERVATION>"
        + "".join(f"<t:{k}>{v}</t:{k}>" for k, v in values.items())
        + ("</t:RESERVATION>")
    )


def message_xml(legacy_id: str, **fields: str) -> str:
    values = {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola", **fields}
    return (
        "<t:MESSAGE>" + "".join(f"<t:{k}>{v}</t:{k}>" for k, v in values.items()) + ("</t:MESSAGE>")
    )
