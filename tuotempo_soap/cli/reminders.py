"""``reminders``: an instance's reminder rules, what would be sent and what
not (why), and every step taken for one reservation."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import click

from ..services import reminders
from ..services.instances import get_instance
from .base import GUIDE_DATE, CliContext, pass_cli


@click.group(name="reminders")
def reminders_group() -> None:
    """Automatic reminders: rules, what would be sent, and why."""


@reminders_group.command("rules")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--set", "rules_file", type=click.File("r"), help="JSON rules to store ('-': stdin).")
@click.option("--defaults", is_flag=True, help="Store the built-in rules (turns reminders on).")
@pass_cli
def reminders_rules(cli: CliContext, instance_name: str, rules_file: Any, defaults: bool) -> None:
    """Show or set INSTANCE's reminder rules (offsets, channels, quiet hours, templates)."""
    store = cli.store
    if rules_file is not None or defaults:
        try:
            data = json.load(rules_file) if rules_file is not None else {}
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"the rules are not JSON: {exc}") from None
        reminders.set_rules(store, instance_name, data)
    rules = reminders.get_rules(store, get_instance(store, instance_name))
    if rules is None:
        click.echo(f"{instance_name} has no reminder rules (use --defaults or --set FILE)")
        return
    shown = rules.to_dict()
    shown.pop("templates", None)
    click.echo(json.dumps(shown, indent=2, sort_keys=True, default=str))


@reminders_group.command("plan")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--from", "start", required=True, type=GUIDE_DATE, help="dd/mm/yyyy")
@click.option("--to", "end", required=True, type=GUIDE_DATE, help="dd/mm/yyyy")
@pass_cli
def reminders_plan(cli: CliContext, instance_name: str, start: date, end: date) -> None:
    """Show what would be sent for appointments between two dates, and what not (why)."""
    store = cli.store
    instance = get_instance(store, instance_name)
    planned, skipped = reminders.preview(store, instance_name, start, end)
    for item in sorted(planned, key=lambda p: p.due_at):
        local = item.due_at.astimezone(instance.zone)
        click.echo(
            f"{local:%d/%m/%Y %H:%M}\t{item.kind}\t{item.channel.value}\t{item.language}\t"
            f"reservations {','.join(str(i) for i in item.reservation_ids)}"
        )
    for reservation_id, reason in skipped:
        click.echo(f"not sent\treservation {reservation_id}\t{reason}")


@reminders_group.command("log")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("reservation_id", type=int)
@pass_cli
def reminders_log(cli: CliContext, instance_name: str, reservation_id: int) -> None:
    """Every step taken for one reservation (RESERVATION_ID of getReservations)."""
    store = cli.store
    instance = get_instance(store, instance_name)
    events = reminders.reservation_history(store, instance, reservation_id)
    if not events:
        rules = reminders.get_rules(store, instance)
        why = (
            "reminders are off for this instance (reminders rules --defaults turns them on)"
            if rules is None
            else "nothing planned yet (the worker plans new and changed appointments)"
        )
        click.echo(f"no reminders for reservation {reservation_id}: {why}")
        return
    for event in events:
        click.echo(f"{event.at:%d/%m/%Y %H:%M:%S} UTC\t{event.event}\t{event.detail}")
