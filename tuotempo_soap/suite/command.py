"""``tuotempo-soap suite run PROJECT.xml``: the runner from the command line.

Exit codes: 0 every test case passed; 1 some failed (the progress lines and
the reports name each failing step and assertion); 2 the project cannot be
run as written (unreadable, or a step, assertion or expansion kind the runner
does not support, named), or the command line is wrong. Needs no database and
reads no ``TUOTEMPO_*`` setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import ProjectError
from .project import load_project
from .reports import write_html, write_junit
from .runner import DISABLED, PASS, CaseResult, RunOptions, run_project

EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _property(value: str) -> tuple[str, str]:
    name, sep, content = value.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{value!r} is not NAME=VALUE", param_hint="-P")
    return name.strip(), content


@click.group()
def suite() -> None:
    """SoapUI projects, run without SoapUI (qa/soapui/ holds ours)."""


@suite.command("run")
@click.argument(
    "project_file", metavar="PROJECT.xml", type=click.Path(dir_okay=False, path_type=Path)
)
@click.option(
    "--endpoint",
    metavar="URL",
    help="The SOAP endpoint, e.g. http://127.0.0.1:8000/soap: sets the ENDPOINT project "
    "property and replaces every literal endpoint of the project's requests.",
)
@click.option(
    "-P",
    "--property",
    "properties",
    metavar="NAME=VALUE",
    multiple=True,
    help="Set a project property (INSTANCE, USERNAME, PASSWORD ...); repeatable.",
)
@click.option("--suite", "suites", metavar="NAME", multiple=True, help="Run only this test suite.")
@click.option("--case", "cases", metavar="NAME", multiple=True, help="Run only this test case.")
@click.option(
    "--junit",
    "junit_path",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JUnit XML results here.",
)
@click.option(
    "--html",
    "html_path",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report here.",
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for each answer (a request's own timeout wins).",
)
def run(
    project_file: Path,
    endpoint: str | None,
    properties: tuple[str, ...],
    suites: tuple[str, ...],
    cases: tuple[str, ...],
    junit_path: Path | None,
    html_path: Path | None,
    timeout: float,
) -> None:
    """Run the test cases of PROJECT.xml and report each one.

    Values of properties whose name holds PASSWORD are masked in every
    output. Example:

    \b
      tuotempo-soap suite run qa/soapui/tuotempo-soap-project.xml \\
          --endpoint http://127.0.0.1:8000/soap \\
          -P INSTANCE=tt_demo -P USERNAME=demo -P PASSWORD=... \\
          --junit reports/soapui.xml --html reports/soapui.html
    """
    overrides = dict(_property(value) for value in properties)
    try:
        project = load_project(project_file)
        shown = endpoint or project.properties.get("ENDPOINT") or "the project's endpoints"
        click.echo(f"{project.name}: {project_file} against {shown}")
        result = run_project(
            project,
            RunOptions(
                endpoint=endpoint,
                properties=overrides,
                suites=suites,
                cases=cases,
                timeout=timeout,
                progress=_progress,
            ),
        )
    except ProjectError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_UNUSABLE)
    if junit_path:
        write_junit(result, junit_path)
    if html_path:
        write_html(result, html_path)
    ran = len(result.cases) - result.count(DISABLED)
    passed = result.count(PASS)
    click.echo(
        f"{len(result.cases)} test cases: {passed} passed, {ran - passed} failed, "
        f"{result.count(DISABLED)} disabled ({result.seconds:.1f} s)"
    )
    for path in (junit_path, html_path):
        if path:
            click.echo(f"wrote {path}")
    if not result.ok:
        sys.exit(EXIT_FAILED)


def _progress(case: CaseResult, number: int, total: int) -> None:
    width = len(str(total))
    head = f"[{number:>{width}}/{total}] {case.suite} / {case.name}"
    if case.status == DISABLED:
        click.echo(f"{head} ... disabled in the project, not run")
        return
    steps = sum(1 for step in case.steps if step.status not in ("NOT RUN", DISABLED))
    click.echo(f"{head} ... {case.status} ({steps} steps, {case.seconds:.2f} s)")
    for line in case.problems:
        click.echo(f"    {line}")
