"""``clinic`` and ``poll``: how an instance reaches its clinic's own web
services, and the poller that brings the clinic's appointments in."""

from __future__ import annotations

import threading

import click

from ..clinic.conformance.command import check as conformance_check
from ..dispatch.worker import default_worker_id
from ..services import clinic_sync
from ..services.instances import get_instance
from .base import EXIT_CLINIC, CliContext, pass_cli


@click.group()
def clinic() -> None:
    """How an instance reaches its clinic's web services."""


clinic.add_command(conformance_check)


@clinic.command("set")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--wsdl", "wsdl_url", required=True, help="The clinic's WSDL (URL).")
@click.option("--endpoint", "endpoint_url", help="Endpoint address, if not the WSDL's own.")
@click.option("--username", help="User the clinic gave the platform.")
@click.option("--password-env", help="Environment variable holding that user's password.")
@click.option("--center", "center_lid", help="Default CENTER_LID of every call.")
@click.option("--timeout", default=10, show_default=True, type=click.IntRange(1, 300))
@click.option(
    "--interval",
    default=300,
    show_default=True,
    type=click.IntRange(10, 86400),
    help="Seconds between polls.",
)
@click.option("--no-poll", is_flag=True, help="Do not poll SearchAppointments.")
@pass_cli
def clinic_set(
    cli: CliContext,
    instance_name: str,
    wsdl_url: str,
    endpoint_url: str | None,
    username: str | None,
    password_env: str | None,
    center_lid: str | None,
    timeout: int,
    interval: int,
    no_poll: bool,
) -> None:
    """Point INSTANCE at its clinic's web services."""
    clinic_sync.configure(
        cli.store,
        instance_name,
        wsdl_url=wsdl_url,
        endpoint_url=endpoint_url,
        username=username,
        password_env=password_env,
        center_lid=center_lid,
        timeout_seconds=timeout,
        poll_interval_seconds=interval,
        poll_enabled=not no_poll,
    )
    click.echo(f"{instance_name} now uses {wsdl_url}")


@clinic.command("show")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def clinic_show(cli: CliContext, instance_name: str) -> None:
    """Show INSTANCE's clinic integration and its poller state."""
    store = cli.store
    instance = get_instance(store, instance_name)
    row = clinic_sync.integration(store, instance)
    for key in (
        "wsdl_url",
        "endpoint_url",
        "username",
        "password_env",
        "center_lid",
        "timeout_seconds",
        "poll_enabled",
        "poll_interval_seconds",
        "last_success_at",
        "next_poll_at",
        "consecutive_failures",
        "last_error",
        "key_entities_at",
    ):
        value = getattr(row, key)
        if value is not None:
            click.echo(f"{key}: {value}")
    for name, count in clinic_sync.entity_counts(store, instance).items():
        click.echo(f"{name}: {count}")


@clinic.command("remove")
@click.argument("instance_name", metavar="INSTANCE")
@pass_cli
def clinic_remove(cli: CliContext, instance_name: str) -> None:
    """Stop using INSTANCE's clinic web services: forget the settings and the
    entities read from them (its reservations stay)."""
    clinic_sync.remove(cli.store, instance_name)
    click.echo(f"{instance_name} no longer uses clinic web services")


@click.command()
@click.option("--once", is_flag=True, help="Poll what is due, then exit (for cron).")
@click.option("--instance", "only", help="Poll this instance now, due or not (implies --once).")
@click.option("--every", default=30.0, show_default=True, help="Seconds between rounds.")
@pass_cli
def poll(cli: CliContext, once: bool, only: str | None, every: float) -> None:
    """Bring clinics' appointments (SearchAppointments) and entities (KeyEntities) in."""
    import signal

    store = cli.store
    settings = cli.settings
    if only is not None:
        clinic_sync.integration(store, get_instance(store, only))  # says what to set up first
    stop = threading.Event()
    if not (once or only):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    owner = default_worker_id()
    failed = False
    while True:
        for outcome in clinic_sync.poll_due(
            store, owner=owner, max_items=settings.max_batch_items, only=only
        ):
            if outcome.skipped:
                click.echo(f"{outcome.instance}: another poller holds it")
            elif outcome.ok:
                entities = "" if outcome.entities is None else f", {outcome.entities} entities"
                click.echo(f"{outcome.instance}: {outcome.appointments} appointments{entities}")
            else:
                failed = True
                click.echo(f"{outcome.instance}: failed: {outcome.error}", err=True)
        if once or only or stop.wait(every):
            break
    if failed and (once or only):
        raise SystemExit(EXIT_CLINIC)
