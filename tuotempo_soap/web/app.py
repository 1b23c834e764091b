"""The WSGI application factory. Builds nothing at import time."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from .. import clock
from ..config import Settings
from ..dispatch.config import DispatchConfig, load_dispatch_config
from ..services.links import LinkSigner, secret_key
from ..soap.application import build_soap_wsgi, build_wsdl
from ..soap.faults import fault_envelope
from ..soap.runtime import Runtime
from ..soap.wsdl import with_location
from ..store.bootstrap import open_store
from ..store.engine import Store
from .answers import answer_page, inbound
from .receipts import encode, handle_receipt

StartResponse = Callable[..., Any]
XML = "text/xml; charset=utf-8"


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tuotempo_soap").setLevel(level)


class TuotempoApp:
    """Routes requests; answers every SOAP-side problem with a SOAP fault."""

    def __init__(self, settings: Settings, store: Store, dispatch: DispatchConfig) -> None:
        self.settings = settings
        self.store = store
        self.dispatch = dispatch
        self.signer = LinkSigner(secret_key(settings))
        self.soap = build_soap_wsgi(Runtime(settings, store))
        self.wsdl = build_wsdl()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path.rstrip("/") == "/soap":
            return self._soap(environ, start_response)
        if path.startswith("/inbound/sms/") or path.startswith("/inbound/voice/"):
            kind, _, provider = path[len("/inbound/") :].partition("/")
            status, body = inbound(environ, kind, provider.strip("/"), self.store, self.dispatch)
            return _reply(start_response, status, "application/json", encode(body))
        if path.startswith("/answer/"):
            status, page = answer_page(environ, path[len("/answer/") :], self.store, self.signer)
            return _reply(start_response, status, "text/html; charset=utf-8", page)
        if path.startswith("/receipts/"):
            provider = path[len("/receipts/") :].strip("/")
            status, body = handle_receipt(environ, provider, self.store, self.dispatch)
            return _reply(start_response, status, "application/json", encode(body))
        if path == "/healthz":
            return self._health(start_response)
        if path == "/":
            return _reply(
                start_response,
                "200 OK",
                "text/plain; charset=utf-8",
                b"tuotempo-soap: POST SOAP 1.1 envelopes to /soap; the WSDL is at /soap?wsdl\n",
            )
        return _reply(start_response, "404 Not Found", "text/plain; charset=utf-8", b"not found\n")

    def _soap(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            if "wsdl" in {key.lower() for key in parse_qs(environ.get("QUERY_STRING", ""), True)}:
                return _reply(
                    start_response, "200 OK", XML, with_location(self.wsdl, _url(environ))
                )
            return _fault(
                start_response,
                "Client.RequestNotAllowed",
                "POST SOAP envelopes to this address; GET ?wsdl for the contract",
                status="405 Method Not Allowed",
            )
        if method != "POST":
            return _fault(
                start_response,
                "Client.RequestNotAllowed",
                "SOAP requests must be HTTP POST",
                status="405 Method Not Allowed",
            )
        body = _read_limited(environ, self.settings.max_body_bytes)
        if body is None:
            return _fault(
                start_response,
                "Client.RequestTooLarge",
                f"The request body is larger than {self.settings.max_body_bytes} bytes; "
                "send fewer reservations per call",
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        if not environ.get("CONTENT_TYPE"):
            environ["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        return self.soap(environ, start_response)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        ok = self.store.ping()
        body = json.dumps({"status": "ok" if ok else "unavailable", "database": ok}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        return _reply(start_response, status, "application/json", body)


def _read_limited(environ: dict[str, Any], limit: int) -> bytes | None:
    """The body, or None when it is over the limit (checked before reading when we can)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            declared = int(length)
        except ValueError:
            declared = limit + 1
        if declared > limit:
            return None
        return bytes(stream.read(declared))
    data = stream.read(limit + 1)  # chunked upload: read one byte past the limit
    return None if len(data) > limit else bytes(data)


def _url(environ: dict[str, Any]) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}/soap"


def _reply(
    start_response: StartResponse, status: str, content_type: str, body: bytes
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def _fault(
    start_response: StartResponse,
    code: str,
    message: str,
    *,
    status: str = "500 Internal Server Error",
) -> list[bytes]:
    # SOAP 1.1 over HTTP (and WS-I BP R1126) answer every fault with 500, so
    # client stacks parse it; only "wrong HTTP method" keeps its own status.
    return _reply(start_response, status, XML, fault_envelope(code, message))


def create_app(settings: Settings | None = None) -> TuotempoApp:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    clock.configure(settings.clock_file)
    dispatch = load_dispatch_config(settings.senders_file, settings.data_dir)
    return TuotempoApp(settings, open_store(settings), dispatch)
