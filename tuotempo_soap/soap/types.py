"""Wire types. Required fields are ``minOccurs=1`` and never nillable; optional
fields are ``minOccurs=0`` and not nillable, because nil means nothing here.

Reservation fields are strings on the wire even where they hold dates: the
guide writes ``dd/mm/yyyy`` (not ``xs:date``) and HIS exports vary, so the
server reads them leniently and reports problems item by item.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Boolean, ComplexModel, Fault, Integer32, Integer64, Unicode

from ..domain.reservation import FIELDS, FieldSpec
from . import TNS

_REQUIRED = {"min_occurs": 1, "nillable": False}
_OPTIONAL = {"min_occurs": 0, "nillable": False}

_FORMATS = {
    "date": "dd/mm/yyyy (also accepted: d/m/yyyy, yyyy-mm-dd)",
    "time": "hh:mm (also accepted: h:mm, hh:mm:ss)",
    "phone": "normalised to E.164 with the instance's country",
    "mobile": "normalised to E.164 with the instance's country",
    "status": "PENDING, APPROVED, CANCELLED by USER or CANCELLED by ADMIN",
    "preferences": "0/1 flags for SMS, e-mail, landline (101 = SMS yes, e-mail no, landline yes)",
    "privacy": "1 = privacy terms accepted, 0 = not",
    "gender": "M or F",
    "language": "language code, e.g. es, it, en-GB",
}


def required(kind: Any, doc: str | None = None) -> Any:
    return kind.customize(**_REQUIRED, doc=doc) if doc else kind.customize(**_REQUIRED)


def optional(kind: Any, doc: str | None = None) -> Any:
    return kind.customize(**_OPTIONAL, doc=doc) if doc else kind.customize(**_OPTIONAL)


def _field_doc(spec: FieldSpec) -> str:
    length = 10 if spec.kind == "date" else 5 if spec.kind == "time" else spec.max_length
    text = f"nvarchar({length}) {'NOT NULL' if spec.required else 'NULL'}"
    if spec.kind in _FORMATS:
        text += f"; {_FORMATS[spec.kind]}"
    if spec.personal:
        text += "; stored only if the instance keeps patient identity (best left empty)"
    return text


def _reservation_fields() -> list[tuple[str, Any]]:
    return [
        (spec.name, (required if spec.required else optional)(Unicode, _field_doc(spec)))
        for spec in FIELDS
    ]


class Authorization(ComplexModel):
    """Who is calling: the instance (tt_...) and one of its API users."""

    __namespace__ = TNS
    _type_info = [
        ("INSTANCE", required(Unicode, "Instance name, e.g. tt_acme")),
        ("USERNAME", required(Unicode)),
        ("PASSWORD", required(Unicode)),
    ]


class Reservation(ComplexModel):
    """One appointment as the HIS sends it (guide A.1.1 and TT_RESERVATIONS)."""

    __namespace__ = TNS
    _type_info = _reservation_fields()


class StoredReservation(ComplexModel):
    """One appointment as we hold it, with who changed what and the patient's answer."""

    __namespace__ = TNS
    _type_info = [
        ("RESERVATION_ID", required(Integer64, "Our id for this reservation")),
        *_reservation_fields(),
        (
            "STATUS_CHANGED_BY",
            optional(Unicode, "HIS, PATIENT or PLATFORM: who set the current STATUS"),
        ),
        ("STATUS_CHANGED_AT", optional(Unicode, "dd/mm/yyyy hh:mm:ss, instance time zone")),
        ("PATIENT_ANSWER", optional(Unicode, "CONFIRMED or CANCELLED")),
        ("PATIENT_ANSWER_CHANNEL", optional(Unicode, "SMS, EMAIL, VOICE, WEB or HIS")),
        ("PATIENT_ANSWER_TIME", optional(Unicode, "dd/mm/yyyy hh:mm:ss, instance time zone")),
        ("LAST_UPDATE", required(Unicode, "dd/mm/yyyy hh:mm:ss of the last change")),
    ]


class ReservationItemResult(ComplexModel):
    """The answer for one input reservation, in input order."""

    __namespace__ = TNS
    _type_info = [
        ("APP_LID", optional(Unicode, "As sent (absent if the item had none)")),
        ("RESULT", required(Unicode, "OK or ERROR")),
        ("ACTION", optional(Unicode, "CREATED, UPDATED or UNCHANGED (when RESULT is OK)")),
        ("RESERVATION_ID", optional(Integer64, "Our id for the reservation")),
        ("ERROR_CODE", optional(Unicode, "e.g. MISSING_FIELD, FIELD_TOO_LONG, INVALID_DATE")),
        ("ERROR_FIELD", optional(Unicode, "The field at fault")),
        ("MESSAGE", optional(Unicode, "What was wrong, for a person")),
        (
            "WARNINGS",
            optional(
                Array(required(Unicode), member_name="WARNING"),
                "Stored, but something needs a look (e.g. an unusable phone number)",
            ),
        ),
    ]


class UpdateReservationsResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("RESULT", required(Unicode, "OK (all stored), PARTIAL (some refused) or ERROR (none)")),
        ("CREATED", required(Integer32)),
        ("UPDATED", required(Integer32)),
        ("UNCHANGED", required(Integer32)),
        ("FAILED", required(Integer32)),
        (
            "ITEMS",
            required(Array(ReservationItemResult.customize(**_OPTIONAL), member_name="ITEM")),
        ),
    ]


class GetReservationsResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("RESULT", required(Unicode, "OK")),
        ("COUNT", required(Integer32, "Reservations in this page")),
        ("MORE_RESULTS", required(Boolean, "true: call again with NEXT_REQUEST_TIMESTAMP")),
        (
            "NEXT_REQUEST_TIMESTAMP",
            required(
                Unicode,
                "Pass it back unchanged as LAST_REQUEST_TIMESTAMP for the next page or the "
                "next delta read",
            ),
        ),
        (
            "RESERVATIONS",
            required(Array(StoredReservation.customize(**_OPTIONAL), member_name="RESERVATION")),
        ),
    ]


class ServiceFault(Fault):
    """The typed ``<detail>`` of every fault: a stable code, the field, a message."""

    __namespace__ = TNS
    _type_info = [
        ("CODE", required(Unicode, "e.g. Client.AuthenticationFailed")),
        ("FIELD", optional(Unicode)),
        ("MESSAGE", required(Unicode)),
    ]


RESERVATION_ARRAY = Array(Reservation.customize(**_REQUIRED), member_name="RESERVATION")


class Message(ComplexModel):
    """One message handed to the gateway (guide A.5.1)."""

    __namespace__ = TNS
    _type_info = [
        (
            "LEGACY_ID",
            required(Unicode, "Your id for this message (the guide's legacyid); idempotent"),
        ),
        ("CHANNEL", required(Unicode, "SMS, EMAIL, VOICE, FAX, PUSH or WHATSAPP")),
        ("TO", required(Unicode, "Phone number (SMS, VOICE, FAX, WHATSAPP), e-mail or push token")),
        ("SENDER", optional(Unicode, "Sender id / caller id, if the provider allows one")),
        ("SUBJECT", optional(Unicode, "Required for EMAIL")),
        ("TEXT", required(Unicode)),
        ("LANGUAGE", optional(Unicode)),
        (
            "SEND_AT",
            optional(
                Unicode,
                "dd/mm/yyyy hh:mm[:ss] in the instance's time zone, or ISO 8601 with an offset",
            ),
        ),
        ("EXPIRES_AT", optional(Unicode, "Never sent after this time (same formats as SEND_AT)")),
    ]


class MessageItemResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("LEGACY_ID", optional(Unicode)),
        ("RESULT", required(Unicode, "OK or ERROR")),
        ("ACTION", optional(Unicode, "QUEUED, or ALREADY_QUEUED for a legacy id seen before")),
        ("MESSAGE_ID", optional(Integer64, "Our id for the message")),
        ("SEGMENTS", optional(Integer32, "SMS segments the text needs (GSM-7 or UCS-2)")),
        ("ERROR_CODE", optional(Unicode, "e.g. MISSING_FIELD, INVALID_RECIPIENT, INVALID_VALUE")),
        ("ERROR_FIELD", optional(Unicode)),
        ("MESSAGE", optional(Unicode)),
        ("WARNINGS", optional(Array(required(Unicode), member_name="WARNING"))),
    ]


class UpdateMessagesResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("RESULT", required(Unicode, "OK, PARTIAL or ERROR")),
        ("QUEUED", required(Integer32)),
        ("ALREADY_QUEUED", required(Integer32)),
        ("FAILED", required(Integer32)),
        ("ITEMS", required(Array(MessageItemResult.customize(**_OPTIONAL), member_name="ITEM"))),
    ]


class StoredMessage(ComplexModel):
    """What became of a message (guide A.5.2)."""

    __namespace__ = TNS
    _type_info = [
        ("MESSAGE_ID", required(Integer64)),
        ("LEGACY_ID", required(Unicode)),
        ("CHANNEL", required(Unicode)),
        ("TO", required(Unicode, "As stored (phones in E.164)")),
        (
            "STATUS",
            required(Unicode, "QUEUED, SENDING, SENT, DELIVERED, FAILED, EXPIRED, CANCELLED"),
        ),
        ("SEGMENTS", optional(Integer32)),
        ("ATTEMPTS", required(Integer32)),
        ("CREATED", required(Unicode, "dd/mm/yyyy hh:mm:ss, instance time zone")),
        ("SEND_AT", optional(Unicode)),
        ("EXPIRES_AT", optional(Unicode)),
        ("SENT_DATE", optional(Unicode, "dd/mm/yyyy")),
        ("SENT_TIME", optional(Unicode, "hh:mm:ss")),
        ("DELIVERED_AT", optional(Unicode)),
        ("FAILED_AT", optional(Unicode)),
        ("ERROR", optional(Unicode, "The provider's or our reason for a failure")),
    ]


class SearchMessagesResult(ComplexModel):
    __namespace__ = TNS
    _type_info = [
        ("RESULT", required(Unicode, "OK")),
        ("COUNT", required(Integer32)),
        ("MORE_RESULTS", required(Boolean)),
        ("NEXT_PAGE_TOKEN", optional(Unicode, "Pass as PAGE_TOKEN for the next page")),
        ("MESSAGES", required(Array(StoredMessage.customize(**_OPTIONAL), member_name="MESSAGE"))),
    ]


MESSAGE_ARRAY = Array(Message.customize(**_REQUIRED), member_name="MESSAGE")
