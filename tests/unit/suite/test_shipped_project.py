"""qa/soapui/tuotempo-soap-project.xml is what its generator writes today, and
the generator is in step with the contract: the committed WSDL cached as it
is, one suite per operation, every documented faultcode tested (or said why
not), every request that claims to follow the WSDL validating against it."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

from tuotempo_soap.suite.contract import Contract
from tuotempo_soap.suite.project import (
    EXPANSION,
    HttpRequestStep,
    SoapRequestStep,
    TransferStep,
    load_project,
)
from tuotempo_soap.suite.xmldoc import SOAP11_ENV, parse_xml

ROOT = Path(__file__).resolve().parents[3]
PROJECT = ROOT / "qa" / "soapui" / "tuotempo-soap-project.xml"
WSDL = ROOT / "wsdl" / "tuotempo.wsdl"


@pytest.fixture(scope="module")
def generator() -> Iterator[ModuleType]:
    path = ROOT / "qa" / "soapui" / "generate_project.py"
    spec = importlib.util.spec_from_file_location("generate_project", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_project"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("generate_project", None)


def test_the_committed_project_is_what_the_generator_writes(generator: ModuleType) -> None:
    assert PROJECT.read_bytes() == generator.build(), (
        "qa/soapui/tuotempo-soap-project.xml is stale: run python qa/soapui/generate_project.py"
    )


def test_the_project_caches_the_committed_wsdl_and_its_operations() -> None:
    root = etree.parse(str(PROJECT)).getroot()
    con = "{http://eviware.com/soapui/config}"
    content = root.findtext(f"{con}interface/{con}definitionCache/{con}part/{con}content")
    assert content == WSDL.read_text(encoding="utf-8")
    wsdl = etree.parse(str(WSDL)).getroot()
    bound = {
        node.get("name")
        for node in wsdl.iter("{http://schemas.xmlsoap.org/wsdl/}operation")
        if node.getparent().tag == "{http://schemas.xmlsoap.org/wsdl/}binding"
    }
    listed = {node.get("name") for node in root.iter(f"{con}operation") if node.get("action")}
    assert (
        listed
        == bound
        == {"updateReservations", "getReservations", "updateMessages", "searchMessages"}
    )


def test_the_runner_reads_the_whole_project_with_one_suite_per_operation() -> None:
    project = load_project(PROJECT)  # refuses anything it would have to skip
    contract = project.interfaces["TuotempoService"]
    names = [suite.name for suite in project.suites]
    for operation in contract.operations:
        assert operation in names
    assert not any(case.disabled for suite in project.suites for case in suite.cases)
    assert set(project.properties) == {"ENDPOINT", "INSTANCE", "USERNAME", "PASSWORD"}
    assert project.properties["PASSWORD"] == ""  # never a real password in the repository


def _documented_faultcodes() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `((?:Client|Server)\.\w+|VersionMismatch)` ", readme, re.M))


def test_every_documented_faultcode_is_tested_or_said_why_not(generator: ModuleType) -> None:
    documented = _documented_faultcodes()
    assert {"Client.AuthenticationFailed", "VersionMismatch", "Server.InternalError"} <= documented
    text = PROJECT.read_text(encoding="utf-8")
    tested = set(
        re.findall(r"<content>soap:((?:Client|Server)\.\w+|VersionMismatch)</content>", text)
    )
    untested = documented - tested - set(generator.NOT_PROVOKED)
    assert not untested, f"faultcodes without a test case or a reason: {sorted(untested)}"
    assert not tested & set(generator.NOT_PROVOKED)
    # Each tested fault also checks its typed ServiceFault detail.
    for code in tested:
        assert f"<content>{code}</content>" in text, code


def _filled(body: str) -> str:
    """A request body with its property expansions filled in (all are text fields)."""
    return EXPANSION.sub("QA-value", body)


def test_requests_that_follow_the_wsdl_validate_against_it(generator: ModuleType) -> None:
    contract: Contract = load_project(PROJECT).interfaces["TuotempoService"]
    checked = 0
    for suite in generator.suites():
        for case in suite.cases:
            for step in case.steps:
                if not isinstance(step, generator.Soap) or not step.valid_request:
                    continue
                envelope = parse_xml(_filled(step.body), step.name)
                (request,) = envelope.find(f"{{{SOAP11_ENV}}}Body")
                assert request.tag == contract.operations[step.operation].input_element
                errors = contract.validate_element(request)
                assert not errors, (suite.name, case.name, step.name, errors)
                checked += 1
    assert checked > 50


def test_every_request_step_names_a_wsdl_operation() -> None:
    project = load_project(PROJECT)
    contract = project.interfaces["TuotempoService"]
    steps = [
        step
        for suite in project.suites
        for case in suite.cases
        for step in case.steps
        if isinstance(step, SoapRequestStep)
    ]
    assert steps and all(step.operation in contract.operations for step in steps)
    assert all(step.endpoint == "${#Project#ENDPOINT}" for step in steps)


def test_every_test_case_property_it_uses_is_declared() -> None:
    """SoapUI refuses a transfer to a #TestCase# property that does not exist and
    expands an undeclared one to nothing; this runner fails both. Declared here."""
    project = load_project(PROJECT)
    for suite in project.suites:
        for case in suite.cases:
            used: set[str] = set()
            for step in case.steps:
                if isinstance(step, TransferStep):
                    used.update(
                        t.target_property for t in step.transfers if t.target_step == "#TestCase#"
                    )
                if isinstance(step, SoapRequestStep | HttpRequestStep):
                    texts = [
                        step.body,
                        step.endpoint,
                        *(a.config.get("content", "") for a in step.assertions),
                    ]
                    for text in texts:
                        used.update(
                            reference.split("#")[2]
                            for reference in EXPANSION.findall(text)
                            if reference.startswith("#TestCase#")
                        )
            assert used <= set(case.properties), (
                suite.name,
                case.name,
                used - set(case.properties),
            )
