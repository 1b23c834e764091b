"""The operations. Each handler unpacks the request, calls one service, packs
the answer; errors are turned into faults by ``faults`` and nowhere else."""

from __future__ import annotations

from typing import Any

from spyne import Fault, Integer32, ServiceBase, Unicode, rpc

from ..domain.reservation import FIELD_NAMES
from ..errors import RequestValidationError, TuotempoError
from ..services import instances, messages, reservations
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
            FAILED=outcome.failed,
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
        fields = (
            "LEGACY_ID",
            "CHANNEL",
            "TO",
            "SENDER",
            "SUBJECT",
            "TEXT",
            "LANGUAGE",
            "SEND_AT",
            "EXPIRES_AT",
        )
        items = [
            {name: getattr(item, name, None) for name in fields} if item is not None else {}
            for item in (MESSAGES or [])
        ]
        outcome = messages.update_messages(
            runtime.store, instance, items, max_items=runtime.settings.max_batch_items
        )
        packed = [
            MessageItemResult(
                LEGACY_ID=item.legacy_id,
                RESULT="OK" if item.ok else "ERROR",
                ACTION=item.action.value if item.action else None,
                MESSAGE_ID=item.message_id,
                SEGMENTS=item.segments,
                ERROR_CODE=item.error.code if item.error else None,
                ERROR_FIELD=item.error.field if item.error else None,
                MESSAGE=item.error.message if item.error else None,
                WARNINGS=item.warnings or None,
            )
            for item in outcome.items
        ]
        return UpdateMessagesResult(
            RESULT=outcome.result,
            QUEUED=outcome.count(messages.MessageAction.QUEUED),
            ALREADY_QUEUED=outcome.count(messages.MessageAction.ALREADY_QUEUED),
            FAILED=outcome.failed,
            ITEMS=packed,
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
        page = messages.search_messages(
            runtime.store,
            instance,
            messages.MessageFilter(
                legacy_id=LEGACY_ID,
                to=TO,
                channel=CHANNEL,
                status=STATUS,
                created_from=CREATED_FROM,
                created_to=CREATED_TO,
                sent_from=SENT_FROM,
                sent_to=SENT_TO,
                page_token=PAGE_TOKEN,
                max_results=MAX_RESULTS,
            ),
            default_page_size=runtime.settings.default_page_size,
            max_page_size=runtime.settings.max_page_size,
        )
        return SearchMessagesResult(
            RESULT="OK",
            COUNT=len(page.messages),
            MORE_RESULTS=page.more_results,
            NEXT_PAGE_TOKEN=page.next_page_token,
            MESSAGES=[StoredMessage(**row) for row in page.messages],
        )
