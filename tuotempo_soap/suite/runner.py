"""Runs a loaded project: test suites and cases in order, steps in order.

One HTTP session carries the whole run (kept-alive connections, as SoapUI
keeps them). A test case with ``failOnError`` stops at its first failing step,
as in SoapUI; the steps after it are reported as not run. Values of properties
whose name holds ``PASSWORD`` never reach a result: requests, answers and
messages are stored with them masked, so no report can leak them.
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import requests

from .assertions import Exchange, judge
from .errors import ProjectError
from .expansion import ExpansionError, Scope, expand
from .project import (
    HttpRequestStep,
    Project,
    PropertiesStep,
    SoapRequestStep,
    Step,
    TestCase,
    TestSuite,
    TransferStep,
)
from .xmldoc import XmlError, parse_xml
from .xpath import XPathError, select

PASS, FAIL, ERROR, NOT_RUN, DISABLED = "PASS", "FAIL", "ERROR", "NOT RUN", "DISABLED"
MASK = "********"
_KEPT = 20_000  # characters of a request or answer kept for the reports


@dataclass
class AssertionResult:
    name: str
    label: str
    passed: bool
    message: str


@dataclass
class StepResult:
    name: str
    kind: str
    status: str
    message: str = ""
    assertions: list[AssertionResult] = field(default_factory=list)
    endpoint: str | None = None
    request: str | None = None
    response: str | None = None
    http_status: int | None = None
    seconds: float = 0.0

    @property
    def failed_assertions(self) -> list[AssertionResult]:
        return [item for item in self.assertions if not item.passed]


@dataclass
class CaseResult:
    suite: str
    name: str
    status: str
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    description: str = ""

    @property
    def problems(self) -> list[str]:
        """One line per failed step or assertion, naming both."""
        lines = []
        for step in self.steps:
            if step.status == ERROR:
                lines.append(f'step "{step.name}": {step.message}')
            for item in step.failed_assertions:
                lines.append(f'step "{step.name}" assertion "{item.name}": {item.message}')
            if step.status == FAIL and not step.failed_assertions and step.message:
                lines.append(f'step "{step.name}": {step.message}')
        return lines


@dataclass
class RunResult:
    project: str
    endpoint: str | None
    started: datetime
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for case in self.cases if case.status == status)

    @property
    def ok(self) -> bool:
        ran = [case for case in self.cases if case.status != DISABLED]
        return bool(ran) and all(case.status == PASS for case in ran)


@dataclass
class RunOptions:
    endpoint: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    suites: tuple[str, ...] = ()
    cases: tuple[str, ...] = ()
    timeout: float = 60.0
    progress: Callable[[CaseResult, int, int], None] | None = None
    session: requests.Session | None = None
    env: Mapping[str, str] | None = None


def _selected(project: Project, options: RunOptions) -> list[tuple[TestSuite, TestCase]]:
    suite_names = {suite.name for suite in project.suites}
    unknown = [name for name in options.suites if name not in suite_names]
    if unknown:
        raise ProjectError(
            f"no test suite named {', '.join(map(repr, unknown))}; the project has "
            + ", ".join(repr(name) for name in sorted(suite_names))
        )
    chosen = [
        (suite, case)
        for suite in project.suites
        if not options.suites or suite.name in options.suites
        for case in suite.cases
    ]
    case_names = {case.name for _, case in chosen}
    unknown = [name for name in options.cases if name not in case_names]
    if unknown:
        raise ProjectError(
            f"no test case named {', '.join(map(repr, unknown))} in the suites chosen"
        )
    return [
        (suite, case) for suite, case in chosen if not options.cases or case.name in options.cases
    ]


class _Masker:
    def __init__(self, secrets: list[str]) -> None:
        self.secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def __call__(self, text: str | None, limit: int | None = None) -> str | None:
        if text is None:
            return None
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        if limit is not None and len(text) > limit:
            text = text[:limit] + f"\n... ({len(text) - limit} more characters)"
        return text


class Runner:
    def __init__(self, project: Project, options: RunOptions) -> None:
        self.project = project
        self.options = options
        self.properties = {**project.properties, **options.properties}
        if options.endpoint:
            self.properties["ENDPOINT"] = options.endpoint
        self.session = options.session or requests.Session()
        self.session.headers["User-Agent"] = "tuotempo-soap-suite"
        self.env = dict(os.environ if options.env is None else options.env)

    def run(self) -> RunResult:
        plan = _selected(self.project, self.options)
        result = RunResult(self.project.name, self.properties.get("ENDPOINT"), datetime.now(UTC))
        start = time.monotonic()
        suite_properties: dict[str, dict[str, str]] = {}
        for number, (suite, case) in enumerate(plan, start=1):
            properties = suite_properties.setdefault(suite.name, dict(suite.properties))
            if case.disabled:
                outcome = CaseResult(suite.name, case.name, DISABLED, description=case.description)
            else:
                outcome = self.run_case(suite, case, properties)
            result.cases.append(outcome)
            if self.options.progress:
                self.options.progress(outcome, number, len(plan))
        result.seconds = time.monotonic() - start
        return result

    # --- one test case ------------------------------------------------------

    def run_case(
        self, suite: TestSuite, case: TestCase, suite_properties: MutableMapping[str, str]
    ) -> CaseResult:
        scope = Scope(
            project=self.properties,
            suite=suite_properties,
            case=dict(case.properties),
            steps={
                step.name: dict(step.properties)
                for step in case.steps
                if isinstance(step, PropertiesStep)
            },
            env=self.env,
            property_steps=frozenset(
                step.name for step in case.steps if isinstance(step, PropertiesStep)
            ),
        )
        mask = _Masker(
            [
                value
                for holder in (scope.project, scope.suite, scope.case)
                for key, value in holder.items()
                if "PASSWORD" in key.upper()
            ]
        )
        outcome = CaseResult(suite.name, case.name, PASS, description=case.description)
        start = time.monotonic()
        stopped = False
        for step in case.steps:
            if step.disabled:
                outcome.steps.append(StepResult(step.name, step.kind, DISABLED))
                continue
            if stopped:
                outcome.steps.append(StepResult(step.name, step.kind, NOT_RUN))
                continue
            begun = time.monotonic()
            result = self.run_step(step, scope, mask)
            result.seconds = time.monotonic() - begun
            result.message = mask(result.message) or ""
            for item in result.assertions:
                item.message = mask(item.message) or ""
            outcome.steps.append(result)
            if result.status in (FAIL, ERROR):
                outcome.status = ERROR if result.status == ERROR else FAIL
                stopped = case.fail_on_error
        if any(step.status == ERROR for step in outcome.steps):
            outcome.status = ERROR
        outcome.seconds = time.monotonic() - start
        return outcome

    def run_step(self, step: Step, scope: Scope, mask: _Masker) -> StepResult:
        if isinstance(step, PropertiesStep):
            return StepResult(step.name, step.kind, PASS)
        if isinstance(step, TransferStep):
            return self.transfer(step, scope)
        return self.request(step, scope, mask)

    # --- requests -----------------------------------------------------------

    def request(
        self, step: SoapRequestStep | HttpRequestStep, scope: Scope, mask: _Masker
    ) -> StepResult:
        outcome = StepResult(step.name, step.kind, PASS)
        contract = None
        try:
            raw_endpoint = step.endpoint.strip()
            if self.options.endpoint and "${" not in raw_endpoint:
                # As SoapUI's testrunner -e: a literal endpoint gives way to ours.
                raw_endpoint = self.options.endpoint
            endpoint = expand(raw_endpoint, scope)
            body = expand(step.body, scope)
            headers = {name: expand(value, scope) for name, value in step.headers}
        except ExpansionError as exc:
            outcome.status, outcome.message = ERROR, str(exc)
            return outcome
        if not endpoint:
            outcome.status, outcome.message = ERROR, "the step has no endpoint"
            return outcome
        sent: dict[str, str] = {}
        if isinstance(step, SoapRequestStep):
            contract = self.project.interfaces[step.interface]
            action = contract.operations[step.operation].soap_action
            sent["Content-Type"] = f"text/xml;charset={step.encoding}"
            sent["SOAPAction"] = f'"{action}"'
            method = "POST"
        else:
            method = step.method
            if method in ("POST", "PUT", "PATCH"):
                sent["Content-Type"] = f"{step.media_type};charset={step.encoding}"
        lowered = {name.lower(): name for name in sent}
        for name, value in headers.items():
            sent.pop(lowered.get(name.lower(), name), None)
            sent[name] = value
        outcome.endpoint = endpoint
        outcome.request = mask(body, _KEPT)
        data = body.encode(step.encoding) if body or method in ("POST", "PUT", "PATCH") else None
        timeout = step.timeout or self.options.timeout
        begun = time.monotonic()
        try:
            answer = self.session.request(
                method, endpoint, data=data, headers=sent, timeout=timeout, allow_redirects=False
            )
        except requests.RequestException as exc:
            outcome.status = ERROR
            outcome.message = f"no response from {endpoint}: {type(exc).__name__}: {exc}"
            return outcome
        milliseconds = (time.monotonic() - begun) * 1000
        text = answer.content.decode(_charset(answer.headers.get("Content-Type")), errors="replace")
        outcome.http_status = answer.status_code
        outcome.response = mask(text, _KEPT)
        scope.steps[step.name] = {
            "Request": body,
            "Response": text,
            "ResponseAsXml": text,
            "Endpoint": endpoint,
        }
        exchange = Exchange(
            status=answer.status_code,
            text=text,
            content=answer.content,
            milliseconds=milliseconds,
            operation=step.operation if isinstance(step, SoapRequestStep) else None,
            contract=contract,
        )
        for assertion in step.assertions:
            if assertion.disabled:
                continue
            passed, why = judge(assertion, exchange, lambda text: expand(text, scope))
            outcome.assertions.append(AssertionResult(assertion.name, assertion.label, passed, why))
        if outcome.failed_assertions:
            outcome.status = FAIL
            failed = len(outcome.failed_assertions)
            outcome.message = f"{failed} of {len(outcome.assertions)} assertions failed"
        return outcome

    # --- property transfers ---------------------------------------------------

    def transfer(self, step: TransferStep, scope: Scope) -> StepResult:
        outcome = StepResult(step.name, step.kind, PASS)
        notes = []
        for transfer in step.transfers:
            if transfer.disabled:
                continue
            try:
                source = scope.holder(transfer.source_step)
                if source is None or transfer.source_property not in source:
                    raise ValueError(
                        f"source {transfer.source_step}#{transfer.source_property} has no value "
                        "(has its step run?)"
                    )
                value: str | None = source[transfer.source_property]
                if transfer.source_path.strip():
                    value = self._pick(value or "", expand(transfer.source_path, scope))
                if value is None:
                    if transfer.ignore_empty:
                        continue
                    if not transfer.set_null_on_missing_source:
                        raise ValueError(
                            f"Missing match for Source XPath [{transfer.source_path.strip()}]"
                        )
                    value = ""
                if transfer.ignore_empty and value == "":
                    continue
                if transfer.entitize:
                    value = escape(value)
                target = scope.writable(transfer.target_step)
                if target is None:
                    raise ValueError(
                        f"cannot write to {transfer.target_step!r}: only #Project#, "
                        "#TestSuite#, #TestCase# and Properties steps take values"
                    )
                target[transfer.target_property] = value
                notes.append(f"{transfer.name}: {transfer.target_property} set")
            except (ValueError, ExpansionError, XmlError, XPathError) as exc:
                message = f'transfer "{transfer.name}": {exc}'
                if transfer.fail_on_error:
                    outcome.status, outcome.message = ERROR, message
                    return outcome
                notes.append(message)
        outcome.message = "; ".join(notes)
        return outcome

    @staticmethod
    def _pick(source: str, path: str) -> str | None:
        """The first value ``path`` selects in ``source`` (SoapUI takes the first)."""
        matches = select(parse_xml(source, "the transfer's source"), path)
        return matches[0].text if matches else None


def _charset(content_type: str | None) -> str:
    """The answer's declared charset, else UTF-8 (not HTTP's old ISO-8859-1 default
    for text/*: SOAP stacks mean UTF-8, and an XML declaration wins when parsing)."""
    found = re.search(r";\s*charset\s*=\s*\"?([\w.:-]+)", content_type or "", re.IGNORECASE)
    if found:
        try:
            return codecs.lookup(found.group(1)).name
        except LookupError:
            pass
    return "utf-8"


def run_project(project: Project, options: RunOptions | None = None) -> RunResult:
    return Runner(project, options or RunOptions()).run()
