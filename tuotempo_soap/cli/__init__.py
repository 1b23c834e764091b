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

import click

from ..suite.command import suite
from .base import CliContext, Group
from .campaign import campaign
from .clinic import clinic, poll
from .db import db
from .files import files
from .instance import instance
from .messages import messages
from .operator import operator
from .portal import appointment, availability, portal_group
from .reminders import reminders_group
from .reservations import reservations
from .serve import serve
from .sincro import sincro
from .user import user
from .worker import worker
from .wsdl import wsdl

__all__ = ["CliContext", "main"]


@click.group(cls=Group)
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


for command in (
    serve,
    db,
    instance,
    user,
    clinic,
    poll,
    portal_group,
    availability,
    appointment,
    reservations,
    messages,
    reminders_group,
    worker,
    operator,
    wsdl,
    suite,
    sincro,
    files,
    campaign,
):
    main.add_command(command)
