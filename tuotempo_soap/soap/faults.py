"""The one place where errors become SOAP faults.

Every fault the server sends, whether a domain error, a problem Spyne finds
while reading the request, or one caught before Spyne sees it, is built here:
``faultcode`` ``soap:<CODE>`` (``soap:Client.AuthenticationFailed`` ...), a
``faultstring`` a person can act on, and a typed ``<detail><ServiceFault>``
(``CODE``, ``FIELD`` when one field is at fault, ``MESSAGE``) so that Java, .NET
and gSOAP clients raise the typed exception the WSDL declares.

Nothing here logs a request value: fault lines carry the code, the field name
and the operation name (ours, never the caller's spelling), and unexpected
errors are logged with their stack but without exception messages, which
often quote the offending value.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from lxml import etree
from lxml.builder import ElementMaker
from spyne import Fault

from ..errors import TuotempoError
from ..observability import context
from . import TNS

log = logging.getLogger(__name__)
_E = ElementMaker(namespace=TNS, nsmap={"tns": TNS})

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
OPERATIONS = ("updateReservations", "getReservations", "updateMessages", "searchMessages")

# Codes of the SOAP layer itself (domain codes live in ``errors.py``).
VERSION_MISMATCH = "VersionMismatch"  # SOAP 1.1 section 4.4.1: no Client./Server. prefix
MALFORMED_XML = "Client.MalformedXML"
INVALID_ENVELOPE = "Client.InvalidEnvelope"
UNKNOWN_OPERATION = "Client.ResourceNotFound"  # Spyne's name, documented since the start
VALIDATION_ERROR = "Client.ValidationError"
UNSUPPORTED_MEDIA_TYPE = "Client.UnsupportedMediaType"
SOAP_ACTION_MISMATCH = "Client.SOAPActionMismatch"
REQUEST_NOT_ALLOWED = "Client.RequestNotAllowed"
REQUEST_TOO_LARGE = "Client.RequestTooLarge"
INTERNAL_ERROR = "Server.InternalError"

# SOAP 1.1 over HTTP (and WS-I BP R1126) answer a fault with 500, so client
# stacks parse it; the two HTTP-level refusals keep the status WS-I BP asks for
# (R1114: 405 for a method other than POST, R1115: 415 for a media type the
# WSDL does not allow).
_HTTP_STATUS = {
    REQUEST_NOT_ALLOWED: "405 Method Not Allowed",
    UNSUPPORTED_MEDIA_TYPE: "415 Unsupported Media Type",
}


class ServiceFaultError(Fault):
    """A fault in our shape: what every path raises or is turned into."""

    def __init__(
        self, code: str, message: str, field: str | None = None, *, retry_after: int | None = None
    ) -> None:
        parts = [_E.CODE(code)]
        if field:
            parts.append(_E.FIELD(field))
        parts.append(_E.MESSAGE(message))
        super().__init__(faultcode=code, faultstring=message, detail=_E.ServiceFault(*parts))
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after  # seconds, sent as HTTP Retry-After too

    @property
    def http_status(self) -> str:
        return _HTTP_STATUS.get(self.code, "500 Internal Server Error")


def make_fault(code: str, message: str, field: str | None = None) -> ServiceFaultError:
    return ServiceFaultError(code, message, field)


def fault_for(error: TuotempoError) -> ServiceFaultError:
    retry_after = getattr(error, "retry_after", None)  # Client.TooManyAttempts says when
    return ServiceFaultError(
        error.code,
        error.message,
        error.field,
        retry_after=retry_after if isinstance(retry_after, int) else None,
    )


def operation_name(requested: str | None) -> str | None:
    """Our name for the operation a request asked for, or None for anything else:
    what the caller spelled is a request value and stays out of the log."""
    if not requested:
        return None
    local = requested.rpartition("}")[2]
    if requested.startswith("{") and not requested.startswith(f"{{{TNS}}}"):
        return None
    return local if local in OPERATIONS else None


def internal_fault(operation: str | None, error: BaseException | None = None) -> ServiceFaultError:
    """An unexpected error: logged with a reference and its stack, never its message.

    The reference is the request's id, so the caller's quote finds this line,
    the request's other lines and its access log line.
    """
    reference = context.reference()
    log.error(
        "unexpected error in %s (reference %s)\n%s",
        operation_name(operation) or "a SOAP request",
        reference,
        redacted_traceback(error) if error is not None else "(no exception)",
    )
    return ServiceFaultError(
        INTERNAL_ERROR, f"Internal error; quote reference {reference} to support"
    )


def redacted_traceback(error: BaseException) -> str:
    """The stack of ``error`` and its causes with the exception messages left out
    (``invalid literal for int(): '612 345 678'``, SQL parameters ...)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain) and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for exc in reversed(chain):
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        kind = type(exc)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message withheld)\n")
    return "".join(lines).rstrip("\n")


# What Spyne raises on its own paths, in our words. Most are raised as ours at
# their origin (``protocol.py``); this is the net under everything else.
_SPYNE_CODES = {
    "Client.XMLSyntaxError": (MALFORMED_XML, "The request is not well-formed XML"),
    "Client.SoapError": (INVALID_ENVELOPE, "The request is not a SOAP 1.1 envelope"),
    "Client.ResourceNotFound": (
        UNKNOWN_OPERATION,
        "The Body does not hold an operation of this service: " + ", ".join(OPERATIONS),
    ),
    "Client.RequestTooLong": (REQUEST_TOO_LARGE, "The request body is too large"),
    "Client.RequestNotAllowed": (REQUEST_NOT_ALLOWED, "SOAP requests must be HTTP POST"),
}


def service_fault(error: BaseException, requested: str | None = None) -> ServiceFaultError:
    """Any error met while answering a SOAP request, as the fault we send."""
    if isinstance(error, ServiceFaultError):
        return error
    if isinstance(error, TuotempoError):
        return fault_for(error)
    if isinstance(error, Fault):
        code = str(error.faultcode or "")
        if code in _SPYNE_CODES:
            return ServiceFaultError(*_SPYNE_CODES[code])
        if code == "Client" or code.startswith("Client."):
            # Spyne's own wording quotes the value it refused; ours does not.
            return ServiceFaultError(
                VALIDATION_ERROR, "The request does not match the WSDL's types for this operation"
            )
    return internal_fault(requested, error)


def log_fault(fault: ServiceFaultError, requested: str | None) -> None:
    """One line per fault sent: code, field and operation, never a value (and
    the request's note of it, for the metrics and the access log)."""
    context.note_fault(fault.code, operation_name(requested))
    level = logging.ERROR if fault.code.startswith("Server.") else logging.INFO
    log.log(
        level,
        "soap fault %s field=%s operation=%s",
        fault.code,
        fault.field or "-",
        operation_name(requested) or "-",
    )


def fault_document(fault: ServiceFaultError) -> Any:
    """The complete SOAP 1.1 envelope of ``fault`` (an lxml element)."""
    env = ElementMaker(namespace=SOAP_ENV, nsmap={"soap": SOAP_ENV, "tns": TNS})
    plain = ElementMaker()
    parts = []
    if fault.code == VERSION_MISMATCH:
        # SOAP 1.2 (part 1, appendix A): name the envelope version we speak, so a
        # SOAP 1.2 client can tell what to switch to.
        upgrade = ElementMaker(namespace=SOAP12_ENV, nsmap={"soap12": SOAP12_ENV})
        parts.append(env.Header(upgrade.Upgrade(upgrade.SupportedEnvelope(qname="soap:Envelope"))))
    detail = etree.fromstring(etree.tostring(fault.detail))  # a copy: a fault may be sent twice
    parts.append(
        env.Body(
            env.Fault(
                plain.faultcode(f"soap:{fault.code}"),
                plain.faultstring(fault.message),
                plain.detail(detail),
            )
        )
    )
    return env.Envelope(*parts)


def fault_envelope(code: str, message: str, field: str | None = None) -> bytes:
    """A complete SOAP 1.1 fault, for problems caught before Spyne sees the request."""
    return etree.tostring(
        fault_document(ServiceFaultError(code, message, field)),
        xml_declaration=True,
        encoding="UTF-8",
    )
