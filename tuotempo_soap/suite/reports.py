"""A run's results as JUnit XML (for CI) and as one self-contained HTML page
(for people): no scripts, no external styles, every value escaped (Jinja2 with
autoescape). Requests and answers appear only for failed steps, and already
have passwords masked (see ``runner``)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment
from lxml import etree

from .runner import DISABLED, ERROR, FAIL, PASS, CaseResult, RunResult

_BODY_SHOWN = 4000


def _failure_text(case: CaseResult) -> str:
    lines = list(case.problems)
    for step in case.steps:
        if step.status in (FAIL, ERROR) and step.response:
            body = step.response[:_BODY_SHOWN]
            lines.append(f'\nresponse of step "{step.name}" (HTTP {step.http_status}):\n{body}')
    return "\n".join(lines)


def junit_xml(result: RunResult) -> bytes:
    suites: dict[str, list[CaseResult]] = {}
    for case in result.cases:
        suites.setdefault(case.suite, []).append(case)
    stamp = result.started.strftime("%Y-%m-%dT%H:%M:%S")
    root = etree.Element(
        "testsuites",
        name=result.project,
        tests=str(len(result.cases)),
        failures=str(result.count(FAIL)),
        errors=str(result.count(ERROR)),
        skipped=str(result.count(DISABLED)),
        time=f"{result.seconds:.3f}",
        timestamp=stamp,
    )
    for name, cases in suites.items():
        suite = etree.SubElement(
            root,
            "testsuite",
            name=name,
            tests=str(len(cases)),
            failures=str(sum(case.status == FAIL for case in cases)),
            errors=str(sum(case.status == ERROR for case in cases)),
            skipped=str(sum(case.status == DISABLED for case in cases)),
            time=f"{sum(case.seconds for case in cases):.3f}",
            timestamp=stamp,
        )
        for case in cases:
            element = etree.SubElement(
                suite,
                "testcase",
                classname=f"{result.project}.{name}",
                name=case.name,
                time=f"{case.seconds:.3f}",
            )
            if case.status == DISABLED:
                etree.SubElement(element, "skipped", message="disabled in the project")
            elif case.status in (FAIL, ERROR):
                problems = case.problems
                node = etree.SubElement(
                    element,
                    "failure" if case.status == FAIL else "error",
                    type="AssertionFailed" if case.status == FAIL else "StepError",
                    message=problems[0] if problems else case.status,
                )
                node.text = _failure_text(case)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ result.project }}: {{ verdict }}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
.PASS{color:#17692e}.FAIL,.ERROR{color:#b00020;font-weight:bold}.DISABLED,.NOT{color:#777}
pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;word-break:break-all;
max-height:30em;overflow:auto}
details{margin:2px 0}summary{cursor:pointer}ul{margin:4px 0}
</style></head><body>
<h1>{{ result.project }}:
<span class="{{ 'PASS' if result.ok else 'FAIL' }}">{{ verdict }}</span></h1>
<p>{{ result.cases|length }} test cases: {{ counts.PASS }} passed, {{ counts.FAIL }} failed,
{{ counts.ERROR }} in error, {{ counts.DISABLED }} disabled;
{{ '%.1f'|format(result.seconds) }} s. Endpoint {{ result.endpoint or 'as in the project' }},
started {{ started }} UTC.</p>
{% for suite, cases in suites %}
<h2>{{ suite }}</h2>
<table><tr><th>test case</th><th>result</th><th>time</th></tr>
{% for case in cases %}
<tr><td>
<details{% if case.status in ('FAIL', 'ERROR') %} open{% endif %}>
<summary>{{ case.name }}</summary>
{% if case.description %}<p>{{ case.description }}</p>{% endif %}
<ul>{% for step in case.steps %}
<li><span class="{{ step.status }}">{{ step.status }}</span>
{{ step.kind }} &ldquo;{{ step.name }}&rdquo;
{% if step.http_status %}(HTTP {{ step.http_status }}){% endif %}
{% if step.status == 'ERROR' or (step.status == 'FAIL' and not step.assertions) %}
: {{ step.message }}{% endif %}
{% if step.assertions %}<ul>{% for item in step.assertions %}
<li><span class="{{ 'PASS' if item.passed else 'FAIL' }}">
{{ 'ok' if item.passed else 'FAILED' }}</span>
{{ item.label }} &ldquo;{{ item.name }}&rdquo;
{% if not item.passed %}: {{ item.message }}{% endif %}</li>
{% endfor %}</ul>{% endif %}
{% if step.status in ('FAIL', 'ERROR') %}
{% if step.request %}<details><summary>request to {{ step.endpoint }}</summary>
<pre>{{ step.request }}</pre></details>{% endif %}
{% if step.response %}<details open><summary>response</summary>
<pre>{{ step.response }}</pre></details>{% endif %}
{% endif %}</li>
{% endfor %}</ul></details></td>
<td class="{{ case.status }}">{{ case.status }}</td>
<td>{{ '%.2f'|format(case.seconds) }} s</td></tr>
{% endfor %}</table>
{% endfor %}
</body></html>
"""


def html_report(result: RunResult) -> str:
    suites: dict[str, list[CaseResult]] = {}
    for case in result.cases:
        suites.setdefault(case.suite, []).append(case)
    counts = {status: result.count(status) for status in (PASS, FAIL, ERROR, DISABLED)}
    template = Environment(autoescape=True).from_string(_TEMPLATE)
    return template.render(
        result=result,
        suites=list(suites.items()),
        counts=counts,
        verdict="passed" if result.ok else "FAILED",
        started=result.started.strftime("%Y-%m-%d %H:%M:%S"),
    )


def write_junit(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(result))


def write_html(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(result), encoding="utf-8")
