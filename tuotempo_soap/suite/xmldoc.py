"""The one way this package reads XML: projects, WSDLs and answers alike.

The parser never resolves entities, never loads a DTD and never touches the
network; a document that declares a DOCTYPE is refused outright, so nothing in
a project file or a server's answer can make the runner read local files or
call out (XXE) or expand entities without bound.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAPUI = "http://eviware.com/soapui/config"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


class XmlError(ValueError):
    """Not well-formed, or carries a DOCTYPE we refuse to read."""


def safe_parser(encoding: str | None = None) -> Any:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        encoding=encoding,
    )


def parse_xml(data: bytes | str, what: str) -> Any:
    """The root element of ``data``; ``what`` names the document in errors."""
    parser = safe_parser()
    if isinstance(data, str):
        # Text already decoded: its encoding declaration no longer applies.
        data = data.encode("utf-8")
        parser = safe_parser("utf-8")
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"{what} is not well-formed XML: {exc}") from None
    if root is None:
        raise XmlError(f"{what} is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlError(f"{what} declares a DOCTYPE, which is not read")
    return root


def text_of(element: Any) -> str:
    """The text directly inside ``element`` (its own text nodes, as SoapUI reads
    an element's value), or its whole text content when it has no text nodes."""
    own = "".join(str(part) for part in element.xpath("text()"))
    if own or len(element) == 0:
        return own
    return "".join(element.itertext())
