"""``tuotempo-soap suite run`` refuses what it cannot run, by name, before any
request (these tests forbid sockets: a request would fail them)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tuotempo_soap.cli import main

from .support import case, project, raw_step, request_body, soap_step


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["suite", "run", *args])
    return result.exit_code, result.output


def test_a_groovy_step_is_refused_by_name_and_nothing_runs(tmp_path: Path) -> None:
    path = tmp_path / "groovy.xml"
    path.write_bytes(
        project(
            case(
                "Happy path",
                soap_step("Read", request_body()),
                raw_step("groovy", "Compute the dates", "<script>new Date()</script>"),
            )
        )
    )
    code, output = invoke(
        str(path), "--endpoint", "http://127.0.0.1:9/soap", "--junit", str(tmp_path / "j.xml")
    )
    assert code == 2
    assert "nothing was run" in output
    assert (
        'test step "Compute the dates" in S / Happy path: Groovy Script steps are not supported'
        in output
    )
    assert "Traceback" not in output
    assert not (tmp_path / "j.xml").exists()


def test_a_bad_property_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "p.xml"
    path.write_bytes(project(case("C")))
    code, output = invoke(str(path), "-P", "PASSWORD")
    assert code == 2 and "'PASSWORD' is not NAME=VALUE" in output


def test_unknown_suites_and_missing_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "p.xml"
    path.write_bytes(project(case("C"), suite="updateReservations"))
    code, output = invoke(str(path), "--suite", "updateReservation")
    assert code == 2
    assert "no test suite named 'updateReservation'; the project has 'updateReservations'" in output
    code, output = invoke(str(tmp_path / "absent.xml"))
    assert code == 2 and "cannot read" in output and "absent.xml" in output


def test_the_command_needs_no_settings(tmp_path: Path) -> None:
    path = tmp_path / "p.xml"
    path.write_bytes(project(case("Disabled", disabled=True)))
    result = CliRunner(env={"TUOTEMPO_MAX_BATCH_ITEMS": "lots"}).invoke(
        main, ["suite", "run", str(path)]
    )
    # Nothing ran (the only case is disabled), so the run did not pass: exit 1,
    # but the broken setting was never read.
    assert result.exit_code == 1, result.output
    assert "disabled in the project, not run" in result.output
    assert "TUOTEMPO_MAX_BATCH_ITEMS" not in result.output
