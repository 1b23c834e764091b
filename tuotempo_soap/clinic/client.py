"""``ZeepClinicClient``: one typed method per operation of the clinic contract.

Reads are retried with exponential backoff when the clinic is unavailable, at most
``read_retries`` times. Writes are not: ``add_appointment`` whose answer is lost
looks for the booking before trying again (see ``add_appointment``), and
``delete_appointment``/``cancel_appointment`` are retried because doing them twice
is harmless, then checked when the retry is refused.

Only the operation, the clinic's host, the outcome and the duration are logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ..domain.clinic import (
    Appointment,
    Availability,
    BookingResult,
    Center,
    ClinicAppointmentStatus,
    DeleteResult,
    KeyEntity,
    PatientData,
    TestResult,
    TestResultContent,
)
from ..domain.formats import format_date, format_time
from . import answers
from .endpoint import ClinicEndpoint, host_of
from .errors import (
    ClinicError,
    ClinicProtocolError,
    ClinicRejectedError,
    ClinicUnavailableError,
    map_error,
    redact,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# After a lost booking answer, how long to give the clinic to finish what it may
# still be doing before looking again: as long as we waited for it, within reason.
_RECONCILE_GRACE_MAX_SECONDS = 5.0


class ClinicService(Protocol):
    """What the client needs of zeep's ``ServiceProxy`` (tests pass a fake)."""

    def __getitem__(self, operation: str) -> Callable[..., Any]: ...


def _date(value: dt.date | None) -> str | None:
    return format_date(value) if value is not None else None


def _time(value: dt.time | None) -> str | None:
    return format_time(value) if value is not None else None


class ZeepClinicClient:
    """Build with ``build_clinic_client``; safe to share between threads."""

    def __init__(
        self,
        service: ClinicService,
        endpoint: ClinicEndpoint,
        *,
        address: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.address = address
        self.host = host_of(address)
        self._service = service
        self._sleep = sleep

    # -- reads ---------------------------------------------------------------

    def search_availabilities(
        self,
        activity_lid: str | None,
        *,
        start_day: dt.date | None = None,
        end_day: dt.date | None = None,
        start_time: dt.time | None = None,
        end_time: dt.time | None = None,
        min_time: dt.time | None = None,
        max_time: dt.time | None = None,
        max_results: int = 20,
        resource_lid: str | None = None,
        insurance_lid: str | None = None,
        center_lid: str | None = None,
    ) -> list[Availability]:
        params = {
            **self._common(center_lid),
            # Required by the contract, but may be empty when all activities last alike.
            "ACTIVITY_LID": activity_lid or "",
            "AVA_START_DAY": _date(start_day),
            "AVA_END_DAY": _date(end_day),
            "AVA_START_TIME": _time(start_time),
            "AVA_END_TIME": _time(end_time),
            "AVA_MIN_TIME": _time(min_time),
            "AVA_MAX_TIME": _time(max_time),
            "AVA_RESULTS_NUMBER": max_results,
            "RESOURCE_LID": resource_lid,
            "INSURANCE_LID": insurance_lid,
        }
        return self._read_rows(
            "searchAvailabilities", params, "AVAILABILITIES", "AVAILABILITY", answers.availability
        )

    def check_appointment(
        self, app_lid: str, *, center_lid: str | None = None
    ) -> Appointment | None:
        """The appointment, or None when the clinic does not know it."""
        operation = "checkAppointment"
        params = {**self._common(center_lid), "APP_LID": app_lid}
        outcome, row = self._read(operation, params, answers.check_outcome)
        if outcome == "NOT_FOUND":
            return None
        if outcome == "OK":
            return self._parse(operation, row, answers.checked_appointment)
        if outcome == "ERROR":
            reason = redact(answers.text(row, "ERROR_MESSAGE") or "no reason given")
            raise ClinicRejectedError(
                f"clinic {self.host}, {operation}: refused: {reason}",
                operation=operation,
                host=self.host,
            )
        raise ClinicProtocolError(
            f"clinic {self.host}, {operation}: unexpected RESULT {outcome[:20]!r}",
            operation=operation,
            host=self.host,
        )

    def get_appointments(
        self,
        *,
        user_lid: str | None = None,
        user_tid: str | None = None,
        start_date: dt.date | None = None,
        end_date: dt.date | None = None,
        resource_lid: str | None = None,
        changed_since: dt.datetime | None = None,
        center_lid: str | None = None,
    ) -> list[Appointment]:
        params = {
            **self._common(center_lid),
            "USER_LID": user_lid,
            "USER_TID": user_tid,
            "START_DATE": _date(start_date),
            "END_DATE": _date(end_date),
            "RESOURCE_LID": resource_lid,
            "LAST_REQUEST_TIMESTAMP": changed_since,
        }
        return self._read_rows(
            "getAppointments", params, "APPOINTMENTS", "APPOINTMENT", answers.appointment
        )

    def search_appointments(
        self,
        *,
        user_lid: str | None = None,
        start_date: dt.date | None = None,
        end_date: dt.date | None = None,
        resource_lid: str | None = None,
        changed_since: dt.datetime | None = None,
        center_lid: str | None = None,
    ) -> list[Appointment]:
        params = {
            **self._common(center_lid),
            "USER_LID": user_lid,
            "START_DATE": _date(start_date),
            "END_DATE": _date(end_date),
            "RESOURCE_LID": resource_lid,
            "LAST_REQUEST_TIMESTAMP": changed_since,
        }
        return self._read_rows(
            "SearchAppointments", params, "APPOINTMENTS", "APPOINTMENT", answers.appointment
        )

    def get_centers(self) -> list[Center]:
        params = {"AUTH": self.endpoint.auth()}
        return self._read_rows("getCenters", params, "CENTERS", "CENTER", answers.center)

    def key_entities(self, *, center_lid: str | None = None) -> list[KeyEntity]:
        return self._read_rows(
            "KeyEntities", self._common(center_lid), "ENTITIES", "ENTITY", answers.key_entity
        )

    def get_test_results_list(
        self,
        *,
        user_lid: str | None = None,
        user_tid: str | None = None,
        start_date: dt.date | None = None,
        center_lid: str | None = None,
    ) -> list[TestResult]:
        params = {
            **self._common(center_lid),
            "USER_LID": user_lid,
            "USER_TID": user_tid,
            "RESULT_START_DATE": _date(start_date),
        }
        return self._read_rows(
            "getTestResultsList", params, "TEST_RESULTS", "TEST_RESULT", answers.download
        )

    def get_test_result_content(
        self, download_lid: str, *, center_lid: str | None = None
    ) -> TestResultContent:
        params = {**self._common(center_lid), "DOWNLOAD_LID": download_lid}
        return self._read("getTestResultContent", params, answers.download_content)

    # -- writes --------------------------------------------------------------

    def add_appointment(
        self,
        slot: Availability,
        patient: PatientData,
        app_tid: str,
        *,
        center_lid: str | None = None,
    ) -> BookingResult:
        """Book ``slot`` for ``patient``; ``app_tid`` is our id for the booking.

        A refusal (slot taken) is ``BookingResult(ok=False)``. When the answer is
        lost (timeout, dropped connection, 5xx) or unreadable, the clinic may have
        booked all the same, so we look for the booking (``getAppointments`` for
        the patient and the day, matching our ``app_tid``, or the same slot when
        the clinic does not echo it) and return it if found. Only when a lost
        answer's booking is not there, even after giving the clinic a moment, do
        we ask once more. If the clinic cannot tell us, ``ClinicUnavailableError``
        says the booking state is unknown.
        """
        center = center_lid or slot.center_lid or self.endpoint.center_lid
        params = self._booking_params(slot, patient, app_tid, center)
        personal = patient.personal_values()

        def look() -> BookingResult | None:
            return self._find_booking(slot, patient, app_tid, center)

        try:
            return self._book_or_look(params, personal, look)
        except ClinicUnavailableError as exc:
            if not exc.request_sent:
                raise  # it never reached the clinic: nothing was booked
            log.warning(
                "clinic booking answer lost host=%s app_tid=%s reason=%s; looking for it",
                self.host,
                app_tid,
                type(exc).__name__,
            )
        found = look()
        if found is None:
            # A clinic too slow to answer in time is also slow to commit.
            self._sleep(min(self.endpoint.timeout_seconds, _RECONCILE_GRACE_MAX_SECONDS))
            found = look()
        if found is not None:
            return found
        try:
            result = self._book_or_look(params, personal, look)
        except ClinicUnavailableError as exc:
            found = look()
            if found is not None:
                return found
            raise ClinicUnavailableError(
                f"clinic {self.host}, addAppointment: no answer twice and no booking found "
                f"yet; the booking state is unknown (APP_TID {app_tid})",
                operation="addAppointment",
                host=self.host,
            ) from exc
        if result.ok:
            return result
        # Refused, perhaps because our first request took the slot after all.
        return look() or result

    def delete_appointment(self, app_lid: str, *, center_lid: str | None = None) -> DeleteResult:
        params = {**self._common(center_lid), "APP_LID": app_lid}
        return self._idempotent_cancel(
            "deleteAppointment", params, answers.delete_result, app_lid, center_lid
        )

    def cancel_appointment(
        self, app_lid: str, user_lid: str, *, center_lid: str | None = None
    ) -> DeleteResult:
        params = {**self._common(center_lid), "APP_LID": app_lid, "USER_LID": user_lid}
        return self._idempotent_cancel(
            "CancelAppointment", params, answers.cancel_result, app_lid, center_lid
        )

    # -- plumbing ------------------------------------------------------------

    def _common(self, center_lid: str | None) -> dict[str, Any]:
        return {"AUTH": self.endpoint.auth(), "CENTER_LID": center_lid or self.endpoint.center_lid}

    def _booking_params(
        self, slot: Availability, patient: PatientData, app_tid: str, center: str | None
    ) -> dict[str, Any]:
        return {
            **self._common(center),
            "ACTIVITY_LID": slot.activity_lid,
            "RESOURCE_LID": slot.resource_lid,
            "USER_TID": patient.user_tid,
            "USER_LID": patient.user_lid,
            "USER_FIRST_NAME": patient.first_name,
            "USER_SECOND_NAME": patient.second_name,
            "USER_THIRD_NAME": patient.third_name,
            "USER_GENDER": patient.gender,
            "USER_DATE_OF_BIRTH": _date(patient.date_of_birth),
            "USER_MOBILE_PHONE": patient.mobile_phone,
            "USER_LANDLINE_PHONE": patient.landline_phone,
            "USER_EMAIL": patient.email,
            "USER_ID_NUMBER": patient.id_number,
            "APP_DATE": format_date(slot.date),
            "APP_START_TIME": format_time(slot.start),
            "AVAILABILITY_LID": slot.availability_lid or "",
            "INSURANCE_LID": slot.insurance_lid,
            "APP_TID": app_tid,
        }

    def _book_or_look(
        self,
        params: Mapping[str, Any],
        personal: Sequence[str],
        look: Callable[[], BookingResult | None],
    ) -> BookingResult:
        operation = "addAppointment"
        try:
            answer = self._invoke(operation, params, personal)
            return self._parse(operation, answer, answers.booking_result)
        except ClinicProtocolError:
            # The clinic answered, but not so we can read it: it may have booked.
            # Asking again would get the same answer, so only look.
            found = look()
            if found is not None:
                return found
            raise

    def _find_booking(
        self, slot: Availability, patient: PatientData, app_tid: str, center: str | None
    ) -> BookingResult | None:
        # Pattern 2 names the patient by the clinic's id, pattern 1 by ours; a
        # patient new to the clinic has neither, and only APP_TID can then match.
        user_lid = patient.user_lid
        user_tid = None if user_lid else patient.user_tid
        try:
            appointments = self.get_appointments(
                user_lid=user_lid,
                user_tid=user_tid,
                start_date=slot.date,
                end_date=slot.date,
                resource_lid=slot.resource_lid,
                center_lid=center,
            )
        except ClinicError as exc:
            raise ClinicUnavailableError(
                f"clinic {self.host}, addAppointment: no answer, and looking for the booking "
                f"failed ({type(exc).__name__}); the booking state is unknown (APP_TID {app_tid})",
                operation="addAppointment",
                host=self.host,
            ) from exc
        match = matching_booking(
            appointments, slot, app_tid, same_patient=bool(user_lid or user_tid)
        )
        if match is None:
            return None
        log.info("clinic booking found host=%s app_tid=%s", self.host, app_tid)
        return BookingResult(
            ok=True, app_lid=match.app_lid, user_lid=match.user_lid, reconciled=True
        )

    def _idempotent_cancel(
        self,
        operation: str,
        params: Mapping[str, Any],
        reader: Callable[[Any], DeleteResult],
        app_lid: str,
        center_lid: str | None,
    ) -> DeleteResult:
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            return self._invoke(operation, params)

        answer = self._retrying(operation)(attempt)
        result = self._parse(operation, answer, reader)
        if result.ok or attempts == 1:
            return result
        # A retry refused: most likely because a lost first attempt did the work.
        # Ask rather than assume.
        try:
            current = self.check_appointment(app_lid, center_lid=center_lid)
        except ClinicRejectedError:
            return result
        if current is None or current.status is ClinicAppointmentStatus.CANCELLED:
            return DeleteResult(ok=True, app_lid=app_lid, already_done=True)
        return result

    def _read(self, operation: str, params: Mapping[str, Any], reader: Callable[[Any], T]) -> T:
        answer = self._retrying(operation)(self._invoke, operation, params)
        return self._parse(operation, answer, reader)

    def _read_rows(
        self,
        operation: str,
        params: Mapping[str, Any],
        wrapper: str,
        member: str,
        reader: Callable[[answers.Row], T],
    ) -> list[T]:
        def read_all(answer: Any) -> list[T]:
            return [reader(row) for row in answers.rows(answer, wrapper, member)]

        return self._read(operation, params, read_all)

    def _parse(self, operation: str, answer: Any, reader: Callable[[Any], T]) -> T:
        try:
            return reader(answer)
        except answers.AnswerError as exc:
            raise ClinicProtocolError(
                f"clinic {self.host}, {operation}: unexpected answer: {exc}",
                operation=operation,
                host=self.host,
            ) from exc

    def _retrying(self, operation: str) -> Retrying:
        backoff = self.endpoint.retry_backoff_seconds

        def before_sleep(state: RetryCallState) -> None:
            wait = state.next_action.sleep if state.next_action else 0.0
            log.info(
                "clinic retry host=%s operation=%s attempt=%d wait=%.2fs",
                self.host,
                operation,
                state.attempt_number,
                wait,
            )

        return Retrying(
            retry=retry_if_exception_type(ClinicUnavailableError),
            stop=stop_after_attempt(self.endpoint.read_retries + 1),
            # Jitter, so the pollers of one clinic do not come back all at once.
            wait=wait_exponential(multiplier=backoff, max=self.endpoint.retry_backoff_max_seconds)
            + wait_random(0, backoff),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def _invoke(
        self, operation: str, params: Mapping[str, Any], personal: Sequence[str] = ()
    ) -> Any:
        """One call, with every foreign failure mapped (errors.py) and one log line."""
        try:
            call = self._service[operation]
        except (AttributeError, KeyError) as exc:
            raise ClinicProtocolError(
                f"clinic {self.host}: the WSDL has no operation {operation}",
                operation=operation,
                host=self.host,
            ) from exc
        started = time.monotonic()
        try:
            answer = call(**params)
        except Exception as exc:
            mapped = map_error(exc, operation=operation, host=self.host, redact_values=personal)
            self._log(operation, started, type(mapped or exc).__name__)
            if mapped is None:
                raise
            raise mapped from exc
        self._log(operation, started, "ok")
        return answer

    def _log(self, operation: str, started: float, outcome: str) -> None:
        log.info(
            "clinic call host=%s operation=%s outcome=%s duration_ms=%d",
            self.host,
            operation,
            outcome,
            (time.monotonic() - started) * 1000,
        )


def matching_booking(
    appointments: Sequence[Appointment],
    slot: Availability,
    app_tid: str,
    *,
    same_patient: bool,
) -> Appointment | None:
    """Our booking among a patient's appointments: the confirmed one carrying our
    ``app_tid``; failing that, when the list is the patient's own and the clinic
    does not echo APP_TID, the confirmed one on the very slot and activity."""
    confirmed = [a for a in appointments if a.status is ClinicAppointmentStatus.CONFIRMED]
    for appointment in confirmed:
        if appointment.app_tid == app_tid:
            return appointment
    if not same_patient:
        return None
    for appointment in confirmed:
        if (
            appointment.app_tid is None
            and appointment.date == slot.date
            and appointment.start == slot.start
            and appointment.resource_lid == slot.resource_lid
            and appointment.activity_lid == slot.activity_lid
        ):
            return appointment
    return None
