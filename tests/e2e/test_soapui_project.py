"""The shipped SoapUI project, run by ``tuotempo-soap suite run`` against real
servers: the demo server passes it whole; a server with a planted defect, or a
project whose expectation is wrong, fails it, naming the assertion."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.conftest import make_instance
from tests.e2e.conftest import ROOT, _free_port, start_gunicorn, stop_process
from tuotempo_soap.config import Settings
from tuotempo_soap.store.bootstrap import open_store

pytestmark = pytest.mark.e2e

PROJECT = ROOT / "qa" / "soapui" / "tuotempo-soap-project.xml"
IDEMPOTENT = "Idempotent re-send: the same batch answers UNCHANGED"


@dataclass(frozen=True)
class Target:
    endpoint: str
    instance: str
    username: str
    password: str

    def properties(self) -> list[str]:
        return [
            "-P",
            f"INSTANCE={self.instance}",
            "-P",
            f"USERNAME={self.username}",
            "-P",
            f"PASSWORD={self.password}",
        ]


def suite_run(target: Target, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tuotempo_soap.cli",
            "suite",
            "run",
            str(project),
            "--endpoint",
            target.endpoint,
            *target.properties(),
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        # The runner needs no settings; a broken one must not matter.
        env={**os.environ, "TUOTEMPO_MAX_BATCH_ITEMS": "not a number"},
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """``tuotempo-soap serve --demo``, as a QA engineer starts it, with the
    credentials it prints."""
    workdir = tmp_path_factory.mktemp("soapui-demo")
    port = _free_port()
    env = {
        **os.environ,
        "TUOTEMPO_DATA_DIR": str(workdir / "data"),
        "TUOTEMPO_DATABASE_URL": f"sqlite:///{workdir / 'demo.db'}",
    }
    log = (workdir / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tuotempo_soap.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            printed.append(line)
            if line.startswith("curl ") or not line:
                break
        found = re.search(r"Demo instance (\S+): user (\S+), password (\S+)", "".join(printed))
        assert found, "".join(printed)
        url = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield Target(f"{url}/soap", found.group(1), found.group(2), found.group(3))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_the_shipped_project_passes_against_the_demo_server(demo: Target, tmp_path: Path) -> None:
    junit, html = tmp_path / "reports" / "soapui.xml", tmp_path / "reports" / "soapui.html"
    result = suite_run(demo, PROJECT, "--junit", str(junit), "--html", str(html))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    report = etree.parse(str(junit)).getroot()
    cases = report.findall("testsuite/testcase")
    assert len(cases) == int(report.get("tests")) >= 40
    assert report.get("failures") == "0" and report.get("errors") == "0"
    assert report.get("skipped") == "0"
    suites = [suite.get("name") for suite in report.findall("testsuite")]
    for operation in ("updateReservations", "getReservations", "updateMessages", "searchMessages"):
        assert operation in suites
    # One progress line per case, and the summary.
    assert len(re.findall(r"^\[\s*\d+/\d+\] .* \.\.\. PASS", result.stdout, re.M)) == len(cases)
    assert f"{len(cases)} test cases: {len(cases)} passed, 0 failed" in result.stdout
    page = html.read_text(encoding="utf-8")
    assert "<script" not in page and "passed" in page
    for output in (result.stdout, result.stderr, page, junit.read_text(encoding="utf-8")):
        assert demo.password not in output


def test_a_wrong_expectation_fails_naming_the_assertion(demo: Target, tmp_path: Path) -> None:
    """A copy of the project that expects UPDATED where the server rightly says
    UNCHANGED: the run fails, and says which assertion of which step."""
    text = PROJECT.read_text(encoding="utf-8")
    expected = "<content>UNCHANGED</content>"
    position = text.index(expected, text.index('name="ITEM 1 ACTION is UNCHANGED"'))
    broken = tmp_path / "broken.xml"
    broken.write_text(
        text[:position] + "<content>UPDATED</content>" + text[position + len(expected) :],
        encoding="utf-8",
    )
    junit = tmp_path / "junit.xml"
    result = suite_run(demo, broken, "--case", IDEMPOTENT, "--junit", str(junit))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"updateReservations / {IDEMPOTENT} ... FAIL" in result.stdout
    assert (
        'step "Re-send the same batch" assertion "ITEM 1 ACTION is UNCHANGED": '
        "XPath Match failed" in result.stdout
    )
    assert "expecting [UPDATED], actual was [UNCHANGED]" in result.stdout
    failure = etree.parse(str(junit)).getroot().find("testsuite/testcase/failure")
    assert failure is not None and "ITEM 1 ACTION is UNCHANGED" in failure.get("message", "")
    assert "1 test cases: 0 passed, 1 failed" in result.stdout


@pytest.fixture(scope="module")
def defective(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """gunicorn serving the application behind a middleware that breaks one field."""
    workdir = tmp_path_factory.mktemp("soapui-defect")
    database_url = f"sqlite:///{workdir / 'tuotempo.db'}"
    process, url, _ = start_gunicorn(
        database_url, workdir, app="tests.e2e.planted_defect:application"
    )
    store = open_store(Settings.from_env({"TUOTEMPO_DATABASE_URL": database_url}), migrate=False)
    try:
        who = make_instance(store)
        yield Target(f"{url}/soap", who.instance, who.username, who.password)
    finally:
        stop_process(process)
        store.dispose()


def test_a_planted_server_defect_fails_the_run_naming_the_assertion(
    defective: Target, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"
    result = suite_run(
        defective,
        PROJECT,
        "--suite",
        "updateReservations",
        "--case",
        IDEMPOTENT,
        "--html",
        str(html),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    failed = [line.strip() for line in lines if line.startswith("    step ")]
    # Only the assertions on that one field fail; counts and schema still hold.
    assert failed and all("ACTION is UNCHANGED" in line for line in failed), failed
    assert any(
        line.startswith('step "Re-send the same batch" assertion "ITEM 1 ACTION is UNCHANGED"')
        for line in failed
    )
    assert "expecting [UNCHANGED], actual was [UPDATED]" in result.stdout
    page = html.read_text(encoding="utf-8")
    assert "ITEM 1 ACTION is UNCHANGED" in page and "FAILED" in page
    assert defective.password not in page
