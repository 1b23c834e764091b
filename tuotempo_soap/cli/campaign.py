"""``campaign``: bulk messages (guide A.6). Create a campaign from a patient list
(CSV or Excel) or pasted addresses, preview what it would send and cost, start
it (its messages go to the outbox, due at its rate and out of its quiet hours;
the worker sends them), follow it; and the opt-out list every campaign honours.

Addresses are masked in what is printed unless ``--unmasked`` is given."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..domain.campaigns import (
    DEFAULT_QUIET_HOURS,
    DEFAULT_RATE_PER_MINUTE,
    MAX_RATE_PER_MINUTE,
    CampaignText,
)
from ..domain.formats import FormatError, parse_timestamp
from ..services import campaigns, instances
from ..services.audit import Actor
from ..services.campaigns import Campaign, CampaignSpec, PatientSource, Report
from .base import CliContext, Shown, cell, echo_json, json_option, pass_cli, stamp, unmasked_option

# Who the audit log names for what is done from the command line.
CLI_ACTOR = Actor.of(None, "cli", None)


@click.group("campaign")
def campaign() -> None:
    """Campaigns (A.6): bulk messages to a patient list."""


def _pairs(values: Sequence[str], option: str) -> dict[str, str]:
    """``LANG=TEXT`` values of a repeated option, by language."""
    found: dict[str, str] = {}
    for value in values:
        language, sep, text = value.partition("=")
        if not sep or not language.strip():
            raise click.BadParameter(f"'{value}' is not LANG=TEXT (es=Hola ...)", param_hint=option)
        found[language.strip().lower()] = text
    return found


def _when(text: str | None) -> datetime | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_timestamp(text)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--send-after") from None


@campaign.command("create")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--name", required=True, help="What operators will call it.")
@click.option(
    "--channel",
    type=click.Choice(["SMS", "EMAIL"], case_sensitive=False),
    default="SMS",
    show_default=True,
)
@click.option(
    "--file",
    "list_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The patient list: CSV or Excel (.xlsx).",
)
@click.option(
    "--addresses",
    help="Addresses instead of a file: one a line or comma-separated ('-': standard input).",
)
@click.option(
    "--text",
    "texts",
    multiple=True,
    required=True,
    help="LANG=TEXT, once per language (es=Hola...).",
)
@click.option(
    "--subject", "subjects", multiple=True, help="LANG=SUBJECT of the e-mail, once per language."
)
@click.option(
    "--default-language",
    help="Text for recipients whose language has none (default: the instance's, or the first).",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    help="A condition on the list's columns, e.g. 'AGE >= 65' (repeat: all must hold).",
)
@click.option("--address-column", help="The column with the number or e-mail (default: detected).")
@click.option(
    "--language-column", help="The column with the patient's language (default: detected)."
)
@click.option(
    "--rate",
    type=click.IntRange(1, MAX_RATE_PER_MINUTE),
    default=DEFAULT_RATE_PER_MINUTE,
    show_default=True,
    help="Messages per minute.",
)
@click.option(
    "--quiet-hours",
    default=DEFAULT_QUIET_HOURS,
    show_default=True,
    help="hh:mm-hh:mm of the instance's clock when nothing is sent; 'none' for none.",
)
@click.option(
    "--send-after", help="Not before this moment: dd/mm/yyyy hh:mm, the instance's clock."
)
@json_option
@pass_cli
def campaign_create(
    cli: CliContext,
    instance_name: str,
    name: str,
    channel: str,
    list_file: Path | None,
    addresses: str | None,
    texts: Sequence[str],
    subjects: Sequence[str],
    default_language: str | None,
    filters: Sequence[str],
    address_column: str | None,
    language_column: str | None,
    rate: int,
    quiet_hours: str,
    send_after: str | None,
    as_json: bool,
) -> None:
    """Create a campaign for INSTANCE (a draft: nothing is sent until ``start``)."""
    if (list_file is None) == (addresses is None):
        raise click.UsageError("give either --file or --addresses")
    if list_file is not None:
        source = PatientSource.from_file(list_file.name, list_file.read_bytes())
    else:
        pasted = sys.stdin.read() if addresses == "-" else str(addresses)
        source = PatientSource.pasted(pasted)
    by_language = _pairs(texts, "--text")
    titles = _pairs(subjects, "--subject")
    spec = CampaignSpec(
        name=name,
        channel=channel,
        texts={code: CampaignText(body, titles.get(code)) for code, body in by_language.items()},
        default_language=default_language,
        filters="\n".join(filters),
        address_column=address_column,
        language_column=language_column,
        rate_per_minute=rate,
        quiet_hours=quiet_hours,
        send_after=_when(send_after),
    )
    target = instances.get_instance(cli.store, instance_name)
    created = campaigns.create_campaign(cli.store, CLI_ACTOR, target, spec, source)
    found = created.campaign
    if as_json:
        echo_json(_campaign_json(found))
        return
    click.echo(
        f"campaign {found.id} created ({found.state}): {found.recipients} recipient(s); "
        f"{found.rows_read} row(s) read, {found.filtered_out} filtered out, "
        f"{found.invalid} unusable, {found.duplicates} repeated"
    )
    for line, why in created.problems:
        click.echo(f"  line {line}: {why}", err=True)
    click.echo(f"next: tuotempo-soap campaign preview {target.name} {found.id}")


def _campaign_json(found: Campaign) -> dict[str, Any]:
    values = asdict(found)
    values["texts"] = {code: asdict(text) for code, text in found.texts.items()}
    return values


@campaign.command("preview")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("campaign_id", type=click.IntRange(min=1))
@json_option
@pass_cli
def campaign_preview(cli: CliContext, instance_name: str, campaign_id: int, as_json: bool) -> None:
    """What starting campaign CAMPAIGN_ID now would send, skip and cost."""
    target = instances.get_instance(cli.store, instance_name)
    seen = campaigns.preview(cli.store, target, campaign_id)
    if as_json:
        echo_json(
            {
                "campaign": seen.campaign.id,
                "state": seen.campaign.state,
                "recipients": seen.recipients,
                "opted_out": seen.opted_out,
                "to_send": seen.to_send,
                "segments": seen.segments,
                "languages": [asdict(cost) for cost in seen.languages],
                "first_due_at": seen.first_due_at,
                "last_due_at": seen.last_due_at,
            }
        )
        return
    found = seen.campaign
    click.echo(f"campaign {found.id} ({found.state}) {found.name} via {found.channel}")
    click.echo(
        f"recipients: {seen.recipients}; opted out (skipped): {seen.opted_out}; "
        f"to send: {seen.to_send}"
    )
    for cost in seen.languages:
        if cost.encoding is None:
            click.echo(f"  {cost.language}: {cost.recipients} message(s)")
        else:
            click.echo(
                f"  {cost.language}: {cost.recipients} x {cost.segments_each} segment(s) "
                f"{cost.encoding} = {cost.segments}"
            )
    if found.channel == "SMS":
        click.echo(f"cost: {seen.segments} SMS segment(s)")
    click.echo(f"rate: {found.rate_per_minute}/min; quiet hours: {found.quiet_hours or 'none'}")
    if seen.first_due_at is not None:
        click.echo(
            f"if started now: from {stamp(seen.first_due_at, target.zone)} "
            f"to {stamp(seen.last_due_at, target.zone)} ({target.timezone})"
        )


@campaign.command("start")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("campaign_id", type=click.IntRange(min=1))
@pass_cli
def campaign_start(cli: CliContext, instance_name: str, campaign_id: int) -> None:
    """Queue campaign CAMPAIGN_ID's messages (the worker sends them when due).

    Safe to repeat after an interrupted start: what was queued stays queued once."""
    target = instances.get_instance(cli.store, instance_name)
    done = campaigns.start_campaign(cli.store, CLI_ACTOR, target, campaign_id)
    click.echo(
        f"campaign {campaign_id} {'resumed' if done.resumed else 'started'}: "
        f"{done.queued} queued, {done.opted_out} skipped (opted out)"
        + (f", {done.rejected} refused by the outbox" if done.rejected else "")
        + (f", {done.remaining} left for the worker" if done.remaining else "")
    )
    if done.first_due_at is not None:
        click.echo(
            f"due from {stamp(done.first_due_at, target.zone)} "
            f"to {stamp(done.last_due_at, target.zone)} ({target.timezone})"
        )


def _report_lines(report: Report) -> list[tuple[str, int]]:
    return [
        ("total", report.total),
        ("sent (no receipt yet)", report.sent),
        ("delivered", report.delivered),
        ("failed", report.failed),
        ("opted out (skipped)", report.opted_out),
        ("waiting in the outbox", report.waiting),
        ("cancelled", report.cancelled),
        ("expired", report.expired),
        ("refused by the outbox", report.rejected),
        ("not queued yet", report.pending),
    ]


@campaign.command("status")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("campaign_id", type=click.IntRange(min=1))
@click.option(
    "--recipients",
    "limit",
    type=click.IntRange(0, 1000),
    default=0,
    help="Also list the first N recipients and their message's status.",
)
@json_option
@unmasked_option
@pass_cli
def campaign_status(
    cli: CliContext,
    instance_name: str,
    campaign_id: int,
    limit: int,
    as_json: bool,
    unmasked: bool,
) -> None:
    """The report of campaign CAMPAIGN_ID: every recipient counted once, by what
    became of its message."""
    target = instances.get_instance(cli.store, instance_name)
    found = campaigns.get_campaign(cli.store, target, campaign_id)
    report = campaigns.campaign_report(cli.store, target, campaign_id)
    lines = campaigns.recipient_lines(cli.store, target, campaign_id, limit=limit) if limit else []
    shown = Shown(unmasked)
    if as_json:
        echo_json(
            {
                "campaign": found.id,
                "state": found.state,
                "finished": report.finished,
                **asdict(report),
                "recipients": [
                    {**asdict(line), "address": shown.recipient(line.address)} for line in lines
                ],
            }
        )
        return
    progress = "finished" if report.finished else "in progress"
    if found.state == "DRAFT":
        progress = "not started"
    click.echo(f"campaign {found.id} ({found.state}, {progress}) {found.name}")
    for label, value in _report_lines(report):
        if value or label in ("total", "sent (no receipt yet)", "delivered", "failed"):
            click.echo(f"  {label}: {value}")
    for line in lines:
        click.echo(
            "\t".join(
                cell(value)
                for value in (
                    line.id,
                    shown.recipient(line.address),
                    line.language,
                    line.status or line.state,
                    stamp(line.due_at, target.zone),
                    stamp(line.sent_at, target.zone),
                )
            )
        )


@campaign.command("list")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def campaign_list(cli: CliContext, instance_name: str) -> None:
    """INSTANCE's campaigns, newest first: id, created, state, channel, recipients, name."""
    target = instances.get_instance(cli.store, instance_name)
    page = campaigns.list_campaigns(cli.store, target)
    for found in page.campaigns:
        click.echo(
            "\t".join(
                cell(value)
                for value in (
                    found.id,
                    stamp(found.created_at, target.zone),
                    found.state,
                    found.channel,
                    found.recipients,
                    found.name,
                )
            )
        )
    if not page.campaigns:
        click.echo("no campaigns", err=True)


@campaign.command("opt-out")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("addresses", nargs=-1, required=True)
@pass_cli
def campaign_opt_out(cli: CliContext, instance_name: str, addresses: Sequence[str]) -> None:
    """Put ADDRESSES (numbers in any spelling, e-mail addresses) on INSTANCE's
    opt-out list: no later campaign sends to them, and their campaign messages
    still waiting are cancelled."""
    target = instances.get_instance(cli.store, instance_name)
    added = campaigns.opt_out(cli.store, target, addresses)
    click.echo(f"{added} address(es) opted out ({len(addresses) - added} already were)")


@campaign.command("opt-in")
@click.argument("instance_name", metavar="INSTANCE")
@click.argument("address")
@pass_cli
def campaign_opt_in(cli: CliContext, instance_name: str, address: str) -> None:
    """Take ADDRESS off INSTANCE's opt-out list (the patient asked again for campaigns)."""
    target = instances.get_instance(cli.store, instance_name)
    if not campaigns.opt_in(cli.store, target, address):
        raise click.ClickException("that address is not on the opt-out list")
    click.echo("opted in again")
