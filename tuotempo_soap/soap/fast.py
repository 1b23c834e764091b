"""A direct lxml path for the well-formed requests of our operations.

Spyne stays the contract: it declares the types, generates the WSDL and answers
everything this module does not take. What it costs on a hot path is building
one object per item of a batch (34 fields each) and writing the answer through
its generic serialiser. Here the request is read straight into the plain dicts
the services take and the answer is written straight from theirs, both driven
by the same Spyne declarations (``service.py``, ``types.py``): element names,
their order, which are optional and how values are spelled.

The rule that keeps the wire identical: this path answers only a request it
reads exactly as Spyne would, and hands anything else back untouched (the
caller then runs Spyne, which finds the same problem and sends the same
fault). Handed back: any binding or envelope problem, an unknown or misspelled
operation, a SOAP Header with content, an element or attribute Spyne would
read differently or refuse (``xsi:nil``, ``xsi:type``, other namespaces,
repeated fields, markup inside a value, numbers Spyne would cast or refuse).
Deciding that happens before any service is called, so nothing runs twice.
Once a service runs, its errors become faults exactly as Spyne's path makes
them (``faults.py``), with the same HTTP status and headers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import Array, Boolean, ComplexModel, Integer, Unicode

from ..domain.reservation import FIELD_NAMES
from ..errors import RequestValidationError, TuotempoError
from ..observability import context
from ..services import instances
from . import TNS, operations
from .binding import check_soap_action, read_content_type
from .faults import (
    SOAP_ENV,
    ServiceFaultError,
    fault_document,
    fault_for,
    internal_fault,
    log_fault,
)
from .protocol import _PARSER_OPTIONS, _SELF_DESCRIBED, check_body, check_envelope
from .runtime import Runtime

XML = "text/xml; charset=utf-8"
_BODY = f"{{{SOAP_ENV}}}Body"
_HEADER = f"{{{SOAP_ENV}}}Header"
_ENVELOPE = f"{{{SOAP_ENV}}}Envelope"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
# What Spyne's int() accepts and its xs:int/xs:long checks pass, spelled the
# one way both read alike; anything else (" 5", "+5", "1_0", "") goes to Spyne.
_PLAIN_INT = re.compile(r"-?[0-9]{1,18}")
_INT_RANGE = {32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


class _HandBackError(Exception):
    """The request is not one this path reads exactly as Spyne: Spyne answers it."""


# --- Reading: plans built from the operation's Spyne input message ---------


@dataclass(frozen=True)
class _Field:
    name: str
    tag: str
    kind: str  # "text", "int", "complex", "array"
    bits: int = 0  # integer width, for "int"
    fields: Mapping[str, _Field] | None = None  # by tag, for "complex"
    item: _Field | None = None  # the member, for "array"


def _read_plan(name: str, cls: Any) -> _Field:
    tag = f"{{{TNS}}}{name}"
    if issubclass(cls, Array):
        ((member_name, member),) = cls._type_info.items()
        return _Field(name, tag, "array", item=_read_plan(member_name, member))
    if issubclass(cls, ComplexModel):
        fields = {f"{{{TNS}}}{n}": _read_plan(n, t) for n, t in cls._type_info.items()}
        return _Field(name, tag, "complex", fields=fields)
    if issubclass(cls, Integer):
        return _Field(name, tag, "int", bits=32 if cls.get_type_name() == "int" else 64)
    if issubclass(cls, Unicode):
        return _Field(name, tag, "text")
    raise TypeError(f"no fast reader for {cls!r}")


def _no_attributes(element: Any) -> None:
    if element.attrib:
        raise _HandBackError


_ANY_ATTRIBUTE = etree.XPath("boolean(descendant-or-self::*/@*)")
_PARSERS = threading.local()


def _parse(body: bytes, charset: str | None) -> Any:
    """The document as ``protocol.parse_envelope`` parses it (same parser options,
    same encoding rule), without collecting xml:id values nobody uses here;
    whatever it would refuse is handed back for Spyne to refuse."""
    if not body.strip():
        raise _HandBackError
    encoding = charset if charset and not _SELF_DESCRIBED.match(body[:200]) else None
    cache: dict[str | None, Any] = getattr(_PARSERS, "by_encoding", None) or {}
    _PARSERS.by_encoding = cache
    parser = cache.get(encoding)
    if parser is None:
        options: dict[str, Any] = dict(_PARSER_OPTIONS)
        if encoding:
            options["encoding"] = encoding
        parser = cache.setdefault(encoding, etree.XMLParser(**options))
    root = etree.fromstring(body, parser)  # XMLSyntaxError: handed back
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _HandBackError
    return root


def _read_simple(field: _Field, element: Any) -> Any:
    if len(element):
        raise _HandBackError  # markup inside a value (comments are gone already)
    text = element.text
    if field.kind == "text":
        return "" if text is None else text
    if text is None or not _PLAIN_INT.fullmatch(text):
        raise _HandBackError
    value = int(text)
    low, high = _INT_RANGE[field.bits]
    if not low <= value <= high:
        raise _HandBackError
    return value


def _read_complex(field: _Field, element: Any) -> dict[str, Any]:
    """The element's fields by name; an absent field is absent from the dict.

    The caller has made sure no element of the request carries an attribute.
    """
    fields = field.fields or {}
    values: dict[str, Any] = {}
    for child in element:
        member = fields.get(child.tag)
        if member is None:
            # Spyne reads fields by local name in any namespace and skips
            # unknown ones: leave that to it.
            raise _HandBackError
        name = member.name
        if name in values:
            raise _HandBackError  # Spyne keeps the last of a repeated field
        if member.kind == "text":
            # The bulk of a batch: inlined. Markup inside a value goes to Spyne.
            if len(child):
                raise _HandBackError
            text = child.text
            values[name] = "" if text is None else text
        else:
            values[name] = _read(member, child)
    return values


def _read(field: _Field, element: Any) -> Any:
    if field.kind == "complex":
        return _read_complex(field, element)
    if field.kind == "array":
        item = field.item
        if item is None:
            raise _HandBackError
        out = []
        for child in element:
            if child.tag != item.tag:
                raise _HandBackError  # Spyne reads any child of an array as a member
            out.append(_read(item, child))
        return out
    return _read_simple(field, element)


# --- Writing: plans built from the operation's Spyne output message ---------


@dataclass(frozen=True)
class _Out:
    name: str
    tag: str
    kind: str  # "text", "int", "bool", "complex", "array"
    required: bool
    fields: tuple[_Out, ...] = ()
    item: _Out | None = None


def _write_plan(name: str, cls: Any) -> _Out:
    tag = f"{{{TNS}}}{name}"
    required = cls.Attributes.min_occurs > 0
    if issubclass(cls, Array):
        ((member_name, member),) = cls._type_info.items()
        return _Out(name, tag, "array", required, item=_write_plan(member_name, member))
    if issubclass(cls, ComplexModel):
        fields = tuple(_write_plan(n, t) for n, t in cls._type_info.items())
        return _Out(name, tag, "complex", required, fields=fields)
    if issubclass(cls, Boolean):
        return _Out(name, tag, "bool", required)
    if issubclass(cls, Integer):
        return _Out(name, tag, "int", required)
    if issubclass(cls, Unicode):
        return _Out(name, tag, "text", required)
    raise TypeError(f"no fast writer for {cls!r}")


_SubElement = etree.SubElement


def _write_fields(plan: _Out, values: Mapping[str, Any], parent: Any) -> None:
    for field in plan.fields:
        value = values.get(field.name)
        if value is None:
            if field.required:
                # What Spyne writes for a missing required value (no answer of
                # ours should have one; the text writer leaves it to this one).
                _SubElement(parent, field.tag, {_XSI_NIL: "true"})
            continue
        _write(field, value, parent)


def _write(field: _Out, value: Any, parent: Any) -> None:
    element = _SubElement(parent, field.tag)
    kind = field.kind
    if kind == "text":
        element.text = value
    elif kind == "int":
        element.text = str(int(value))
    elif kind == "bool":
        element.text = "true" if value else "false"
    elif kind == "complex":
        _write_fields(field, value, element)
    else:
        item = field.item
        if item is None:
            raise TypeError(f"{field.name} has no member type")
        for member in value:
            _write(item, member, element)


class _NotPlainError(Exception):
    """A value the text writer does not vouch for: the lxml writer decides."""


# Characters lxml writes as they are (or as the four escapes below); anything
# else, e.g. a control character it refuses, goes through lxml itself.
_PLAIN_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def _escape(value: str) -> str:
    """Text content exactly as libxml2 serialises it."""
    if not _PLAIN_TEXT.fullmatch(value):
        raise _NotPlainError
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


@dataclass(frozen=True)
class _TextOut:
    """One field of the answer as text: its tags with the prefix Spyne's answer uses."""

    name: str
    kind: str
    required: bool
    open: str
    close: str
    empty: str
    fields: tuple[_TextOut, ...] = ()
    item: _TextOut | None = None


def _text_plan(plan: _Out, prefix: str) -> _TextOut:
    local = plan.tag.rpartition("}")[2]
    return _TextOut(
        name=plan.name,
        kind=plan.kind,
        required=plan.required,
        open=f"<{prefix}:{local}>",
        close=f"</{prefix}:{local}>",
        empty=f"<{prefix}:{local}/>",
        fields=tuple(_text_plan(field, prefix) for field in plan.fields),
        item=_text_plan(plan.item, prefix) if plan.item is not None else None,
    )


def _text_write(field: _TextOut, value: Any, out: list[str]) -> None:
    """What ``_write`` builds and lxml serialises, written directly."""
    kind = field.kind
    if kind == "text":
        out.append(f"{field.open}{_escape(value)}{field.close}")
    elif kind == "int":
        out.append(f"{field.open}{int(value)}{field.close}")
    elif kind == "bool":
        out.append(f"{field.open}{'true' if value else 'false'}{field.close}")
    elif kind == "complex":
        start = len(out)
        out.append(field.open)
        for member in field.fields:
            sub = value.get(member.name)
            if sub is None:
                if member.required:
                    raise _NotPlainError
                continue
            _text_write(member, sub, out)
        if len(out) == start + 1:
            out[start] = field.empty
        else:
            out.append(field.close)
    else:
        item = field.item
        if item is None or not value:
            out.append(field.empty)
            return
        out.append(field.open)
        for member_value in value:
            _text_write(item, member_value, out)
        out.append(field.close)


# --- The operations ---------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    name: str
    request: _Field
    response_tag: str
    result: _Out
    text: _TextOut
    head: str  # the envelope up to the result, as the lxml writer makes it
    tail: str
    handler: Callable[[Runtime, dict[str, Any], dict[str, Any]], dict[str, Any]]


def _authenticate(
    runtime: Runtime, environ: dict[str, Any], auth: dict[str, Any] | None
) -> instances.Instance:
    if auth is None:
        raise RequestValidationError("AUTH is required", field="AUTH")
    instance = instances.authenticate(
        runtime.store,
        auth.get("INSTANCE") or "",
        auth.get("USERNAME") or "",
        auth.get("PASSWORD") or "",
        guard=runtime.auth_guard,
        client_address=environ.get("REMOTE_ADDR"),
    )
    context.note_instance(instance.name)
    return instance


def _update_reservations(
    runtime: Runtime, environ: dict[str, Any], args: dict[str, Any]
) -> dict[str, Any]:
    instance = _authenticate(runtime, environ, args.get("AUTH"))
    items = [
        {name: item.get(name) for name in FIELD_NAMES} for item in (args.get("RESERVATIONS") or [])
    ]
    return operations.update_reservations(runtime, instance, items)


def _get_reservations(
    runtime: Runtime, environ: dict[str, Any], args: dict[str, Any]
) -> dict[str, Any]:
    instance = _authenticate(runtime, environ, args.get("AUTH"))
    return operations.get_reservations(runtime, instance, args)


def _update_messages(
    runtime: Runtime, environ: dict[str, Any], args: dict[str, Any]
) -> dict[str, Any]:
    instance = _authenticate(runtime, environ, args.get("AUTH"))
    items = [
        {name: item.get(name) for name in operations.MESSAGE_FIELDS}
        for item in (args.get("MESSAGES") or [])
    ]
    return operations.update_messages(runtime, instance, items)


def _search_messages(
    runtime: Runtime, environ: dict[str, Any], args: dict[str, Any]
) -> dict[str, Any]:
    instance = _authenticate(runtime, environ, args.get("AUTH"))
    return operations.search_messages(runtime, instance, args)


_HANDLERS: dict[str, Callable[[Runtime, dict[str, Any], dict[str, Any]], dict[str, Any]]] = {
    "updateReservations": _update_reservations,
    "getReservations": _get_reservations,
    "updateMessages": _update_messages,
    "searchMessages": _search_messages,
}


def _operations(service: Any, nsmap: dict[str, str]) -> dict[str, _Operation]:
    """Each operation's reader and writer, from its Spyne method descriptor."""
    found: dict[str, _Operation] = {}
    for descriptor in service.public_methods.values():
        name = descriptor.operation_name
        handler = _HANDLERS.get(name)
        if handler is None:
            continue
        request = _read_plan(name, descriptor.in_message)
        ((result_name, result_cls),) = descriptor.out_message._type_info.items()
        response_tag = f"{{{TNS}}}{descriptor.out_message.get_type_name()}"
        # The lxml writer's envelope around a placeholder gives the text
        # writer its head, tail and the prefix of our namespace.
        envelope = etree.Element(_ENVELOPE, nsmap=nsmap)
        response = _SubElement(_SubElement(envelope, _BODY), response_tag)
        response.text = "RESULT"
        etree.cleanup_namespaces(envelope)
        head, tail = _serialise(envelope).decode().split("RESULT")
        prefix = response.prefix or ""
        result = _write_plan(result_name, result_cls)
        found[f"{{{TNS}}}{name}"] = _Operation(
            name=name,
            request=request,
            response_tag=response_tag,
            result=result,
            text=_text_plan(result, prefix),
            head=head,
            tail=tail,
            handler=handler,
        )
    return found


def _serialise(envelope: Any) -> bytes:
    return bytes(etree.tostring(envelope, encoding="UTF-8", xml_declaration=True))


@dataclass(frozen=True)
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class FastSoap:
    """Answers the requests it reads exactly as Spyne would; ``None`` for the rest."""

    def __init__(self, runtime: Runtime, spyne_app: Any) -> None:
        from .service import TuotempoService

        self.runtime = runtime
        # The declarations Spyne puts on its Envelope (cleaned up after writing).
        self.nsmap = dict(spyne_app.interface.nsmap)
        self.operations = _operations(TuotempoService, self.nsmap)
        self.answered = 0  # requests this path answered (the rest went to Spyne)

    def __call__(self, environ: dict[str, Any], body: bytes) -> Answer | None:
        try:
            operation, args = self.read(environ, body)
        except Exception:
            # _HandBackError, a binding or envelope fault, or anything unforeseen:
            # nothing has run yet, so Spyne reads it again and answers.
            return None
        requested = f"{{{TNS}}}{operation.name}"
        self.answered += 1
        context.note_operation(operation.name)
        try:
            result = operation.handler(self.runtime, environ, args)
        except TuotempoError as error:
            return self._fault(fault_for(error), requested)
        except Exception as error:
            return self._fault(internal_fault(requested, error), requested)
        try:
            data = self.write(operation, result)
        except Exception as error:
            return self._fault(internal_fault(requested, error), requested)
        return Answer("200 OK", [("Content-Type", XML), ("Content-Length", str(len(data)))], data)

    def write(self, operation: _Operation, result: Mapping[str, Any]) -> bytes:
        """The answer envelope, byte for byte as Spyne's Soap11 writes it."""
        out = [operation.head]
        try:
            _text_write(operation.text, result, out)
        except _NotPlainError:
            return self.write_tree(operation, result)
        out.append(operation.tail)
        return "".join(out).encode()

    def write_tree(self, operation: _Operation, result: Mapping[str, Any]) -> bytes:
        """The same through an lxml tree, as Spyne's Soap11 builds and cleans it."""
        envelope = etree.Element(_ENVELOPE, nsmap=self.nsmap)
        response = _SubElement(_SubElement(envelope, _BODY), operation.response_tag)
        _write(operation.result, result, response)
        etree.cleanup_namespaces(envelope)
        return _serialise(envelope)

    def read(self, environ: dict[str, Any], body: bytes) -> tuple[_Operation, dict[str, Any]]:
        """The operation and its arguments as plain dicts; raises when Spyne must answer."""
        media = read_content_type(environ.get("CONTENT_TYPE"))
        root = _parse(body, media.charset)
        check_envelope(root)
        if media.soap12:
            raise _HandBackError
        check_body(root)
        _no_attributes(root)
        request = None
        for child in root:
            if child.tag == _BODY:
                _no_attributes(child)
                (request,) = [c for c in child if isinstance(c.tag, str)]
            elif child.tag == _HEADER:
                if len(child) or child.attrib:
                    raise _HandBackError  # Spyne's header handling decides
            else:
                raise _HandBackError
        if request is None:
            raise _HandBackError
        operation = self.operations.get(request.tag)
        if operation is None:
            raise _HandBackError
        if _ANY_ATTRIBUTE(request):
            # xsi:nil, xsi:type and attributes named like fields all change
            # what Spyne reads (namespace declarations are not attributes).
            raise _HandBackError
        check_soap_action(environ.get("HTTP_SOAPACTION"), operation.name)
        return operation, _read_complex(operation.request, request)

    def _fault(self, fault: ServiceFaultError, requested: str) -> Answer:
        # What HardenedSoap11.serialize and Spyne's WSGI server make of a fault.
        log_fault(fault, requested)
        headers = [("Content-Type", XML)]
        if fault.retry_after is not None:
            headers.append(("Retry-After", str(fault.retry_after)))
        data = etree.tostring(fault_document(fault), encoding="UTF-8", xml_declaration=True)
        headers.append(("Content-Length", str(len(data))))
        return Answer(fault.http_status, headers, data)
