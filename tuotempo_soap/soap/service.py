"""The operations. Each handler unpacks the request, calls one service, packs
the answer; errors are turned into faults by ``faults`` and nowhere else."""

from __future__ import annotations

from typing import Any

from spyne import Fault, Integer32, ServiceBase, Unicode, rpc

from ..domain.reservation import FIELD_NAMES
from ..errors import RequestValidationError, TuotempoError
from ..services import instances, reservations
from .faults import fault_for, internal_fault
from .runtime import Runtime
from .types import (
    RESERVATION_ARRAY,
    Authorization,
    GetReservationsResult,
    ReservationItemResult,
    ServiceFault,
    StoredReservation,
    UpdateReservationsResult,
    optional,
    required,
)


def _authenticate(ctx: Any, auth: Any) -> tuple[Runtime, instances.Instance]:
    runtime: Runtime = ctx.app.runtime
    if auth is None:
        raise RequestValidationError("AUTH is required", field="AUTH")
    instance = instances.authenticate(
        runtime.store, auth.INSTANCE or "", auth.USERNAME or "", auth.PASSWORD or ""
    )
    return runtime, instance


def _reservation_input(item: Any) -> dict[str, object]:
    if item is None:
        return {}
    return {name: getattr(item, name, None) for name in FIELD_NAMES}


class TuotempoService(ServiceBase):
    @classmethod
    def call_wrapper(cls, ctx: Any) -> Any:
        """Every operation runs through here: domain errors become faults."""
        try:
            return super().call_wrapper(ctx)
        except Fault:
            raise
        except TuotempoError as error:
            raise fault_for(error) from None
        except Exception:
            raise internal_fault(ctx.method_request_string or "operation") from None

    @rpc(
        required(Authorization),
        required(RESERVATION_ARRAY),
        _returns=required(UpdateReservationsResult),
        _throws=[ServiceFault],
        _operation_name="updateReservations",
        _out_variable_name="updateReservationsResult",
    )
    def updateReservations(ctx: Any, AUTH: Any, RESERVATIONS: Any) -> UpdateReservationsResult:
        runtime, instance = _authenticate(ctx, AUTH)
        items = [_reservation_input(item) for item in (RESERVATIONS or [])]
        outcome = reservations.update_reservations(
            runtime.store, instance, items, max_items=runtime.settings.max_batch_items
        )
        packed = []
        for item in outcome.items:
            error = item.error
            packed.append(
                ReservationItemResult(
                    APP_LID=item.app_lid,
                    RESULT="OK" if item.ok else "ERROR",
                    ACTION=item.action.value if item.action else None,
                    RESERVATION_ID=item.reservation_id,
                    ERROR_CODE=error.code if error else None,
                    ERROR_FIELD=error.field if error else None,
                    MESSAGE=error.message if error else None,
                    WARNINGS=item.warnings or None,
                )
            )
        return UpdateReservationsResult(
            RESULT=outcome.result,
            CREATED=outcome.count(reservations.ItemAction.CREATED),
            UPDATED=outcome.count(reservations.ItemAction.UPDATED),
            UNCHANGED=outcome.count(reservations.ItemAction.UNCHANGED),
            FAILED=sum(1 for item in outcome.items if not item.ok),
            ITEMS=packed,
        )

    @rpc(
        required(Authorization),
        optional(Unicode, "Exact APP_LID"),
        optional(Unicode, "Appointments on or after this date (dd/mm/yyyy)"),
        optional(Unicode, "Appointments on or before this date (dd/mm/yyyy)"),
        optional(Unicode),
        optional(Unicode, "PENDING, APPROVED, CANCELLED by USER or CANCELLED by ADMIN"),
        optional(
            Unicode,
            "NEXT_REQUEST_TIMESTAMP of your previous call (exact), or a first-call "
            "date-time dd/mm/yyyy hh:mm:ss in the instance's time zone",
        ),
        optional(Integer32, "Page size (default and maximum set by the server)"),
        _returns=required(GetReservationsResult),
        _throws=[ServiceFault],
        _operation_name="getReservations",
        _out_variable_name="getReservationsResult",
    )
    def getReservations(
        ctx: Any,
        AUTH: Any,
        APP_LID: str | None,
        START_DATE: str | None,
        END_DATE: str | None,
        RESOURCE_LID: str | None,
        STATUS: str | None,
        LAST_REQUEST_TIMESTAMP: str | None,
        MAX_RESULTS: int | None,
    ) -> GetReservationsResult:
        runtime, instance = _authenticate(ctx, AUTH)
        page = reservations.get_reservations(
            runtime.store,
            instance,
            reservations.ReservationFilter(
                app_lid=APP_LID,
                start_date=START_DATE,
                end_date=END_DATE,
                resource_lid=RESOURCE_LID,
                status=STATUS,
                last_request_timestamp=LAST_REQUEST_TIMESTAMP,
                max_results=MAX_RESULTS,
            ),
            default_page_size=runtime.settings.default_page_size,
            max_page_size=runtime.settings.max_page_size,
        )
        return GetReservationsResult(
            RESULT="OK",
            COUNT=len(page.reservations),
            MORE_RESULTS=page.more_results,
            NEXT_REQUEST_TIMESTAMP=page.next_request_timestamp,
            RESERVATIONS=[StoredReservation(**row) for row in page.reservations],
        )
