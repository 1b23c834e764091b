"""The four operations on plain values, shared by both SOAP engines.

Each takes the authenticated instance and the request as plain Python values
(what the Spyne handlers in ``service`` and the lxml reader in ``fast`` both
produce), calls one service, and returns the answer as a dict keyed by the
WSDL's element names. The engines differ only in how they read and write XML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..observability import metrics
from ..services import instances, messages, reservations
from .runtime import Runtime

# updateMessages' MESSAGE fields, in the WSDL's order.
MESSAGE_FIELDS = (
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


def update_reservations(
    runtime: Runtime, instance: instances.Instance, items: list[dict[str, object]]
) -> dict[str, Any]:
    metrics.observe_batch("updateReservations", len(items))
    outcome = reservations.update_reservations(
        runtime.store, instance, items, max_items=runtime.settings.max_batch_items
    )
    packed = [
        {
            "APP_LID": item.app_lid,
            "RESULT": "OK" if item.ok else "ERROR",
            "ACTION": item.action.value if item.action else None,
            "RESERVATION_ID": item.reservation_id,
            "ERROR_CODE": item.error.code if item.error else None,
            "ERROR_FIELD": item.error.field if item.error else None,
            "MESSAGE": item.error.message if item.error else None,
            "WARNINGS": item.warnings or None,
        }
        for item in outcome.items
    ]
    return {
        "RESULT": outcome.result,
        "CREATED": outcome.count(reservations.ItemAction.CREATED),
        "UPDATED": outcome.count(reservations.ItemAction.UPDATED),
        "UNCHANGED": outcome.count(reservations.ItemAction.UNCHANGED),
        "FAILED": outcome.failed,
        "ITEMS": packed,
    }


def get_reservations(
    runtime: Runtime, instance: instances.Instance, args: Mapping[str, Any]
) -> dict[str, Any]:
    page = reservations.get_reservations(
        runtime.store,
        instance,
        reservations.ReservationFilter(
            app_lid=args.get("APP_LID"),
            start_date=args.get("START_DATE"),
            end_date=args.get("END_DATE"),
            resource_lid=args.get("RESOURCE_LID"),
            status=args.get("STATUS"),
            last_request_timestamp=args.get("LAST_REQUEST_TIMESTAMP"),
            max_results=args.get("MAX_RESULTS"),
        ),
        default_page_size=runtime.settings.default_page_size,
        max_page_size=runtime.settings.max_page_size,
    )
    return {
        "RESULT": "OK",
        "COUNT": len(page.reservations),
        "MORE_RESULTS": page.more_results,
        "NEXT_REQUEST_TIMESTAMP": page.next_request_timestamp,
        "RESERVATIONS": page.reservations,
    }


def update_messages(
    runtime: Runtime, instance: instances.Instance, items: Sequence[dict[str, object]]
) -> dict[str, Any]:
    metrics.observe_batch("updateMessages", len(items))
    outcome = messages.update_messages(
        runtime.store, instance, list(items), max_items=runtime.settings.max_batch_items
    )
    packed = [
        {
            "LEGACY_ID": item.legacy_id,
            "RESULT": "OK" if item.ok else "ERROR",
            "ACTION": item.action.value if item.action else None,
            "MESSAGE_ID": item.message_id,
            "SEGMENTS": item.segments,
            "ERROR_CODE": item.error.code if item.error else None,
            "ERROR_FIELD": item.error.field if item.error else None,
            "MESSAGE": item.error.message if item.error else None,
            "WARNINGS": item.warnings or None,
        }
        for item in outcome.items
    ]
    return {
        "RESULT": outcome.result,
        "QUEUED": outcome.count(messages.MessageAction.QUEUED),
        "ALREADY_QUEUED": outcome.count(messages.MessageAction.ALREADY_QUEUED),
        "FAILED": outcome.failed,
        "ITEMS": packed,
    }


def search_messages(
    runtime: Runtime, instance: instances.Instance, args: Mapping[str, Any]
) -> dict[str, Any]:
    page = messages.search_messages(
        runtime.store,
        instance,
        messages.MessageFilter(
            legacy_id=args.get("LEGACY_ID"),
            to=args.get("TO"),
            channel=args.get("CHANNEL"),
            status=args.get("STATUS"),
            created_from=args.get("CREATED_FROM"),
            created_to=args.get("CREATED_TO"),
            sent_from=args.get("SENT_FROM"),
            sent_to=args.get("SENT_TO"),
            page_token=args.get("PAGE_TOKEN"),
            max_results=args.get("MAX_RESULTS"),
        ),
        default_page_size=runtime.settings.default_page_size,
        max_page_size=runtime.settings.max_page_size,
    )
    return {
        "RESULT": "OK",
        "COUNT": len(page.messages),
        "MORE_RESULTS": page.more_results,
        "NEXT_PAGE_TOKEN": page.next_page_token,
        "MESSAGES": page.messages,
    }
