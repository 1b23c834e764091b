"""The report of a run: a terminal summary, JUnit XML for CI, and one
self-contained HTML page.

Every check says passed, failed (the rule, what broke it, the request and the
answer) or not applicable (why). Request and answer XML are shown with the
patients' personal fields hidden (names, phones, e-mail, id numbers, test
result files and codes): a vendor may point the checker at a clinic with real
patients.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from lxml import etree

from ..errors import redact
from .contract import PERSONAL_FIELDS
from .exchange import Exchange
from .model import Report, Result, Status

LABELS = {Status.PASSED: "PASS", Status.FAILED: "FAIL", Status.NOT_APPLICABLE: "N/A"}
# Per exchange in the files; a search answer of hundreds of slots stays readable.
XML_LIMIT = 64 * 1024
TERMINAL_LINES = 30

_PRETTY = etree.XMLParser(
    remove_blank_text=True, resolve_entities=False, no_network=True, load_dtd=False
)


def shown_xml(data: bytes | None, limit: int = XML_LIMIT) -> str:
    """``data`` pretty-printed with personal fields hidden; text that is not XML
    is shown cut short and without phone numbers or e-mail addresses."""
    if data is None:
        return "(no answer)"
    if not data.strip():
        return "(empty)"
    try:
        root = etree.fromstring(data, _PRETTY)
    except etree.XMLSyntaxError:
        return f"(not XML, {len(data)} bytes) " + redact(data.decode("utf-8", errors="replace"))
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.rsplit("}", 1)[-1] in PERSONAL_FIELDS and (element.text or "").strip():
            element.text = f"[hidden: {len(element.text or '')} characters]"
            for child in list(element):
                element.remove(child)
    text = etree.tostring(root, pretty_print=True, encoding="unicode")
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters)"
    return text


def outcome_line(exchange: Exchange) -> str:
    seconds = f", {exchange.seconds:.2f} s" if exchange.seconds is not None else ""
    return f"{exchange.operation} ({exchange.purpose}): {exchange.describe()}{seconds}"


def shown_exchanges(result: Result) -> list[Exchange]:
    """The culprits first, then the rest the check looked at."""
    shown = list(result.culprits)
    for exchange in result.exchanges:
        if not any(seen is exchange for seen in shown):
            shown.append(exchange)
    return shown


def summary_line(report: Report) -> str:
    return (
        f"clinic check: {report.count(Status.PASSED)} passed, {report.count(Status.FAILED)} "
        f"failed, {report.count(Status.NOT_APPLICABLE)} not applicable "
        f"(in {report.seconds:.1f} s)"
    )


# -- terminal ----------------------------------------------------------------------


def _indent(text: str, prefix: str, lines: int) -> Iterable[str]:
    parts = text.splitlines() or [""]
    for line in parts[:lines]:
        yield prefix + line
    if len(parts) > lines:
        yield prefix + f"... ({len(parts) - lines} more lines)"


def terminal(report: Report, *, verbose: bool = False) -> str:
    writes = "writes allowed" if report.allow_writes else "read-only"
    out = [f"Clinic conformance check of {report.address} ({writes})", ""]
    operation = None
    for result in report.results:
        if result.check.operation != operation:
            operation = result.check.operation
            out.append(operation)
        label = LABELS[result.status]
        out.append(f"  {label:<4}  {result.name}" + (f"  {result.detail}" if result.detail else ""))
        if result.status is Status.FAILED or verbose:
            out.append(f"        rule: {result.check.rule}")
        if result.status is Status.FAILED:
            for exchange in shown_exchanges(result)[:2]:
                out.append(f"        {outcome_line(exchange)}")
                out.append("        request:")
                out.extend(_indent(shown_xml(exchange.request), "          ", TERMINAL_LINES))
                out.append("        answer:")
                out.extend(_indent(shown_xml(exchange.response), "          ", TERMINAL_LINES))
    if report.leftovers:
        out += ["", "Still booked at the clinic (delete by hand): " + ", ".join(report.leftovers)]
    out += ["", summary_line(report)]
    return "\n".join(out) + "\n"


# -- JUnit XML -----------------------------------------------------------------------


def _exchange_text(exchange: Exchange) -> str:
    return (
        f"{outcome_line(exchange)}\n--- request\n{shown_xml(exchange.request)}\n"
        f"--- answer\n{shown_xml(exchange.response)}\n"
    )


def junit_xml(report: Report) -> bytes:
    suite_name = f"clinic conformance {report.address}"
    total = f"{sum(_seconds(r) for r in report.results):.3f}"
    suites = etree.Element(
        "testsuites",
        name="clinic conformance",
        tests=str(len(report.results)),
        failures=str(report.count(Status.FAILED)),
        skipped=str(report.count(Status.NOT_APPLICABLE)),
        errors="0",
        time=total,
    )
    suite = etree.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(report.results)),
        failures=str(report.count(Status.FAILED)),
        skipped=str(report.count(Status.NOT_APPLICABLE)),
        errors="0",
        time=total,
        timestamp=report.started_at.replace(microsecond=0).isoformat(),
    )
    properties = etree.SubElement(suite, "properties")
    etree.SubElement(properties, "property", name="address", value=report.address)
    etree.SubElement(
        properties, "property", name="writes", value="allowed" if report.allow_writes else "off"
    )
    for result in report.results:
        case = etree.SubElement(
            suite,
            "testcase",
            classname=f"clinic.{result.check.operation}",
            name=result.name,
            time=f"{_seconds(result):.3f}",
        )
        if result.status is Status.FAILED:
            failure = etree.SubElement(case, "failure", message=result.detail, type="rule")
            failure.text = f"rule: {result.check.rule}\n\n" + "\n".join(
                _exchange_text(exchange) for exchange in shown_exchanges(result)
            )
        elif result.status is Status.NOT_APPLICABLE:
            etree.SubElement(case, "skipped", message=result.detail)
        else:
            out = etree.SubElement(case, "system-out")
            out.text = f"rule: {result.check.rule}\n" + (
                f"{result.detail}\n" if result.detail else ""
            )
    return etree.tostring(suites, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _seconds(result: Result) -> float:
    return sum(exchange.seconds or 0.0 for exchange in result.exchanges)


# -- HTML ------------------------------------------------------------------------------


def html(report: Report) -> str:
    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        resources.files(__package__).joinpath("report.html").read_text(encoding="utf-8")
    )
    groups: list[dict[str, Any]] = []
    for result in report.results:
        if not groups or groups[-1]["operation"] != result.check.operation:
            groups.append({"operation": result.check.operation, "results": []})
        groups[-1]["results"].append(
            {
                "name": result.name,
                "status": result.status.value,
                "css": result.status.name.lower(),
                "label": LABELS[result.status],
                "rule": result.check.rule,
                "detail": result.detail,
                "exchanges": [
                    {
                        "outcome": outcome_line(exchange),
                        "request": shown_xml(exchange.request),
                        "answer": shown_xml(exchange.response),
                    }
                    for exchange in shown_exchanges(result)
                ],
            }
        )
    return template.render(
        address=report.address,
        writes="writes allowed" if report.allow_writes else "read-only",
        started=report.started_at.strftime("%d/%m/%Y %H:%M:%S UTC"),
        seconds=f"{report.seconds:.1f}",
        passed=report.count(Status.PASSED),
        failed=report.count(Status.FAILED),
        not_applicable=report.count(Status.NOT_APPLICABLE),
        leftovers=report.leftovers,
        groups=groups,
    )


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
