"""``instance``: create, change, list, disable, enable and remove instances
(the ``tt_...`` accounts the HIS authenticates as)."""

from __future__ import annotations

import click

from ..services import instances
from .base import CliContext, pass_cli


@click.group()
def instance() -> None:
    """Instances (tt_... accounts)."""


@instance.command("create")
@click.argument("name")
@click.option("--timezone", default="Europe/Madrid", show_default=True)
@click.option("--country", default="ES", show_default=True, help="Default phone country.")
@click.option("--language", default="es", show_default=True)
@click.option(
    "--store-patient-identity",
    is_flag=True,
    help="Keep patient names and ID numbers (the guide advises against it).",
)
@click.option("--email-from", help="From address of the e-mails sent for this instance.")
@click.option("--reply-to", help="Reply-To address of those e-mails.")
@pass_cli
def instance_create(
    cli: CliContext,
    name: str,
    timezone: str,
    country: str,
    language: str,
    store_patient_identity: bool,
    email_from: str | None,
    reply_to: str | None,
) -> None:
    """Create instance NAME (tt_...)."""
    created = instances.create_instance(
        cli.store,
        name,
        timezone=timezone,
        country=country,
        language=language,
        store_patient_identity=store_patient_identity,
        email_from=email_from,
        email_reply_to=reply_to,
    )
    click.echo(
        f"created {created.name} ({created.timezone}, {created.country}, {created.language})"
    )


@instance.command("update")
@click.argument("name")
@click.option("--timezone")
@click.option("--country")
@click.option("--language")
@click.option("--email-from")
@click.option("--reply-to")
@click.option("--store-patient-identity/--no-store-patient-identity", default=None)
@pass_cli
def instance_update(
    cli: CliContext,
    name: str,
    timezone: str | None,
    country: str | None,
    language: str | None,
    email_from: str | None,
    reply_to: str | None,
    store_patient_identity: bool | None,
) -> None:
    """Change the settings of instance NAME (only those given)."""
    updated = instances.update_instance(
        cli.store,
        name,
        timezone=timezone,
        country=country,
        language=language,
        email_from=email_from,
        email_reply_to=reply_to,
        store_patient_identity=store_patient_identity,
    )
    click.echo(f"updated {updated.name}")


@instance.command("list")
@pass_cli
def instance_list(cli: CliContext) -> None:
    """List instances (a disabled one says since when, in UTC)."""
    for item in instances.list_instances(cli.store):
        identity = "keeps identity" if item.store_patient_identity else "no identity"
        line = f"{item.name}\t{item.timezone}\t{item.country}\t{item.language}\t{identity}"
        if item.disabled_at is not None:
            line += f"\tdisabled since {item.disabled_at:%d/%m/%Y %H:%M} UTC"
        click.echo(line)


@instance.command("disable")
@click.argument("name")
@pass_cli
def instance_disable(cli: CliContext, name: str) -> None:
    """Switch NAME off: every SOAP call is refused (Client.InstanceDisabled) and
    its messages and reminders wait, unsent, until it is enabled again."""
    if instances.disable_instance(cli.store, name):
        click.echo(
            f"disabled {name}: SOAP calls are refused and nothing is sent "
            f"(`tuotempo-soap instance enable {name}` switches it back on)"
        )
    else:
        since = instances.disabled_since(cli.store, name)
        when = f" since {since:%d/%m/%Y %H:%M} UTC" if since else ""
        click.echo(f"{name} was already disabled{when}")


@instance.command("enable")
@click.argument("name")
@pass_cli
def instance_enable(cli: CliContext, name: str) -> None:
    """Switch NAME back on: SOAP calls are answered and waiting messages go out."""
    if instances.enable_instance(cli.store, name):
        click.echo(f"enabled {name}")
    else:
        click.echo(f"{name} was not disabled")


@instance.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def instance_remove(cli: CliContext, name: str, yes: bool) -> None:
    """Delete NAME and all its data: users, reservations, messages, clinic
    settings, reminders. It cannot be undone; `instance disable` keeps the data."""
    contents = instances.removal_preview(cli.store, name)
    listed = ", ".join(f"{table}: {count}" for table, count in contents.items()) or "no data"
    if not yes:
        click.confirm(
            f"Remove {name} and all its data ({listed})? This cannot be undone",
            abort=True,
            err=True,
        )
    deleted = instances.remove_instance(cli.store, name)
    total = sum(deleted.values())
    click.echo(f"removed {name} ({total} rows)")
