"""The assertion kinds the runner supports, each judged as SoapUI judges it.

``judge`` takes one assertion of a project and the exchange a request step
made, and says whether it holds and why (or why not), in words close to
SoapUI's own so a QA engineer reads the same failure in both tools.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .contract import Contract
from .project import (
    CONTAINS,
    INVALID_STATUS,
    NOT_CONTAINS,
    NOT_SOAP_FAULT,
    RESPONSE_SLA,
    SCHEMA_COMPLIANCE,
    SOAP_FAULT,
    SOAP_RESPONSE,
    VALID_STATUS,
    XPATH_MATCH,
    Assertion,
)
from .xmldoc import SOAP11_ENV, XmlError, parse_xml, safe_parser
from .xpath import Match, XPathError, select, split

_MAX_SHOWN = 300


@dataclass
class Exchange:
    """One HTTP request a step sent and what came back."""

    status: int
    text: str  # the answer, decoded
    content: bytes
    milliseconds: float
    operation: str | None = None  # the WSDL operation of a SOAP request step
    contract: Contract | None = None
    _document: Any = field(default=None, repr=False)
    _document_error: str | None = field(default=None, repr=False)

    def document(self) -> Any:
        """The answer parsed (once); ``XmlError`` if it is not XML we read."""
        if self._document is None and self._document_error is None:
            try:
                self._document = parse_xml(self.content, "the response")
            except XmlError as exc:
                self._document_error = str(exc)
        if self._document_error is not None:
            raise XmlError(self._document_error)
        return self._document


class AssertionFailedError(Exception):
    pass


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "..."


def _fault(exchange: Exchange) -> Any:
    root = exchange.document()
    if root.tag != f"{{{SOAP11_ENV}}}Envelope":
        raise AssertionFailedError(f"Response is not a SOAP 1.1 envelope (its root is {root.tag})")
    return root.find(f"{{{SOAP11_ENV}}}Body/{{{SOAP11_ENV}}}Fault")


def _soap_response(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    root = exchange.document()
    if root.tag != f"{{{SOAP11_ENV}}}Envelope":
        raise AssertionFailedError(f"Response is not a SOAP 1.1 envelope (its root is {root.tag})")
    if root.find(f"{{{SOAP11_ENV}}}Body") is None:
        raise AssertionFailedError("Response has no SOAP Body")
    return "Response is a SOAP 1.1 envelope"


def _schema(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    if exchange.contract is None or exchange.operation is None:
        raise AssertionFailedError("no WSDL operation to check the response against")
    errors = exchange.contract.check_answer(exchange.document(), exchange.operation)
    if errors:
        raise AssertionFailedError("Schema compliance failed: " + "; ".join(errors[:5]))
    return "Schema compliance OK"


def _not_soap_fault(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    fault = _fault(exchange)
    if fault is not None:
        code = fault.findtext("faultcode") or ""
        text = fault.findtext("faultstring") or ""
        raise AssertionFailedError(f"Response is a SOAP Fault: {code}: {_short(text)}")
    return "Response is not a SOAP Fault"


def _soap_fault(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    if _fault(exchange) is None:
        raise AssertionFailedError("Response is not a SOAP Fault")
    return "Response is a SOAP Fault"


def _similar(expected: str, actual: str) -> bool:
    """SoapUI's wildcard match: ``*`` in the expected value stands for anything."""
    pattern = ".*".join(re.escape(part) for part in expected.split("*"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def _canonical(node: Any, ignore_comments: bool) -> bytes:
    copy = etree.fromstring(etree.tostring(node), safe_parser())
    for element in copy.iter():
        if element.text is not None and not element.text.strip():
            element.text = None
        if element.tail is not None and not element.tail.strip():
            element.tail = None
    return bytes(etree.tostring(copy, method="c14n", with_comments=not ignore_comments))


def _xpath_match(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    config = assertion.config
    path = expand(config.get("path", ""))
    expected = expand(config.get("content", ""))
    wildcards = config.get("allowWildcards", "false").strip().lower() == "true"
    ignore_comments = config.get("ignoreComments", "false").strip().lower() == "true"
    try:
        document = exchange.document()
    except XmlError as exc:
        raise AssertionFailedError(f"XPath Match on a response that is not XML: {exc}") from None
    try:
        shown = _short(split(path)[1])  # the expression, without its namespace prolog
        matches: list[Match] = select(document, path)
    except XPathError as exc:
        raise AssertionFailedError(f"XPath Match failed: {exc}") from None
    if not matches:
        raise AssertionFailedError(f"Missing content for xpath [{shown}] in Response")
    expected_xml = None
    if expected.lstrip().startswith("<"):
        try:
            expected_xml = _canonical(
                etree.fromstring(expected.encode(), safe_parser()), ignore_comments
            )
        except etree.XMLSyntaxError:
            expected_xml = None
    for match in matches:
        if expected_xml is not None and match.node is not None:
            if _canonical(match.node, ignore_comments) == expected_xml:
                return f"Response matches content for [{shown}]"
            continue
        if wildcards and match.kind in ("element", "attribute"):
            if _similar(expected, match.text):
                return f"Response matches content for [{shown}]"
        elif match.text == expected:
            return f"Response matches content for [{shown}]"
    actual = ", ".join(f"[{_short(match.text)}]" for match in matches[:3])
    more = f" and {len(matches) - 3} more" if len(matches) > 3 else ""
    raise AssertionFailedError(
        f"XPath Match failed for [{shown}]: expecting [{_short(expected)}], "
        f"actual was {actual}{more}"
    )


def _contains(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    token, found = _find_token(assertion, exchange, expand)
    if not found:
        raise AssertionFailedError(f"Missing token [{_short(token)}] in Response")
    return f"Response contains token [{_short(token)}]"


def _not_contains(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    token, found = _find_token(assertion, exchange, expand)
    if found:
        raise AssertionFailedError(f"Response contains token [{_short(token)}]")
    return f"Response does not contain token [{_short(token)}]"


def _find_token(
    assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]
) -> tuple[str, bool]:
    config = assertion.config
    token = expand(config.get("token", "")).replace("\r\n", "\n")
    content = exchange.text.replace("\r\n", "\n")
    if not token:
        return token, True
    if config.get("useRegEx", "false").strip().lower() == "true":
        # SoapUI: String.matches, the whole response against the expression.
        try:
            return token, re.fullmatch(token, content) is not None
        except re.error as exc:
            raise AssertionFailedError(
                f"the regular expression [{token}] is invalid: {exc}"
            ) from None
    if config.get("ignoreCase", "false").strip().lower() == "true":
        return token, token.upper() in content.upper()
    return token, token in content


def _codes(assertion: Assertion) -> set[int]:
    return {int(code) for code in assertion.config.get("codes", "").split(",") if code.strip()}


def _valid_status(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    codes = _codes(assertion)
    if exchange.status not in codes:
        expected = ", ".join(str(code) for code in sorted(codes))
        raise AssertionFailedError(f"Response status code {exchange.status} is not in [{expected}]")
    return f"Response status code {exchange.status} is valid"


def _invalid_status(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    if exchange.status in _codes(assertion):
        raise AssertionFailedError(
            f"Response status code {exchange.status} is among the invalid ones"
        )
    return f"Response status code {exchange.status} is not invalid"


def _sla(assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]) -> str:
    limit = int(assertion.config.get("SLA", "0").strip())
    if exchange.milliseconds > limit:
        raise AssertionFailedError(
            f"Response did not meet SLA {exchange.milliseconds:.0f} > {limit} ms"
        )
    return f"Response took {exchange.milliseconds:.0f} ms, within {limit} ms"


_JUDGES: dict[str, Callable[[Assertion, Exchange, Callable[[str], str]], str]] = {
    SOAP_RESPONSE: _soap_response,
    SCHEMA_COMPLIANCE: _schema,
    NOT_SOAP_FAULT: _not_soap_fault,
    SOAP_FAULT: _soap_fault,
    XPATH_MATCH: _xpath_match,
    CONTAINS: _contains,
    NOT_CONTAINS: _not_contains,
    VALID_STATUS: _valid_status,
    INVALID_STATUS: _invalid_status,
    RESPONSE_SLA: _sla,
}


def judge(
    assertion: Assertion, exchange: Exchange, expand: Callable[[str], str]
) -> tuple[bool, str]:
    """(holds, why) for one assertion; any problem evaluating it is a failure."""
    try:
        return True, _JUDGES[assertion.kind](assertion, exchange, expand)
    except AssertionFailedError as exc:
        return False, str(exc)
    except XmlError as exc:
        return False, f"{assertion.label}: {exc}"
    except ValueError as exc:  # an expansion naming a property that does not exist
        return False, f"{assertion.label}: {exc}"
