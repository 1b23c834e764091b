"""CLI commands for clinics integrated through their own web services
(``clinic``, ``poll``, ``portal``, ``availability``, ``appointment``) and for
automatic reminders (``reminders``).

For operators setting an integration up and for testing a clinic's web
services by hand. Registered on the main group by ``cli``.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from typing import Any

import click

from .cli import _settings, _store, main
from .clinic import Availability, PatientData, build_clinic_client
from .dispatch.worker import default_worker_id
from .domain.formats import FormatError, format_date, format_time, parse_date, parse_time
from .services import clinic_sync, portal, reminders
from .services.instances import get_instance


def _date(value: str | None, name: str):  # type: ignore[no-untyped-def]
    if value is None:
        return None
    try:
        return parse_date(value)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


def _time(value: str | None, name: str):  # type: ignore[no-untyped-def]
    if value is None:
        return None
    try:
        return parse_time(value)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@main.group()
def clinic() -> None:
    """How an instance reaches its clinic's web services."""


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
def clinic_set(
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
        _store(),
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
def clinic_show(instance_name: str) -> None:
    """Show INSTANCE's clinic integration and its poller state."""
    store = _store()
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
        if row[key] is not None:
            click.echo(f"{key}: {row[key]}")
    for name, count in clinic_sync.entity_counts(store, instance).items():
        click.echo(f"{name}: {count}")


@main.command()
@click.option("--once", is_flag=True, help="Poll what is due, then exit (for cron).")
@click.option("--instance", "only", help="Poll this instance now, due or not (implies --once).")
@click.option("--every", default=30.0, show_default=True, help="Seconds between rounds.")
def poll(once: bool, only: str | None, every: float) -> None:
    """Bring clinics' appointments (SearchAppointments) and entities (KeyEntities) in."""
    import signal

    store = _store()
    settings = _settings()
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
        raise SystemExit(4)


@main.group(name="portal")
def portal_group() -> None:
    """Portal instances grouping several centers (guide B.3)."""


@portal_group.command("add-center")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("center_lid", metavar="CENTER_LID")
@click.option("--via", required=True, help="Instance whose clinic web services serve it.")
@click.option("--name", help="Center name.")
def portal_add_center(portal_name: str, center_lid: str, via: str, name: str | None) -> None:
    """Add a center to PORTAL."""
    portal.add_center(_store(), portal_name, center_lid, via=via, name=name)
    click.echo(f"{portal_name}: center {center_lid} via {via}")


@portal_group.command("sync-centers")
@click.argument("portal_name", metavar="PORTAL")
def portal_sync_centers(portal_name: str) -> None:
    """Take PORTAL's centers from its own web services (getCenters)."""
    found = portal.sync_centers(_store(), portal_name, build=build_clinic_client)
    click.echo(f"{portal_name}: {', '.join(found) or 'no centers'}")


@portal_group.command("centers")
@click.argument("portal_name", metavar="PORTAL")
def portal_centers(portal_name: str) -> None:
    """List PORTAL's centers."""
    for center in portal.centers(_store(), portal_name):
        click.echo(f"{center.center_lid or '-'}\t{center.name or ''}\tvia {center.via.name}")


@main.group()
def availability() -> None:
    """Free slots at an instance's or a portal's centers."""


@availability.command("search")
@click.argument("portal_name", metavar="INSTANCE")
@click.option("--activity")
@click.option("--from", "start", help="dd/mm/yyyy (default: today)")
@click.option("--to", "end", help="dd/mm/yyyy")
@click.option("--min-time", help="hh:mm")
@click.option("--max-time", help="hh:mm")
@click.option("--resource")
@click.option("--insurance")
@click.option("--max", "max_results", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per center.")
def availability_search(
    portal_name: str,
    activity: str | None,
    start: str | None,
    end: str | None,
    min_time: str | None,
    max_time: str | None,
    resource: str | None,
    insurance: str | None,
    max_results: int,
    timeout: float,
) -> None:
    """Search free slots in every center of INSTANCE, in parallel."""
    query = portal.AvailabilityQuery(
        activity_lid=activity,
        start_day=_date(start, "--from"),
        end_day=_date(end, "--to"),
        min_time=_time(min_time, "--min-time"),
        max_time=_time(max_time, "--max-time"),
        resource_lid=resource,
        insurance_lid=insurance,
        max_results=max_results,
    )
    found = portal.search(
        _store(), portal_name, query, build=build_clinic_client, per_center_timeout=timeout
    )
    for slot in found.availabilities:
        click.echo(
            f"{format_date(slot.date)} {format_time(slot.start)}\t{slot.center_lid or '-'}\t"
            f"{slot.resource_lid}\t{slot.activity_lid}\t{slot.availability_lid or ''}"
        )
    for error in found.errors:
        click.echo(f"center {error.center_lid or '-'}: {error.code}: {error.message}", err=True)
    if found.errors and not found.availabilities:
        raise SystemExit(4)


@main.group()
def appointment() -> None:
    """Book or cancel at a clinic through its web services."""


@appointment.command("add")
@click.argument("portal_name", metavar="INSTANCE")
@click.option("--center", "center_lid")
@click.option("--availability-lid", required=True)
@click.option("--date", "day", required=True, help="dd/mm/yyyy")
@click.option("--time", "start", required=True, help="hh:mm")
@click.option("--activity", required=True)
@click.option("--resource", required=True)
@click.option("--insurance")
@click.option("--user-lid", help="Patient id at the clinic (USER_LID pattern).")
@click.option("--user-tid", help="Patient id on the platform (USER_TID pattern).")
@click.option("--mobile")
@click.option("--email")
def appointment_add(
    portal_name: str,
    center_lid: str | None,
    availability_lid: str,
    day: str,
    start: str,
    activity: str,
    resource: str,
    insurance: str | None,
    user_lid: str | None,
    user_tid: str | None,
    mobile: str | None,
    email: str | None,
) -> None:
    """Book a slot found by `availability search`."""
    slot = Availability(
        resource_lid=resource,
        activity_lid=activity,
        insurance_lid=insurance,
        date=_date(day, "--date"),
        start=_time(start, "--time"),
        availability_lid=availability_lid,
        center_lid=center_lid,
    )
    patient = PatientData(
        user_lid=user_lid,
        user_tid=user_tid or (None if user_lid else f"cli-{secrets.token_hex(4)}"),
        mobile_phone=mobile,
        email=email,
    )
    result = portal.book(
        _store(),
        portal_name,
        slot,
        patient,
        f"cli-{uuid.uuid4().hex[:12]}",
        build=build_clinic_client,
    )
    if not result.ok:
        raise click.ClickException(f"refused: {result.error_message}")
    click.echo(f"booked {result.app_lid} (patient {result.user_lid})")


@appointment.command("delete")
@click.argument("portal_name", metavar="INSTANCE")
@click.argument("app_lid")
@click.option("--center", "center_lid")
def appointment_delete(portal_name: str, app_lid: str, center_lid: str | None) -> None:
    """Cancel APP_LID at the clinic (deleteAppointment)."""
    result = portal.delete(_store(), portal_name, center_lid, app_lid, build=build_clinic_client)
    if not result.ok:
        raise click.ClickException(f"refused: {result.error_message}")
    click.echo(f"deleted {app_lid}")


@main.group(name="reminders")
def reminders_group() -> None:
    """Automatic reminders: rules, what would be sent, and why."""


@reminders_group.command("rules")
@click.argument("instance_name", metavar="INSTANCE")
@click.option("--set", "rules_file", type=click.File("r"), help="JSON rules to store ('-': stdin).")
@click.option("--defaults", is_flag=True, help="Store the built-in rules (turns reminders on).")
def reminders_rules(instance_name: str, rules_file: Any, defaults: bool) -> None:
    """Show or set INSTANCE's reminder rules (offsets, channels, quiet hours, templates)."""
    store = _store()
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
@click.option("--from", "start", required=True, help="dd/mm/yyyy")
@click.option("--to", "end", required=True, help="dd/mm/yyyy")
def reminders_plan(instance_name: str, start: str, end: str) -> None:
    """Show what would be sent for appointments between two dates, and what not (why)."""
    store = _store()
    instance = get_instance(store, instance_name)
    planned, skipped = reminders.preview(
        store, instance_name, _date(start, "--from"), _date(end, "--to")
    )
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
def reminders_log(instance_name: str, reservation_id: int) -> None:
    """Every step taken for one reservation (RESERVATION_ID of getReservations)."""
    store = _store()
    instance = get_instance(store, instance_name)
    for event in reminders.history(store, instance, reservation_id):
        click.echo(f"{event['at']:%d/%m/%Y %H:%M:%S} UTC\t{event['event']}\t{event['detail']}")
