"""The one place where errors become SOAP faults.

Every fault carries ``faultcode`` (``soap:Client.AuthenticationFailed`` ...), a
``faultstring`` a person can act on, and a typed ``<detail><ServiceFault>`` so
that Java and .NET clients raise a typed exception.
"""

from __future__ import annotations

import logging
import uuid

from lxml import etree
from lxml.builder import ElementMaker
from spyne import Fault

from ..errors import TuotempoError
from . import TNS

log = logging.getLogger(__name__)
_E = ElementMaker(namespace=TNS, nsmap={"tns": TNS})


def make_fault(code: str, message: str, field: str | None = None) -> Fault:
    parts = [_E.CODE(code)]
    if field:
        parts.append(_E.FIELD(field))
    parts.append(_E.MESSAGE(message))
    return Fault(faultcode=code, faultstring=message, detail=_E.ServiceFault(*parts))


def fault_for(error: TuotempoError) -> Fault:
    return make_fault(error.code, error.message, error.field)


def internal_fault(operation: str) -> Fault:
    """An unexpected error: logged with a reference (never with the payload)."""
    reference = uuid.uuid4().hex[:12]
    log.exception("unexpected error in %s (reference %s)", operation, reference)
    return make_fault(
        "Server.InternalError",
        f"Internal error; quote reference {reference} to support",
    )


SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def fault_envelope(code: str, message: str, field: str | None = None) -> bytes:
    """A complete SOAP 1.1 fault, for problems caught before Spyne sees the request."""
    env = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV, "tns": TNS})
    plain = ElementMaker()
    detail = make_fault(code, message, field).detail
    envelope = env.Envelope(
        env.Body(
            env.Fault(
                plain.faultcode(f"soap:{code}"),
                plain.faultstring(message),
                plain.detail(detail),
            )
        )
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
