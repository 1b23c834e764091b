"""The WSGI application factory. Builds nothing at import time."""

from __future__ import annotations

import html
import io
import json
import logging
import socket
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from .. import clock
from ..config import Settings
from ..dispatch.config import DispatchConfig, load_dispatch_config
from ..errors import StoreUnavailableError, TuotempoError
from ..observability import context as request_context
from ..observability import metrics
from ..observability.logs import configure_logging
from ..services.links import LinkSigner, secret_key
from ..soap import TNS
from ..soap.application import build_soap_wsgi, build_wsdl
from ..soap.fast import FastSoap
from ..soap.faults import (
    OPERATIONS,
    ServiceFaultError,
    fault_envelope,
    internal_fault,
    log_fault,
)
from ..soap.runtime import Runtime
from ..soap.wsdl import with_location
from ..store.bootstrap import open_store
from ..store.engine import Store
from .admin import build_admin
from .answers import answer_page, inbound
from .jsonapi import PREFIX as JSON_API
from .jsonapi import JsonApi
from .metrics import MetricsEndpoint
from .proxy import TrustedProxies
from .receipts import encode, handle_receipt

StartResponse = Callable[..., Any]
XML = "text/xml; charset=utf-8"
log = logging.getLogger(__name__)


class TuotempoApp:
    """Routes requests; answers every SOAP-side problem with a SOAP fault."""

    def __init__(
        self, settings: Settings, store: Store, dispatch: DispatchConfig, *, demo: bool = False
    ) -> None:
        self.settings = settings
        self.store = store
        self.dispatch = dispatch
        self.demo = demo
        self.signer = LinkSigner(secret_key(settings))
        self.soap = build_soap_wsgi(Runtime(settings, store))
        # Our operations' well-formed requests, read and answered without
        # Spyne's object layer; everything else still goes to Spyne.
        self.fast_soap = (
            FastSoap(self.soap.app.runtime, self.soap.app)
            if settings.soap_engine == "fast"
            else None
        )
        self.wsdl = build_wsdl()
        # The back office (web/admin/): it shares the SOAP side's password-guessing
        # defence, so one process bounds all its Argon2 checks together.
        self.admin = build_admin(
            settings, store, self.soap.app.runtime.auth_guard, dispatch.provider_name_for
        )
        self.metrics = MetricsEndpoint(settings, store, dispatch)
        # updateMessages/searchMessages as JSON (web/jsonapi/): the SOAP side's
        # runtime, so the same limits and the same sign-in throttle.
        self.jsonapi = JsonApi(self.soap.app.runtime)
        if settings.public_url is None and not demo:
            log.warning(
                "TUOTEMPO_PUBLIC_URL is not set: the WSDL gives the address this server "
                "listens on as the endpoint; set it to the address clients use"
            )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # The request's id: in every log line written while answering it, in the
        # access log, as a fault's reference, and sent back on every answer.
        request, token = request_context.begin(environ)

        def with_request_id(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            headers = [*headers, (request_context.REQUEST_ID_HEADER, request.request_id)]
            return start_response(status, headers, exc_info)

        try:
            path = environ.get("PATH_INFO", "") or "/"
            if path.rstrip("/") == "/soap":
                return self._soap(environ, with_request_id)
            if path == JSON_API or path.startswith(JSON_API + "/"):
                return self.jsonapi(environ, with_request_id)  # its own JSON errors
            if path == "/admin" or path.startswith("/admin/"):
                return self.admin(environ, with_request_id)  # its own HTML error pages
            return _answer_errors(self._web, environ, with_request_id)
        finally:
            request_context.end(token)

    def _web(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Everything but SOAP: inbound traffic, answer pages, health (``_answer_errors``
        turns what escapes into a JSON error or an error page)."""
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/inbound/sms/") or path.startswith("/inbound/voice/"):
            kind, _, provider = path[len("/inbound/") :].partition("/")
            status, body = inbound(environ, kind, provider.strip("/"), self.store, self.dispatch)
            return _reply(start_response, status, "application/json", encode(body))
        if path.startswith("/answer/"):
            status, headers, page = answer_page(
                environ,
                path[len("/answer/") :],
                self.store,
                self.signer,
                self.settings.public_url,
            )
            return _reply(start_response, status, "text/html; charset=utf-8", page, headers)
        if path.startswith("/receipts/"):
            provider = path[len("/receipts/") :].strip("/")
            status, body = handle_receipt(environ, provider, self.store, self.dispatch)
            return _reply(start_response, status, "application/json", encode(body))
        if path == "/healthz":
            return self._health(start_response)
        if path == "/metrics":
            scrape = self.metrics(environ)
            if scrape is not None:  # else: as for any unknown path, for this peer
                return _reply(start_response, *scrape)
        if path == "/":
            return _reply(
                start_response,
                "200 OK",
                "text/plain; charset=utf-8",
                b"tuotempo-soap: POST SOAP 1.1 envelopes to /soap; the WSDL is at /soap?wsdl\n",
            )
        return _json(start_response, "404 Not Found", {"result": "error", "reason": "not found"})

    def _soap(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Answer on /soap, counted once: operation, faultcode and time taken,
        as the engines and ``soap/faults.py`` noted them on the request."""
        try:
            return self._answer_soap(environ, start_response)
        finally:
            request = request_context.current()
            if request is not None:
                metrics.observe_soap_request(request.operation, request.fault, request.seconds())

    def _answer_soap(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            if "wsdl" in {key.lower() for key in parse_qs(environ.get("QUERY_STRING", ""), True)}:
                request_context.note_operation("wsdl")
                return _reply(
                    start_response, "200 OK", XML, with_location(self.wsdl, self._url(environ))
                )
            return _fault(
                start_response,
                "Client.RequestNotAllowed",
                "POST SOAP envelopes to this address; GET ?wsdl for the contract",
            )
        if method != "POST":
            return _fault(
                start_response, "Client.RequestNotAllowed", "SOAP requests must be HTTP POST"
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
        started: list[bool] = []

        def tracked(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started.append(True)
            return start_response(status, headers, exc_info)

        try:
            if self.fast_soap is not None:
                answer = self.fast_soap(environ, body)
                if answer is not None:
                    start_response(answer.status, answer.headers)
                    return [answer.body]
            # Spyne's WsgiApplication joins the answer before start_response, so
            # what escapes it (a bug, a strange document) escapes before any byte.
            return self.soap(environ, tracked)
        except Exception as exc:
            fault = internal_fault(_soap_operation(body), exc)
            log_fault(fault, None)
            envelope = fault_envelope(fault.code, fault.message)
            headers = [("Content-Type", XML), ("Content-Length", str(len(envelope)))]
            start_response(fault.http_status, headers, sys.exc_info() if started else None)
            return [envelope]

    def _url(self, environ: dict[str, Any]) -> str:
        """The endpoint the WSDL names. Never taken from a request's Host or
        X-Forwarded-* header (anyone can send those, and a client generated from
        the WSDL would then post patient data there): the configured public URL;
        without one, the address this server listens on; the request's Host only
        for ``serve --demo``, which runs on a developer's machine."""
        if self.settings.public_url:
            return f"{self.settings.public_url}/soap"
        if self.demo and environ.get("HTTP_HOST"):
            return f"{environ.get('wsgi.url_scheme', 'http')}://{environ['HTTP_HOST']}/soap"
        return _listening_url(environ)

    def _health(self, start_response: StartResponse) -> Iterable[bytes]:
        # Bounded: a database that never answers gives 503 after health_timeout,
        # and the ping has its own connection, so busy request threads do not
        # make a live database look dead.
        ok = self.store.ping(timeout=self.settings.health_timeout)
        body = json.dumps({"status": "ok" if ok else "unavailable", "database": ok}).encode()
        status = "200 OK" if ok else "503 Service Unavailable"
        return _reply(start_response, status, "application/json", body)


_UNAVAILABLE = "the database is unavailable; retry later"
_UNREADABLE = "the request could not be read"
_ERROR_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="robots" content="noindex"><title>{title}</title></head>'
    "<body><h1>{title}</h1><p>{text}</p></body></html>\n"
)
_PAGE_HEADERS = [
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", "default-src 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]


def _route_of(path: str) -> str:
    """The route, for log lines: never the path itself (answer links carry tokens)."""
    for prefix, route in (
        ("/inbound/sms/", "/inbound/sms/<provider>"),
        ("/inbound/voice/", "/inbound/voice/<provider>"),
        ("/answer/", "/answer/<token>"),
        ("/receipts/", "/receipts/<provider>"),
    ):
        if path.startswith(prefix):
            return route
    return path if path in ("/", "/healthz") else "<unknown path>"


def _answer_errors(
    handler: Callable[[dict[str, Any], StartResponse], Iterable[bytes]],
    environ: dict[str, Any],
    start_response: StartResponse,
) -> Iterable[bytes]:
    """Run a non-SOAP handler; whatever escapes it becomes a JSON error (an HTML
    page on /answer/), never the server's traceback page.

    The database being down is 503, a body the parsers choke on (too deeply
    nested JSON, a value that is not a number) is 400, our own client errors
    keep their message, anything else is 500 with a reference that is logged
    with the stack but without the exception's text, which may quote the request.
    """
    path = environ.get("PATH_INFO", "") or "/"
    route = _route_of(path)
    try:
        return handler(environ, start_response)
    except StoreUnavailableError:
        log.warning("%s: database unavailable", route)
        status, reason, extra = "503 Service Unavailable", _UNAVAILABLE, {}
    except TuotempoError as exc:
        log.info("%s refused: %s", route, exc.code)
        if exc.code == TuotempoError.code:
            status = "500 Internal Server Error"
        elif exc.code.startswith("Server."):  # busy, unavailable: worth a retry
            status = "503 Service Unavailable"
        else:
            status = "400 Bad Request"
        reason = exc.message
        extra = {"code": exc.code, **({"field": exc.field} if exc.field else {})}
    except (RecursionError, ValueError) as exc:
        log.info("%s: unreadable request (%s)", route, type(exc).__name__)
        status, reason, extra = "400 Bad Request", _UNREADABLE, {}
    except Exception as exc:
        reference = request_context.reference()
        log.error(
            "unexpected %s on %s (reference %s)\n%s",
            type(exc).__name__,
            route,
            reference,
            "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
        )
        status = "500 Internal Server Error"
        reason, extra = f"internal error; quote reference {reference} to support", {}
    if path.startswith("/answer/"):
        title = "Please try again later" if status.startswith("5") else "Link not valid"
        text = html.escape(reason[:1].upper() + reason[1:] + ".")
        body = _ERROR_PAGE.format(title=title, text=text).encode()
        headers = [("Content-Type", "text/html; charset=utf-8"), *_PAGE_HEADERS]
    else:
        body = json.dumps({"result": "error", "reason": reason, **extra}).encode()
        headers = [("Content-Type", "application/json")]
    # The handlers call start_response only once their answer is ready, so
    # nothing has been started when we get here.
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _json(start_response: StartResponse, status: str, body: dict[str, str]) -> list[bytes]:
    return _reply(start_response, status, "application/json", json.dumps(body).encode())


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


def _listening_url(environ: dict[str, Any]) -> str:
    """``http://SERVER_NAME:SERVER_PORT/soap`` as the server socket gives them (a
    TCP bind); before a trusted proxy's X-Forwarded-Host rewrote them, if it did."""
    if getattr(environ.get("gunicorn.socket"), "family", None) == socket.AF_UNIX:
        # On a unix socket gunicorn fills SERVER_NAME from the Host header.
        return "http://localhost/soap"
    socket_side = {**environ, **environ.get("werkzeug.proxy_fix.orig", {})}
    scheme = socket_side.get("wsgi.url_scheme") or "http"
    name = socket_side.get("SERVER_NAME") or "localhost"
    port = str(socket_side.get("SERVER_PORT") or "")
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"  # an IPv6 bind
    default = {"http": "80", "https": "443"}.get(scheme)
    return f"{scheme}://{name}{'' if port in ('', default) else ':' + port}/soap"


def _soap_operation(body: bytes) -> str | None:
    """Which of our operations a body names, for the log of an unexpected error."""
    head = body[:4096]
    for name in OPERATIONS:
        if name.encode() in head:
            return f"{{{TNS}}}{name}"
    return None


def _reply(
    start_response: StartResponse,
    status: str,
    content_type: str,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


def _fault(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    """A fault for a problem met before Spyne reads the request, built and logged
    as Spyne's are (``soap/faults.py``); its HTTP status goes with its code."""
    fault = ServiceFaultError(code, message)
    log_fault(fault, None)
    return _reply(start_response, fault.http_status, XML, fault_envelope(code, message))


class ProxiedTuotempoApp(TuotempoApp):
    """The application behind a reverse proxy: X-Forwarded-* believed from it alone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._front = TrustedProxies(
            super().__call__, self.settings.trusted_proxy_hops, self.settings.trusted_proxies
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._front(environ, start_response)


def create_app(settings: Settings | None = None, *, demo: bool = False) -> TuotempoApp:
    """The application; ``demo`` (``serve --demo`` only) lets the WSDL take its
    endpoint from the request's Host when no public URL is configured."""
    settings = settings or Settings.from_env()
    # Unset: JSON lines (gunicorn.conf.py, production), plain text for ``serve --demo``.
    configure_logging(settings.log_level, settings.log_format or ("text" if demo else "json"))
    clock.configure(settings.clock_file)
    dispatch = load_dispatch_config(settings.senders_file, settings.data_dir)
    app_class = ProxiedTuotempoApp if settings.trusted_proxy_hops else TuotempoApp
    return app_class(settings, open_store(settings), dispatch, demo=demo)
