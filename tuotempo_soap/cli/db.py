"""``db``: the database schema."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from ..store.bootstrap import open_store
from .base import CliContext, pass_cli


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Create or migrate the database to the latest schema."""
    settings = cli.settings
    open_store(settings, migrate=True).dispose()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    click.echo(f"database is up to date ({shown})")
