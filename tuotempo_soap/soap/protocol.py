"""SOAP 1.1 as this server reads and answers it.

Spyne's own parser logs the whole request on a syntax error (patient data in
the log) and accepts DTDs; its faults quote the refused value and carry no
typed detail. ``HardenedSoap11`` parses here instead (no DTD, no entities, no
network, no huge trees), holds callers to the HTTP binding (``binding.py``),
names the field a value was refused for, and sends every fault, its own and
Spyne's, in the one shape ``faults.py`` builds.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from spyne import Fault
from spyne.error import ResourceNotFoundError
from spyne.model.primitive import Decimal
from spyne.protocol.soap import Soap11

from ..observability import context
from . import TNS
from .binding import check_soap_action, read_content_type, refuse_soap12_media_type
from .faults import (
    INVALID_ENVELOPE,
    MALFORMED_XML,
    OPERATIONS,
    REQUEST_NOT_ALLOWED,
    SOAP_ENV,
    UNKNOWN_OPERATION,
    VALIDATION_ERROR,
    VERSION_MISMATCH,
    ServiceFaultError,
    fault_document,
    internal_fault,
    log_fault,
    operation_name,
    service_fault,
)

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "strip_cdata": True,
}
# An XML declaration that names its encoding, or a byte order mark: the document
# says how it is encoded, and that wins over a charset parameter (HIS exports
# often pair a hard-wired "charset=utf-8" with a Latin-1 document that says so).
_SELF_DESCRIBED = re.compile(rb"^(?:\xef\xbb\xbf|\xff\xfe|\xfe\xff|\s*<\?xml[^>]*encoding\s*=)")
# Where a fault met on the response's way out waits for the fault path (Spyne
# replaces it by a bare "Server" fault); the WSGI environ lives for one request.
_PENDING_FAULT = "tuotempo_soap.pending_fault"


def parse_envelope(body: bytes, charset: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Parse a request; raise a ``Client.MalformedXML`` fault when unusable."""
    if not body.strip():
        raise ServiceFaultError(MALFORMED_XML, "The request body is empty; send a SOAP envelope")
    options: dict[str, Any] = dict(_PARSER_OPTIONS)
    if charset and not _SELF_DESCRIBED.match(body[:200]):
        options["encoding"] = charset
    try:
        root, ids = etree.XMLID(body, etree.XMLParser(**options))
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        reason = exc.msg if getattr(exc, "msg", None) else "not well-formed"
        raise ServiceFaultError(
            MALFORMED_XML, f"The request is not well-formed XML{where}: {reason}"
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # Entities are never expanded (resolve_entities=False), but a DTD has no
        # business in a SOAP message (SOAP 1.1 section 3), so refuse it outright.
        raise ServiceFaultError(MALFORMED_XML, "DOCTYPE and ENTITY declarations are not accepted")
    return root, ids


def check_envelope(root: Any) -> None:
    """A SOAP 1.1 Envelope, or the fault SOAP 1.1 prescribes."""
    name = etree.QName(root)
    if name.localname == "Envelope" and name.namespace != SOAP_ENV:
        # SOAP 1.1 section 4.4.1: an Envelope in another namespace (SOAP 1.2's
        # http://www.w3.org/2003/05/soap-envelope, or none) is a VersionMismatch.
        raise ServiceFaultError(
            VERSION_MISMATCH,
            f"This service speaks SOAP 1.1: the Envelope must be in the namespace {SOAP_ENV}",
        )
    if name.localname != "Envelope":
        raise ServiceFaultError(
            INVALID_ENVELOPE,
            f"The request is not a SOAP envelope: send a SOAP 1.1 Envelope ({SOAP_ENV})",
        )


def check_body(envelope: Any) -> None:
    """Exactly one Body holding exactly one element (WS-I BP R9981), not a Fault."""
    bodies = envelope.findall(f"{{{SOAP_ENV}}}Body")
    if len(bodies) != 1:
        raise ServiceFaultError(INVALID_ENVELOPE, "The Envelope must hold exactly one Body")
    children = [child for child in bodies[0] if isinstance(child.tag, str)]
    if len(children) != 1:
        raise ServiceFaultError(
            INVALID_ENVELOPE,
            "The Body must hold exactly one operation element: " + ", ".join(OPERATIONS),
        )
    if children[0].tag == f"{{{SOAP_ENV}}}Fault":
        raise ServiceFaultError(INVALID_ENVELOPE, "A Fault is an answer, not a request")


def _unknown_operation(requested: str | None) -> ServiceFaultError:
    name = etree.QName(requested) if requested else None
    asked = f"{name.localname} in namespace {name.namespace or '(none)'}" if name else "nothing"
    return ServiceFaultError(
        UNKNOWN_OPERATION,
        f"The Body asks for {asked[:160]}; this service has {', '.join(OPERATIONS)} "
        f"in namespace {TNS}",
    )


def _invalid_value(cls: Any, element: Any) -> ServiceFaultError:
    """The value of ``element`` does not fit its type: name the field, never the value."""
    field = etree.QName(element).localname if isinstance(element.tag, str) else None
    if field in OPERATIONS:
        field = None
    if _is_number(cls):
        wanted = f"a whole number that fits xs:{cls.get_type_name()}"
    else:
        wanted = "a value of the type the WSDL declares"
    what = field or "A value"
    return ServiceFaultError(VALIDATION_ERROR, f"{what} must be {wanted}", field)


def _is_number(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Decimal)


def _environ(ctx: Any) -> dict[str, Any]:
    environ = getattr(ctx.transport, "req_env", None)
    return environ if isinstance(environ, dict) else {}


class HardenedSoap11(Soap11):
    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        environ = _environ(ctx)
        if ctx.transport.type == "wsgi" and ctx.transport.get_request_method() != "POST":
            raise ServiceFaultError(REQUEST_NOT_ALLOWED, "SOAP requests must be HTTP POST")
        media = read_content_type(environ.get("CONTENT_TYPE"))
        chunks = ctx.in_string
        body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
        root, ids = parse_envelope(body, media.charset)
        check_envelope(root)
        if media.soap12:
            raise refuse_soap12_media_type()
        ctx.in_document = (root, ids)

    def decompose_incoming_envelope(self, ctx: Any, message: Any = Soap11.REQUEST) -> None:
        check_body(ctx.in_document[0])
        super().decompose_incoming_envelope(ctx, message)

    def generate_method_contexts(self, ctx: Any) -> Any:
        try:
            contexts = super().generate_method_contexts(ctx)
        except ResourceNotFoundError:
            raise _unknown_operation(ctx.method_request_string) from None
        operation = etree.QName(ctx.method_request_string).localname
        named = operation_name(ctx.method_request_string)
        if named is not None:
            context.note_operation(named)
        check_soap_action(_environ(ctx).get("HTTP_SOAPACTION"), operation)
        return contexts

    def from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        try:
            value = super().from_element(ctx, cls, element)
        except ServiceFaultError:
            raise
        except Exception:
            # Spyne's ValidationError ("Could not cast '612 345 678' to integer")
            # and the odd AttributeError of a strange document: the client sent
            # something the WSDL's types do not allow.
            raise _invalid_value(cls, element) from None
        # Without schema validation Spyne reads 99999999999 into an xs:int.
        if value is not None and _is_number(cls) and not cls.validate_native(cls, value):
            raise _invalid_value(cls, element)
        return value

    def serialize(self, ctx: Any, message: Any) -> Any:
        if ctx.out_error is None:
            try:
                return super().serialize(ctx, message)
            except Exception as exc:
                # Spyne would send what was built so far, or a bare "Server" fault.
                ctx.out_document = None
                ctx.out_body_doc = None
                _environ(ctx)[_PENDING_FAULT] = internal_fault(ctx.method_request_string, exc)
                raise
        self.event_manager.fire_event("before_serialize", ctx)
        fault = _environ(ctx).pop(_PENDING_FAULT, None) or service_fault(
            ctx.out_error, ctx.method_request_string
        )
        log_fault(fault, ctx.method_request_string)
        ctx.out_error = fault
        if hasattr(ctx.transport, "resp_code"):
            ctx.transport.resp_code = fault.http_status
        if fault.retry_after is not None and hasattr(ctx.transport, "resp_headers"):
            ctx.transport.resp_headers["Retry-After"] = str(fault.retry_after)
        ctx.out_document = fault_document(fault)
        ctx.out_body_doc = ctx.out_document.find(f"{{{SOAP_ENV}}}Body")
        self.event_manager.fire_event("after_serialize", ctx)
        return None

    def fault_to_http_response_code(self, fault: Fault) -> str:
        if isinstance(fault, ServiceFaultError):
            return fault.http_status
        return "500 Internal Server Error"
