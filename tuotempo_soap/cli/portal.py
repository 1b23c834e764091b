"""``portal``, ``availability`` and ``appointment``: portal instances grouping
several centers (guide B.3), free slots at their centers, and booking or
cancelling through the clinics' web services, for setting an integration up
and testing a clinic by hand."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, time

import click

from ..clinic import Availability, PatientData, build_clinic_client
from ..domain.formats import format_date, format_time
from ..services import portal
from .base import EXIT_CLINIC, GUIDE_DATE, GUIDE_TIME, CliContext, pass_cli


@click.group(name="portal")
def portal_group() -> None:
    """Portal instances grouping several centers (guide B.3)."""


@portal_group.command("add-center")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("center_lid", metavar="CENTER_LID")
@click.option("--via", required=True, help="Instance whose clinic web services serve it.")
@click.option("--name", help="Center name.")
@pass_cli
def portal_add_center(
    cli: CliContext, portal_name: str, center_lid: str, via: str, name: str | None
) -> None:
    """Add a center to PORTAL."""
    portal.add_center(cli.store, portal_name, center_lid, via=via, name=name)
    click.echo(f"{portal_name}: center {center_lid} via {via}")


@portal_group.command("remove-center")
@click.argument("portal_name", metavar="PORTAL")
@click.argument("center_lid", metavar="CENTER_LID")
@pass_cli
def portal_remove_center(cli: CliContext, portal_name: str, center_lid: str) -> None:
    """Take a center off PORTAL (the instance it was reached through stays)."""
    portal.remove_center(cli.store, portal_name, center_lid)
    click.echo(f"{portal_name}: center {center_lid} removed")


@portal_group.command("sync-centers")
@click.argument("portal_name", metavar="PORTAL")
@pass_cli
def portal_sync_centers(cli: CliContext, portal_name: str) -> None:
    """Take PORTAL's centers from its own web services (getCenters)."""
    found = portal.sync_centers(cli.store, portal_name, build=build_clinic_client)
    click.echo(f"{portal_name}: {', '.join(found) or 'no centers'}")


@portal_group.command("centers")
@click.argument("portal_name", metavar="PORTAL")
@pass_cli
def portal_centers(cli: CliContext, portal_name: str) -> None:
    """List PORTAL's centers."""
    for center in portal.centers(cli.store, portal_name):
        click.echo(f"{center.center_lid or '-'}\t{center.name or ''}\tvia {center.via.name}")


@click.group()
def availability() -> None:
    """Free slots at an instance's or a portal's centers."""


@availability.command("search")
@click.argument("portal_name", metavar="INSTANCE")
@click.option("--activity")
@click.option("--from", "start", type=GUIDE_DATE, help="dd/mm/yyyy (default: today)")
@click.option("--to", "end", type=GUIDE_DATE, help="dd/mm/yyyy")
@click.option("--min-time", type=GUIDE_TIME, help="hh:mm")
@click.option("--max-time", type=GUIDE_TIME, help="hh:mm")
@click.option("--resource")
@click.option("--insurance")
@click.option("--max", "max_results", default=20, show_default=True, type=click.IntRange(1, 500))
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per center.")
@pass_cli
def availability_search(
    cli: CliContext,
    portal_name: str,
    activity: str | None,
    start: date | None,
    end: date | None,
    min_time: time | None,
    max_time: time | None,
    resource: str | None,
    insurance: str | None,
    max_results: int,
    timeout: float,
) -> None:
    """Search free slots in every center of INSTANCE, in parallel."""
    query = portal.AvailabilityQuery(
        activity_lid=activity,
        start_day=start,
        end_day=end,
        min_time=min_time,
        max_time=max_time,
        resource_lid=resource,
        insurance_lid=insurance,
        max_results=max_results,
    )
    found = portal.search(
        cli.store, portal_name, query, build=build_clinic_client, per_center_timeout=timeout
    )
    for slot in found.availabilities:
        click.echo(
            f"{format_date(slot.date)} {format_time(slot.start)}\t{slot.center_lid or '-'}\t"
            f"{slot.resource_lid}\t{slot.activity_lid}\t{slot.availability_lid or ''}"
        )
    for error in found.errors:
        click.echo(f"center {error.center_lid or '-'}: {error.code}: {error.message}", err=True)
    if found.errors and not found.availabilities:
        raise SystemExit(EXIT_CLINIC)


@click.group()
def appointment() -> None:
    """Book or cancel at a clinic through its web services."""


@appointment.command("add")
@click.argument("portal_name", metavar="INSTANCE")
@click.option("--center", "center_lid")
@click.option("--availability-lid", required=True)
@click.option("--date", "day", required=True, type=GUIDE_DATE, help="dd/mm/yyyy")
@click.option("--time", "start", required=True, type=GUIDE_TIME, help="hh:mm")
@click.option("--activity", required=True)
@click.option("--resource", required=True)
@click.option("--insurance")
@click.option("--user-lid", help="Patient id at the clinic (USER_LID pattern).")
@click.option("--user-tid", help="Patient id on the platform (USER_TID pattern).")
@click.option("--mobile")
@click.option("--email")
@pass_cli
def appointment_add(
    cli: CliContext,
    portal_name: str,
    center_lid: str | None,
    availability_lid: str,
    day: date,
    start: time,
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
        date=day,
        start=start,
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
        cli.store,
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
@pass_cli
def appointment_delete(
    cli: CliContext, portal_name: str, app_lid: str, center_lid: str | None
) -> None:
    """Cancel APP_LID at the clinic (deleteAppointment)."""
    result = portal.delete(cli.store, portal_name, center_lid, app_lid, build=build_clinic_client)
    if not result.ok:
        raise click.ClickException(f"refused: {result.error_message}")
    click.echo(f"deleted {app_lid}")
