"""The reference clinic as a WSGI application: ``/clinic``, ``/_control``, ``/healthz``.

``/clinic`` takes SOAP 1.1 POSTs (Spyne) and answers ``GET ?wsdl`` with the
published contract, its ``soap:address`` set to the address the client used.
``/_control`` (only with ``CLINIC_ENABLE_CONTROL=1``, only from loopback)
lets a test change the ``ServerOptions`` of the running server: make it slow,
failing or locked, then healthy again. Nothing is built at import time.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import spyne.const
from spyne import Application
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from tuotempo_soap.soap.wsdl import CLINIC_LOCATION_PLACEHOLDER, clean_wsdl, with_location

from .backend import ClinicBackend
from .contract import CLINIC_TNS, ClinicService
from .options import ServerOptions

SERVICE_NAME = "ClinicService"
SOAP_PATH = "/clinic"
CONTROL_PATH = "/_control"
MAX_CONTROL_BODY = 64 * 1024

StartResponse = Callable[..., Any]
XML = "text/xml; charset=utf-8"
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def build_spyne_app(backend: ClinicBackend | None = None) -> Application:
    # Spyne logs every client fault with a traceback (and a wrong password is
    # an expected answer here, not an incident).
    logging.getLogger("spyne").setLevel(logging.ERROR)
    logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL + 1)
    # As in the main server: Spyne would run a full gc.collect() after any
    # request that follows a second of idleness, ~25 ms each time, for
    # attachments we never take.
    spyne.const.MIN_GC_INTERVAL = float("inf")
    app = Application(
        [ClinicService],
        tns=CLINIC_TNS,
        name=SERVICE_NAME,
        in_protocol=Soap11(validator=None),
        out_protocol=Soap11(),
    )
    app.backend = backend
    return app


def build_wsdl() -> bytes:
    """The published clinic contract (``wsdl/clinic.wsdl``), with a placeholder address
    that fails loudly in a stub generated from the file (each clinic serves its own)."""
    interface = Wsdl11(build_spyne_app().interface)
    interface.build_interface_document(CLINIC_LOCATION_PLACEHOLDER)
    return clean_wsdl(interface.get_interface_document(), CLINIC_LOCATION_PLACEHOLDER)


class ClinicApp:
    """Routes requests; the SOAP work is Spyne's and the backend's."""

    def __init__(self, backend: ClinicBackend) -> None:
        self.backend = backend
        self.initial_options = backend.options
        self.soap = WsgiApplication(build_spyne_app(backend))
        self.wsdl = build_wsdl()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") == SOAP_PATH:
            return self._soap(environ, start_response)
        if path == CONTROL_PATH and self.backend.options.enable_control:
            return self._control(environ, start_response)
        if path == "/healthz":
            ok = self.backend.ping()
            body = json.dumps({"status": "ok" if ok else "unavailable"}).encode()
            return _reply(start_response, "200 OK" if ok else "503 Service Unavailable", JSON, body)
        if path == "/":
            return _reply(
                start_response,
                "200 OK",
                TEXT,
                b"Example clinic web services: POST SOAP 1.1 to /clinic; WSDL at /clinic?wsdl\n",
            )
        return _reply(start_response, "404 Not Found", TEXT, b"not found\n")

    def _soap(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if "wsdl" in {key.lower() for key in query}:
                return _reply(
                    start_response,
                    "200 OK",
                    XML,
                    with_location(self.wsdl, _url(environ), CLINIC_LOCATION_PLACEHOLDER),
                )
            return _reply(
                start_response,
                "405 Method Not Allowed",
                TEXT,
                b"POST SOAP envelopes here; GET ?wsdl for the contract\n",
            )
        if self.backend.options.fail_http_500:
            _drain(environ)  # so the connection stays usable for the client's next call
            return _reply(start_response, "500 Internal Server Error", TEXT, b"")
        return self.soap(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # Whoever reaches /_control can switch authentication off: loopback only,
        # even when the server was started on a public address by mistake.
        if not _is_loopback(environ.get("REMOTE_ADDR", "")):
            return _json(start_response, "403 Forbidden", {"error": "loopback only"})
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET":
            return _json(start_response, "200 OK", self.backend.options.to_json())
        if method != "POST":
            return _json(start_response, "405 Method Not Allowed", {"error": "GET or POST"})
        try:
            changes = json.loads(_drain(environ, MAX_CONTROL_BODY) or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object")
            base = self.initial_options if changes.pop("reset", False) else self.backend.options
            self.backend.options = base.updated(changes)
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            return _json(start_response, "400 Bad Request", {"error": str(exc)})
        return _json(start_response, "200 OK", self.backend.options.to_json())


def create_app(db_path: Path, options: ServerOptions) -> ClinicApp:
    """The WSGI application over the SQLite file at ``db_path`` (created and seeded if new)."""
    return ClinicApp(ClinicBackend(db_path, options))


def _drain(environ: dict[str, Any], limit: int | None = None) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise ValueError(f"the body is larger than {limit} bytes")
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _url(environ: dict[str, Any]) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{SOAP_PATH}"


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    return _reply(start_response, status, JSON, json.dumps(body).encode())


def _reply(
    start_response: StartResponse, status: str, content_type: str, body: bytes
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
