"""The checks judged against a scripted clinic: zeep, the platform's transport and
error mapping run for real behind a requests adapter; no socket is opened, and
the clock is injected, so a 12 s answer takes no time at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from lxml import etree

from tests.unit.clinic.fakes import (
    CLINIC_URL,
    ScriptedClinic,
    Step,
    answer,
    envelope,
    fault,
    fields,
    response,
    session_for,
)
from tuotempo_soap.clinic.conformance import (
    CheckConfig,
    Report,
    Status,
    all_checks,
    default_limits,
    run_checks,
)
from tuotempo_soap.clinic.conformance.exchange import Clock
from tuotempo_soap.clinic.conformance.report import html, junit_xml, terminal


def config(**options: object) -> CheckConfig:
    settings: dict[str, object] = {
        "address": CLINIC_URL,
        "limits": default_limits(),
        "overlap": timedelta(minutes=5),
        "http_timeout": 20.0,
        **options,
    }
    return CheckConfig(**settings)  # type: ignore[arg-type]


def run(
    script: list[Step], names: set[str], *, clock: Clock | None = None, **options: object
) -> tuple[Report, ScriptedClinic]:
    clinic = ScriptedClinic(script=script)
    chosen = config(**options)
    checks = [check for check in all_checks(chosen) if check.name in names]
    assert {check.name for check in checks} == names
    report = run_checks(
        chosen, checks=checks, clock=clock, session_factory=lambda: session_for(clinic)
    )
    return report, clinic


def outcome(report: Report, name: str) -> tuple[Status, str]:
    for result in report.results:
        if result.name == name:
            return result.status, result.detail
    raise AssertionError(f"no result {name}")


def ticking(seconds_per_call: float) -> Clock:
    """A clock that advances ``seconds_per_call`` during every call: read twice per
    call (start, end), it answers 0, s, s, 2s, 2s, 3s..."""
    readings: Iterator[float] = (seconds_per_call * ((i + 1) // 2) for i in range(1000))
    return lambda: next(readings)


CENTERS = answer(
    "getCenters",
    "<tns:CENTERS><tns:CENTER>"
    + fields(CENTER_LID="C1", CENTER_NAME="Clinica Centro")
    + "</tns:CENTER></tns:CENTERS>",
)


def test_a_12_second_answer_breaks_the_default_limit() -> None:
    report, _ = run(
        [CENTERS], {"getCenters.valid-request", "getCenters.latency"}, clock=ticking(12.3)
    )
    assert outcome(report, "getCenters.valid-request")[0] is Status.PASSED
    status, detail = outcome(report, "getCenters.latency")
    assert status is Status.FAILED
    assert detail == (
        "list the centers: answered in 12.30 s; the limit is 10 s (the portal's timeout per center)"
    )
    assert report.failed


def test_an_answer_within_the_limit_passes() -> None:
    report, _ = run(
        [CENTERS], {"getCenters.valid-request", "getCenters.latency"}, clock=ticking(9.9)
    )
    assert outcome(report, "getCenters.latency") == (
        Status.PASSED,
        "slowest of 1 answer: 9.90 s (limit 10 s)",
    )
    assert not report.failed


def test_a_limit_of_our_own_names_its_value() -> None:
    report, _ = run(
        [CENTERS],
        {"getCenters.valid-request", "getCenters.latency"},
        clock=ticking(0.8),
        limits=default_limits(0.5),
    )
    assert "the limit is 0.5 s" in outcome(report, "getCenters.latency")[1]


SLOTS = answer(
    "searchAvailabilities",
    "<tns:AVAILABILITIES><tns:AVAILABILITY>"
    + fields(RESOURCE_LID="DR1", ACTIVITY_LID="VISIT", AVA_START_TIME="9:00")
    + "</tns:AVAILABILITY><tns:AVAILABILITY>"
    + fields(
        RESOURCE_LID="DR1",
        ACTIVITY_LID="VISIT",
        AVA_DATE="2027-02-24",
        AVA_START_TIME="09:20",
        AVA_END_TIME="09:00",
    )
    + "</tns:AVAILABILITY></tns:AVAILABILITIES>",
    "searchAvailabilitiesResult",
)


def test_not_null_fields_formats_and_the_schema_are_named() -> None:
    report, _ = run(
        [SLOTS],
        {
            "searchAvailabilities.valid-request",
            "searchAvailabilities.not-null",
            "searchAvailabilities.formats",
            "searchAvailabilities.schema",
        },
        activity_lid="VISIT",
    )
    assert outcome(report, "searchAvailabilities.not-null") == (
        Status.FAILED,
        "search 20 free slots: AVAILABILITY 1 of 2: AVA_DATE is missing",
    )
    status, detail = outcome(report, "searchAvailabilities.formats")
    assert status is Status.FAILED
    assert "AVAILABILITY 1 of 2: AVA_START_TIME '9:00' is not hh:mm" in detail
    assert "AVAILABILITY 2 of 2: AVA_DATE '2027-02-24' is not dd/mm/yyyy" in detail
    assert "AVA_END_TIME 09:00 is not after AVA_START_TIME 09:20" in detail
    status, detail = outcome(report, "searchAvailabilities.schema")
    assert status is Status.FAILED and "tns:AVA_DATE" in detail


def bare_fault(code: str) -> Step:
    return response(
        500,
        envelope(
            f"<soap11env:Fault><faultcode>soap11env:{code}</faultcode>"
            "<faultstring>no</faultstring></soap11env:Fault>"
        ),
    )


def test_invalid_input_needs_a_client_fault_typed_as_clinic_fault() -> None:
    names = {
        "checkAppointment.invalid-input",
        "checkAppointment.faults",
        "checkAppointment.not-found",
        "checkAppointment.codes",
    }
    not_found = answer("checkAppointment", fields(RESULT="Missing"))
    report, _ = run([not_found, bare_fault("Server")], names)
    assert outcome(report, "checkAppointment.not-found") == (
        Status.FAILED,
        "RESULT=Missing, not NOT_FOUND",
    )
    assert outcome(report, "checkAppointment.codes") == (
        Status.FAILED,
        "check an unknown appointment: checkAppointmentResult: RESULT='Missing', "
        "not OK or NOT_FOUND or ERROR",
    )
    status, detail = outcome(report, "checkAppointment.invalid-input")
    assert status is Status.FAILED and "a Server fault makes the platform try again" in detail
    assert outcome(report, "checkAppointment.faults") == (
        Status.FAILED,
        "check an empty APP_LID: a fault with no detail, not a ClinicFault detail",
    )

    typed = answer("checkAppointment", fields(RESULT="NOT_FOUND"))
    report, _ = run([typed, fault("Client.ValidationError", "APP_LID is required")], names)
    assert not report.failed, terminal(report)


def test_not_soap_at_all_is_reported_as_such() -> None:
    report, _ = run(
        [response(502, "<html><p>Bad gateway</html>", "text/html")],
        {"getCenters.valid-request", "getCenters.schema"},
    )
    status, detail = outcome(report, "getCenters.valid-request")
    assert status is Status.FAILED
    assert (
        detail == "list the centers: HTTP 502, not XML (text/html) instead of the list of centers"
    )
    assert (
        outcome(report, "getCenters.schema")[1] == "list the centers: HTTP 502, not XML (text/html)"
    )


def test_writes_and_skipped_operations_are_not_applicable() -> None:
    report, clinic = run(
        [],
        {"addAppointment.book", "addAppointment.schema", "getCenters.valid-request", "cleanup"},
        skip=frozenset({"getCenters"}),
    )
    assert outcome(report, "addAppointment.book") == (
        Status.NOT_APPLICABLE,
        "writes are off (run with --allow-writes)",
    )
    assert outcome(report, "addAppointment.schema") == (
        Status.NOT_APPLICABLE,
        "writes are off (run with --allow-writes)",
    )
    assert outcome(report, "getCenters.valid-request") == (
        Status.NOT_APPLICABLE,
        "skipped (--skip getCenters)",
    )
    assert clinic.posts == []


PATIENT = answer(
    "SearchAppointments",
    "<tns:APPOINTMENTS><tns:APPOINTMENT>"
    + fields(
        APP_LID="A1",
        STATUS="Confirmed",
        APP_DATE="24/02/2027",
        APP_START_TIME="09:00",
        USER_LID="P1",
        USER_MOBILE_PHONE="+34600111222",
        USER_EMAIL="lucia@example.org",
        ACTIVITY_LID="VISIT",
        RESOURCE_LID="",
    )
    + "</tns:APPOINTMENT></tns:APPOINTMENTS>",
    "SearchAppointmentsResult",
)


def test_reports_name_the_rule_and_hide_personal_fields() -> None:
    report, _ = run(
        [PATIENT],
        {"SearchAppointments.valid-request", "SearchAppointments.not-null"},
        password="s3cret-password",
        username="platform",
    )
    assert outcome(report, "SearchAppointments.not-null") == (
        Status.FAILED,
        "read the last week's changes: APPOINTMENT: RESOURCE_LID is empty",
    )
    text, page, junit = terminal(report), html(report), junit_xml(report).decode()
    for shown in (text, page, junit):
        assert "+34600111222" not in shown and "lucia@example.org" not in shown
        assert "s3cret-password" not in shown
        assert "[hidden: 12 characters]" in shown  # the phone, without its digits
    assert "FAIL  SearchAppointments.not-null" in text
    assert "rule: Every NOT NULL field of the guide" in text
    assert "clinic check: 1 passed, 1 failed, 0 not applicable" in text

    suites = etree.fromstring(junit.encode())
    assert (suites.get("tests"), suites.get("failures"), suites.get("skipped")) == ("2", "1", "0")
    failure = suites.find(".//testcase[@name='SearchAppointments.not-null']/failure")
    assert failure is not None
    assert (
        failure.get("message") == "read the last week's changes: APPOINTMENT: RESOURCE_LID is empty"
    )
    assert "rule: Every NOT NULL field" in (failure.text or "")
    assert "--- answer" in (failure.text or "")
    assert "<script" not in page and "&lt;tns:RESOURCE_LID" in page
