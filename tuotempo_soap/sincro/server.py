"""Our own SOAP contract, called from the clinic's side as any HIS would.

``updateReservations`` sends the clinic's changes; ``getReservations`` reads
them back (delta reads by cursor, or one day and resource at a time). The
HTTP side is the clinic client's (``clinic.transport``): a timeout on every
call, no DTDs or entities, never a request or answer body in the log.

This is the one place where zeep and transport failures become the agent's
errors: ``ServerUnavailableError`` (try again later) or ``ServerError``
(a fault for the whole call: ``fault_code`` says which, e.g.
``Client.BatchTooLarge``). Fault texts are redacted before they travel on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.helpers import serialize_object

from ..clinic.errors import redact
from ..clinic.transport import ClinicTransport, clinic_settings, new_session
from ..domain.reservation import FIELD_NAMES
from .config import SincroConfig
from .errors import ServerError, ServerUnavailableError

_RETRY_LATER = ("Server.DatabaseUnavailable", "Server.Busy", "Client.TooManyAttempts")


@dataclass(frozen=True)
class ItemResult:
    """The server's word on one sent reservation (in the order sent)."""

    app_lid: str | None
    ok: bool
    action: str | None = None
    error_code: str | None = None
    error_field: str | None = None


@dataclass(frozen=True)
class Page:
    reservations: list[dict[str, Any]]
    next_cursor: str
    more: bool


class SincroServer:
    """A zeep client for our server, bound to the configured endpoint."""

    def __init__(self, config: SincroConfig) -> None:
        self._config = config
        self._auth = {
            "INSTANCE": config.server.instance,
            "USERNAME": config.server.username,
            "PASSWORD": config.password,
        }
        self._service: Any = None
        self._client: zeep.Client | None = None

    def _bound(self) -> Any:
        if self._service is None:
            transport = ClinicTransport(
                timeout_seconds=self._config.server.timeout_seconds, session=new_session()
            )
            with self._mapped("WSDL"):
                client = zeep.Client(
                    self._config.wsdl_url, transport=transport, settings=clinic_settings()
                )
            binding = next(iter(client.wsdl.bindings))
            # The configured address, whatever the WSDL says (a proxy may publish another).
            self._service = client.create_service(binding, self._config.server.url)
            self._client = client
        return self._service

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.session.close()
            self._client = None
            self._service = None

    def update_reservations(self, items: Sequence[dict[str, str]]) -> list[ItemResult]:
        service = self._bound()
        with self._mapped("updateReservations"):
            answer = service.updateReservations(
                AUTH=self._auth, RESERVATIONS={"RESERVATION": list(items)}
            )
        results = (answer.ITEMS.ITEM if answer.ITEMS else None) or []
        if len(results) != len(items):
            raise ServerError(
                f"updateReservations answered {len(results)} items for {len(items)} sent"
            )
        return [
            ItemResult(
                app_lid=r.APP_LID,
                ok=r.RESULT == "OK",
                action=r.ACTION,
                error_code=r.ERROR_CODE,
                error_field=r.ERROR_FIELD,
            )
            for r in results
        ]

    def get_reservations(self, **filters: Any) -> Page:
        service = self._bound()
        with self._mapped("getReservations"):
            answer = service.getReservations(AUTH=self._auth, **filters)
        rows = (answer.RESERVATIONS.RESERVATION if answer.RESERVATIONS else None) or []
        return Page(
            reservations=[dict(serialize_object(row, dict)) for row in rows],
            next_cursor=str(answer.NEXT_REQUEST_TIMESTAMP),
            more=bool(answer.MORE_RESULTS),
        )

    @contextmanager
    def _mapped(self, operation: str) -> Iterator[None]:
        try:
            yield
        except zeep.exceptions.Fault as fault:
            raise _from_fault(fault, operation) from None
        except zeep.exceptions.TransportError as exc:
            status = int(exc.status_code or 0)
            if status >= 500 or status in (408, 429):
                raise ServerUnavailableError(f"{operation}: HTTP {status}") from None
            raise ServerError(f"{operation}: HTTP {status}") from None
        except requests.Timeout:
            raise ServerUnavailableError(f"{operation}: no answer in time") from None
        except requests.ConnectionError:
            raise ServerUnavailableError(f"{operation}: could not connect") from None
        except requests.RequestException as exc:
            raise ServerError(f"{operation}: request failed ({type(exc).__name__})") from None
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            raise ServerError(f"{operation}: unreadable answer ({type(exc).__name__})") from None


def _from_fault(fault: zeep.exceptions.Fault, operation: str) -> ServerError:
    code = str(fault.code or "").rsplit("}", 1)[-1].split(":", 1)[-1]
    field = None
    if isinstance(fault.detail, etree._Element):
        for element in fault.detail.iter():
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element).localname
            if name == "CODE" and element.text:
                code = element.text.strip()
            elif name == "FIELD" and element.text:
                field = element.text.strip()
    message = f"{operation}: {code or 'fault'}: {redact(str(fault.message or ''))}"
    if code in _RETRY_LATER:
        return ServerUnavailableError(message, fault_code=code, field=field)
    return ServerError(message, fault_code=code, field=field)


def as_item(stored: dict[str, Any]) -> dict[str, str]:
    """A reservation as getReservations returned it, as updateReservations takes it."""
    return {name: str(stored[name]) for name in FIELD_NAMES if stored.get(name) not in (None, "")}
