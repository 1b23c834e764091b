"""XPath as SoapUI projects write it, evaluated with lxml.

SoapUI puts namespace declarations in front of the expression
(``declare namespace tns='urn:x'; //tns:RESULT``) and compares results as
text: a node by its text, a number without a trailing ``.0``, a boolean as
``true``/``false``. Projects meant for both SoapUI (XPath 2.0) and this runner
(XPath 1.0) keep to what the two share: paths, predicates, ``count()``,
comparisons, ``string-length()`` and the like.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .xmldoc import text_of

_DECLARE = re.compile(
    r"\s*declare\s+namespace\s+([A-Za-z_][\w.\-]*)\s*=\s*(['\"])(.*?)\2\s*;", re.DOTALL
)


class XPathError(ValueError):
    pass


@dataclass(frozen=True)
class Match:
    """One result of an XPath: its text, and whether it was an element, an
    attribute, a text node or a computed value (``atomic``)."""

    text: str
    kind: str
    node: Any = None


def split(path: str) -> tuple[dict[str, str], str]:
    namespaces: dict[str, str] = {}
    rest = path
    while True:
        found = _DECLARE.match(rest)
        if not found:
            break
        namespaces[found.group(1)] = found.group(3)
        rest = rest[found.end() :]
    expression = rest.strip()
    if expression.startswith("declare "):
        raise XPathError(f"unsupported XPath prolog: {expression.splitlines()[0]}")
    if not expression:
        raise XPathError("the XPath is empty")
    return namespaces, expression


def format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def select(root: Any, path: str) -> list[Match]:
    """Every result of ``path`` on the document ``root``, in document order."""
    namespaces, expression = split(path)
    try:
        result = etree.XPath(expression, namespaces=namespaces)(root)
    except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
        raise XPathError(f"cannot evaluate [{expression}]: {exc}") from None
    if not isinstance(result, list):
        return [Match(format_value(result), "atomic")]
    matches = []
    for item in result:
        if isinstance(item, etree._Element):
            if not isinstance(item.tag, str):  # a comment or processing instruction
                matches.append(Match(item.text or "", "text", item))
                continue
            matches.append(Match(text_of(item), "element", item))
        elif isinstance(item, str):
            is_attribute = bool(getattr(item, "is_attribute", False))
            matches.append(Match(str(item), "attribute" if is_attribute else "text"))
        else:
            matches.append(Match(format_value(item), "atomic"))
    return matches
