"""``tuotempo-soap clinic check URL``: the conformance checker's command line.

Registered on the ``clinic`` group by the CLI; everything it needs is imported
when it runs, so the rest of the CLI starts as fast as before.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click

from .contract import OPERATIONS

# Past its latency limit a call is still waited for this long (at least), so the
# report can say "answered in 12.3 s" rather than only "no answer".
GRACE_FACTOR = 2.0
GRACE_MIN_SECONDS = 5.0


def clinic_address(url: str) -> str:
    """The endpoint to post to: ``?wsdl`` (or any query) dropped; http(s) only."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            "expected the clinic's http:// or https:// address", param_hint="URL"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


@click.command("check")
@click.argument("url")
@click.option(
    "--allow-writes",
    is_flag=True,
    help="Also book, delete and cancel test appointments (all undone at the end).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Latency limit per call, in seconds [default: the poller's and the portal's, 10].",
)
@click.option("--username", help="USERNAME of the AUTH block, if the clinic requires one.")
@click.option("--password-env", help="Environment variable holding the PASSWORD.")
@click.option("--center", "center_lid", help="CENTER_LID of every call (B.3).")
@click.option(
    "--activity", "activity_lid", help="ACTIVITY_LID to search [default: KeyEntities' first]."
)
@click.option(
    "--skip",
    multiple=True,
    type=click.Choice(OPERATIONS),
    metavar="OPERATION",
    help="An operation the clinic does not implement (repeatable); its checks are not applicable.",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JUnit XML here.",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write an HTML report here.",
)
@click.option("--verbose", "-v", is_flag=True, help="Print the rule of every check.")
def check(
    url: str,
    allow_writes: bool,
    timeout: float | None,
    username: str | None,
    password_env: str | None,
    center_lid: str | None,
    activity_lid: str | None,
    skip: tuple[str, ...],
    junit_path: Path | None,
    html_path: Path | None,
    verbose: bool,
) -> None:
    """Check the clinic web services at URL against wsdl/clinic.wsdl.

    Every operation is called with valid and invalid input; every answer is
    judged against the contract's schema, the guide's NOT NULL fields, the date
    and time formats, the result codes and the platform's timeouts. Exits 4 (a
    clinic's web services failed) when any check fails.
    """
    from ...services.clinic_sync import OVERLAP
    from .contract import default_limits
    from .model import CheckConfig
    from .report import html, junit_xml, terminal, write
    from .runner import run_checks

    address = clinic_address(url)
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise click.BadParameter(f"{password_env} is not set", param_hint="--password-env")
    if password_env and not username:
        raise click.BadParameter("a password needs --username", param_hint="--password-env")
    limits = default_limits(timeout) if timeout is not None else default_limits()
    slowest = max(limit.seconds for limit in limits.values())
    config = CheckConfig(
        address=address,
        limits=limits,
        overlap=OVERLAP,
        http_timeout=max(slowest * GRACE_FACTOR, slowest + GRACE_MIN_SECONDS),
        allow_writes=allow_writes,
        username=username,
        password=password,
        center_lid=center_lid,
        activity_lid=activity_lid,
        skip=frozenset(skip),
        run_id=f"conformance-{secrets.token_hex(4)}",
    )
    report = run_checks(config)
    click.echo(terminal(report, verbose=verbose), nl=False)
    if junit_path is not None:
        write(junit_path, junit_xml(report))
        click.echo(f"JUnit XML: {junit_path}")
    if html_path is not None:
        write(html_path, html(report))
        click.echo(f"HTML report: {html_path}")
    if report.failed:
        from ...cli.base import EXIT_CLINIC

        raise SystemExit(EXIT_CLINIC)
