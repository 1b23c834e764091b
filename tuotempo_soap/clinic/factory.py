"""The one factory for clinic clients, and the per-process WSDL cache.

Parsing a clinic's WSDL costs a download and tens of milliseconds; a poller
calling every few minutes must not pay it per call. The factory keeps the parsed
WSDL per ``wsdl_url`` and the built zeep client per (WSDL, endpoint, timeout), and
zeep's ``InMemoryCache`` keeps the downloaded documents (schemas shared between
WSDLs included). Building a client connects nowhere until first asked for one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import requests
import zeep
import zeep.cache
from zeep.proxy import ServiceProxy
from zeep.wsdl import Document

from .client import ZeepClinicClient
from .endpoint import ClinicEndpoint, host_of
from .errors import ClinicProtocolError, map_error
from .transport import ClinicTransport, clinic_settings, new_session

log = logging.getLogger(__name__)

WSDL_CACHE_SECONDS = 3600

_ClientKey = tuple[str, str | None, float]


class ClinicClientFactory:
    """Builds ``ZeepClinicClient`` objects; thread-safe. One per process is the
    intent (``build_clinic_client`` uses a shared one); tests make their own."""

    def __init__(
        self,
        *,
        wsdl_cache: zeep.cache.Base | None = None,
        session_factory: Callable[[], requests.Session] = new_session,
    ) -> None:
        self._wsdl_cache = wsdl_cache or zeep.cache.InMemoryCache(timeout=WSDL_CACHE_SECONDS)
        self._session_factory = session_factory
        self._settings = clinic_settings()
        self._lock = threading.Lock()
        self._documents: dict[str, Document] = {}
        self._clients: dict[_ClientKey, zeep.Client] = {}

    def build(self, endpoint: ClinicEndpoint) -> ZeepClinicClient:
        client = self.zeep_client(endpoint)
        service, address = bind_service(client, endpoint)
        return ZeepClinicClient(service, endpoint, address=address)

    def zeep_client(self, endpoint: ClinicEndpoint) -> zeep.Client:
        key = (endpoint.wsdl_url, endpoint.endpoint_url, endpoint.timeout_seconds)
        # One lock for all: builds happen once per clinic and process, and a second
        # thread asking for the same clinic should wait, not parse it again.
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                transport = ClinicTransport(
                    timeout_seconds=endpoint.timeout_seconds,
                    session=self._session_factory(),
                    cache=self._wsdl_cache,
                )
                document = self._document(endpoint.wsdl_url, transport)
                client = zeep.Client(document, transport=transport, settings=self._settings)
                self._clients[key] = client
            return client

    def _document(self, wsdl_url: str, transport: ClinicTransport) -> Document:
        document = self._documents.get(wsdl_url)
        if document is not None:
            return document
        host = host_of(wsdl_url)
        started = time.monotonic()
        try:
            # zeep annotates ``transport`` as a class, but uses (and needs) an instance.
            document = Document(wsdl_url, transport, settings=self._settings)  # type: ignore[arg-type]
        except Exception as exc:
            mapped = map_error(exc, operation="WSDL", host=host)
            if mapped is None:
                raise
            raise mapped from exc
        log.info(
            "clinic wsdl loaded host=%s duration_ms=%d", host, (time.monotonic() - started) * 1000
        )
        self._documents[wsdl_url] = document
        return document

    def clear(self) -> None:
        """Forget parsed WSDLs and built clients (a clinic published a new WSDL)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
            self._documents.clear()
        for client in clients:
            client.transport.session.close()

    def close(self) -> None:
        self.clear()


def bind_service(client: zeep.Client, endpoint: ClinicEndpoint) -> tuple[ServiceProxy, str]:
    """The service proxy and the address it posts to: the endpoint's override when
    set (bound to the WSDL's first port's binding), else what the WSDL declares."""
    wsdl = client.wsdl
    host = host_of(endpoint.wsdl_url)
    ports = [
        (service, port) for service in wsdl.services.values() for port in service.ports.values()
    ]
    if endpoint.endpoint_url:
        if ports:
            binding_name = ports[0][1].binding.name
        elif wsdl.bindings:
            binding_name = next(iter(wsdl.bindings))
        else:
            raise ClinicProtocolError(
                f"clinic {host}, WSDL: declares no binding", operation="WSDL", host=host
            )
        return client.create_service(binding_name, endpoint.endpoint_url), endpoint.endpoint_url
    address = ports[0][1].binding_options.get("address") if ports else None
    if not address:
        raise ClinicProtocolError(
            f"clinic {host}, WSDL: declares no address; set endpoint_url",
            operation="WSDL",
            host=host,
        )
    service, port = ports[0]
    return client.bind(service.name, port.name), str(address)


_shared_factory = ClinicClientFactory()


def build_clinic_client(
    endpoint: ClinicEndpoint, *, factory: ClinicClientFactory | None = None
) -> ZeepClinicClient:
    """A client for ``endpoint`` from the process-wide factory (or ``factory``)."""
    return (factory or _shared_factory).build(endpoint)
