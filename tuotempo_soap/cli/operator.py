"""``operator``: the people who use the web back office (``/admin``), and the
instances each may see. Not the HIS's API users (``user``).

Passwords are read from a prompt or standard input, never from arguments."""

from __future__ import annotations

import click

from ..services import operators
from .base import CliContext, pass_cli, read_password


def _scope(operator: operators.Operator) -> str:
    if operator.all_instances:
        return "all instances"
    return ", ".join(operator.instances) or "no instances yet"


@click.group()
def operator() -> None:
    """Back-office operators and the instances they may see."""


@operator.command("add")
@click.argument("username")
@click.option(
    "--instance", "instance_names", multiple=True, help="An instance it may see (repeat)."
)
@click.option("--all-instances", is_flag=True, help="It may see every instance.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_cli
def operator_add(
    cli: CliContext,
    username: str,
    instance_names: tuple[str, ...],
    all_instances: bool,
    password_stdin: bool,
) -> None:
    """Add operator USERNAME."""
    password = read_password(password_stdin)
    added = operators.add_operator(
        cli.store, username, password, all_instances=all_instances, instances=instance_names
    )
    click.echo(f"added operator {added.username} ({_scope(added)})")


@operator.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_cli
def operator_passwd(cli: CliContext, username: str, password_stdin: bool) -> None:
    """Change USERNAME's password (its open sessions end)."""
    operators.get_operator(cli.store, username)  # before asking for a password
    password = read_password(password_stdin)
    operators.set_password(cli.store, username, password)
    click.echo(f"password changed for operator {username}")


@operator.command("grant")
@click.argument("username")
@click.argument("instance_names", metavar="INSTANCE...", nargs=-1, required=True)
@pass_cli
def operator_grant(cli: CliContext, username: str, instance_names: tuple[str, ...]) -> None:
    """Let USERNAME see these instances."""
    granted = operators.get_operator(cli.store, username)
    for name in instance_names:
        granted = operators.grant(cli.store, username, name)
    click.echo(f"{username} sees {_scope(granted)}")


@operator.command("revoke")
@click.argument("username")
@click.argument("instance_names", metavar="INSTANCE...", nargs=-1, required=True)
@pass_cli
def operator_revoke(cli: CliContext, username: str, instance_names: tuple[str, ...]) -> None:
    """Take these instances away from USERNAME."""
    remaining = operators.get_operator(cli.store, username)
    for name in instance_names:
        remaining = operators.revoke(cli.store, username, name)
    click.echo(f"{username} sees {_scope(remaining)}")


@operator.command("all-instances")
@click.argument("username")
@click.argument("switch", type=click.Choice(["on", "off"]))
@pass_cli
def operator_all_instances(cli: CliContext, username: str, switch: str) -> None:
    """Let USERNAME see every instance (on), or only those granted (off)."""
    changed = operators.set_all_instances(cli.store, username, switch == "on")
    click.echo(f"{username} sees {_scope(changed)}")


@operator.command("remove")
@click.argument("username")
@pass_cli
def operator_remove(cli: CliContext, username: str) -> None:
    """Remove operator USERNAME (its open sessions end)."""
    operators.remove_operator(cli.store, username)
    click.echo(f"removed operator {username}")


@operator.command("list")
@pass_cli
def operator_list(cli: CliContext) -> None:
    """List operators and what each may see."""
    for item in operators.list_operators(cli.store):
        click.echo(f"{item.username}\t{_scope(item)}")
