"""``messages``: queue a test message, show what became of one, and search an
instance's messages."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import date

import click

from ..domain.message import Channel, MessageStatus
from ..services import instances, search
from .base import (
    GUIDE_DATE,
    CliContext,
    Shown,
    echo_page,
    json_option,
    page_options,
    pass_cli,
    stamp,
    unmasked_option,
)


@click.group()
def messages() -> None:
    """Messages of the gateway."""


@messages.command("send")
@click.argument("instance_name", metavar="INSTANCE")
@click.option(
    "--channel", required=True, type=click.Choice([c.value for c in Channel], case_sensitive=False)
)
@click.option("--to", "recipient", required=True, help="Phone number, e-mail or push token.")
@click.option("--text", required=True)
@click.option("--subject", help="Required for EMAIL.")
@click.option("--legacy-id", help="Default: a new cli-... id.")
@pass_cli
def messages_send(
    cli: CliContext,
    instance_name: str,
    channel: str,
    recipient: str,
    text: str,
    subject: str | None,
    legacy_id: str | None,
) -> None:
    """Queue a test message for INSTANCE (the worker sends it)."""
    from ..services import messages as message_service

    target = instances.get_instance(cli.store, instance_name)
    item = {
        "LEGACY_ID": legacy_id or f"cli-{secrets.token_hex(6)}",
        "CHANNEL": channel,
        "TO": recipient,
        "TEXT": text,
        "SUBJECT": subject,
    }
    outcome = message_service.update_messages(cli.store, target, [item], max_items=1).items[0]
    if outcome.error is not None:
        raise click.ClickException(outcome.error.message)
    click.echo(f"{outcome.action} message {outcome.message_id} (legacy id {item['LEGACY_ID']})")


@messages.command("show")
@click.argument("legacy_id")
@click.option("--instance", "instance_name", required=True, help="The instance (tt_...).")
@pass_cli
def messages_show(cli: CliContext, legacy_id: str, instance_name: str) -> None:
    """Show what became of message LEGACY_ID."""
    from ..services import messages as message_service

    found = message_service.show_message(
        cli.store, instances.get_instance(cli.store, instance_name), legacy_id
    )
    for key, value in found.items():
        if value is not None:
            click.echo(f"{key}: {value}")


@messages.command("search")
@click.option("--instance", "instance_name", required=True, help="The instance (tt_...).")
@click.option("--legacy-id", help="The HIS's LEGACY_ID.")
@click.option("--to", "recipient", help="Recipient: a phone number in any spelling, or an e-mail.")
@click.option("--channel", type=click.Choice([c.value for c in Channel], case_sensitive=False))
@click.option("--status", type=click.Choice([s.value for s in MessageStatus], case_sensitive=False))
@click.option("--since", type=GUIDE_DATE, help="Queued on or after this day.")
@click.option("--until", type=GUIDE_DATE, help="Queued on or before this day.")
@page_options
@json_option
@unmasked_option
@pass_cli
def messages_search(
    cli: CliContext,
    instance_name: str,
    legacy_id: str | None,
    recipient: str | None,
    channel: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
    limit: int,
    before_id: int | None,
    as_json: bool,
    unmasked: bool,
) -> None:
    """Messages of an instance, newest first, one line each: id, legacy id,
    queued at (the instance's time), channel, recipient, status, attempts, error."""
    target = instances.get_instance(cli.store, instance_name)
    filters = search.MessageFilter(
        legacy_id=legacy_id,
        to=recipient,
        channel=channel,
        status=status,
        created_from=since,
        created_to=until,
    )
    page = search.search_messages(cli.store, target, filters, limit=limit, before_id=before_id)
    shown = Shown(unmasked)
    echo_page(
        target.name,
        page,
        "messages",
        as_json=as_json,
        item_json=lambda item: {**asdict(item), "recipient": shown.recipient(item.recipient)},
        item_cells=lambda item: (
            item.id,
            item.legacy_id,
            stamp(item.created_at, target.zone),
            item.channel,
            shown.recipient(item.recipient),
            item.status,
            f"{item.attempts} attempt{'' if item.attempts == 1 else 's'}",
            item.last_error,
        ),
    )
