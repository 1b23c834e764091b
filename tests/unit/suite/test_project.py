"""Reading a SoapUI project: what the runner executes, and what it refuses by name."""

from __future__ import annotations

import pytest

from tuotempo_soap.suite.errors import ProjectError, UnsupportedError
from tuotempo_soap.suite.project import (
    NOT_SOAP_FAULT,
    SOAP_FAULT,
    HttpRequestStep,
    SoapRequestStep,
    TransferStep,
    read_project,
)

from .support import (
    assertion,
    case,
    http_step,
    page,
    project,
    raw_step,
    request_body,
    soap_step,
    transfer_step,
    xpath,
)


def refusal(data: bytes) -> list[str]:
    with pytest.raises(UnsupportedError) as info:
        read_project(data)
    assert "nothing was run" in info.value.message
    return info.value.problems


def test_a_supported_project_reads_into_steps_and_assertions() -> None:
    loaded = read_project(
        project(
            case(
                "C",
                soap_step("Read", request_body(), assertion(NOT_SOAP_FAULT, "Not SOAP Fault")),
                transfer_step("Take", "Read", "//tns:NEXT_REQUEST_TIMESTAMP", "CURSOR"),
                http_step(
                    "Get",
                    "GET",
                    "${#Project#ENDPOINT}?wsdl",
                    assertion("Valid HTTP Status Codes", codes="200"),
                ),
            )
        )
    )
    steps = loaded.suites[0].cases[0].steps
    assert [type(step) for step in steps] == [SoapRequestStep, TransferStep, HttpRequestStep]
    read = steps[0]
    assert isinstance(read, SoapRequestStep) and read.operation == "getReservations"
    assert read.assertions[0].label == "Not SOAP Fault"
    assert loaded.properties["INSTANCE"] == "tt_unit"
    assert set(loaded.interfaces["TuotempoService"].operations) == {
        "updateReservations",
        "getReservations",
        "updateMessages",
        "searchMessages",
    }


def test_a_groovy_step_is_refused_by_name() -> None:
    problems = refusal(
        project(case("Seeded", raw_step("groovy", "Seed data", "<script>log.info 1</script>")))
    )
    assert problems == [
        'test step "Seed data" in S / Seeded: Groovy Script steps are not supported'
    ]


def test_every_unsupported_kind_is_named_at_once() -> None:
    problems = refusal(
        project(
            case(
                "Mixed",
                raw_step("restrequest", "Call REST"),
                raw_step("jdbc", "Query"),
                soap_step(
                    "Read",
                    request_body(),
                    assertion("GroovyScriptAssertion", "Check it", scriptText="assert true"),
                    assertion("XQuery Match", "Query it"),
                ),
                raw_step("somethingNew", "Future"),
            )
        )
    )
    assert problems == [
        'test step "Call REST" in S / Mixed: REST Request steps are not supported',
        'test step "Query" in S / Mixed: JDBC Request steps are not supported',
        'assertion "Check it" of SOAP Request step "Read" in S / Mixed: Script Assertion '
        "assertions are not supported",
        'assertion "Query it" of SOAP Request step "Read" in S / Mixed: XQuery Match '
        "assertions are not supported",
        "test step \"Future\" in S / Mixed: type 'somethingNew' steps are not supported",
    ]


def test_scripts_and_script_expansions_are_refused() -> None:
    problems = refusal(
        project(
            case(
                "C",
                soap_step("Read", request_body(inner="<v1:APP_LID>${=new Date()}</v1:APP_LID>")),
                extra="<con:setupScript>testRunner.fail('x')</con:setupScript>",
            ),
            extra="<con:afterLoadScript>project.name</con:afterLoadScript>",
        )
    )
    assert "afterLoadScript (Groovy) of the project" in problems
    assert 'setupScript (Groovy) of test case "S / C"' in problems
    assert any("inline script expansion ${=new Date()" in problem for problem in problems)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("${NAME}", "context property expansion ${NAME}"),
        ("${#System#user.home}", "property expansion ${#System#user.home} (System scope)"),
        ("${Read#Response#//x}", "XPath in property expansion ${Read#Response#//x}"),
        ("${Nowhere#Response}", "${Nowhere#Response} in"),
    ],
)
def test_expansions_the_runner_cannot_honour_are_refused(text: str, named: str) -> None:
    problems = refusal(
        project(
            case("C", soap_step("Read", request_body(inner=f"<v1:APP_LID>{text}</v1:APP_LID>")))
        )
    )
    assert len(problems) == 1 and named in problems[0]


def test_soap_assertions_on_an_http_step_are_refused() -> None:
    problems = refusal(
        project(case("C", http_step("Get", "GET", "http://x/", assertion(SOAP_FAULT, "Fault"))))
    )
    assert problems == [
        'assertion "Fault" of HTTP Request step "Get" in S / C: SOAP Fault applies to SOAP '
        "request steps only"
    ]


def test_disabled_parts_are_kept_as_disabled_not_refused() -> None:
    loaded = read_project(
        project(
            case(
                "C",
                raw_step("groovy", "Not now", disabled=True),
                soap_step(
                    "Read", request_body(), assertion("GroovyScriptAssertion", "Off", disabled=True)
                ),
            ),
            case(
                "Off",
                raw_step("groovy", "Script"),
                soap_step("Read", request_body(), assertion("GroovyScriptAssertion", "Script")),
                disabled=True,
            ),
        )
    )
    first, second = loaded.suites[0].cases
    assert [step.name for step in first.steps] == ["Read"]
    assert first.steps[0].assertions[0].disabled  # type: ignore[union-attr]
    assert second.disabled


def test_a_project_with_a_doctype_is_never_read() -> None:
    hostile = (
        b'<?xml version="1.0"?>\n<!DOCTYPE con:soapui-project [<!ENTITY x SYSTEM '
        b'"file:///etc/passwd">]>\n'
        + project(case("C"))
        .split(b"\n", 1)[1]
        .replace(b"<con:settings/>", b"<con:description>&x;</con:description>", 1)
    )
    with pytest.raises(ProjectError) as info:
        read_project(hostile)
    assert "declares a DOCTYPE, which is not read" in info.value.message
    assert "root:" not in info.value.message


def test_other_files_are_not_projects() -> None:
    with pytest.raises(ProjectError) as info:
        read_project(page().encode())
    assert "is not a SoapUI project" in info.value.message
    with pytest.raises(ProjectError) as info:
        read_project(b"<con:soapui-project")
    assert "not well-formed" in info.value.message


def test_an_interface_without_its_cached_wsdl_is_refused() -> None:
    problems = refusal(project(case("C", soap_step("Read", request_body())), cache=False))
    assert any("has no cached WSDL" in problem for problem in problems)


def test_a_schema_the_project_does_not_cache_is_never_fetched() -> None:
    importing = project(case("C")).replace(
        b'elementFormDefault="qualified">',
        b'elementFormDefault="qualified"><xs:import namespace="urn:elsewhere" '
        b'schemaLocation="http://schemas.invalid/other.xsd"/>',
        1,
    )
    with pytest.raises(ProjectError) as info:
        read_project(importing)
    assert "http://schemas.invalid/other.xsd" in info.value.message
    assert "nothing outside the project file is fetched" in info.value.message


def test_an_xpath_match_without_expected_value_is_refused() -> None:
    broken = xpath("No value", "//tns:RESULT", "").replace("<content></content>", "")
    problems = refusal(project(case("C", soap_step("Read", request_body(), broken))))
    assert problems == [
        'assertion "No value" of SOAP Request step "Read" in S / C: XPath Match without an '
        "expected value"
    ]
