"""The example clinic's agenda behind the contract: it really searches, books and cancels.

``ClinicBackend`` answers the eleven operations of ``contract.ClinicService``
from its SQLite file (``store.py``), and offers the desk side of the clinic to
tests and demos: ``book_at_desk`` / ``cancel_at_desk`` change the agenda as a
receptionist on the phone would, without SOAP.

Rules worth knowing when you call it:

- Slots are expanded on demand from the weekly availabilities (``agenda.py``),
  one grid per activity duration, from "today" (``ServerOptions.today`` or the
  real date) for ``weeks_ahead`` weeks. A slot is free when it overlaps no
  confirmed appointment of its resource, so a 30-minute booking also removes the
  20- and 15-minute slots it covers.
- Business outcomes (slot taken, unknown appointment, wrong patient) are
  answered in the guide's result fields (``ADD_RESULT``=ERROR and a message);
  faults are for calls that cannot be processed: bad credentials
  (``Client.AuthenticationFailed``), a missing or malformed field
  (``Client.ValidationError``), an injected outage (``Server.Unavailable``).
- Every booking and cancellation stamps the appointment's ``modified_at`` in
  **UTC**. ``LAST_REQUEST_TIMESTAMP`` is compared in UTC: a timestamp with an
  offset is converted, one without an offset is read as UTC. Appointments with
  ``modified_at`` strictly after it are returned, cancelled ones included.
- Cancelling an already cancelled appointment answers OK and changes nothing,
  so a platform retrying after a timeout does not see a spurious error.
"""

from __future__ import annotations

import functools
import hmac
import sqlite3
import time as clock
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from lxml.builder import ElementMaker
from spyne import Fault

from .agenda import (
    WeeklyRule,
    add_minutes,
    format_date,
    format_time,
    overlaps,
    parse_date,
    parse_slot_lid,
    parse_time,
    slot_lid,
)
from .contract import (
    CLINIC_TNS,
    AddAppointmentResult,
    Appointment,
    AppointmentsResult,
    Availability,
    CancelAppointmentResult,
    Center,
    CentersResult,
    CheckAppointmentResult,
    DeleteAppointmentResult,
    KeyEntitiesResult,
    KeyEntity,
    SearchAvailabilitiesResult,
    TestResult,
    TestResultContent,
    TestResultsListResult,
)
from .options import ServerOptions
from .seed import seed
from .store import Database

Params = dict[str, Any]
T = TypeVar("T")
MAX_RESULTS = 500
"""searchAvailabilities never answers more than this, whatever AVA_RESULTS_NUMBER says."""

_E = ElementMaker(namespace=CLINIC_TNS, nsmap={"tns": CLINIC_TNS})


class BookingError(Exception):
    """The agenda refuses a booking or a cancellation; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clinic_fault(code: str, message: str) -> Fault:
    """A fault whose ``<detail>`` is the contract's typed ``ClinicFault``."""
    detail = _E.ClinicFault(_E.CODE(code), _E.MESSAGE(message))
    return Fault(faultcode=code, faultstring=message, detail=detail)


def _operation(
    name: str,
) -> Callable[[Callable[[ClinicBackend, Params], Any]], Callable[..., Any]]:
    """Runs the options' gate (delay, credentials, injected failure) before the operation."""

    def decorate(method: Callable[[ClinicBackend, Params], Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def run(self: ClinicBackend, ctx: Any, params: Params) -> Any:
            self.admit(name, params.get("AUTH"))
            return method(self, params)

        return run

    return decorate


@dataclass(frozen=True)
class PatientData:
    """What addAppointment (or the desk) knows about the patient."""

    user_lid: str | None = None
    user_tid: str | None = None
    first_name: str | None = None
    second_name: str | None = None
    third_name: str | None = None
    gender: str | None = None
    date_of_birth: str | None = None
    mobile_phone: str | None = None
    landline_phone: str | None = None
    email: str | None = None
    id_number: str | None = None

    @classmethod
    def from_params(cls, params: Params) -> PatientData:
        return cls(**{field.name: _text(params, _wire_name(field.name)) for field in fields(cls)})


def _wire_name(name: str) -> str:
    """``first_name`` travels as ``USER_FIRST_NAME``, ``user_lid`` as ``USER_LID``."""
    return name.upper() if name.startswith("user_") else f"USER_{name.upper()}"


class ClinicBackend:
    """The operations of the clinic contract over one SQLite file (created on first use)."""

    def __init__(self, db_path: Path, options: ServerOptions) -> None:
        self.options = options  # swapped whole by /_control; read once per call
        self.db = Database(db_path)
        self.db.create(lambda connection: seed(connection, options.current_date()))

    # -- the gate -----------------------------------------------------------------

    def admit(self, operation: str, auth: Any) -> None:
        options = self.options
        if options.delays(operation):
            clock.sleep(options.delay_seconds)
        if options.auth_required:
            username = getattr(auth, "USERNAME", None)
            password = getattr(auth, "PASSWORD", None)
            if auth is None:
                raise clinic_fault("Client.AuthenticationFailed", "AUTH is required")
            if not (_same(username, options.username) and _same(password, options.password)):
                raise clinic_fault("Client.AuthenticationFailed", "Wrong USERNAME or PASSWORD")
        if options.fails(operation):
            raise clinic_fault(
                "Server.Unavailable", f"{operation} is temporarily unavailable; try again later"
            )

    def _now(self) -> datetime:
        """The agenda's present: slots before it are not bookable."""
        today = self.options.today
        return datetime.combine(today, time.min) if today else datetime.now()

    def _horizon(self) -> tuple[date, date]:
        today = self.options.current_date()
        return today, today + timedelta(weeks=self.options.weeks_ahead) - timedelta(days=1)

    # -- availabilities -----------------------------------------------------------

    @_operation("searchAvailabilities")
    def search_availabilities(self, params: Params) -> Any:
        today, last_bookable = self._horizon()
        first = _date(params, "AVA_START_DAY") or today
        last = _date(params, "AVA_END_DAY") or first + timedelta(weeks=1)
        start_time, end_time = _time(params, "AVA_START_TIME"), _time(params, "AVA_END_TIME")
        min_time, max_time = _time(params, "AVA_MIN_TIME"), _time(params, "AVA_MAX_TIME")
        wanted = params.get("AVA_RESULTS_NUMBER")
        if wanted is None:
            raise clinic_fault("Client.ValidationError", "AVA_RESULTS_NUMBER is required")
        if wanted < 0:
            raise clinic_fault("Client.ValidationError", "AVA_RESULTS_NUMBER must not be negative")
        limit = min(wanted, MAX_RESULTS)
        insurance_lid = _text(params, "INSURANCE_LID")
        not_before = self._now()
        day, end_day = max(first, today), min(last, last_bookable)
        with self.db.reading() as connection:
            offers = _offers(
                connection,
                center_lid=_text(params, "CENTER_LID"),
                resource_lid=_text(params, "RESOURCE_LID"),
                activity_lid=_text(params, "ACTIVITY_LID"),  # empty: every activity
                insurance_lid=insurance_lid,
            )
            rules = _rules(connection, {offer["resource_lid"] for offer in offers})
            booked = _booked(connection, day, end_day)
        found: list[Any] = []
        # One day at a time, in order, so we can stop as soon as the answer is full.
        while day <= end_day and len(found) < limit:
            candidates: dict[tuple[time, str, str], Any] = {}
            for offer in offers:
                resource_lid, duration = offer["resource_lid"], offer["duration_minutes"]
                taken = booked.get((resource_lid, day), [])
                for rule in rules.get(resource_lid, []):
                    if not rule.applies_on(day):
                        continue
                    for start in rule.slot_starts(duration):
                        end = add_minutes(start, duration)
                        if (
                            datetime.combine(day, start) < not_before
                            or (day == first and start_time and start < start_time)
                            or (day == last and end_time and start > end_time)
                            or (min_time and start < min_time)
                            or (max_time and start > max_time)
                            or any(overlaps(start, end, *other) for other in taken)
                        ):
                            continue
                        key = (start, resource_lid, offer["activity_lid"])
                        candidates[key] = Availability(
                            RESOURCE_LID=resource_lid,
                            ACTIVITY_LID=offer["activity_lid"],
                            INSURANCE_LID=insurance_lid,
                            AVA_DATE=format_date(day),
                            AVA_START_TIME=format_time(start),
                            AVAILABILITY_LID=slot_lid(resource_lid, day, start),
                            AVA_END_TIME=format_time(end),
                            ACTIVITY_PRICE=offer["price"],
                            CENTER_LID=offer["center_lid"],
                        )
            found.extend(candidates[key] for key in sorted(candidates))
            day += timedelta(days=1)
        return SearchAvailabilitiesResult(AVAILABILITIES=found[:limit])

    # -- booking and cancelling ---------------------------------------------------

    @_operation("addAppointment")
    def add_appointment(self, params: Params) -> Any:
        activity_lid = _required(params, "ACTIVITY_LID")
        day = _required_date(params, "APP_DATE")
        start = _required_time(params, "APP_START_TIME")
        availability_lid = _required(params, "AVAILABILITY_LID")
        try:
            slot = parse_slot_lid(availability_lid)
            if slot is None:
                raise BookingError(f"Unknown AVAILABILITY_LID {availability_lid}")
            resource_lid, slot_day, slot_start = slot
            if (slot_day, slot_start) != (day, start):
                raise BookingError(
                    f"AVAILABILITY_LID {availability_lid} is not the slot of "
                    f"{format_date(day)} {format_time(start)}"
                )
            requested_resource = _text(params, "RESOURCE_LID")
            if requested_resource and requested_resource != resource_lid:
                raise BookingError(
                    f"AVAILABILITY_LID {availability_lid} is not a slot of {requested_resource}"
                )
            app_lid, user_lid = self._book(
                resource_lid=resource_lid,
                activity_lid=activity_lid,
                day=day,
                start=start,
                center_lid=_text(params, "CENTER_LID"),
                insurance_lid=_text(params, "INSURANCE_LID"),
                patient=PatientData.from_params(params),
                app_tid=_text(params, "APP_TID"),
                origin="web",
            )
        except BookingError as exc:
            return AddAppointmentResult(ADD_RESULT="ERROR", ERROR_MESSAGE=exc.message)
        return AddAppointmentResult(ADD_RESULT="OK", APP_LID=app_lid, USER_LID=user_lid)

    @_operation("deleteAppointment")
    def delete_appointment(self, params: Params) -> Any:
        app_lid = _required(params, "APP_LID")
        try:
            self._cancel(app_lid, center_lid=_text(params, "CENTER_LID"))
        except BookingError as exc:
            return DeleteAppointmentResult(DELETE_RESULT="ERROR", ERROR_MESSAGE=exc.message)
        return DeleteAppointmentResult(DELETE_RESULT="OK", APP_LID=app_lid)

    @_operation("CancelAppointment")
    def cancel_appointment(self, params: Params) -> Any:
        app_lid = _required(params, "APP_LID")
        user_lid = _required(params, "USER_LID")
        try:
            self._cancel(app_lid, center_lid=_text(params, "CENTER_LID"), user_lid=user_lid)
        except BookingError as exc:
            # A.4.2: on error APP_LID carries the message.
            return CancelAppointmentResult(
                DELETE_RESULT="ERROR", RESULT="ERROR", APP_LID=exc.message
            )
        return CancelAppointmentResult(DELETE_RESULT="OK", RESULT="OK", APP_LID=app_lid)

    def book_at_desk(
        self,
        *,
        resource_lid: str,
        activity_lid: str,
        day: date,
        start: str | time,
        user_lid: str | None = None,
        user_tid: str | None = None,
        first_name: str | None = None,
        second_name: str | None = None,
        mobile_phone: str | None = None,
        email: str | None = None,
        insurance_lid: str | None = None,
    ) -> str:
        """Book as the clinic's own staff would (no SOAP); returns the APP_LID.

        Any start inside the resource's working hours will do, on the grid or
        not, past or beyond the search horizon; an overlap raises BookingError.
        """
        app_lid, _ = self._book(
            resource_lid=resource_lid,
            activity_lid=activity_lid,
            day=day,
            start=start if isinstance(start, time) else parse_time(start),
            center_lid=None,
            insurance_lid=insurance_lid,
            patient=PatientData(
                user_lid=user_lid,
                user_tid=user_tid,
                first_name=first_name,
                second_name=second_name,
                mobile_phone=mobile_phone,
                email=email,
            ),
            app_tid=None,
            origin="desk",
        )
        return app_lid

    def cancel_at_desk(self, app_lid: str) -> None:
        """Cancel as the clinic's staff would; BookingError when the appointment is unknown."""
        self._cancel(app_lid)

    def _book(
        self,
        *,
        resource_lid: str,
        activity_lid: str,
        day: date,
        start: time,
        center_lid: str | None,
        insurance_lid: str | None,
        patient: PatientData,
        app_tid: str | None,
        origin: str,
    ) -> tuple[str, str]:
        slot = slot_lid(resource_lid, day, start)
        today, last_bookable = self._horizon()
        not_before = self._now()
        with self.db.writing() as connection:
            found = _offers(
                connection,
                center_lid=center_lid,
                resource_lid=resource_lid,
                activity_lid=activity_lid,
                insurance_lid=insurance_lid,
            )
            if not found:
                raise BookingError(
                    _why_not_offered(connection, resource_lid, activity_lid, center_lid)
                    or f"{insurance_lid} does not cover {activity_lid} with {resource_lid}"
                )
            duration = found[0]["duration_minutes"]
            end = add_minutes(start, duration)
            rules = [
                rule
                for rule in _rules(connection, {resource_lid}).get(resource_lid, [])
                if rule.applies_on(day)
            ]
            if origin == "web":
                # Online, only what searchAvailabilities offers can be booked.
                bookable = (
                    today <= day <= last_bookable
                    and datetime.combine(day, start) >= not_before
                    and any(start in set(rule.slot_starts(duration)) for rule in rules)
                )
            else:
                bookable = any(rule.start <= start and end <= rule.end for rule in rules)
            if not bookable:
                raise BookingError(
                    f"{slot} is not an availability of {resource_lid} for {activity_lid}"
                )
            taken = _booked(connection, day, day).get((resource_lid, day), [])
            if any(overlaps(start, end, *other) for other in taken):
                raise BookingError(
                    f"The slot {slot} ({format_date(day)} {format_time(start)}) is already "
                    "taken; search the availabilities again"
                )
            patient_id, user_lid = _patient(connection, patient)
            stamp = _stamp(datetime.now(UTC))
            cursor = connection.execute(
                "INSERT INTO appointments (status, app_date, start_time, end_time, resource_lid,"
                " activity_lid, insurance_lid, patient_id, app_tid, origin, created_at,"
                " modified_at) VALUES ('Confirmed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    day.isoformat(),
                    format_time(start),
                    format_time(end),
                    resource_lid,
                    activity_lid,
                    insurance_lid,
                    patient_id,
                    app_tid,
                    origin,
                    stamp,
                    stamp,
                ),
            )
            app_lid = f"A{cursor.lastrowid:06d}"
            connection.execute(
                "UPDATE appointments SET app_lid = ? WHERE id = ?", (app_lid, cursor.lastrowid)
            )
        return app_lid, user_lid

    def _cancel(
        self, app_lid: str, *, center_lid: str | None = None, user_lid: str | None = None
    ) -> None:
        with self.db.writing() as connection:
            row = connection.execute(
                "SELECT ap.id, ap.status, r.center_lid, p.user_lid FROM appointments ap"
                " JOIN resources r ON r.resource_lid = ap.resource_lid"
                " JOIN patients p ON p.id = ap.patient_id WHERE ap.app_lid = ?",
                (app_lid,),
            ).fetchone()
            if row is None or (center_lid and row["center_lid"] != center_lid):
                where = f" in center {center_lid}" if center_lid else ""
                raise BookingError(f"No appointment {app_lid}{where}")
            if user_lid is not None and row["user_lid"] != user_lid:
                raise BookingError(f"Appointment {app_lid} is not an appointment of {user_lid}")
            if row["status"] == "Cancelled":
                return
            connection.execute(
                "UPDATE appointments SET status = 'Cancelled', modified_at = ? WHERE id = ?",
                (_stamp(datetime.now(UTC)), row["id"]),
            )

    # -- reading appointments -----------------------------------------------------

    @_operation("checkAppointment")
    def check_appointment(self, params: Params) -> Any:
        app_lid = _required(params, "APP_LID")
        with self.db.reading() as connection:
            rows = _appointments(
                connection, app_lid=app_lid, center_lid=_text(params, "CENTER_LID")
            )
        if not rows:
            return CheckAppointmentResult(RESULT="NOT_FOUND")
        return CheckAppointmentResult(RESULT="OK", APPOINTMENT=_appointment(rows[0]))

    @_operation("getAppointments")
    def get_appointments(self, params: Params) -> Any:
        return self._appointments_result(params, user_tid=_text(params, "USER_TID"))

    @_operation("SearchAppointments")
    def search_appointments(self, params: Params) -> Any:
        return self._appointments_result(params, user_tid=None)

    def _appointments_result(self, params: Params, user_tid: str | None) -> Any:
        first, last = _date(params, "START_DATE"), _date(params, "END_DATE")
        since = params.get("LAST_REQUEST_TIMESTAMP")
        with self.db.reading() as connection:
            rows = _appointments(
                connection,
                user_lid=_text(params, "USER_LID"),
                user_tid=user_tid,
                first=first.isoformat() if first else None,
                last=last.isoformat() if last else None,
                resource_lid=_text(params, "RESOURCE_LID"),
                center_lid=_text(params, "CENTER_LID"),
                since=_stamp(since) if since else None,
            )
        return AppointmentsResult(APPOINTMENTS=[_appointment(row) for row in rows])

    # -- reference data and test results ------------------------------------------

    @_operation("getCenters")
    def get_centers(self, params: Params) -> Any:
        with self.db.reading() as connection:
            rows = connection.execute("SELECT * FROM centers ORDER BY center_lid").fetchall()
        return CentersResult(
            CENTERS=[
                Center(
                    CENTER_LID=row["center_lid"],
                    CENTER_NAME=row["name"],
                    DESCRIPTION=row["description"],
                    ADDRESS=row["address"],
                    PHONE=row["phone"],
                    WEBSITE_URL=row["website_url"],
                )
                for row in rows
            ]
        )

    @_operation("KeyEntities")
    def key_entities(self, params: Params) -> Any:
        with self.db.reading() as connection:
            rows = connection.execute(_KEY_ENTITIES_SQL, {"center": _text(params, "CENTER_LID")})
            entities = [
                KeyEntity(
                    INSURANCE_LID=row["insurance_lid"],
                    INSURANCE_NAME=row["insurance_name"],
                    ACTIVITY_GROUP_LID=row["group_lid"],
                    ACTIVITY_GROUP_NAME=row["group_name"],
                    ACTIVITY_LID=row["activity_lid"],
                    ACTIVITY_NAME=row["activity_name"],
                    ACTIVITY_PRICE=row["price"],
                    ACTIVITY_DURATION=str(row["duration_minutes"]),
                    LOCATION_LID=row["location_lid"],
                    LOCATION_NAME=row["location_name"],
                    RESOURCE_LID=row["resource_lid"],
                    RESOURCE_FIRST_NAME=row["first_name"],
                    RESOURCE_SECOND_NAME=row["second_name"],
                )
                for row in rows
            ]
        return KeyEntitiesResult(ENTITIES=entities)

    @_operation("getTestResultsList")
    def test_results_list(self, params: Params) -> Any:
        since = _date(params, "RESULT_START_DATE")
        with self.db.reading() as connection:
            rows = connection.execute(
                "SELECT t.*, p.user_lid, p.user_tid, p.mobile_phone, p.email, p.id_number"
                " FROM test_results t JOIN patients p ON p.id = t.patient_id"
                " WHERE (:user_lid IS NULL OR p.user_lid = :user_lid)"
                " AND (:user_tid IS NULL OR p.user_tid = :user_tid)"
                " AND (:since IS NULL OR t.result_date >= :since)"
                " AND (:center IS NULL OR t.center_lid = :center)"
                " ORDER BY t.result_date, t.download_lid",
                {
                    "user_lid": _text(params, "USER_LID"),
                    "user_tid": _text(params, "USER_TID"),
                    "since": since.isoformat() if since else None,
                    "center": _text(params, "CENTER_LID"),
                },
            ).fetchall()
        return TestResultsListResult(
            TEST_RESULTS=[
                TestResult(
                    DOWNLOAD_LID=row["download_lid"],
                    STATUS=row["status"],
                    DOWNLOAD_CODE=row["download_code"],
                    DOWNLOAD_FILENAME=row["filename"],
                    DOWNLOAD_TYPE=row["download_type"],
                    USER_LID=row["user_lid"],
                    USER_TID=row["user_tid"],
                    USER_MOBILE_PHONE=row["mobile_phone"] or "",
                    USER_EMAIL=row["email"],
                    USER_ID_NUMBER=row["id_number"] or "",
                )
                for row in rows
            ]
        )

    @_operation("getTestResultContent")
    def test_result_content(self, params: Params) -> Any:
        download_lid = _required(params, "DOWNLOAD_LID")
        center_lid = _text(params, "CENTER_LID")
        with self.db.reading() as connection:
            row = connection.execute(
                "SELECT status, center_lid, content FROM test_results WHERE download_lid = ?",
                (download_lid,),
            ).fetchone()
        if row is None or (center_lid and row["center_lid"] != center_lid):
            # C.2.1: a result the platform may not have is reported as cancelled.
            return TestResultContent(
                DOWNLOAD_LID=download_lid,
                STATUS="Cancelled",
                ERROR_MESSAGE=f"No test result {download_lid}",
            )
        if row["status"] != "Valid":
            return TestResultContent(
                DOWNLOAD_LID=download_lid,
                STATUS=row["status"],
                ERROR_MESSAGE=f"Test result {download_lid} was cancelled",
            )
        # Spyne's ByteArray takes a sequence of chunks, not one bytes object.
        return TestResultContent(
            DOWNLOAD_LID=download_lid, STATUS="Valid", DOWNLOAD_CONTENT=[bytes(row["content"])]
        )

    # -- for tests and demos ------------------------------------------------------

    def patient(self, user_lid: str) -> dict[str, Any] | None:
        """The stored patient (as a dict of columns), or None."""
        with self.db.reading() as connection:
            row = connection.execute(
                "SELECT * FROM patients WHERE user_lid = ?", (user_lid,)
            ).fetchone()
        return dict(row) if row else None

    def ping(self) -> bool:
        return self.db.ping()


# -- queries ------------------------------------------------------------------------

_OFFERS_SQL = """
SELECT r.resource_lid, r.center_lid, a.activity_lid, a.duration_minutes,
       COALESCE(ia.price, a.price) AS price
FROM resources r
JOIN resources_activities ra ON ra.resource_lid = r.resource_lid
JOIN activities a ON a.activity_lid = ra.activity_lid
LEFT JOIN insurances_resources ir
    ON ir.resource_lid = r.resource_lid AND ir.insurance_lid = :insurance
LEFT JOIN insurances_activities ia
    ON ia.activity_lid = a.activity_lid AND ia.insurance_lid = :insurance
WHERE (:center IS NULL OR r.center_lid = :center)
  AND (:resource IS NULL OR r.resource_lid = :resource)
  AND (:activity IS NULL OR a.activity_lid = :activity)
  AND (:insurance IS NULL OR (ir.insurance_lid IS NOT NULL AND ia.insurance_lid IS NOT NULL))
ORDER BY r.resource_lid, a.activity_lid
"""

_KEY_ENTITIES_SQL = """
SELECT i.insurance_lid, i.name AS insurance_name, a.group_lid, a.group_name, a.activity_lid,
       a.name AS activity_name, COALESCE(ia.price, a.price) AS price, a.duration_minutes,
       l.location_lid, l.name AS location_name, r.resource_lid, r.first_name, r.second_name
FROM resources r
JOIN resources_activities ra ON ra.resource_lid = r.resource_lid
JOIN activities a ON a.activity_lid = ra.activity_lid
JOIN insurances_resources ir ON ir.resource_lid = r.resource_lid
JOIN insurances i ON i.insurance_lid = ir.insurance_lid
JOIN insurances_activities ia
    ON ia.insurance_lid = i.insurance_lid AND ia.activity_lid = a.activity_lid
LEFT JOIN locations l ON l.location_lid = r.location_lid
WHERE (:center IS NULL OR r.center_lid = :center)
ORDER BY r.resource_lid, a.activity_lid, i.insurance_lid
"""

_APPOINTMENTS_SQL = """
SELECT ap.app_lid, ap.status, ap.app_date, ap.start_time, ap.end_time, ap.insurance_lid,
       ap.app_tid, p.user_lid, p.user_tid, p.mobile_phone, p.email,
       a.activity_lid, a.name AS activity_name, a.group_lid, a.group_name,
       r.resource_lid, r.first_name, r.second_name, r.center_lid,
       l.location_lid, l.name AS location_name
FROM appointments ap
JOIN patients p ON p.id = ap.patient_id
JOIN activities a ON a.activity_lid = ap.activity_lid
JOIN resources r ON r.resource_lid = ap.resource_lid
LEFT JOIN locations l ON l.location_lid = r.location_lid
WHERE (:app_lid IS NULL OR ap.app_lid = :app_lid)
  AND (:user_lid IS NULL OR p.user_lid = :user_lid)
  AND (:user_tid IS NULL OR p.user_tid = :user_tid)
  AND (:first IS NULL OR ap.app_date >= :first)
  AND (:last IS NULL OR ap.app_date <= :last)
  AND (:resource IS NULL OR ap.resource_lid = :resource)
  AND (:center IS NULL OR r.center_lid = :center)
  AND (:since IS NULL OR ap.modified_at > :since)
ORDER BY ap.app_date, ap.start_time, ap.app_lid
"""


def _offers(
    connection: sqlite3.Connection,
    *,
    center_lid: str | None,
    resource_lid: str | None,
    activity_lid: str | None,
    insurance_lid: str | None,
) -> list[sqlite3.Row]:
    """Resource x activity pairs that may be booked (for that insurance, when given)."""
    return connection.execute(
        _OFFERS_SQL,
        {
            "center": center_lid,
            "resource": resource_lid,
            "activity": activity_lid,
            "insurance": insurance_lid,
        },
    ).fetchall()


def _why_not_offered(
    connection: sqlite3.Connection, resource_lid: str, activity_lid: str, center_lid: str | None
) -> str | None:
    resource = connection.execute(
        "SELECT center_lid FROM resources WHERE resource_lid = ?", (resource_lid,)
    ).fetchone()
    if resource is None:
        return f"Unknown resource {resource_lid}"
    if center_lid and resource["center_lid"] != center_lid:
        return f"{resource_lid} does not work in center {center_lid}"
    offered = connection.execute(
        "SELECT 1 FROM resources_activities WHERE resource_lid = ? AND activity_lid = ?",
        (resource_lid, activity_lid),
    ).fetchone()
    if offered is None:
        return f"{resource_lid} does not offer activity {activity_lid}"
    return None  # then it is the insurance


def _rules(connection: sqlite3.Connection, resources: Iterable[str]) -> dict[str, list[WeeklyRule]]:
    wanted = set(resources)
    rules: dict[str, list[WeeklyRule]] = {}
    for row in connection.execute("SELECT * FROM tt_availabilities ORDER BY availability_lid"):
        if row["resource_lid"] in wanted:
            rule = WeeklyRule.from_row(
                row["availability_lid"],
                row["resource_lid"],
                row["r_working_day"],
                row["r_start_time"],
                row["r_end_time"],
                row["r_start_day"],
                row["r_end_day"],
            )
            rules.setdefault(rule.resource_lid, []).append(rule)
    return rules


def _booked(
    connection: sqlite3.Connection, first: date, last: date
) -> dict[tuple[str, date], list[tuple[time, time]]]:
    """Confirmed appointments' (start, end) per resource and day."""
    booked: dict[tuple[str, date], list[tuple[time, time]]] = {}
    rows = connection.execute(
        "SELECT resource_lid, app_date, start_time, end_time FROM appointments"
        " WHERE status = 'Confirmed' AND app_date BETWEEN ? AND ?",
        (first.isoformat(), last.isoformat()),
    )
    for row in rows:
        key = (row["resource_lid"], date.fromisoformat(row["app_date"]))
        booked.setdefault(key, []).append(
            (parse_time(row["start_time"]), parse_time(row["end_time"]))
        )
    return booked


def _patient(connection: sqlite3.Connection, data: PatientData) -> tuple[int, str]:
    """The patient to book for: by USER_LID, else by USER_TID, else a new one (guide B.2.2)."""
    if data.user_lid:
        row = connection.execute(
            "SELECT id, user_lid, user_tid FROM patients WHERE user_lid = ?", (data.user_lid,)
        ).fetchone()
        if row is not None:
            if data.user_tid and not row["user_tid"]:
                owner = connection.execute(
                    "SELECT 1 FROM patients WHERE user_tid = ?", (data.user_tid,)
                ).fetchone()
                if owner is None:  # remember the platform's id, unless another patient has it
                    connection.execute(
                        "UPDATE patients SET user_tid = ? WHERE id = ?", (data.user_tid, row["id"])
                    )
            return row["id"], row["user_lid"]
        # An unknown USER_LID (deleted at the clinic, say): carry on as for a new patient.
    if data.user_tid:
        row = connection.execute(
            "SELECT id, user_lid FROM patients WHERE user_tid = ?", (data.user_tid,)
        ).fetchone()
        if row is not None:
            return row["id"], row["user_lid"]
    cursor = connection.execute(
        "INSERT INTO patients (user_tid, first_name, second_name, third_name, gender,"
        " date_of_birth, mobile_phone, landline_phone, email, id_number, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            data.user_tid,
            data.first_name,
            data.second_name,
            data.third_name,
            data.gender,
            data.date_of_birth,
            data.mobile_phone,
            data.landline_phone,
            data.email,
            data.id_number,
            _stamp(datetime.now(UTC)),
        ),
    )
    patient_id = int(cursor.lastrowid or 0)
    user_lid = f"P{patient_id:06d}"
    connection.execute("UPDATE patients SET user_lid = ? WHERE id = ?", (user_lid, patient_id))
    return patient_id, user_lid


def _appointments(
    connection: sqlite3.Connection,
    *,
    app_lid: str | None = None,
    user_lid: str | None = None,
    user_tid: str | None = None,
    first: str | None = None,
    last: str | None = None,
    resource_lid: str | None = None,
    center_lid: str | None = None,
    since: str | None = None,
) -> list[sqlite3.Row]:
    return connection.execute(
        _APPOINTMENTS_SQL,
        {
            "app_lid": app_lid,
            "user_lid": user_lid,
            "user_tid": user_tid,
            "first": first,
            "last": last,
            "resource": resource_lid,
            "center": center_lid,
            "since": since,
        },
    ).fetchall()


def _appointment(row: sqlite3.Row) -> Any:
    return Appointment(
        APP_LID=row["app_lid"],
        STATUS=row["status"],
        APP_DATE=format_date(date.fromisoformat(row["app_date"])),
        APP_START_TIME=row["start_time"],
        APP_END_TIME=row["end_time"],
        USER_LID=row["user_lid"],
        USER_TID=row["user_tid"],
        USER_MOBILE_PHONE=row["mobile_phone"],
        USER_EMAIL=row["email"],
        USER_INSURANCE_LID=row["insurance_lid"],
        ACTIVITY_LID=row["activity_lid"],
        ACTIVITY_NAME=row["activity_name"],
        ACTIVITY_GROUP_LID=row["group_lid"],
        ACTIVITY_GROUP_NAME=row["group_name"],
        RESOURCE_LID=row["resource_lid"],
        RESOURCE_FIRST_NAME=row["first_name"],
        RESOURCE_SECOND_NAME=row["second_name"],
        LOCATION_LID=row["location_lid"],
        LOCATION_NAME=row["location_name"],
        APP_TID=row["app_tid"],
        CENTER_LID=row["center_lid"],
    )


# -- input fields -------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    """``modified_at``'s text form, in UTC; naive datetimes are taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _same(given: str | None, expected: str | None) -> bool:
    return hmac.compare_digest((given or "").encode(), (expected or "").encode())


def _text(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required(params: Params, name: str) -> str:
    value = _text(params, name)
    if value is None:
        raise clinic_fault("Client.ValidationError", f"{name} is required")
    return value


def _date(params: Params, name: str) -> date | None:
    return _parsed(params, name, parse_date, "dd/mm/yyyy")


def _time(params: Params, name: str) -> time | None:
    return _parsed(params, name, parse_time, "hh:mm")


def _required_date(params: Params, name: str) -> date:
    return _parsed(params, name, parse_date, "dd/mm/yyyy", required=True)


def _required_time(params: Params, name: str) -> time:
    return _parsed(params, name, parse_time, "hh:mm", required=True)


@overload
def _parsed(
    params: Params, name: str, parse: Callable[[str], T], shape: str, required: Literal[True]
) -> T: ...
@overload
def _parsed(
    params: Params, name: str, parse: Callable[[str], T], shape: str, required: bool = False
) -> T | None: ...
def _parsed(
    params: Params, name: str, parse: Callable[[str], T], shape: str, required: bool = False
) -> T | None:
    value = _required(params, name) if required else _text(params, name)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError:
        raise clinic_fault("Client.ValidationError", f"{name}: {value!r} is not {shape}") from None
