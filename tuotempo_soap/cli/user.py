"""``user``: the API users of an instance (the USERNAME/PASSWORD of ``AUTH``).

Passwords are read from a prompt or standard input, never from arguments."""

from __future__ import annotations

import click

from ..services import instances
from .base import CliContext, pass_cli, read_password


@click.group()
def user() -> None:
    """API users of an instance."""


@user.command("add")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_cli
def user_add(cli: CliContext, instance_name: str, username: str, password_stdin: bool) -> None:
    """Add USERNAME to INSTANCE."""
    instances.get_instance(cli.store, instance_name)  # before asking for a password
    password = read_password(password_stdin)
    instances.add_user(cli.store, instance_name, username, password)
    click.echo(f"added {username} to {instance_name}")


@user.command("passwd")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_cli
def user_passwd(cli: CliContext, instance_name: str, username: str, password_stdin: bool) -> None:
    """Change USERNAME's password."""
    password = read_password(password_stdin)
    instances.set_password(cli.store, instance_name, username, password)
    click.echo(f"password changed for {username} in {instance_name}")


@user.command("remove")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("username")
@pass_cli
def user_remove(cli: CliContext, instance_name: str, username: str) -> None:
    """Remove USERNAME from INSTANCE."""
    instances.remove_user(cli.store, instance_name, username)
    click.echo(f"removed {username} from {instance_name}")


@user.command("list")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def user_list(cli: CliContext, instance_name: str) -> None:
    """List the users of INSTANCE."""
    for name in instances.list_users(cli.store, instance_name):
        click.echo(name)
