"""Make Spyne's WSDL one that every client generator takes without complaint.

Spyne declares a dozen namespaces it never uses (SOAP 1.2 among them), a global
element for every type, the service before the binding and a placeholder
transport. We keep what the contract needs, in the order WSDL 1.1 tooling
expects (types, messages, portType, binding, service).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lxml import etree

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS_NS = "http://www.w3.org/2001/XMLSchema"
SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
# Our WSDL's committed address: this server's default bind. The served WSDL
# replaces it (``with_location``).
LOCATION_PLACEHOLDER = "http://localhost:8000/soap"
# The clinic-side contract is implemented by each clinic, never by this server:
# a stub generated from the file must not call us (or anyone) until the vendor
# sets the clinic's address. ".invalid" never resolves (RFC 6761), so it fails
# at once and the path says what to do.
CLINIC_LOCATION_PLACEHOLDER = "http://clinic.invalid/CHANGE-ME-to-your-clinic-endpoint"


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def clean_wsdl(spyne_wsdl: bytes, location: str = LOCATION_PLACEHOLDER) -> bytes:
    root = etree.fromstring(spyne_wsdl, etree.XMLParser(remove_blank_text=True))
    referenced = {part.get("element", "").split(":")[-1] for part in root.iter(_q(WSDL_NS, "part"))}
    for schema in root.iter(_q(XS_NS, "schema")):
        for element in schema.findall(_q(XS_NS, "element")):
            if element.get("name") not in referenced:
                schema.remove(element)
        _sort_children(schema)
    _sort_children(root, only=_q(WSDL_NS, "message"))
    for container in (*root.iter(_q(WSDL_NS, "portType")), *root.iter(_q(WSDL_NS, "binding"))):
        _sort_children(container, only=_q(WSDL_NS, "operation"))
    for binding in root.iter(_q(SOAP_NS, "binding")):
        binding.set("transport", SOAP_HTTP_TRANSPORT)
    for operation in root.iter(_q(WSDL_NS, "operation")):
        operation.attrib.pop("parameterOrder", None)
    for service in root.findall(_q(WSDL_NS, "service")):
        root.remove(service)
        root.append(service)
    for address in root.iter(_q(SOAP_NS, "address")):
        address.set("location", location)
    etree.cleanup_namespaces(root, top_nsmap={}, keep_ns_prefixes=["xs", "tns", "wsdl", "soap"])
    return _rename_prefixes(root)


def _sort_children(parent: etree._Element, only: str | None = None) -> None:
    """Spyne's output order depends on hash seeds; sort by kind and name so the
    published WSDL is byte-for-byte reproducible (the golden test relies on it)."""
    children = [child for child in parent if only is None or child.tag == only]
    if not children:
        return
    anchor = parent.index(children[0])
    for child in children:
        parent.remove(child)
    kinds = {_q(XS_NS, "simpleType"): 0, _q(XS_NS, "complexType"): 1, _q(XS_NS, "element"): 2}
    children.sort(key=lambda c: (kinds.get(c.tag, 0), c.get("name", "")))
    for offset, child in enumerate(children):
        parent.insert(anchor + offset, child)


def _rename_prefixes(root: etree._Element) -> bytes:
    """Spyne writes ``wsdlsoap11:``; every WSDL in the wild says ``soap:``."""
    text = etree.tostring(root, encoding="unicode")
    text = text.replace("xmlns:wsdlsoap11=", "xmlns:soap=").replace("<wsdlsoap11:", "<soap:")
    text = text.replace("</wsdlsoap11:", "</soap:")
    reparsed = etree.fromstring(text.encode(), etree.XMLParser(remove_blank_text=True))
    etree.cleanup_namespaces(reparsed, keep_ns_prefixes=["xs", "tns"])
    return etree.tostring(reparsed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def with_location(wsdl: bytes, location: str, placeholder: str = LOCATION_PLACEHOLDER) -> bytes:
    """The published WSDL with ``location`` as its endpoint address."""
    old = f'location="{placeholder}"'.encode()
    if old not in wsdl:
        # Silently serving the placeholder would send clients somewhere else.
        raise ValueError(f"the WSDL does not hold the address placeholder {placeholder}")
    value = escape(location, {'"': "&quot;"})  # an attribute: a URL may hold & or "
    return wsdl.replace(old, f'location="{value}"'.encode(), 1)
