"""The behaviour checks: each calls the clinic with valid or invalid input and
judges what it does, in the guide's and the contract's terms.

They run in the order declared here, which is the order the platform lives
through: reference data, a search, a booking, reading it back, the delta reads,
cancelling. Writing checks (``writes=True``) run only with ``--allow-writes``
and every booking they make is undone at the end of the run (``runner``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import requests
from lxml import etree

from ..errors import ClinicAuthenticationError
from .context import (
    IMPOSSIBLE_DATE,
    OFFER_SIZE,
    UNKNOWN_ID,
    Booking,
    Context,
    same_slot,
    timestamp,
)
from .contract import WSDL, contract_operations, parse_xml
from .exchange import Exchange, Row
from .model import Check, NotApplicableError, RuleBrokenError, counted
from .probes import (
    activity,
    booked,
    centers,
    checked,
    deleted,
    delta,
    entities,
    first_booking,
    known,
    listed,
    narrowed,
    narrowed_before,
    offer,
    patient,
    recent,
    second_booking,
    target,
    test_results,
)

CHECKS: list[Check] = []


def check(
    name: str, operation: str, rule: str, *, writes: bool = False
) -> Callable[[Callable[[Context], str | None]], Callable[[Context], str | None]]:
    def register(run: Callable[[Context], str | None]) -> Callable[[Context], str | None]:
        CHECKS.append(Check(name=name, operation=operation, rule=rule, run=run, writes=writes))
        return run

    return register


# -- judging one exchange --------------------------------------------------------------


def answer(exchange: Exchange, expected: str) -> None:
    """The clinic must have answered normally."""
    if not exchange.ok:
        raise RuleBrokenError(
            f"{exchange.purpose}: {exchange.describe()} instead of {expected}", exchange
        )


def record(exchange: Exchange, name: str) -> Row:
    answer(exchange, name)
    found = exchange.record(name)
    if found is None:
        raise RuleBrokenError(f"{exchange.purpose}: the answer has no {name}", exchange)
    return found


def code(row: Row, field: str) -> str:
    return row.get(field, "").strip().upper()


def client_fault(exchange: Exchange) -> str:
    """The clinic must have refused with a Client fault (the caller's mistake)."""
    if exchange.ok:
        raise RuleBrokenError(
            f"{exchange.purpose}: a normal answer; expected a Client fault", exchange
        )
    if exchange.fault is None:
        raise RuleBrokenError(
            f"{exchange.purpose}: {exchange.describe()}; expected a Client fault", exchange
        )
    head = exchange.fault.code.split(".", 1)[0]
    if head not in ("Client", "Sender"):
        raise RuleBrokenError(
            f"{exchange.purpose}: fault {exchange.fault.code or '(no faultcode)'}; a request the "
            "clinic cannot process is the caller's mistake, a Client fault (a Server fault makes "
            "the platform try again)",
            exchange,
        )
    return f"fault {exchange.fault.code}"


def refused(row: Row, field: str, message_field: str = "ERROR_MESSAGE") -> str:
    """``FIELD=VALUE``, pointing at the clinic's own message in the answer (which
    the report shows; a detail line never quotes it: it may name a patient)."""
    value = row.get(field) or "(empty)"
    why = " (see its message in the answer)" if row.get(message_field) else ", no message"
    return f"{field}={value[:20]}{why}"


def status_of(row: Row) -> str:
    return row.get("STATUS", "").strip().lower()


# -- judging what changed ---------------------------------------------------------


def gone(ctx: Context, booking: Booking) -> None:
    """The appointment is unknown to checkAppointment or reported cancelled."""
    read = ctx.call("checkAppointment", "check the appointment again", APP_LID=booking.app_lid)
    result = record(read, "checkAppointmentResult")
    outcome = code(result, "RESULT")
    if outcome == "NOT_FOUND":
        return
    appointment = read.record("APPOINTMENT")
    if outcome == "OK" and appointment is not None and status_of(appointment) == "cancelled":
        return
    shown = appointment.get("STATUS", "") if appointment else ""
    raise RuleBrokenError(
        f"checkAppointment still answers RESULT={outcome or '(empty)'}"
        + (f", STATUS={shown}" if shown else ""),
        read,
    )


# -- the contract as served ---------------------------------------------------------


@check(
    "wsdl.operations",
    "WSDL",
    "The WSDL the clinic serves at its address (?wsdl) declares every operation of "
    "wsdl/clinic.wsdl, by the same names.",
)
def wsdl_operations(ctx: Context) -> str | None:
    url = ctx.session.address.split("?", 1)[0] + "?wsdl"
    try:
        response = ctx.session.http.get(url, timeout=ctx.config.http_timeout)
    except requests.RequestException as exc:
        raise NotApplicableError(f"no WSDL served at ?wsdl ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise NotApplicableError(f"no WSDL served at ?wsdl (HTTP {response.status_code})")
    try:
        root = parse_xml(response.content)
    except etree.XMLSyntaxError:
        raise NotApplicableError("?wsdl answers something that is not XML") from None
    if root.tag != f"{{{WSDL}}}definitions":
        raise NotApplicableError("?wsdl answers XML that is not a WSDL 1.1 document")
    declared = {
        op.get("name", "") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")
    }
    missing = sorted(contract_operations() - declared - ctx.config.skip)
    if missing:
        raise RuleBrokenError(f"the served WSDL lacks {', '.join(missing)}")
    return f"{counted(len(declared), 'operation')} declared"


# -- reference data ---------------------------------------------------------------------


@check(
    "getCenters.valid-request",
    "getCenters",
    "getCenters answers the list of centers this service serves (B.3), not a fault.",
)
def centers_answer(ctx: Context) -> str | None:
    read = centers(ctx)
    answer(read, "the list of centers")
    return counted(len(read.records("CENTER")), "center")


@check(
    "KeyEntities.valid-request",
    "KeyEntities",
    "KeyEntities answers the activities, resources and insurances and their relations "
    "(B.2.1.2), not a fault.",
)
def entities_answer(ctx: Context) -> str | None:
    read = entities(ctx)
    answer(read, "the key entities")
    return counted(len(read.records("ENTITY")), "row")


# -- availabilities -----------------------------------------------------------------------


@check(
    "searchAvailabilities.valid-request",
    "searchAvailabilities",
    "searchAvailabilities with an ACTIVITY_LID and AVA_RESULTS_NUMBER (the other "
    "parameters left to their defaults: from today, one week) answers the free slots "
    "(B.2.2), not a fault.",
)
def search_answer(ctx: Context) -> str | None:
    found = offer(ctx)
    answer(found, "the free slots")
    asked = activity(ctx)
    shown = f"ACTIVITY_LID {asked}" if asked else "every activity"
    return f"{counted(len(found.records('AVAILABILITY')), 'slot')} offered for {shown}"


@check(
    "searchAvailabilities.filters",
    "searchAvailabilities",
    "No search answers more slots than AVA_RESULTS_NUMBER or slots of another ACTIVITY_LID, "
    "and a search narrowed to one offered slot (AVA_START_DAY = AVA_END_DAY = its day, "
    "RESOURCE_LID, AVA_MIN_TIME = AVA_MAX_TIME = its start) offers that slot and nothing else.",
)
def search_filters(ctx: Context) -> str | None:
    found = offer(ctx)
    answer(found, "the free slots")
    rows = found.records("AVAILABILITY")
    if len(rows) > OFFER_SIZE:
        raise RuleBrokenError(f"{len(rows)} slots for AVA_RESULTS_NUMBER={OFFER_SIZE}", found)
    asked = activity(ctx)
    others = sorted({row.get("ACTIVITY_LID", "") for row in rows} - {asked}) if asked else []
    if others:
        raise RuleBrokenError(f"slots of ACTIVITY_LID {', '.join(others)[:80]} for {asked}", found)
    slot = target(ctx)
    alone = narrowed_before(ctx)
    answer(alone, "the chosen slot")
    near = alone.records("AVAILABILITY")
    for row in near:
        wrong = [
            key
            for key, value in (
                ("AVA_DATE", slot["AVA_DATE"]),
                ("RESOURCE_LID", slot["RESOURCE_LID"]),
                ("AVA_START_TIME", slot["AVA_START_TIME"]),
            )
            if row.get(key) != value
        ]
        if wrong:
            raise RuleBrokenError(
                f"the narrowed search offers a slot with another {', '.join(wrong)}", alone
            )
    if not any(same_slot(row, slot) for row in near):
        raise RuleBrokenError("the narrowed search leaves out the slot it was narrowed to", alone)
    return f"narrowed to {slot['RESOURCE_LID']} {slot['AVA_DATE']} {slot['AVA_START_TIME']}"


@check(
    "searchAvailabilities.invalid-input",
    "searchAvailabilities",
    f"A search from an impossible AVA_START_DAY ({IMPOSSIBLE_DATE}) is refused with a "
    "Client fault, not answered as if the date were valid.",
)
def search_invalid(ctx: Context) -> str | None:
    return client_fault(
        ctx.call(
            "searchAvailabilities",
            "search from an impossible day",
            ACTIVITY_LID=activity(ctx),
            AVA_START_DAY=IMPOSSIBLE_DATE,
            AVA_RESULTS_NUMBER=1,
        )
    )


@check(
    "searchAvailabilities.wrong-credentials",
    "searchAvailabilities",
    "A call with a wrong PASSWORD in AUTH is refused in a way the platform reads as an "
    "authentication failure: HTTP 401/403, or a fault whose code names auth, login, "
    "credential, password, permission or forbidden.",
)
def wrong_credentials(ctx: Context) -> str | None:
    if not ctx.config.username:
        raise NotApplicableError("no credentials given (--username)")
    read = ctx.call(
        "searchAvailabilities",
        "search with a wrong password",
        AUTH={"USERNAME": ctx.config.username, "PASSWORD": f"wrong-{ctx.config.run_id}"},
        ACTIVITY_LID=activity(ctx),
        AVA_RESULTS_NUMBER=1,
    )
    if isinstance(read.error, ClinicAuthenticationError):
        return read.describe()
    raise RuleBrokenError(f"{read.purpose}: {read.describe()}, not an authentication failure", read)


# -- booking --------------------------------------------------------------------------------


@check(
    "addAppointment.book",
    "addAppointment",
    "Booking a slot just offered (its AVAILABILITY_LID, APP_DATE and APP_START_TIME) for a "
    "patient new to the clinic answers ADD_RESULT=OK with the new APP_LID and the "
    "patient's USER_LID (B.2.2).",
    writes=True,
)
def book(ctx: Context) -> str | None:
    booking = first_booking(ctx)
    result = record(booking.exchange, "addAppointmentResult")
    if code(result, "ADD_RESULT") != "OK":
        raise RuleBrokenError(
            refused(result, "ADD_RESULT"),
            booking.exchange,
        )
    if not result.get("APP_LID"):
        raise RuleBrokenError("ADD_RESULT=OK without an APP_LID", booking.exchange)
    if not result.get("USER_LID"):
        raise RuleBrokenError(
            "ADD_RESULT=OK without the patient's USER_LID (a new patient gets one)",
            booking.exchange,
        )
    return f"APP_LID {booking.app_lid}"


@check(
    "addAppointment.slot-gone",
    "addAppointment",
    "A booked slot is no longer offered: the same narrowed search after the booking leaves it out.",
    writes=True,
)
def slot_gone(ctx: Context) -> str | None:
    booking = booked(ctx)
    before = narrowed_before(ctx)
    if not any(same_slot(row, booking.slot) for row in before.records("AVAILABILITY")):
        raise NotApplicableError(
            "the narrowed search did not offer the slot before the booking either "
            "(see searchAvailabilities.filters)"
        )
    after = narrowed(ctx, booking.slot, "search the booked slot again")
    answer(after, "the free slots")
    if any(same_slot(row, booking.slot) for row in after.records("AVAILABILITY")):
        raise RuleBrokenError(
            f"the booked slot {booking.slot.get('AVAILABILITY_LID') or ''} is still offered",
            after,
            booking.exchange,
        )
    return None


@check(
    "addAppointment.taken",
    "addAppointment",
    "Booking a slot that is already taken answers ADD_RESULT=ERROR with an ERROR_MESSAGE "
    "(a business outcome, not a fault) and books nothing.",
    writes=True,
)
def taken(ctx: Context) -> str | None:
    first = booked(ctx)
    again = ctx.book(first.slot, "book the same slot again")
    result = record(again.exchange, "addAppointmentResult")
    if again.ok or code(result, "ADD_RESULT") == "OK":
        raise RuleBrokenError("ADD_RESULT=OK: the slot was booked twice", again.exchange)
    if code(result, "ADD_RESULT") != "ERROR":
        raise RuleBrokenError(
            f"ADD_RESULT={result.get('ADD_RESULT') or '(empty)'}, not ERROR", again.exchange
        )
    if not result.get("ERROR_MESSAGE"):
        raise RuleBrokenError("ADD_RESULT=ERROR without an ERROR_MESSAGE", again.exchange)
    return "ADD_RESULT=ERROR with an ERROR_MESSAGE"


@check(
    "addAppointment.invalid-input",
    "addAppointment",
    f"A booking with an impossible APP_DATE ({IMPOSSIBLE_DATE}) is refused with a Client "
    "fault and books nothing.",
    writes=True,
)
def book_invalid(ctx: Context) -> str | None:
    slot = {**target(ctx), "AVA_DATE": IMPOSSIBLE_DATE}
    attempt = ctx.book(slot, "book on an impossible day")
    if attempt.ok:
        raise RuleBrokenError("ADD_RESULT=OK: booked on an impossible day", attempt.exchange)
    return client_fault(attempt.exchange)


# -- reading appointments back ---------------------------------------------------------


@check(
    "checkAppointment.found",
    "checkAppointment",
    "checkAppointment of an existing APP_LID answers RESULT=OK with that APPOINTMENT; for "
    "the checker's booking, STATUS=Confirmed on the booked RESOURCE_LID, APP_DATE and "
    "APP_START_TIME (B.2.2).",
)
def check_found(ctx: Context) -> str | None:
    row = known(ctx)
    read = checked(ctx)
    result = record(read, "checkAppointmentResult")
    if code(result, "RESULT") != "OK":
        raise RuleBrokenError(
            f"RESULT={result.get('RESULT') or '(empty)'} for {row['APP_LID']}", read
        )
    appointment = read.record("APPOINTMENT")
    if appointment is None:
        raise RuleBrokenError("RESULT=OK without the APPOINTMENT", read)
    if appointment.get("APP_LID") != row["APP_LID"]:
        raise RuleBrokenError(f"asked for {row['APP_LID']}, answered another APP_LID", read)
    if ctx.config.allow_writes:
        if status_of(appointment) != "confirmed":
            raise RuleBrokenError(
                f"STATUS={appointment.get('STATUS') or '(empty)'}, not Confirmed", read
            )
        for key in ("RESOURCE_LID", "APP_DATE", "APP_START_TIME"):
            if appointment.get(key) != row[key]:
                raise RuleBrokenError(f"{key} is not the booked one ({row[key]})", read)
    return f"APP_LID {row['APP_LID']}"


@check(
    "checkAppointment.not-found",
    "checkAppointment",
    "checkAppointment of an APP_LID the clinic does not have answers RESULT=NOT_FOUND, "
    "not a fault.",
)
def check_not_found(ctx: Context) -> str | None:
    read = ctx.call("checkAppointment", "check an unknown appointment", APP_LID=UNKNOWN_ID)
    result = record(read, "checkAppointmentResult")
    if code(result, "RESULT") != "NOT_FOUND":
        raise RuleBrokenError(f"RESULT={result.get('RESULT') or '(empty)'}, not NOT_FOUND", read)
    return None


@check(
    "checkAppointment.invalid-input",
    "checkAppointment",
    "checkAppointment with an empty APP_LID is refused with a Client fault.",
)
def check_invalid(ctx: Context) -> str | None:
    return client_fault(ctx.call("checkAppointment", "check an empty APP_LID", APP_LID=""))


@check(
    "getAppointments.lists-appointment",
    "getAppointments",
    "getAppointments for the patient (USER_LID, or USER_TID for a patient known by the "
    "platform's id) and the appointment's day lists the appointment; the checker's booking "
    "as Confirmed (B.2.2).",
)
def list_appointment(ctx: Context) -> str | None:
    row = known(ctx)
    read = listed(ctx)
    answer(read, "the patient's appointments")
    mine = [a for a in read.records("APPOINTMENT") if a.get("APP_LID") == row["APP_LID"]]
    if not mine:
        raise RuleBrokenError(f"{row['APP_LID']} is not listed", read)
    if ctx.config.allow_writes and status_of(mine[0]) != "confirmed":
        raise RuleBrokenError(f"STATUS={mine[0].get('STATUS') or '(empty)'}, not Confirmed", read)
    return f"APP_LID {row['APP_LID']}"


@check(
    "addAppointment.app-tid",
    "addAppointment",
    "The APP_TID sent with a booking is stored and returned by checkAppointment and "
    "getAppointments: the platform finds a booking whose answer was lost by it.",
    writes=True,
)
def app_tid(ctx: Context) -> str | None:
    booking = booked(ctx)
    for read in (checked(ctx), listed(ctx)):
        answer(read, "the appointment")
        rows = [a for a in read.records("APPOINTMENT") if a.get("APP_LID") == booking.app_lid]
        if not rows:
            raise NotApplicableError(f"{read.operation} did not return the booking")
        if rows[0].get("APP_TID") != booking.app_tid:
            shown = "no APP_TID" if not rows[0].get("APP_TID") else "another APP_TID"
            raise RuleBrokenError(
                f"{read.operation} returns {shown} ({booking.app_tid} was sent)", read
            )
    return None


@check(
    "getAppointments.invalid-input",
    "getAppointments",
    f"getAppointments from an impossible START_DATE ({IMPOSSIBLE_DATE}) is refused with a "
    "Client fault.",
)
def list_invalid(ctx: Context) -> str | None:
    try:
        who = patient(ctx, known(ctx))
    except NotApplicableError:
        who = {"USER_LID": UNKNOWN_ID}
    return client_fault(
        ctx.call(
            "getAppointments",
            "list from an impossible day",
            **who,
            START_DATE=IMPOSSIBLE_DATE,
        )
    )


@check(
    "SearchAppointments.valid-request",
    "SearchAppointments",
    "SearchAppointments with only LAST_REQUEST_TIMESTAMP (a week ago), as the poller asks, "
    "answers the appointments changed since (A.4.1), not a fault.",
)
def search_appointments(ctx: Context) -> str | None:
    read = recent(ctx)
    answer(read, "the changed appointments")
    return f"{counted(len(read.records('APPOINTMENT')), 'appointment')} changed in the last week"


@check(
    "SearchAppointments.delta-booked",
    "SearchAppointments",
    "A delta read (LAST_REQUEST_TIMESTAMP from just before a booking, less the poller's "
    "overlap) returns the new appointment as Confirmed.",
    writes=True,
)
def delta_booked(ctx: Context) -> str | None:
    booking = booked(ctx)
    read = delta(ctx, booking.booked_after, "read the changes since the booking")
    answer(read, "the changed appointments")
    mine = [a for a in read.records("APPOINTMENT") if a.get("APP_LID") == booking.app_lid]
    if not mine:
        raise RuleBrokenError(f"the new appointment {booking.app_lid} is not returned", read)
    if status_of(mine[0]) != "confirmed":
        raise RuleBrokenError(f"STATUS={mine[0].get('STATUS') or '(empty)'}, not Confirmed", read)
    return None


@check(
    "SearchAppointments.delta-future",
    "SearchAppointments",
    "A delta read with LAST_REQUEST_TIMESTAMP one day ahead returns no appointment: the "
    "clinic filters by it instead of answering everything.",
)
def delta_future(ctx: Context) -> str | None:
    since = timestamp(ctx.now() + timedelta(days=1))
    read = ctx.call(
        "SearchAppointments", "read the changes since tomorrow", LAST_REQUEST_TIMESTAMP=since
    )
    answer(read, "an empty list")
    rows = read.records("APPOINTMENT")
    if rows:
        raise RuleBrokenError(f"{counted(len(rows), 'appointment')} changed 'since tomorrow'", read)
    return None


@check(
    "SearchAppointments.invalid-input",
    "SearchAppointments",
    f"SearchAppointments from an impossible START_DATE ({IMPOSSIBLE_DATE}) is refused with "
    "a Client fault.",
)
def search_appointments_invalid(ctx: Context) -> str | None:
    return client_fault(
        ctx.call("SearchAppointments", "read from an impossible day", START_DATE=IMPOSSIBLE_DATE)
    )


# -- cancelling ---------------------------------------------------------------------


@check(
    "deleteAppointment.delete",
    "deleteAppointment",
    "deleteAppointment of the checker's booking answers DELETE_RESULT=OK (B.2.2).",
    writes=True,
)
def delete(ctx: Context) -> str | None:
    _, exchange = deleted(ctx)
    result = record(exchange, "deleteAppointmentResult")
    if code(result, "DELETE_RESULT") != "OK":
        raise RuleBrokenError(
            refused(result, "DELETE_RESULT"),
            exchange,
        )
    return None


@check(
    "deleteAppointment.gone",
    "deleteAppointment",
    "After deleteAppointment the appointment is gone or cancelled: checkAppointment "
    "answers RESULT=NOT_FOUND or STATUS=Cancelled, and getAppointments no longer lists "
    "it as Confirmed.",
    writes=True,
)
def delete_gone(ctx: Context) -> str | None:
    booking, _ = deleted(ctx)
    if not booking.undone:
        raise NotApplicableError("the deletion was refused (see deleteAppointment.delete)")
    if "checkAppointment" not in ctx.config.skip:
        gone(ctx, booking)
    read = ctx.call(
        "getAppointments",
        "list the patient's appointments again",
        **patient(ctx, known(ctx)),
        START_DATE=booking.slot["AVA_DATE"],
        END_DATE=booking.slot["AVA_DATE"],
    )
    answer(read, "the patient's appointments")
    for row in read.records("APPOINTMENT"):
        if row.get("APP_LID") == booking.app_lid and status_of(row) != "cancelled":
            raise RuleBrokenError(
                f"getAppointments still lists {booking.app_lid} as "
                f"{row.get('STATUS') or '(no STATUS)'}",
                read,
            )
    return None


@check(
    "SearchAppointments.delta-deleted",
    "SearchAppointments",
    "A delta read from just before a deletion returns the appointment with "
    "STATUS=Cancelled: the poller learns of cancellations only this way.",
    writes=True,
)
def delta_deleted(ctx: Context) -> str | None:
    booking, _ = deleted(ctx)
    if not booking.undone or booking.deleted_after is None:
        raise NotApplicableError("the deletion was refused (see deleteAppointment.delete)")
    read = delta(ctx, booking.deleted_after, "read the changes since the deletion")
    answer(read, "the changed appointments")
    mine = [a for a in read.records("APPOINTMENT") if a.get("APP_LID") == booking.app_lid]
    if not mine:
        raise RuleBrokenError(f"the deleted appointment {booking.app_lid} is not returned", read)
    if status_of(mine[0]) != "cancelled":
        raise RuleBrokenError(f"STATUS={mine[0].get('STATUS') or '(empty)'}, not Cancelled", read)
    return None


@check(
    "deleteAppointment.unknown",
    "deleteAppointment",
    "deleteAppointment of an APP_LID the clinic does not have answers DELETE_RESULT=ERROR "
    "with an ERROR_MESSAGE, not a fault.",
    writes=True,
)
def delete_unknown(ctx: Context) -> str | None:
    read = ctx.call("deleteAppointment", "delete an unknown appointment", APP_LID=UNKNOWN_ID)
    result = record(read, "deleteAppointmentResult")
    if code(result, "DELETE_RESULT") != "ERROR":
        raise RuleBrokenError(
            f"DELETE_RESULT={result.get('DELETE_RESULT') or '(empty)'}, not ERROR", read
        )
    if not result.get("ERROR_MESSAGE"):
        raise RuleBrokenError("DELETE_RESULT=ERROR without an ERROR_MESSAGE", read)
    return None


@check(
    "deleteAppointment.invalid-input",
    "deleteAppointment",
    "deleteAppointment with an empty APP_LID is refused with a Client fault.",
    writes=True,
)
def delete_invalid(ctx: Context) -> str | None:
    return client_fault(ctx.call("deleteAppointment", "delete an empty APP_LID", APP_LID=""))


@check(
    "CancelAppointment.cancel",
    "CancelAppointment",
    "CancelAppointment of a booking with its patient's USER_LID answers RESULT=OK, and "
    "checkAppointment then answers RESULT=NOT_FOUND or STATUS=Cancelled (A.4.2).",
    writes=True,
)
def cancel(ctx: Context) -> str | None:
    booking = second_booking(ctx)
    if not booking.user_lid:
        raise NotApplicableError("the booking answered no USER_LID to cancel with")
    read = ctx.call(
        "CancelAppointment",
        "cancel the second booking",
        APP_LID=booking.app_lid,
        USER_LID=booking.user_lid,
    )
    booking.undo_exchanges.append(read)
    result = record(read, "CancelAppointmentResult")
    if code(result, "RESULT") != "OK":
        raise RuleBrokenError(refused(result, "RESULT", "APP_LID"), read)
    booking.undone = True
    if "checkAppointment" not in ctx.config.skip:
        gone(ctx, booking)
    return None


@check(
    "CancelAppointment.unknown",
    "CancelAppointment",
    "CancelAppointment of an APP_LID the clinic does not have answers RESULT=ERROR (the "
    "message in APP_LID, A.4.2), not a fault.",
    writes=True,
)
def cancel_unknown(ctx: Context) -> str | None:
    read = ctx.call(
        "CancelAppointment",
        "cancel an unknown appointment",
        APP_LID=UNKNOWN_ID,
        USER_LID=UNKNOWN_ID,
    )
    result = record(read, "CancelAppointmentResult")
    if code(result, "RESULT") != "ERROR":
        raise RuleBrokenError(f"RESULT={result.get('RESULT') or '(empty)'}, not ERROR", read)
    return None


@check(
    "CancelAppointment.invalid-input",
    "CancelAppointment",
    "CancelAppointment with an empty USER_LID is refused with a Client fault.",
    writes=True,
)
def cancel_invalid(ctx: Context) -> str | None:
    return client_fault(
        ctx.call(
            "CancelAppointment", "cancel with an empty USER_LID", APP_LID=UNKNOWN_ID, USER_LID=""
        )
    )


# -- test results ---------------------------------------------------------------------


@check(
    "getTestResultsList.valid-request",
    "getTestResultsList",
    "getTestResultsList with only RESULT_START_DATE (a month ago) answers the test results "
    "since (C.2.1), not a fault.",
)
def results_answer(ctx: Context) -> str | None:
    read = test_results(ctx)
    answer(read, "the test results")
    return counted(len(read.records("TEST_RESULT")), "test result")


@check(
    "getTestResultsList.invalid-input",
    "getTestResultsList",
    f"getTestResultsList from an impossible RESULT_START_DATE ({IMPOSSIBLE_DATE}) is "
    "refused with a Client fault.",
)
def results_invalid(ctx: Context) -> str | None:
    return client_fault(
        ctx.call(
            "getTestResultsList", "list from an impossible day", RESULT_START_DATE=IMPOSSIBLE_DATE
        )
    )


@check(
    "getTestResultContent.content",
    "getTestResultContent",
    "getTestResultContent of a Valid result listed by getTestResultsList answers its "
    "DOWNLOAD_LID, STATUS=Valid and the file in DOWNLOAD_CONTENT, not empty (C.2.2).",
)
def result_content(ctx: Context) -> str | None:
    listing = test_results(ctx)
    valid = [
        row
        for row in (listing.records("TEST_RESULT") if listing.ok else [])
        if status_of(row) == "valid" and row.get("DOWNLOAD_LID")
    ]
    if not valid:
        raise NotApplicableError("getTestResultsList listed no Valid result to fetch")
    download_lid = valid[0]["DOWNLOAD_LID"]
    read = ctx.call("getTestResultContent", "fetch a listed result", DOWNLOAD_LID=download_lid)
    result = record(read, "getTestResultContentResult")
    if result.get("DOWNLOAD_LID") != download_lid:
        raise RuleBrokenError(f"asked for {download_lid}, answered another DOWNLOAD_LID", read)
    if status_of(result) != "valid":
        raise RuleBrokenError(f"STATUS={result.get('STATUS') or '(empty)'}, not Valid", read)
    if not result.get("DOWNLOAD_CONTENT"):
        raise RuleBrokenError("STATUS=Valid without DOWNLOAD_CONTENT", read)
    return f"DOWNLOAD_LID {download_lid}"


@check(
    "getTestResultContent.unknown",
    "getTestResultContent",
    "getTestResultContent of a DOWNLOAD_LID the clinic does not have answers "
    "STATUS=Cancelled (how the platform notices a withdrawn result, C.2.1), not a fault.",
)
def result_unknown(ctx: Context) -> str | None:
    read = ctx.call("getTestResultContent", "fetch an unknown result", DOWNLOAD_LID=UNKNOWN_ID)
    result = record(read, "getTestResultContentResult")
    if status_of(result) != "cancelled":
        raise RuleBrokenError(f"STATUS={result.get('STATUS') or '(empty)'}, not Cancelled", read)
    return None


@check(
    "getTestResultContent.invalid-input",
    "getTestResultContent",
    "getTestResultContent with an empty DOWNLOAD_LID is refused with a Client fault.",
)
def result_invalid(ctx: Context) -> str | None:
    return client_fault(
        ctx.call("getTestResultContent", "fetch an empty DOWNLOAD_LID", DOWNLOAD_LID="")
    )
