"""What the checks of one run share: the session, the answers already had, the
bookings made (and undone), and the probes.

A probe is a call (or a few) that several checks judge: the free slots, the
booking, the delta reads. It runs once, the first time a check asks for it, and
every check that asks is shown its exchanges. A probe that cannot be made
raises ``NotApplicableError`` for every check that needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from .contract import contract_date, contract_time
from .exchange import Exchange, Row
from .model import CheckConfig, NotApplicableError, RuleBrokenError
from .session import ClinicSession, SkippedOperationError

T = TypeVar("T")

# How many slots the first search asks for; the booking takes the last of them,
# the furthest from now, which a clinic is least likely to refuse as too soon.
OFFER_SIZE = 20
# How far back the read-only SearchAppointments asks, to have rows to judge
# without asking a production clinic for everything it has.
RECENT = timedelta(days=7)
TEST_RESULTS_SINCE = timedelta(days=30)
# Ids no clinic has: the "unknown" checks use them.
UNKNOWN_ID = "CONFORMANCE-NO-SUCH-ID"
# Impossible in the right shape: a clinic that reads dates at all must refuse it.
IMPOSSIBLE_DATE = "31/02/2027"
# The checker's test patient, known to the clinic by this USER_TID (pattern 1,
# B.2.2): the same on every run, so that runs add no new patients after the first.
PATIENT_TID = "tuotempo-conformance-patient"


@dataclass(eq=False)
class Booking:
    slot: Row
    app_tid: str
    exchange: Exchange
    booked_after: datetime  # our clock, just before the request
    deleted_after: datetime | None = None
    app_lid: str | None = None
    user_lid: str | None = None
    undone: bool = False
    undo_exchanges: list[Exchange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.app_lid is not None


class Context:
    def __init__(self, config: CheckConfig, session: ClinicSession) -> None:
        self.config = config
        self.session = session
        self.bookings: list[Booking] = []
        self.touched: list[Exchange] = []
        self._memo: dict[str, tuple[bool, Any, list[Exchange]]] = {}

    # -- calls ---------------------------------------------------------------------

    def call(self, operation: str, purpose: str, **params: Any) -> Exchange:
        if operation in self.config.skip:
            raise NotApplicableError(f"{operation} is skipped (--skip {operation})")
        try:
            exchange = self.session.call(operation, purpose, **params)
        except SkippedOperationError as exc:
            raise NotApplicableError(str(exc)) from None
        self.touch([exchange])
        return exchange

    def touch(self, exchanges: list[Exchange]) -> None:
        for exchange in exchanges:
            if not any(seen is exchange for seen in self.touched):
                self.touched.append(exchange)

    def now(self) -> datetime:
        return self.config.now() if self.config.now else datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()

    def memo(self, name: str, make: Callable[[], T]) -> T:
        if name not in self._memo:
            before = len(self.session.exchanges)
            try:
                value: Any = make()
                ok = True
            except (NotApplicableError, RuleBrokenError) as exc:
                value, ok = exc, False
            self._memo[name] = (ok, value, list(self.session.exchanges[before:]))
        ok, value, exchanges = self._memo[name]
        self.touch(exchanges)
        if not ok:
            raise value
        return value

    # -- bookings ------------------------------------------------------------------

    def require_writes(self) -> None:
        if not self.config.allow_writes:
            raise NotApplicableError("writes are off (run with --allow-writes)")

    def undo_operation(self) -> str:
        for operation in ("deleteAppointment", "CancelAppointment"):
            if operation not in self.config.skip:
                return operation
        raise NotApplicableError(
            "nothing could undo a booking: deleteAppointment and CancelAppointment are skipped"
        )

    def book(self, slot: Row, purpose: str) -> Booking:
        """Book ``slot`` for the checker's own test patient; remembered for clean-up."""
        self.require_writes()
        self.undo_operation()
        sequence = len(self.bookings) + 1
        app_tid = f"{self.config.run_id}-{sequence}"
        booked_after = self.now()
        exchange = self.call(
            "addAppointment",
            purpose,
            ACTIVITY_LID=slot.get("ACTIVITY_LID", ""),
            RESOURCE_LID=slot.get("RESOURCE_LID") or None,
            # Pattern 1 (B.2.2): a patient new to the clinic, known by our id.
            USER_TID=PATIENT_TID,
            USER_FIRST_NAME="Conformance",
            USER_SECOND_NAME="Check",
            APP_DATE=slot.get("AVA_DATE", ""),
            APP_START_TIME=slot.get("AVA_START_TIME", ""),
            AVAILABILITY_LID=slot.get("AVAILABILITY_LID", ""),
            INSURANCE_LID=slot.get("INSURANCE_LID") or None,
            APP_TID=app_tid,
        )
        booking = Booking(slot=slot, app_tid=app_tid, exchange=exchange, booked_after=booked_after)
        result = exchange.record("addAppointmentResult") if exchange.ok else None
        if result and result.get("ADD_RESULT", "").upper() == "OK" and result.get("APP_LID"):
            booking.app_lid = result["APP_LID"]
            booking.user_lid = result.get("USER_LID") or None
        self.bookings.append(booking)
        return booking

    def undo(self, booking: Booking, purpose: str) -> Exchange:
        """Delete (or cancel) a booking the checker made."""
        if booking.app_lid is None:
            raise NotApplicableError("nothing was booked")
        operation = self.undo_operation()
        if operation == "deleteAppointment":
            exchange = self.call(operation, purpose, APP_LID=booking.app_lid)
            outcome = exchange.record("deleteAppointmentResult") if exchange.ok else None
            done = outcome is not None and outcome.get("DELETE_RESULT", "").upper() == "OK"
        else:
            exchange = self.call(
                operation, purpose, APP_LID=booking.app_lid, USER_LID=booking.user_lid or ""
            )
            outcome = exchange.record("CancelAppointmentResult") if exchange.ok else None
            done = outcome is not None and outcome.get("RESULT", "").upper() == "OK"
        booking.undo_exchanges.append(exchange)
        booking.undone = booking.undone or done
        return exchange


def probe(make: Callable[[Context], T]) -> Callable[[Context], T]:
    """Run ``make`` once per run; later callers get the same value (or exception)."""

    @functools.wraps(make)
    def memoized(ctx: Context) -> T:
        return ctx.memo(make.__name__, lambda: make(ctx))

    return memoized


def bookable(row: Row) -> bool:
    """A slot the checker can book and find again: its key fields are readable."""
    return bool(
        row.get("RESOURCE_LID")
        and row.get("ACTIVITY_LID") is not None
        and contract_date(row.get("AVA_DATE", "")) is not None
        and contract_time(row.get("AVA_START_TIME", "")) is not None
    )


def same_slot(row: Row, slot: Row) -> bool:
    if slot.get("AVAILABILITY_LID") and row.get("AVAILABILITY_LID") == slot["AVAILABILITY_LID"]:
        return True
    return all(
        row.get(key) == slot.get(key) for key in ("RESOURCE_LID", "AVA_DATE", "AVA_START_TIME")
    )


def timestamp(moment: datetime) -> datetime:
    """LAST_REQUEST_TIMESTAMP as the poller sends it: aware, UTC, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0)
