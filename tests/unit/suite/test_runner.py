"""Running a project: requests, property expansion and transfers, each
assertion kind judged as SoapUI judges it, failOnError, masking. HTTP goes to
a WSGI app in this process."""

from __future__ import annotations

import requests

from tuotempo_soap.suite.project import (
    CONTAINS,
    INVALID_STATUS,
    NOT_CONTAINS,
    NOT_SOAP_FAULT,
    SCHEMA_COMPLIANCE,
    SOAP_FAULT,
    SOAP_RESPONSE,
    VALID_STATUS,
    read_project,
)
from tuotempo_soap.suite.runner import (
    DISABLED,
    ERROR,
    FAIL,
    MASK,
    NOT_RUN,
    PASS,
    RunOptions,
    RunResult,
    run_project,
)

from .support import (
    ENDPOINT,
    Recorder,
    assertion,
    case,
    fault,
    http_step,
    page,
    project,
    request_body,
    soap_step,
    transfer_step,
    xpath,
)


def run(data: bytes, app: Recorder, **options: object) -> RunResult:
    from .support import wsgi_session

    return run_project(read_project(data), RunOptions(session=wsgi_session(app), **options))  # type: ignore[arg-type]


def test_requests_carry_soapui_headers_and_expanded_properties() -> None:
    app = Recorder((200, page()))
    result = run(
        project(
            case(
                "C",
                soap_step("Read", request_body(inner="<v1:APP_LID>${#TestCase#X}</v1:APP_LID>")),
                extra="<con:properties><con:property><con:name>X</con:name><con:value>A-1</con:value>"
                "</con:property></con:properties>",
            )
        ),
        app,
        properties={"INSTANCE": "tt_other"},
    )
    assert result.ok and result.cases[0].status == PASS
    method, headers, body = app.requests[0]
    assert method == "POST"
    assert headers["Soapaction"] == '"getReservations"'
    assert headers["Content-Type"] == "text/xml;charset=UTF-8"
    assert "<v1:INSTANCE>tt_other</v1:INSTANCE>" in body  # -P wins over the project
    assert "<v1:PASSWORD>s3cret-pass</v1:PASSWORD>" in body
    assert "<v1:APP_LID>A-1</v1:APP_LID>" in body


def test_a_transfer_carries_a_value_into_the_next_request() -> None:
    app = Recorder((200, page(cursor="02/12/2026 08:00:00#41")), (200, page()))
    result = run(
        project(
            case(
                "C",
                soap_step("First", request_body()),
                transfer_step("Take", "First", "//tns:NEXT_REQUEST_TIMESTAMP", "CURSOR"),
                soap_step(
                    "Next",
                    request_body(
                        inner="<v1:LAST_REQUEST_TIMESTAMP>${#TestCase#CURSOR}</v1:LAST_REQUEST_TIMESTAMP>"
                    ),
                ),
            )
        ),
        app,
    )
    assert result.ok, result.cases[0].problems
    assert "<v1:LAST_REQUEST_TIMESTAMP>02/12/2026 08:00:00#41<" in app.requests[1][2]


def test_a_transfer_whose_source_is_missing_stops_the_case() -> None:
    app = Recorder((200, page()))
    result = run(
        project(
            case(
                "C",
                soap_step("First", request_body()),
                transfer_step("Take", "First", "//tns:NO_SUCH_ELEMENT", "CURSOR"),
                soap_step("Next", request_body()),
            )
        ),
        app,
    )
    outcome = result.cases[0]
    assert outcome.status == ERROR
    assert [step.status for step in outcome.steps] == [PASS, ERROR, NOT_RUN]
    assert outcome.problems == [
        'step "Take": transfer "CURSOR": Missing match for Source XPath '
        "[declare namespace soap='http://schemas.xmlsoap.org/soap/envelope/'; declare namespace "
        "tns='http://tuotempo-soap.org/v1'; //tns:NO_SUCH_ELEMENT]"
    ]
    assert len(app.requests) == 1


def test_xpath_match_compares_as_soapui_does() -> None:
    app = Recorder((200, page(count=2)))
    result = run(
        project(
            case(
                "C",
                soap_step(
                    "Read",
                    request_body(),
                    xpath("text of a node", "//tns:COUNT", "2"),
                    xpath("a count", "count(//tns:COUNT)", "1"),
                    xpath("a sum", "//tns:COUNT + 0.5", "2.5"),
                    xpath("a condition", "//tns:COUNT = 2 and //tns:RESULT = 'OK'", "true"),
                    xpath(
                        "wildcards", "//tns:NEXT_REQUEST_TIMESTAMP", "*/*/* *:*:*#*", wildcards=True
                    ),
                    xpath("any of several nodes", "//tns:*", "OK"),
                    xpath("an expectation with a property", "//tns:RESULT", "${#Project#OK}"),
                    xpath("a wrong value", "//tns:COUNT", "3"),
                    xpath("nothing there", "//tns:MISSING", "x"),
                    xpath("no wildcards unless asked", "//tns:RESULT", "O*"),
                ),
                fail_on_error=False,
            )
        ).replace(
            b"</con:properties>",
            b"<con:property><con:name>OK</con:name><con:value>OK</con:value></con:property>"
            b"</con:properties>",
        ),
        app,
    )
    verdicts = {
        item.name: (item.passed, item.message) for item in result.cases[0].steps[0].assertions
    }
    passed = [name for name, (ok, _) in verdicts.items() if ok]
    assert passed == [
        "text of a node",
        "a count",
        "a sum",
        "a condition",
        "wildcards",
        "any of several nodes",
        "an expectation with a property",
    ]
    assert verdicts["a wrong value"][1] == (
        "XPath Match failed for [//tns:COUNT]: expecting [3], actual was [2]"
    )
    assert verdicts["nothing there"][1] == "Missing content for xpath [//tns:MISSING] in Response"
    assert not verdicts["no wildcards unless asked"][0]


def test_soap_fault_assertions_use_soapuis_crossed_type_ids() -> None:
    # SoapUI itself stores "Not SOAP Fault" as type "SOAP Fault Assertion" and the
    # other way round; a project saved by SoapUI must mean here what it means there.
    checks = (
        assertion(SOAP_RESPONSE, "SOAP Response"),
        assertion(NOT_SOAP_FAULT, "Not SOAP Fault"),
        assertion(SOAP_FAULT, "SOAP Fault"),
        assertion(VALID_STATUS, "500", codes="500"),
        assertion(INVALID_STATUS, "not 200", codes="200,201"),
        assertion(CONTAINS, "says why", token="READ the manual", ignoreCase="true"),
        assertion(NOT_CONTAINS, "no trace", token="Traceback"),
    )
    app = Recorder((500, fault("Client.ValidationError", "Read the manual", "START_DATE")))
    result = run(
        project(case("C", soap_step("Read", request_body(), *checks), fail_on_error=False)), app
    )
    verdicts = {
        item.name: (item.passed, item.message) for item in result.cases[0].steps[0].assertions
    }
    assert verdicts["Not SOAP Fault"] == (
        False,
        "Response is a SOAP Fault: soap11env:Client.ValidationError: Read the manual",
    )
    assert [name for name, (ok, _) in verdicts.items() if ok] == [
        "SOAP Response",
        "SOAP Fault",
        "500",
        "not 200",
        "says why",
        "no trace",
    ]


def test_schema_compliance_checks_the_answer_against_the_cached_wsdl() -> None:
    schema = assertion(SCHEMA_COMPLIANCE, "Schema Compliance")
    compliant = Recorder((200, page()), (500, fault("Client.AuthenticationFailed")))
    result = run(
        project(
            case(
                "C",
                soap_step("Read", request_body(), schema),
                soap_step("Refused", request_body(), schema),
            )
        ),
        compliant,
    )
    assert result.ok, result.cases[0].problems
    wrong_type = page().replace("<tns:COUNT>0</tns:COUNT>", "<tns:COUNT>none</tns:COUNT>")
    extra_field = page(extra="<tns:SURPRISE>1</tns:SURPRISE>")
    wrong_operation = page().replace("getReservationsResponse", "searchMessagesResponse")
    untyped_fault = fault("Client.X").replace("tns:ServiceFault", "tns:OtherFault")
    broken = Recorder(
        *((200, answer) for answer in (wrong_type, extra_field, wrong_operation, untyped_fault))
    )
    result = run(
        project(
            case(
                "C",
                *(soap_step(f"Step {n}", request_body(), schema) for n in range(4)),
                fail_on_error=False,
            )
        ),
        broken,
    )
    messages = [step.assertions[0].message for step in result.cases[0].steps]
    assert all(message.startswith("Schema compliance failed: ") for message in messages)
    assert "'none' is not a valid value of the atomic type 'xs:int'" in messages[0]
    assert "SURPRISE" in messages[1]
    assert "searchMessagesResponse; getReservations answers" in messages[2]
    assert "}OtherFault" in messages[3] and "does not declare" in messages[3]


def test_fail_on_error_stops_a_case_and_the_next_case_still_runs() -> None:
    app = Recorder((200, page(count=1)), (200, page()), (200, page()), (200, page()))
    result = run(
        project(
            case(
                "Stops",
                soap_step("One", request_body(), xpath("COUNT is 0", "//tns:COUNT", "0")),
                soap_step("Two", request_body()),
            ),
            case("Goes on", soap_step("One", request_body())),
            case(
                "Carries on",
                soap_step("Bad", request_body(), xpath("COUNT is 5", "//tns:COUNT", "5")),
                soap_step("After", request_body()),
                fail_on_error=False,
            ),
        ),
        app,
    )
    stops, goes_on, carries_on = result.cases
    assert [step.status for step in stops.steps] == [FAIL, NOT_RUN]
    assert stops.problems == [
        'step "One" assertion "COUNT is 0": XPath Match failed for [//tns:COUNT]: expecting [0], '
        "actual was [1]"
    ]
    assert goes_on.status == PASS
    assert [step.status for step in carries_on.steps] == [FAIL, PASS]
    assert not result.ok and len(app.requests) == 4  # Stops sent one request, not two


def test_passwords_never_reach_the_results() -> None:
    app = Recorder((200, page(cursor="echo s3cret-pass")))
    result = run(
        project(case("C", soap_step("Read", request_body(), xpath("x", "//tns:COUNT", "9")))), app
    )
    step = result.cases[0].steps[0]
    assert step.request is not None and "s3cret-pass" not in step.request and MASK in step.request
    assert step.response is not None and "s3cret-pass" not in step.response


def test_http_steps_send_their_method_and_media_type() -> None:
    app = Recorder(
        (415, fault("Client.UnsupportedMediaType", "no JSON", "Content-Type")),
        (405, fault("Client.RequestNotAllowed")),
    )
    result = run(
        project(
            case(
                "C",
                http_step(
                    "Post",
                    "POST",
                    "${#Project#ENDPOINT}",
                    assertion(VALID_STATUS, "415", codes="415"),
                    body='{"a": 1}',
                ),
                http_step(
                    "Get",
                    "GET",
                    "${#Project#ENDPOINT}?x=1",
                    assertion(VALID_STATUS, "405", codes="405"),
                ),
            )
        ),
        app,
    )
    assert result.ok, result.cases[0].problems
    (post_method, post_headers, post_body), (get_method, get_headers, _) = app.requests
    assert (post_method, post_headers["Content-Type"], post_body) == (
        "POST",
        "application/json;charset=UTF-8",
        '{"a": 1}',
    )
    assert get_method == "GET" and "Content-Type" not in get_headers
    assert app.urls == ["suite.invalid/soap?", "suite.invalid/soap?x=1"]


def test_the_endpoint_option_replaces_literal_endpoints_only() -> None:
    app = Recorder((200, page()), (200, page()))
    run(
        project(
            case(
                "C",
                soap_step("Literal", request_body(), endpoint="http://elsewhere.invalid/soap"),
                soap_step("Property", request_body()),
            )
        ),
        app,
        endpoint="http://override.invalid/soap",
    )
    # Both went to the override: the literal one replaced, the other through ENDPOINT.
    assert app.urls == ["override.invalid/soap?", "override.invalid/soap?"]


def test_a_missing_property_and_a_dead_endpoint_are_step_errors() -> None:
    class Refusing(requests.adapters.BaseAdapter):
        def send(self, *args: object, **kwargs: object) -> requests.Response:
            raise requests.ConnectionError("connection refused")

        def close(self) -> None:
            pass

    session = requests.Session()
    session.mount("http://", Refusing())
    loaded = read_project(
        project(
            case(
                "Missing",
                soap_step("Read", request_body(inner="<v1:APP_LID>${#TestCase#NOPE}</v1:APP_LID>")),
            ),
            case("Dead", soap_step("Read", request_body())),
        )
    )
    missing, dead = run_project(loaded, RunOptions(session=session)).cases
    assert missing.status == ERROR
    assert missing.problems == [
        "step \"Read\": ${#TestCase#NOPE}: the TestCase has no property 'NOPE'"
    ]
    assert dead.status == ERROR
    assert dead.problems[0].startswith(f'step "Read": no response from {ENDPOINT}: ConnectionError')


def test_disabled_cases_steps_and_assertions_are_reported_not_run() -> None:
    app = Recorder((200, page()))
    result = run(
        project(
            case(
                "On",
                soap_step("Off", request_body(), disabled=True),
                soap_step(
                    "Read",
                    request_body(),
                    xpath("off", "//tns:COUNT", "7").replace(
                        "<con:assertion ", '<con:assertion disabled="true" ', 1
                    ),
                ),
            ),
            case("Off", soap_step("Read", request_body()), disabled=True),
        ),
        app,
    )
    on, off = result.cases
    assert [step.status for step in on.steps] == [DISABLED, PASS]
    assert on.steps[1].assertions == []
    assert off.status == DISABLED and result.ok
    assert len(app.requests) == 1


def test_suite_and_case_filters() -> None:
    app = Recorder((200, page()))
    result = run(
        project(case("A", soap_step("Read", request_body())), case("B")), app, cases=("A",)
    )
    assert [outcome.name for outcome in result.cases] == ["A"]
