"""Small SoapUI projects written out for the tests, and an HTTP session that
delivers requests to a WSGI app in this process (werkzeug's test client)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import requests
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client

ROOT = Path(__file__).resolve().parents[3]
WSDL = (ROOT / "wsdl" / "tuotempo.wsdl").read_text(encoding="utf-8")
TNS = "http://tuotempo-soap.org/v1"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PROLOG = f"declare namespace soap='{ENV}'; declare namespace tns='{TNS}';"
ENDPOINT = "http://suite.invalid/soap"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _WsgiAdapter(requests.adapters.BaseAdapter):
    def __init__(self, app: WsgiApp) -> None:
        super().__init__()
        self.client = Client(app)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        answer = self.client.open(
            url.path,
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=request.method,
            headers=dict(request.headers),
            data=request.body or b"",
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response._content = answer.get_data()
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self) -> None:
        pass


def wsgi_session(app: WsgiApp) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _WsgiAdapter(app))
    return session


class Recorder:
    """A WSGI app answering each request with the next canned (status, body),
    keeping what it was sent."""

    def __init__(self, *answers: tuple[int, str]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, str], str]] = []
        self.urls: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read().decode()
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        self.requests.append((environ["REQUEST_METHOD"], headers, body))
        self.urls.append(f"{environ['HTTP_HOST']}{environ['PATH_INFO']}?{environ['QUERY_STRING']}")
        status, answer = self.answers.pop(0) if self.answers else (500, "no more answers")
        start_response(f"{status} X", [("Content-Type", "text/xml; charset=utf-8")])
        return [answer.encode()]


def envelope(inner: str) -> str:
    return (
        f'<soap11env:Envelope xmlns:soap11env="{ENV}" xmlns:tns="{TNS}">'
        f"<soap11env:Body>{inner}</soap11env:Body></soap11env:Envelope>"
    )


def page(count: int = 0, cursor: str = "01/12/2026 10:00:00#5", extra: str = "") -> str:
    return envelope(
        "<tns:getReservationsResponse><tns:getReservationsResult><tns:RESULT>OK</tns:RESULT>"
        f"<tns:COUNT>{count}</tns:COUNT><tns:MORE_RESULTS>false</tns:MORE_RESULTS>"
        f"<tns:NEXT_REQUEST_TIMESTAMP>{cursor}</tns:NEXT_REQUEST_TIMESTAMP>{extra}"
        "<tns:RESERVATIONS/></tns:getReservationsResult></tns:getReservationsResponse>"
    )


def fault(code: str, message: str = "refused", field: str | None = None) -> str:
    field_xml = f"<tns:FIELD>{field}</tns:FIELD>" if field else ""
    return envelope(
        f"<soap11env:Fault><faultcode>soap11env:{code}</faultcode><faultstring>{message}"
        f"</faultstring><detail><tns:ServiceFault><tns:CODE>{code}</tns:CODE>{field_xml}"
        f"<tns:MESSAGE>{message}</tns:MESSAGE></tns:ServiceFault></detail></soap11env:Fault>"
    )


def request_body(operation: str = "getReservations", inner: str = "") -> str:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:v1="{TNS}"><soapenv:Body>'
        f"<v1:{operation}><v1:AUTH><v1:INSTANCE>${{#Project#INSTANCE}}</v1:INSTANCE>"
        "<v1:USERNAME>${#Project#USERNAME}</v1:USERNAME>"
        f"<v1:PASSWORD>${{#Project#PASSWORD}}</v1:PASSWORD></v1:AUTH>{inner}</v1:{operation}>"
        "</soapenv:Body></soapenv:Envelope>"
    )


def assertion(kind: str, name: str | None = None, *, disabled: bool = False, **config: str) -> str:
    items = "".join(f"<{key}>{escape(value)}</{key}>" for key, value in config.items())
    flag = ' disabled="true"' if disabled else ""
    return (
        f"<con:assertion type={quoteattr(kind)} name={quoteattr(name or kind)}{flag}>"
        f"<con:configuration>{items}</con:configuration></con:assertion>"
    )


def xpath(name: str, path: str, expected: str, wildcards: bool = False) -> str:
    return assertion(
        "XPath Match",
        name,
        path=f"{PROLOG} {path}",
        content=expected,
        allowWildcards="true" if wildcards else "false",
    )


def soap_step(
    name: str,
    body: str,
    *assertions: str,
    operation: str = "getReservations",
    disabled: bool = False,
    endpoint: str = "${#Project#ENDPOINT}",
) -> str:
    flag = ' disabled="true"' if disabled else ""
    return (
        f'<con:testStep type="request" name={quoteattr(name)}{flag}><con:settings/>'
        '<con:config xsi:type="con:RequestStep">'
        f"<con:interface>TuotempoService</con:interface><con:operation>{operation}</con:operation>"
        f"<con:request name={quoteattr(name)}><con:settings/><con:encoding>UTF-8</con:encoding>"
        f"<con:endpoint>{escape(endpoint)}</con:endpoint>"
        f"<con:request><![CDATA[{body}]]></con:request>{''.join(assertions)}"
        "<con:credentials><con:authType>No Authorization</con:authType></con:credentials>"
        "</con:request></con:config></con:testStep>"
    )


def http_step(name: str, method: str, endpoint: str, *assertions: str, body: str = "") -> str:
    return (
        f'<con:testStep type="httprequest" name={quoteattr(name)}><con:settings/>'
        f'<con:config method="{method}" mediaType="application/json" xsi:type="con:HttpRequest">'
        f"<con:settings/><con:endpoint>{escape(endpoint)}</con:endpoint>"
        f"<con:request>{escape(body)}</con:request>{''.join(assertions)}"
        "<con:parameters/></con:config></con:testStep>"
    )


def transfer_step(name: str, source: str, path: str, target: str) -> str:
    return (
        f'<con:testStep type="transfer" name={quoteattr(name)}><con:settings/>'
        '<con:config xsi:type="con:PropertyTransfersStep">'
        '<con:transfers setNullOnMissingSource="false" failOnError="true">'
        f"<con:name>{target}</con:name><con:sourceType>Response</con:sourceType>"
        f"<con:sourceStep>{escape(source)}</con:sourceStep>"
        f"<con:sourcePath>{escape(PROLOG + ' ' + path)}</con:sourcePath>"
        f"<con:targetType>{target}</con:targetType><con:targetStep>#TestCase#</con:targetStep>"
        "</con:transfers></con:config></con:testStep>"
    )


def raw_step(kind: str, name: str, inner: str = "", disabled: bool = False) -> str:
    flag = ' disabled="true"' if disabled else ""
    return (
        f"<con:testStep type={quoteattr(kind)} name={quoteattr(name)}{flag}><con:settings/>"
        f"<con:config>{inner}</con:config></con:testStep>"
    )


def case(
    name: str, *steps: str, fail_on_error: bool = True, disabled: bool = False, extra: str = ""
) -> str:
    flag = ' disabled="true"' if disabled else ""
    return (
        f"<con:testCase name={quoteattr(name)} failOnError={quoteattr(str(fail_on_error).lower())}"
        f"{flag}><con:settings/>{''.join(steps)}{extra}</con:testCase>"
    )


def project(*cases: str, suite: str = "S", extra: str = "", cache: bool = True) -> bytes:
    definition = "http://suite.invalid/soap?wsdl"
    cached = (
        f'<con:definitionCache type="TEXT" rootPart="{definition}"><con:part>'
        f"<con:url>{definition}</con:url><con:content><![CDATA[{WSDL}]]></con:content>"
        "<con:type>http://schemas.xmlsoap.org/wsdl/</con:type></con:part></con:definitionCache>"
        if cache
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<con:soapui-project xmlns:con="http://eviware.com/soapui/config" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="unit" soapui-version="5.7.2">'
        f"<con:settings/>{extra}"
        '<con:interface xsi:type="con:WsdlInterface" name="TuotempoService" type="wsdl" '
        f'bindingName="{{{TNS}}}TuotempoService" soapVersion="1_1" definition="{definition}">'
        f"<con:settings/>{cached}</con:interface>"
        f"<con:testSuite name={quoteattr(suite)}><con:settings/>{''.join(cases)}</con:testSuite>"
        "<con:properties>"
        f"<con:property><con:name>ENDPOINT</con:name><con:value>{ENDPOINT}</con:value></con:property>"
        "<con:property><con:name>INSTANCE</con:name><con:value>tt_unit</con:value></con:property>"
        "<con:property><con:name>USERNAME</con:name><con:value>his</con:value></con:property>"
        "<con:property><con:name>PASSWORD</con:name><con:value>s3cret-pass</con:value></con:property>"
        "</con:properties></con:soapui-project>"
    ).encode()
