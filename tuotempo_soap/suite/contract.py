"""The WSDL a project caches for an interface, read into what the runner needs:
each operation's SOAPAction and message elements, and the XML Schema of its
``wsdl:types`` to check answers against (the Schema Compliance assertion).

Only the definition parts cached in the project are ever read: an
``xs:import``/``xs:include`` that names anything else is refused, never fetched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .errors import ProjectError
from .xmldoc import SOAP11_ENV, WSDL, WSDL_SOAP11, XSD, XmlError, parse_xml, safe_parser

_INLINE = "urn:tuotempo-soap:inline-schema:"


@dataclass(frozen=True)
class OperationContract:
    name: str
    soap_action: str
    input_element: str | None  # "{namespace}local"
    output_element: str | None
    fault_elements: tuple[str, ...]


class _CachedParts(etree.Resolver):
    """Serves schema documents from the project's definition cache only."""

    def __init__(self, parts: dict[str, bytes]) -> None:
        super().__init__()
        self.parts = parts
        self.refused: list[str] = []

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        if system_url in self.parts:
            return self.resolve_string(self.parts[system_url], context)
        self.refused.append(system_url)
        # Something no schema parser accepts: the build fails, naming the URL.
        return self.resolve_string(b"<refused/>", context)


def _qname(element: Any, value: str | None) -> str | None:
    if not value:
        return None
    prefix, _, local = value.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    if prefix and namespace is None:
        raise ProjectError(f"the WSDL names {value!r} with an undeclared prefix")
    return f"{{{namespace}}}{local}" if namespace else local


class Contract:
    """One WSDL binding: operations by name, and the schemas of its types."""

    def __init__(
        self, definition: str, parts: dict[str, bytes], binding: str | None, interface: str
    ) -> None:
        self.interface = interface
        try:
            root = parse_xml(parts[definition], f"the cached WSDL of interface {interface!r}")
        except XmlError as exc:
            raise ProjectError(str(exc)) from None
        if root.tag != f"{{{WSDL}}}definitions":
            raise ProjectError(f"the cached definition of interface {interface!r} is not a WSDL")
        self.operations = self._operations(root, binding)
        self._schemas = self._schemas_of(root, definition, parts)

    # --- operations ---------------------------------------------------------

    def _operations(self, root: Any, binding_name: str | None) -> dict[str, OperationContract]:
        tns = root.get("targetNamespace")
        messages: dict[str, str | None] = {}
        for message in root.iterfind(f"{{{WSDL}}}message"):
            part = message.find(f"{{{WSDL}}}part")
            element = _qname(part, part.get("element")) if part is not None else None
            messages[f"{{{tns}}}{message.get('name')}"] = element
        bindings = list(root.iterfind(f"{{{WSDL}}}binding"))
        chosen = None
        for binding in bindings:
            named = binding_name in (None, f"{{{tns}}}{binding.get('name')}", binding.get("name"))
            if named and binding.find(f"{{{WSDL_SOAP11}}}binding") is not None:
                chosen = binding
                break
        if chosen is None:
            raise ProjectError(
                f"the WSDL of interface {self.interface!r} has no SOAP 1.1 binding"
                + (f" named {binding_name}" if binding_name else "")
            )
        port_type_name = _qname(chosen, chosen.get("type"))
        port_type = next(
            (
                item
                for item in root.iterfind(f"{{{WSDL}}}portType")
                if f"{{{tns}}}{item.get('name')}" == port_type_name
            ),
            None,
        )
        if port_type is None:
            raise ProjectError(
                f"the WSDL binding names a portType it does not define: {port_type_name}"
            )
        abstract = {item.get("name"): item for item in port_type.iterfind(f"{{{WSDL}}}operation")}
        operations: dict[str, OperationContract] = {}
        for item in chosen.iterfind(f"{{{WSDL}}}operation"):
            name = item.get("name")
            soap_operation = item.find(f"{{{WSDL_SOAP11}}}operation")
            action = soap_operation.get("soapAction", "") if soap_operation is not None else ""
            declared = abstract.get(name)
            if declared is None:
                raise ProjectError(f"the WSDL binds operation {name} that its portType lacks")

            def element_of(kind: str, declared: Any = declared) -> str | None:
                node = declared.find(f"{{{WSDL}}}{kind}")
                if node is None:
                    return None
                return messages.get(_qname(node, node.get("message")) or "")

            faults = tuple(
                element
                for node in declared.iterfind(f"{{{WSDL}}}fault")
                if (element := messages.get(_qname(node, node.get("message")) or ""))
            )
            operations[name] = OperationContract(
                name, action, element_of("input"), element_of("output"), faults
            )
        return operations

    # --- schemas ------------------------------------------------------------

    def _schemas_of(self, root: Any, definition: str, parts: dict[str, bytes]) -> dict[str, Any]:
        inline = list(root.iterfind(f"{{{WSDL}}}types/{{{XSD}}}schema"))
        documents = dict(parts)
        by_namespace = {}
        for number, schema in enumerate(inline):
            # A schema inside a WSDL leans on the WSDL's namespace declarations
            # (type="tns:..."): give it every one in scope, as its own root.
            standalone = etree.Element(schema.tag, attrib=dict(schema.attrib), nsmap=schema.nsmap)
            standalone.extend(copy.deepcopy(child) for child in schema)
            by_namespace[schema.get("targetNamespace", "")] = f"{_INLINE}{number}"
            documents[f"{_INLINE}{number}"] = etree.tostring(standalone)
        for url in by_namespace.values():
            # Inline schemas import each other by namespace alone: point those
            # imports at the sibling schema, which the resolver then serves.
            tree = etree.fromstring(documents[url], safe_parser())
            for node in tree.iterfind(f"{{{XSD}}}import"):
                target = by_namespace.get(node.get("namespace", ""))
                if target and not node.get("schemaLocation"):
                    node.set("schemaLocation", target)
            documents[url] = etree.tostring(tree)
        schemas: dict[str, Any] = {}
        for namespace, url in by_namespace.items():
            resolver = _CachedParts(documents)
            parser = safe_parser()
            parser.resolvers.add(resolver)
            try:
                tree = etree.fromstring(documents[url], parser, base_url=definition)
                schemas[namespace] = etree.XMLSchema(tree)
            except etree.XMLSchemaParseError as exc:
                if resolver.refused:
                    raise ProjectError(
                        f"the WSDL of interface {self.interface!r} refers to "
                        f"{', '.join(resolver.refused)}, which the project does not cache; "
                        "nothing outside the project file is fetched"
                    ) from None
                raise ProjectError(
                    f"the schema in the WSDL of interface {self.interface!r} is invalid: {exc}"
                ) from None
        return schemas

    # --- checking answers ---------------------------------------------------

    def validate_element(self, element: Any) -> list[str]:
        """Errors of ``element`` against the global declaration of its name."""
        namespace = etree.QName(element).namespace or ""
        schema = self._schemas.get(namespace)
        if schema is None:
            return [f"{element.tag} is in a namespace no schema of the WSDL declares"]
        alone = etree.fromstring(etree.tostring(element), safe_parser())
        if schema.validate(alone):
            return []
        return [f"line {error.line}: {error.message}" for error in schema.error_log]

    def check_answer(self, envelope: Any, operation: str) -> list[str]:
        """What is wrong with a SOAP 1.1 answer to ``operation`` by the WSDL:
        the envelope's shape, the response element, or a fault's typed detail."""
        contract = self.operations[operation]
        if envelope.tag != f"{{{SOAP11_ENV}}}Envelope":
            return [f"the answer's root is {envelope.tag}, not a SOAP 1.1 Envelope"]
        children = [child for child in envelope if isinstance(child.tag, str)]
        names = [etree.QName(child).localname for child in children]
        if names not in (["Body"], ["Header", "Body"]) or any(
            etree.QName(child).namespace != SOAP11_ENV for child in children
        ):
            return [f"the Envelope holds {names}, not an optional Header and one Body"]
        body = [child for child in children[-1] if isinstance(child.tag, str)]
        if len(body) != 1:
            return [f"the Body holds {len(body)} elements, not 1"]
        answer = body[0]
        if answer.tag == f"{{{SOAP11_ENV}}}Fault":
            return self._check_fault(answer, contract)
        if contract.output_element and answer.tag != contract.output_element:
            return [f"the Body holds {answer.tag}; {operation} answers {contract.output_element}"]
        return self.validate_element(answer)

    def _check_fault(self, fault: Any, contract: OperationContract) -> list[str]:
        parts = [etree.QName(child).localname for child in fault if isinstance(child.tag, str)]
        errors = []
        if parts[:2] != ["faultcode", "faultstring"] or any(
            name not in ("faultcode", "faultstring", "faultactor", "detail") for name in parts
        ):
            errors.append(
                f"the Fault holds {parts}, not faultcode, faultstring[, faultactor][, detail]"
            )
        detail = fault.find("detail")
        for item in detail if detail is not None else ():
            if not isinstance(item.tag, str):
                continue
            if item.tag not in contract.fault_elements:
                errors.append(
                    f"the fault detail holds {item.tag}, which {contract.name} does not declare"
                )
                continue
            errors.extend(self.validate_element(item))
        return errors
