"""``reservations``: search an instance's reservations as an operator would
(support: "the patient on 612 345 678 says they got no reminder")."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

import click

from ..domain.formats import format_date
from ..domain.reservation import PatientAnswer, Status
from ..services import instances, search
from .base import (
    GUIDE_DATE,
    CliContext,
    Shown,
    echo_page,
    json_option,
    page_options,
    pass_cli,
    unmasked_option,
)


@click.group()
def reservations() -> None:
    """Reservations (appointments) of an instance."""


@reservations.command("search")
@click.option("--instance", "instance_name", required=True, help="The instance (tt_...).")
@click.option("--app-lid", help="The HIS's APP_LID.")
@click.option("--from", "date_from", type=GUIDE_DATE, help="Appointments on or after this day.")
@click.option("--to", "date_to", type=GUIDE_DATE, help="Appointments on or before this day.")
@click.option("--resource", help="RESOURCE_LID.")
@click.option(
    "--status",
    help=f"STATUS: {', '.join(s.value for s in Status)} (any case, _ for blanks).",
)
@click.option(
    "--answer",
    type=click.Choice([*(a.value for a in PatientAnswer), search.NO_ANSWER], case_sensitive=False),
    help="The patient's answer (NONE: not answered).",
)
@click.option(
    "--patient",
    help="The patient's phone number in any spelling (read with the instance's country), "
    "or e-mail address.",
)
@page_options
@json_option
@unmasked_option
@pass_cli
def reservations_search(
    cli: CliContext,
    instance_name: str,
    app_lid: str | None,
    date_from: date | None,
    date_to: date | None,
    resource: str | None,
    status: str | None,
    answer: str | None,
    patient: str | None,
    limit: int,
    before_id: int | None,
    as_json: bool,
    unmasked: bool,
) -> None:
    """Reservations of an instance, newest first, one line each: RESERVATION_ID,
    APP_LID, day and time, resource, status, patient answer, mobile, e-mail, name."""
    target = instances.get_instance(cli.store, instance_name)
    filters = search.ReservationFilter(
        app_lid=app_lid,
        date_from=date_from,
        date_to=date_to,
        resource_lid=resource,
        status=status,
        patient_answer=answer,
        patient=patient,
    )
    page = search.search_reservations(cli.store, target, filters, limit=limit, before_id=before_id)
    shown = Shown(unmasked)

    def as_document(item: search.ReservationHit) -> dict[str, Any]:
        return {
            **asdict(item),
            "user_first_name": shown.name(item.user_first_name),
            "user_second_name": shown.name(item.user_second_name),
            "user_mobile_phone": shown.phone(item.user_mobile_phone),
            "user_landline_phone": shown.phone(item.user_landline_phone),
            "user_email": shown.email(item.user_email),
        }

    def as_cells(item: search.ReservationHit) -> tuple[object, ...]:
        name = " ".join(n for n in (item.user_first_name, item.user_second_name) if n)
        answer_text = (
            f"{item.patient_answer} by {item.patient_answer_channel}"
            if item.patient_answer and item.patient_answer_channel
            else item.patient_answer or "no answer"
        )
        return (
            item.id,
            item.app_lid,
            f"{format_date(item.app_date)} {item.app_start_time or '--:--'}",
            item.resource_lid,
            item.status,
            answer_text,
            shown.phone(item.user_mobile_phone or item.user_landline_phone),
            shown.email(item.user_email),
            shown.name(name) if name else None,
        )

    echo_page(
        target.name,
        page,
        "reservations",
        as_json=as_json,
        item_json=as_document,
        item_cells=as_cells,
    )
