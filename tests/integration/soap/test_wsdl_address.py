"""The endpoint the served WSDL names never comes from a request's Host or
X-Forwarded-Host: a client generated from a WSDL fetched with ``Host:
evil.example`` would post its patients' data to evil.example."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from lxml import etree
from werkzeug.test import Client

from tests.unit.soap.test_wsdl import COMMITTED
from tuotempo_soap.config import Settings
from tuotempo_soap.soap.wsdl import with_location
from tuotempo_soap.web.app import create_app

SOAP_BINDING = "{http://schemas.xmlsoap.org/wsdl/soap/}"
# The socket gunicorn accepted the request on, and what the request claims.
LISTENING = {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8123", "wsgi.url_scheme": "http"}
FORGED = {
    "HTTP_HOST": "evil.example",
    "HTTP_X_FORWARDED_HOST": "evil2.example",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_FORWARDED": "host=evil3.example",
}


def served_wsdl(settings: Settings, *, demo: bool = False, **environ: object) -> bytes:
    app = create_app(settings, demo=True) if demo else create_app(settings)
    try:
        response = Client(app).get(
            "/soap", query_string="wsdl", environ_overrides={**LISTENING, **FORGED, **environ}
        )
    finally:
        app.store.dispose()
    assert response.status_code == 200
    return response.data


def address(wsdl: bytes) -> str:
    return str(etree.fromstring(wsdl).find(f".//{SOAP_BINDING}address").get("location"))


def test_without_a_public_url_the_wsdl_names_the_listening_address(settings: Settings) -> None:
    wsdl = served_wsdl(settings)
    assert wsdl == with_location(COMMITTED.read_bytes(), "http://127.0.0.1:8123/soap")
    assert b"evil" not in wsdl


def test_the_configured_public_url_wins(settings: Settings) -> None:
    configured = replace(settings, public_url="https://memo.clinic.example/tt")
    assert address(served_wsdl(configured)) == "https://memo.clinic.example/tt/soap"
    assert address(served_wsdl(configured, demo=True)) == "https://memo.clinic.example/tt/soap"


def test_behind_a_trusted_proxy_its_forwarded_host_is_not_the_address(settings: Settings) -> None:
    """A proxy's X-Forwarded-Host is the client's Host passed on: still not ours to publish."""
    proxied = replace(settings, trusted_proxy_hops=1)
    wsdl = served_wsdl(proxied, REMOTE_ADDR="127.0.0.1")
    assert address(wsdl) == "http://127.0.0.1:8123/soap"
    assert b"evil" not in wsdl


@pytest.mark.parametrize(
    ("listening", "expected"),
    [
        ({"SERVER_NAME": "0.0.0.0", "SERVER_PORT": "80"}, "http://0.0.0.0/soap"),  # noqa: S104
        ({"SERVER_NAME": "::1", "SERVER_PORT": "8000"}, "http://[::1]:8000/soap"),
        (
            {"SERVER_NAME": "10.0.0.5", "SERVER_PORT": "443", "wsgi.url_scheme": "https"},
            "https://10.0.0.5/soap",
        ),
    ],
)
def test_listening_addresses(settings: Settings, listening: dict[str, str], expected: str) -> None:
    assert address(served_wsdl(settings, **listening)) == expected


def test_only_the_demo_takes_the_request_host(settings: Settings) -> None:
    """``serve --demo`` runs on a developer's machine, reached as localhost, a VM
    name or a LAN address: there the Host the browser used is the useful answer."""
    assert address(served_wsdl(settings, demo=True)) == "http://evil.example/soap"


def test_on_a_unix_socket_the_host_header_is_not_the_address(settings: Settings) -> None:
    """gunicorn bound to a unix socket fills SERVER_NAME from the Host header."""
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        wsdl = served_wsdl(
            settings,
            **{"gunicorn.socket": left, "SERVER_NAME": "evil.example", "SERVER_PORT": "80"},
        )
    assert address(wsdl) == "http://localhost/soap"


def test_the_address_is_escaped_in_the_document(settings: Settings) -> None:
    wsdl = served_wsdl(settings, demo=True, HTTP_HOST='h"><x a="&amp;')
    assert address(wsdl) == 'http://h"><x a="&amp;/soap'  # one attribute, read back as sent
