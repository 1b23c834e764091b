"""``tuotempo-soap clinic check``: passes on the reference clinic, fails on
deliberately broken variants of it with the right rule named.

The reference clinic runs as a vendor would run it (``python -m
examples.clinic_server serve`` in a subprocess on 127.0.0.1); the broken
variants are the same backend with one defect each (``clinic_defects``), served
by a threaded WSGI server in the test process. The checker itself runs through
the real command line (click's runner) and reaches them over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from lxml import etree

from examples.clinic_server.backend import ClinicBackend
from examples.clinic_server.options import ServerOptions
from tests.e2e.clinic_defects import (
    IsoDateBackend,
    MissingResourceBackend,
    StillOfferedBackend,
    generic_faults,
    serve,
)
from tests.e2e.conftest import ROOT, _free_port, stop_process
from tuotempo_soap.cli import main

pytestmark = pytest.mark.e2e

TODAY = date(2027, 2, 22)  # a Monday
USERNAME, PASSWORD = "platform", "clinic-secret"
EXIT_CLINIC = 4


@dataclass
class Reference:
    url: str  # the SOAP address
    desk: ClinicBackend  # the same database, opened by the test process


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    workdir = tmp_path_factory.mktemp("reference-clinic")
    db_path = workdir / "clinic.db"
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_TODAY": TODAY.isoformat(),
        "CLINIC_USERNAME": USERNAME,
        "CLINIC_PASSWORD": PASSWORD,
    }
    log = workdir / "clinic.log"
    command = [sys.executable, "-m", "examples.clinic_server", "serve", "--threads", "4"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", str(db_path)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the clinic exited: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the clinic did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Reference(
            url=f"{base}/clinic", desk=ClinicBackend(db_path, ServerOptions(today=TODAY))
        )
    finally:
        stop_process(process)


def check(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["clinic", "check", url, *args], env=env)


def check_reference(reference: Reference, *args: str) -> Result:
    credentials = ["--username", USERNAME, "--password-env", "CLINIC_CHECK_PASSWORD"]
    return check(reference.url, *credentials, *args, env={"CLINIC_CHECK_PASSWORD": PASSWORD})


def statuses(junit: Path) -> dict[str, tuple[str, str]]:
    """check name -> (passed | failed | not applicable, message) from the JUnit file."""
    found: dict[str, tuple[str, str]] = {}
    for case in etree.parse(str(junit)).iter("testcase"):
        failure, skipped = case.find("failure"), case.find("skipped")
        if failure is not None:
            found[case.get("name", "")] = ("failed", failure.get("message", ""))
        elif skipped is not None:
            found[case.get("name", "")] = ("not applicable", skipped.get("message", ""))
        else:
            found[case.get("name", "")] = ("passed", "")
    return found


def failed(junit: Path) -> dict[str, str]:
    return {name: text for name, (status, text) in statuses(junit).items() if status == "failed"}


def confirmed_appointments(desk: ClinicBackend) -> list[str]:
    with desk.db.reading() as connection:
        rows = connection.execute(
            "SELECT app_lid FROM appointments WHERE status = 'Confirmed'"
        ).fetchall()
    return [row["app_lid"] for row in rows]


def all_appointments(desk: ClinicBackend) -> int:
    with desk.db.reading() as connection:
        return int(connection.execute("SELECT count(*) FROM appointments").fetchone()[0])


# -- the reference clinic passes ---------------------------------------------------------


def test_reference_clinic_passes_with_writes(reference: Reference, tmp_path: Path) -> None:
    junit, page = tmp_path / "report.xml", tmp_path / "report.html"
    result = check_reference(
        reference, "--allow-writes", "--junit", str(junit), "--html", str(page)
    )
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    assert " 0 failed" in result.output

    found = statuses(junit)
    assert not failed(junit)
    # Every operation was exercised, writes included, and cleaned up after.
    for name in (
        "addAppointment.book",
        "addAppointment.slot-gone",
        "addAppointment.taken",
        "deleteAppointment.gone",
        "SearchAppointments.delta-booked",
        "SearchAppointments.delta-deleted",
        "CancelAppointment.cancel",
        "searchAvailabilities.wrong-credentials",
        "getTestResultContent.content",
        "cleanup",
    ):
        assert found[name][0] == "passed", (name, found[name])
    assert confirmed_appointments(reference.desk) == []

    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "http-equiv" not in html
    assert "addAppointment.slot-gone" in html and "&lt;" in html  # escaped XML shown
    # The checker's own test patient and the clinic's patients stay out of the files.
    report = html + junit.read_text()
    assert "Conformance" not in report and "+34600111222" not in report
    assert PASSWORD not in report and "lucia@example.org" not in report


def test_reference_clinic_read_only_writes_nothing(reference: Reference, tmp_path: Path) -> None:
    before = all_appointments(reference.desk)
    junit = tmp_path / "report.xml"
    result = check_reference(reference, "--junit", str(junit))
    assert result.exit_code == 0, result.output
    found = statuses(junit)
    assert found["addAppointment.book"] == (
        "not applicable",
        "writes are off (run with --allow-writes)",
    )
    assert found["searchAvailabilities.not-null"][0] == "passed"
    assert all_appointments(reference.desk) == before


def test_skipped_operations_are_not_applicable(reference: Reference, tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    result = check_reference(
        reference,
        "--skip",
        "getTestResultsList",
        "--skip",
        "getTestResultContent",
        "--junit",
        str(junit),
    )
    assert result.exit_code == 0, result.output
    found = statuses(junit)
    assert found["getTestResultsList.schema"] == (
        "not applicable",
        "skipped (--skip getTestResultsList)",
    )


# -- broken variants fail, naming the rule ---------------------------------------------


def run_against(url: str, tmp_path: Path, *args: str) -> tuple[Result, Path]:
    junit = tmp_path / "report.xml"
    result = check(url, "--allow-writes", "--junit", str(junit), *args)
    return result, junit


def test_missing_not_null_field_fails(tmp_path: Path) -> None:
    with serve(tmp_path / "clinic.db", ServerOptions(today=TODAY), MissingResourceBackend) as url:
        result, junit = run_against(url, tmp_path)
    assert result.exit_code == EXIT_CLINIC, result.output
    broken = failed(junit)
    assert "RESOURCE_LID is missing" in broken["searchAvailabilities.not-null"]
    assert "not 'nillable'" in broken["searchAvailabilities.schema"]
    assert "FAIL  searchAvailabilities.not-null" in result.output
    assert "rule: Every NOT NULL field of the guide" in result.output


def test_date_in_the_wrong_format_fails(tmp_path: Path) -> None:
    with serve(tmp_path / "clinic.db", ServerOptions(today=TODAY), IsoDateBackend) as url:
        result, junit = run_against(url, tmp_path)
    assert result.exit_code == EXIT_CLINIC, result.output
    broken = failed(junit)
    for name in ("checkAppointment.formats", "SearchAppointments.formats"):
        assert "APP_DATE" in broken[name] and "is not dd/mm/yyyy" in broken[name], broken
    assert "searchAvailabilities.formats" not in broken


def test_generic_soap_fault_fails(tmp_path: Path) -> None:
    with serve(tmp_path / "clinic.db", ServerOptions(today=TODAY), wrap=generic_faults) as url:
        result, junit = run_against(url, tmp_path)
    assert result.exit_code == EXIT_CLINIC, result.output
    broken = failed(junit)
    assert "not a ClinicFault detail" in broken["checkAppointment.faults"]
    assert "not a ClinicFault detail" in broken["searchAvailabilities.faults"]
    # Still faults, so the invalid input itself is refused as it should be.
    assert "checkAppointment.invalid-input" not in broken


def test_booked_slot_still_offered_fails(tmp_path: Path) -> None:
    with serve(tmp_path / "clinic.db", ServerOptions(today=TODAY), StillOfferedBackend) as url:
        result, junit = run_against(url, tmp_path)
    assert result.exit_code == EXIT_CLINIC, result.output
    broken = failed(junit)
    assert "is still offered" in broken["addAppointment.slot-gone"]
    assert set(broken) == {"addAppointment.slot-gone"}


def test_slow_answer_fails_the_latency_limit(tmp_path: Path) -> None:
    # The default limit is the poller's 10 s; a short one against a short delay
    # shows the same rule without waiting 12 s.
    slow = ServerOptions(
        today=TODAY, delay_seconds=1.5, delay_operations=frozenset({"searchAvailabilities"})
    )
    with serve(tmp_path / "clinic.db", slow) as url:
        junit = tmp_path / "report.xml"
        result = check(url, "--timeout", "0.5", "--junit", str(junit))
    assert result.exit_code == EXIT_CLINIC, result.output
    broken = failed(junit)
    assert (
        "the limit is 0.5 s (the portal's timeout per center)"
        in broken["searchAvailabilities.latency"]
    )
    assert "answered in 1." in broken["searchAvailabilities.latency"]


def test_unreachable_clinic_fails(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    result = check(f"http://127.0.0.1:{_free_port()}/clinic", "--junit", str(junit))
    assert result.exit_code == EXIT_CLINIC, result.output
    assert "no answer (ConnectionError)" in failed(junit)["getCenters.valid-request"]
