"""``sincro``: the database agent that runs at the clinic (guide A.2).

``sincro run`` reads the clinic's views and sends what changed to the server,
then brings patients' cancellations back into TT_DELETE_RESERVATION; once
(``--once``, for cron) or every ``[run] interval_seconds`` until stopped
(SIGTERM/Ctrl-C), or for ``--max-runs`` runs. ``sincro check`` tries the
configuration: the views and their columns, the table, the server and its
credentials. ``sincro status`` shows the state file.

It needs no server settings (no TUOTEMPO_DATABASE_URL): only its own TOML
file and the passwords the file names as environment variables.

Exit codes: 1 a bad configuration or state file, 3 the clinic's database
failed, 4 the server failed or refused the call.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from .base import EXIT_CLINIC, EXIT_DATABASE, EXIT_REFUSED, echo_json, json_option

if TYPE_CHECKING:
    from ..sincro import SincroConfig

F = TypeVar("F", bound=Callable[..., object])

# Ours, and the same numbers as the server's commands: 3 a database, 4 a peer.
EXIT_CONFIG = EXIT_REFUSED
EXIT_CLINIC_DATABASE = EXIT_DATABASE
EXIT_SERVER = EXIT_CLINIC


def _config_option(function: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="TUOTEMPO_SINCRO_CONFIG",
        default="sincro.toml",
        show_default=True,
        help="The agent's TOML file (or TUOTEMPO_SINCRO_CONFIG).",
    )(function)


@contextmanager
def _exits() -> Iterator[None]:
    """The agent's errors as one line on standard error and an exit code."""
    from ..sincro import (
        ClinicDatabaseError,
        ServerError,
        SincroConfigError,
        SincroError,
        StateError,
    )

    try:
        yield
    except (SincroConfigError, StateError) as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_CONFIG)
    except ClinicDatabaseError as exc:
        click.echo(f"error: clinic database: {exc.message}", err=True)
        sys.exit(EXIT_CLINIC_DATABASE)
    except ServerError as exc:
        click.echo(f"error: server: {exc.message}", err=True)
        sys.exit(EXIT_SERVER)
    except SincroError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_CONFIG)


def _prepare(config_path: Path) -> SincroConfig:
    import logging

    from .. import clock
    from ..observability import logs
    from ..sincro import load_config

    config = load_config(config_path)
    logs.configure(config.log.level, config.log.format)
    logging.getLogger("tuotempo_soap").setLevel(config.log.level)
    # Their DEBUG lines carry whole envelopes and statements: patients' data.
    for name in ("zeep", "sqlalchemy", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    clock_file = os.environ.get("TUOTEMPO_CLOCK_FILE")  # end-to-end tests only
    clock.configure(Path(clock_file) if clock_file else None)
    return config


@click.group("sincro")
def sincro() -> None:
    """The database agent run at the clinic (guide A.2): views in, cancellations back."""


@sincro.command("run")
@_config_option
@click.option("--once", is_flag=True, help="One run, then exit (for cron).")
@click.option(
    "--interval",
    type=click.FloatRange(1, 86400),
    help="Seconds between runs (default: [run] interval_seconds).",
)
@click.option(
    "--max-runs", type=click.IntRange(1), help="Stop after this many runs (default: until stopped)."
)
def run(config_path: Path, once: bool, interval: float | None, max_runs: int | None) -> None:
    """Send the views' changes and write patients' cancellations back."""
    import signal
    import threading

    from ..sincro import SincroAgent, run_loop

    with _exits():
        config = _prepare(config_path)
        agent = SincroAgent(config)
        try:
            if once:
                summary = agent.run_once()
                click.echo(f"sincro: {summary.line()}")
                return
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            runs, failed = run_loop(
                agent,
                interval_seconds=interval or config.interval_seconds,
                stop=stop,
                max_runs=max_runs,
                report=lambda summary: click.echo(f"sincro: {summary.line()}"),
            )
            click.echo(f"sincro: stopped after {runs} run(s), {failed} failed")
        finally:
            agent.close()


@sincro.command("check")
@_config_option
def check(config_path: Path) -> None:
    """Try the configuration: views, columns, the cancellations table, the server."""
    from ..sincro.clinicdb import ClinicDatabase
    from ..sincro.server import SincroServer

    with _exits():
        config = _prepare(config_path)
        clinic = ClinicDatabase(config.database_url, config.clinic)
        server = SincroServer(config)
        try:
            for kind in ("resources", "reservations", "delete"):
                relation = clinic.relation(kind)
                click.echo(f"{relation.title}: columns {', '.join(relation.columns)}")
            click.echo(f"{config.clinic.reservations_view}: {len(clinic.reservation_keys())} rows")
            server.get_reservations(MAX_RESULTS=1)
            click.echo(f"server {config.server.url}: instance {config.server.instance} answers")
        finally:
            clinic.close()
            server.close()


@sincro.command("status")
@_config_option
@json_option
def status(config_path: Path, as_json: bool) -> None:
    """What the state file holds: rows sent, rows to send again, cancellations written."""
    from ..sincro.state import CHANGE_CURSOR, LAST_RUN, SERVER_CURSOR, SincroState

    with _exits():
        config = _prepare(config_path)
        state = SincroState(config.state_path)
        try:
            document: dict[str, object] = {
                "state_file": str(config.state_path),
                **state.counts(),
                "server_cursor": state.get(SERVER_CURSOR),
                "change_cursor": state.get(CHANGE_CURSOR),
                "last_run": state.get(LAST_RUN),
            }
        finally:
            state.close()
        if as_json:
            echo_json(document)
            return
        for key, value in document.items():
            click.echo(f"{key}\t{value if value is not None else '-'}")
