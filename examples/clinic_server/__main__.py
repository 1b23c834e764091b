"""``python -m examples.clinic_server``: ``serve`` the reference clinic, ``export-wsdl``.

Options come from ``CLINIC_*`` environment variables (see ``options.py`` and
the README next to this file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

DEFAULT_WSDL = Path("wsdl") / "clinic.wsdl"


@click.group()
def main() -> None:
    """The reference clinic web services (wsdl/clinic.wsdl)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8100, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db_path",
    default=lambda: os.environ.get("CLINIC_DB", "clinic.db"),
    show_default="$CLINIC_DB or clinic.db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file; created and seeded when missing.",
)
@click.option("--threads", default=8, show_default=True, type=int, help="Concurrent requests.")
def serve(host: str, port: int, db_path: Path, threads: int) -> None:
    """Run the clinic (gunicorn, one process, several threads)."""
    from gunicorn.app.base import BaseApplication

    from .app import create_app
    from .options import ServerOptions

    try:
        options = ServerOptions.from_env(os.environ)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(f"bad CLINIC_* setting: {exc}") from None
    app = create_app(db_path, options)
    click.echo(f"clinic: http://{host}:{port}/clinic (WSDL: ?wsdl), database {db_path}", err=True)

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            # One process: the options (and /_control's changes to them) live in
            # it, so every request sees the same ones. Threads give concurrency.
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("timeout", 120)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn 25+ opens one control socket per user by default; two
                # servers (a clinic next to the main server, in tests) would share it.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return app

    _Server().run()


@main.command("export-wsdl")
@click.option(
    "--output",
    default=str(DEFAULT_WSDL),
    show_default=True,
    help="Where to write it; '-' for standard output.",
)
def export_wsdl(output: str) -> None:
    """Write the clinic contract's WSDL (the file HIS vendors generate servers from)."""
    from .app import build_wsdl

    wsdl = build_wsdl()
    if output == "-":
        sys.stdout.buffer.write(wsdl)
        return
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(wsdl)
    click.echo(f"wrote {target}", err=True)


if __name__ == "__main__":
    main()
