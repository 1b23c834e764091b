"""The probes: calls (or a few) that several checks judge, made once per run
the first time a check asks: the free slots, the bookings, the appointments
read back, the deletion, the test results."""

from __future__ import annotations

from datetime import datetime

from .context import (
    OFFER_SIZE,
    PATIENT_TID,
    RECENT,
    TEST_RESULTS_SINCE,
    Booking,
    Context,
    bookable,
    probe,
    same_slot,
    timestamp,
)
from .contract import contract_date
from .exchange import Exchange, Row
from .model import NotApplicableError


@probe
def centers(ctx: Context) -> Exchange:
    return ctx.call("getCenters", "list the centers")


@probe
def entities(ctx: Context) -> Exchange:
    return ctx.call("KeyEntities", "read the key entities")


@probe
def activity(ctx: Context) -> str:
    """The ACTIVITY_LID to search: as given, else the first of KeyEntities, else
    empty (the contract's "every activity")."""
    if ctx.config.activity_lid is not None:
        return ctx.config.activity_lid
    try:
        read = entities(ctx)
    except NotApplicableError:
        return ""
    for row in read.records("ENTITY"):
        if row.get("ACTIVITY_LID"):
            return row["ACTIVITY_LID"]
    return ""


@probe
def offer(ctx: Context) -> Exchange:
    return ctx.call(
        "searchAvailabilities",
        f"search {OFFER_SIZE} free slots",
        ACTIVITY_LID=activity(ctx),
        AVA_RESULTS_NUMBER=OFFER_SIZE,
    )


def offered(ctx: Context) -> list[Row]:
    found = offer(ctx)
    if not found.ok:
        raise NotApplicableError(f"the search for free slots failed ({found.describe()})")
    return found.records("AVAILABILITY")


@probe
def target(ctx: Context) -> Row:
    """The slot the checks book: the last bookable one offered."""
    slots = [row for row in offered(ctx) if bookable(row)]
    if not slots:
        raise NotApplicableError("no bookable slot was offered in the default search week")
    return slots[-1]


def narrowed(ctx: Context, slot: Row, purpose: str) -> Exchange:
    return ctx.call(
        "searchAvailabilities",
        purpose,
        ACTIVITY_LID=slot.get("ACTIVITY_LID", ""),
        AVA_START_DAY=slot["AVA_DATE"],
        AVA_END_DAY=slot["AVA_DATE"],
        AVA_MIN_TIME=slot["AVA_START_TIME"],
        AVA_MAX_TIME=slot["AVA_START_TIME"],
        AVA_RESULTS_NUMBER=OFFER_SIZE,
        RESOURCE_LID=slot["RESOURCE_LID"],
    )


@probe
def narrowed_before(ctx: Context) -> Exchange:
    return narrowed(ctx, target(ctx), "search the chosen slot alone")


@probe
def first_booking(ctx: Context) -> Booking:
    return ctx.book(target(ctx), "book the chosen slot")


def booked(ctx: Context) -> Booking:
    booking = first_booking(ctx)
    if not booking.ok:
        raise NotApplicableError("no appointment was booked (see addAppointment.book)")
    return booking


@probe
def recent(ctx: Context) -> Exchange:
    since = timestamp(ctx.now() - RECENT)
    return ctx.call(
        "SearchAppointments", "read the last week's changes", LAST_REQUEST_TIMESTAMP=since
    )


@probe
def known(ctx: Context) -> Row:
    """An appointment to read back: the checker's booking, else one the clinic has."""
    if ctx.config.allow_writes:
        booking = booked(ctx)
        return {
            "APP_LID": booking.app_lid or "",
            "USER_LID": booking.user_lid or "",
            "APP_DATE": booking.slot["AVA_DATE"],
            "APP_START_TIME": booking.slot["AVA_START_TIME"],
            "RESOURCE_LID": booking.slot["RESOURCE_LID"],
            "APP_TID": booking.app_tid,
        }
    read = recent(ctx)
    for row in read.records("APPOINTMENT") if read.ok else []:
        if row.get("APP_LID") and contract_date(row.get("APP_DATE", "")):
            return row
    raise NotApplicableError(
        "no appointment to read back: none changed in the last week (--allow-writes books one)"
    )


@probe
def checked(ctx: Context) -> Exchange:
    return ctx.call("checkAppointment", "check the appointment", APP_LID=known(ctx)["APP_LID"])


def patient(ctx: Context, row: Row) -> dict[str, str]:
    if row.get("USER_LID"):
        return {"USER_LID": row["USER_LID"]}
    if row.get("APP_TID"):  # the checker's patient, known to the clinic by our id only
        return {"USER_TID": PATIENT_TID}
    raise NotApplicableError("the appointment names no patient to ask for")


@probe
def listed(ctx: Context) -> Exchange:
    row = known(ctx)
    return ctx.call(
        "getAppointments",
        "list the patient's appointments that day",
        **patient(ctx, row),
        START_DATE=row["APP_DATE"],
        END_DATE=row["APP_DATE"],
    )


def delta(ctx: Context, moment: datetime, purpose: str) -> Exchange:
    """SearchAppointments as the poller asks: LAST_REQUEST_TIMESTAMP only, from
    ``moment`` less the poller's overlap (the clinic's clock may differ from ours)."""
    return ctx.call(
        "SearchAppointments",
        purpose,
        LAST_REQUEST_TIMESTAMP=timestamp(moment - ctx.config.overlap),
    )


@probe
def deleted(ctx: Context) -> tuple[Booking, Exchange]:
    booking = booked(ctx)
    booking.deleted_after = ctx.now()
    exchange = ctx.call("deleteAppointment", "delete the booking", APP_LID=booking.app_lid)
    result = exchange.record("deleteAppointmentResult") if exchange.ok else None
    if result is not None and result.get("DELETE_RESULT", "").strip().upper() == "OK":
        booking.undone = True
    booking.undo_exchanges.append(exchange)
    return booking, exchange


@probe
def test_results(ctx: Context) -> Exchange:
    since = ctx.today() - TEST_RESULTS_SINCE
    return ctx.call(
        "getTestResultsList",
        "list the last month's test results",
        RESULT_START_DATE=since.strftime("%d/%m/%Y"),
    )


@probe
def second_booking(ctx: Context) -> Booking:
    first = target(ctx)
    others = [
        row
        for row in offered(ctx)
        if bookable(row)
        and not same_slot(row, first)
        and (row.get("RESOURCE_LID"), row.get("AVA_DATE"))
        != (first["RESOURCE_LID"], first["AVA_DATE"])
    ]
    others = others or [row for row in offered(ctx) if bookable(row) and not same_slot(row, first)]
    if not others:
        raise NotApplicableError("only one slot was offered; a second booking is needed")
    booking = ctx.book(others[-1], "book a second slot")
    if not booking.ok:
        raise NotApplicableError(f"the second booking was refused ({booking.exchange.describe()})")
    return booking
