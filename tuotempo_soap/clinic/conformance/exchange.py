"""One request and its answer, as they went over the wire, and how to read them.

``RecordingTransport`` is the clinic client's transport with a recorder on the
POST: every exchange is kept, readable or not, with the time it took on the
injected clock. The checks judge the raw answer (lxml), not zeep's reading of it,
so a missing element and an empty one stay apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from lxml import etree

from ..errors import ClinicError
from ..transport import ClinicTransport
from .contract import SOAP_ENV, TNS, parse_xml

Clock = Callable[[], float]
Row = dict[str, str]


@dataclass(frozen=True)
class FaultInfo:
    code: str  # faultcode without its prefix: ``Client.ValidationError``
    message: str
    detail: etree._Element | None  # the first element inside <detail>, if any

    @property
    def clinic_fault(self) -> etree._Element | None:
        """The contract's typed detail, when that is what the detail holds."""
        if self.detail is not None and self.detail.tag == f"{{{TNS}}}ClinicFault":
            return self.detail
        return None


@dataclass(eq=False)
class Exchange:
    operation: str
    purpose: str
    request: bytes = b""
    seconds: float | None = None
    status: int | None = None
    content_type: str | None = None
    response: bytes | None = None
    transport_error: str | None = None  # the request failed before any answer
    error: ClinicError | None = None  # how the platform's client reads the failure
    body: etree._Element | None = field(default=None, repr=False)  # the Body's child
    fault: FaultInfo | None = None
    unreadable: str | None = None  # why the answer is no SOAP envelope

    @property
    def answered(self) -> bool:
        return self.response is not None

    @property
    def ok(self) -> bool:
        """A normal answer: a SOAP body that is not a fault."""
        return self.body is not None and self.fault is None

    def describe(self) -> str:
        """One line for messages: what answered, never a value from the body."""
        if self.transport_error:
            return self.transport_error
        if self.fault is not None:
            return f"fault {self.fault.code or '(no faultcode)'}"
        if self.unreadable:
            return self.unreadable
        return f"HTTP {self.status}"

    def records(self, name: str) -> list[Row]:
        """Every element named ``name`` (any namespace) in the answer, as field -> text."""
        if self.body is None:
            return []
        return [_record(element) for element in self.body.iter() if _local(element) == name]

    def record(self, name: str) -> Row | None:
        found = self.records(name)
        return found[0] if found else None


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def _record(element: etree._Element) -> Row:
    """Direct children as field -> stripped text ("" for an empty element); an
    ``xsi:nil`` element is NULL, so it is left out like a missing one."""
    return {
        _local(child): (child.text or "").strip()
        for child in element
        if isinstance(child.tag, str) and child.get(_NIL) not in ("true", "1")
    }


def read_answer(exchange: Exchange) -> None:
    """Fill ``body``/``fault``/``unreadable`` from the raw answer."""
    data = exchange.response
    if data is None:
        return
    if not data.strip():
        exchange.unreadable = f"HTTP {exchange.status} with an empty body"
        return
    try:
        root = parse_xml(data)
    except etree.XMLSyntaxError:
        exchange.unreadable = (
            f"HTTP {exchange.status}, not XML ({exchange.content_type or 'no type'})"
        )
        return
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        exchange.unreadable = f"HTTP {exchange.status}, XML but no SOAP 1.1 Envelope"
        return
    body = root.find(f"{{{SOAP_ENV}}}Body")
    children = [child for child in (body if body is not None else []) if isinstance(child.tag, str)]
    if not children:
        exchange.unreadable = f"HTTP {exchange.status}, an Envelope with an empty Body"
        return
    first = children[0]
    if first.tag == f"{{{SOAP_ENV}}}Fault":
        detail = first.find("detail")
        if detail is None:
            detail = first.find(f"{{{SOAP_ENV}}}detail")
        inner = [c for c in detail if isinstance(c.tag, str)] if detail is not None else []
        exchange.fault = FaultInfo(
            code=(first.findtext("faultcode") or "").strip().rsplit(":", 1)[-1],
            message=(first.findtext("faultstring") or "").strip(),
            detail=inner[0] if inner else None,
        )
    exchange.body = first


class RecordingTransport(ClinicTransport):
    """Keeps every exchange; ``purpose`` names the next one (set by the session)."""

    def __init__(self, *, clock: Clock = time.perf_counter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.exchanges: list[Exchange] = []
        self.next_exchange: Exchange | None = None

    def send(self, address: str, message: Any, headers: dict[str, str]) -> requests.Response:
        exchange = self.next_exchange or Exchange(operation="?", purpose="")
        self.next_exchange = None
        exchange.request = message if isinstance(message, bytes) else str(message).encode()
        self.exchanges.append(exchange)
        started = self.clock()
        try:
            response = super().send(address, message, headers)
        except requests.Timeout:
            exchange.seconds = self.clock() - started
            exchange.transport_error = f"no answer within {self.operation_timeout:g} s"
            raise
        except requests.RequestException as exc:
            exchange.seconds = self.clock() - started
            exchange.transport_error = f"no answer ({type(exc).__name__})"
            raise
        # requests has read the whole body by now: the time is the full answer's.
        exchange.seconds = self.clock() - started
        exchange.status = int(response.status_code)
        exchange.content_type = response.headers.get("Content-Type")
        exchange.response = response.content or b""
        read_answer(exchange)
        return response
