"""The ``tuotempo-soap`` command.

One module per command group (``serve``, ``db``, ``instance``, ``user``,
``clinic``, ``portal``, ``reservations``, ``messages``, ``reminders``,
``worker``, ``operator``, ``wsdl``, ``sincro``, ``files``, ``campaign``); they
share one ``CliContext`` through click's context (``ctx.obj``), which reads the
settings and opens the store the first time a command needs them. Commands
call services, never the store.

Errors are one line on standard error naming what to do next, with an exit
code (``base.Group``), never a traceback. Patient data is masked in output
unless ``--unmasked`` is given.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .base import CliContext, Group

__all__ = ["CliContext", "main"]

# Each command and where it lives, imported when it is run or listed: a
# command loads its own dependencies only (the worker neither Spyne nor
# Alembic, ``--version`` nothing), which is most of a process's start-up.
COMMANDS: dict[str, str] = {
    "serve": "tuotempo_soap.cli.serve:serve",
    "db": "tuotempo_soap.cli.db:db",
    "instance": "tuotempo_soap.cli.instance:instance",
    "user": "tuotempo_soap.cli.user:user",
    "clinic": "tuotempo_soap.cli.clinic:clinic",
    "poll": "tuotempo_soap.cli.clinic:poll",
    "portal": "tuotempo_soap.cli.portal:portal_group",
    "availability": "tuotempo_soap.cli.portal:availability",
    "appointment": "tuotempo_soap.cli.portal:appointment",
    "reservations": "tuotempo_soap.cli.reservations:reservations",
    "messages": "tuotempo_soap.cli.messages:messages",
    "reminders": "tuotempo_soap.cli.reminders:reminders_group",
    "worker": "tuotempo_soap.cli.worker:worker",
    "operator": "tuotempo_soap.cli.operator:operator",
    "wsdl": "tuotempo_soap.cli.wsdl:wsdl",
    "suite": "tuotempo_soap.suite.command:suite",
    "sincro": "tuotempo_soap.cli.sincro:sincro",
    "files": "tuotempo_soap.cli.files:files",
    "campaign": "tuotempo_soap.cli.campaign:campaign",
}


class LazyGroup(Group):
    """click's documented lazy loading of subcommands (``COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return super().get_command(ctx, cmd_name)
        module, _, attribute = where.partition(":")
        command: Any = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise RuntimeError(f"{where} is not the {cmd_name!r} command")
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="tuotempo-soap")
@click.pass_context
def main(ctx: click.Context) -> None:
    """tuotempo-soap: SOAP integration server for clinic software.

    Settings come from TUOTEMPO_* environment variables (see the README);
    by default an SQLite database under ./tuotempo-data.
    """
    if ctx.obj is None:
        ctx.obj = CliContext()
    ctx.call_on_close(ctx.obj.close)
