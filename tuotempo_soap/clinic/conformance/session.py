"""Calls to the clinic under test, through the platform's own zeep stack.

The requests are built by zeep from the contract (the packaged ``clinic.wsdl``)
and posted to the clinic's address, the way ``clinic set --endpoint`` makes the
platform do; failures are mapped by ``clinic.errors``, so a check can say how
the platform would have read them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
import zeep

from ..endpoint import ClinicEndpoint, host_of
from ..errors import ClinicProtocolError, map_error
from ..factory import bind_service
from ..transport import clinic_settings, new_session
from .contract import contract_path
from .exchange import Clock, Exchange, RecordingTransport


class SkippedOperationError(Exception):
    """The operation is excluded from this run (``--skip``)."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"{operation} is skipped (--skip {operation})")
        self.operation = operation


class ClinicSession:
    def __init__(
        self,
        address: str,
        *,
        http_timeout: float,
        username: str | None = None,
        password: str | None = None,
        center_lid: str | None = None,
        skip: frozenset[str] = frozenset(),
        clock: Clock | None = None,
        session_factory: Callable[[], requests.Session] = new_session,
    ) -> None:
        self.address = address
        self.host = host_of(address)
        self.endpoint = ClinicEndpoint(
            wsdl_url=str(contract_path()),
            endpoint_url=address,
            username=username,
            password=password,
            center_lid=center_lid,
            timeout_seconds=http_timeout,
            read_retries=0,
        )
        self.skip = skip
        options: dict[str, Any] = {"clock": clock} if clock is not None else {}
        self.transport = RecordingTransport(
            timeout_seconds=http_timeout, session=session_factory(), **options
        )
        client = zeep.Client(
            str(contract_path()), transport=self.transport, settings=clinic_settings()
        )
        self._service, _ = bind_service(client, self.endpoint)

    @property
    def exchanges(self) -> list[Exchange]:
        return self.transport.exchanges

    @property
    def http(self) -> requests.Session:
        return self.transport.session

    def common(self, operation: str) -> dict[str, Any]:
        """``AUTH`` and, for the operations that take one, ``CENTER_LID`` (B.3)."""
        params: dict[str, Any] = {"AUTH": self.endpoint.auth()}
        if operation != "getCenters":
            params["CENTER_LID"] = self.endpoint.center_lid
        return params

    def call(self, operation: str, purpose: str, **params: Any) -> Exchange:
        """One call; never raises for what the clinic does (the exchange says it)."""
        if operation in self.skip:
            raise SkippedOperationError(operation)
        exchange = Exchange(operation=operation, purpose=purpose)
        self.transport.next_exchange = exchange
        try:
            self._service[operation](**{**self.common(operation), **params})
        except Exception as exc:
            mapped = map_error(exc, operation=operation, host=self.host)
            if mapped is None:
                if not exchange.answered:
                    raise
                # zeep choked on what the clinic sent: the answer's fault, not ours.
                mapped = ClinicProtocolError(
                    f"clinic {self.host}, {operation}: unreadable answer ({type(exc).__name__})",
                    operation=operation,
                    host=self.host,
                )
            exchange.error = mapped
        finally:
            self.transport.next_exchange = None
        if not any(sent is exchange for sent in self.exchanges):
            # zeep refused to send it (a request that breaks the contract): a bug
            # of the checker, not of the clinic.
            raise RuntimeError(f"{operation}: the request was not sent ({exchange.error})")
        return exchange

    def close(self) -> None:
        self.transport.session.close()
