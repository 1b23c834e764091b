"""The Spyne operations. Each handler unpacks Spyne's objects into plain values,
calls the shared operation in ``operations`` (which the fast engine calls too),
and packs the answer into Spyne's types; errors are turned into faults by
``faults`` and nowhere else."""

from __future__ import annotations

from typing import Any

from spyne import Fault, Integer32, ServiceBase, Unicode, rpc

from ..domain.reservation import FIELD_NAMES
from ..errors import RequestValidationError, TuotempoError
from ..observability import context
from ..services import instances
from . import operations
from .faults import fault_for, internal_fault
from .runtime import Runtime
from .types import (
    MESSAGE_ARRAY,
    RESERVATION_ARRAY,
    Authorization,
    GetReservationsResult,
    MessageItemResult,
    ReservationItemResult,
    SearchMessagesResult,
    ServiceFault,
    StoredMessage,
    StoredReservation,
    UpdateMessagesResult,
    UpdateReservationsResult,
    optional,
    required,
)


def _authenticate(ctx: Any, auth: Any) -> tuple[Runtime, instances.Instance]:
    runtime: Runtime = ctx.app.runtime
    if auth is None:
        raise RequestValidationError("AUTH is required", field="AUTH")
    # The WSGI peer; a configured trusted proxy has already replaced it with the client's.
    environ = getattr(ctx.transport, "req_env", None) or {}
    instance = instances.authenticate(
        runtime.store,
        auth.INSTANCE or "",
        auth.USERNAME or "",
        auth.PASSWORD or "",
        guard=runtime.auth_guard,
        client_address=environ.get("REMOTE_ADDR"),
    )
    context.note_instance(instance.name)
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
        except Exception as error:
            raise internal_fault(ctx.method_request_string, error) from None

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
        answer = operations.update_reservations(runtime, instance, items)
        return UpdateReservationsResult(
            **{**answer, "ITEMS": [ReservationItemResult(**item) for item in answer["ITEMS"]]}
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
        args = {
            "APP_LID": APP_LID,
            "START_DATE": START_DATE,
            "END_DATE": END_DATE,
            "RESOURCE_LID": RESOURCE_LID,
            "STATUS": STATUS,
            "LAST_REQUEST_TIMESTAMP": LAST_REQUEST_TIMESTAMP,
            "MAX_RESULTS": MAX_RESULTS,
        }
        answer = operations.get_reservations(runtime, instance, args)
        return GetReservationsResult(
            **{
                **answer,
                "RESERVATIONS": [StoredReservation(**row) for row in answer["RESERVATIONS"]],
            }
        )

    @rpc(
        required(Authorization),
        required(MESSAGE_ARRAY),
        _returns=required(UpdateMessagesResult),
        _throws=[ServiceFault],
        _operation_name="updateMessages",
        _out_variable_name="updateMessagesResult",
    )
    def updateMessages(ctx: Any, AUTH: Any, MESSAGES: Any) -> UpdateMessagesResult:
        runtime, instance = _authenticate(ctx, AUTH)
        items = [
            {name: getattr(item, name, None) for name in operations.MESSAGE_FIELDS}
            if item is not None
            else {}
            for item in (MESSAGES or [])
        ]
        answer = operations.update_messages(runtime, instance, items)
        return UpdateMessagesResult(
            **{**answer, "ITEMS": [MessageItemResult(**item) for item in answer["ITEMS"]]}
        )

    @rpc(
        required(Authorization),
        optional(Unicode, "Exact LEGACY_ID (the guide's legacyid)"),
        optional(Unicode, "Every message sent to this number or address (the guide's to)"),
        optional(Unicode, "SMS, EMAIL, VOICE, FAX, PUSH or WHATSAPP"),
        optional(Unicode, "QUEUED, SENDING, SENT, DELIVERED, FAILED, EXPIRED or CANCELLED"),
        optional(Unicode, "Created on or after (dd/mm/yyyy or dd/mm/yyyy hh:mm:ss)"),
        optional(Unicode, "Created on or before (a date includes the whole day)"),
        optional(Unicode, "Sent on or after"),
        optional(Unicode, "Sent on or before"),
        optional(Unicode, "NEXT_PAGE_TOKEN of the previous page"),
        optional(Integer32, "Page size"),
        _returns=required(SearchMessagesResult),
        _throws=[ServiceFault],
        _operation_name="searchMessages",
        _out_variable_name="searchMessagesResult",
    )
    def searchMessages(
        ctx: Any,
        AUTH: Any,
        LEGACY_ID: str | None,
        TO: str | None,
        CHANNEL: str | None,
        STATUS: str | None,
        CREATED_FROM: str | None,
        CREATED_TO: str | None,
        SENT_FROM: str | None,
        SENT_TO: str | None,
        PAGE_TOKEN: str | None,
        MAX_RESULTS: int | None,
    ) -> SearchMessagesResult:
        runtime, instance = _authenticate(ctx, AUTH)
        args = {
            "LEGACY_ID": LEGACY_ID,
            "TO": TO,
            "CHANNEL": CHANNEL,
            "STATUS": STATUS,
            "CREATED_FROM": CREATED_FROM,
            "CREATED_TO": CREATED_TO,
            "SENT_FROM": SENT_FROM,
            "SENT_TO": SENT_TO,
            "PAGE_TOKEN": PAGE_TOKEN,
            "MAX_RESULTS": MAX_RESULTS,
        }
        answer = operations.search_messages(runtime, instance, args)
        return SearchMessagesResult(
            **{**answer, "MESSAGES": [StoredMessage(**row) for row in answer["MESSAGES"]]}
        )
