"""The JSON bodies of the messages API, in the contract's field names.

One pydantic model per body: requests are validated with them, answers are
serialised through them, and ``openapi`` describes them, so what is checked,
what is sent and what is published cannot drift apart. Field names, their
order and which of them the contract requires are those of the WSDL
(``soap/types.py``); ``tests/unit/web/test_jsonapi_contract.py`` holds them equal.

Requests are strict (a number where a string belongs, a field the operation
does not have, are refused and named) but, as updateMessages over SOAP, a
message that lacks a required field is reported for that item alone
(``ERROR_CODE`` ``MISSING_FIELD``): the schema marks those fields required,
the server does not refuse the whole batch for them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...domain.message import Channel, MessageStatus

INT32_MAX = 2**31 - 1

# What an XML 1.0 document can carry, so the JSON API takes exactly the values
# SOAP can: no NUL (PostgreSQL refuses it in text), no other C0 control but
# tab and line breaks, no unpaired surrogate (not encodable as UTF-8).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


UNSTORABLE = "holds a control character or an unpaired surrogate, which no field accepts"


def _storable(value: str) -> str:
    if _NOT_XML_CHAR.search(value):
        raise ValueError(UNSTORABLE)
    return value


Text = Annotated[str, AfterValidator(_storable)]

_REQUEST = ConfigDict(extra="forbid", strict=True)


def _required(*names: str) -> ConfigDict:
    """A request model whose schema lists ``names`` as required, while the model
    itself lets them be absent (the service reports them item by item)."""
    return ConfigDict(extra="forbid", strict=True, json_schema_extra={"required": list(names)})


# --- updateMessages ----------------------------------------------------------


class Message(BaseModel):
    """One message handed to the gateway (guide A.5.1). A missing or empty
    required field fails this item only (`MISSING_FIELD`), as over SOAP."""

    model_config = _required("LEGACY_ID", "CHANNEL", "TO", "TEXT")

    LEGACY_ID: Text | None = Field(
        None, description="Your id for this message (the guide's legacyid); idempotent"
    )
    CHANNEL: Text | None = Field(None, description="SMS, EMAIL, VOICE, FAX, PUSH or WHATSAPP")
    TO: Text | None = Field(
        None, description="Phone number (SMS, VOICE, FAX, WHATSAPP), e-mail or push token"
    )
    SENDER: Text | None = Field(
        None, description="Sender id / caller id, if the provider allows one"
    )
    SUBJECT: Text | None = Field(None, description="Required for EMAIL")
    TEXT: Text | None = None
    LANGUAGE: Text | None = None
    SEND_AT: Text | None = Field(
        None,
        description="dd/mm/yyyy hh:mm[:ss] in the instance's time zone, or ISO 8601 with an offset",
    )
    EXPIRES_AT: Text | None = Field(
        None, description="Never sent after this time (same formats as SEND_AT)"
    )


class UpdateMessagesRequest(BaseModel):
    """updateMessages: 1 to the server's batch limit of messages, queued in one transaction."""

    model_config = _REQUEST

    MESSAGES: list[Message] = Field(
        description="The messages; answered one ITEM each, in this order"
    )


class MessageItemResult(BaseModel):
    """The answer for one input message, in input order."""

    LEGACY_ID: str | None = Field(None, description="As sent (absent if the item had none)")
    RESULT: Literal["OK", "ERROR"]
    ACTION: Literal["QUEUED", "ALREADY_QUEUED"] | None = Field(
        None, description="QUEUED, or ALREADY_QUEUED for a legacy id seen before"
    )
    MESSAGE_ID: int | None = Field(None, description="Our id for the message")
    SEGMENTS: int | None = Field(None, description="SMS segments the text needs (GSM-7 or UCS-2)")
    ERROR_CODE: str | None = Field(
        None, description="e.g. MISSING_FIELD, INVALID_RECIPIENT, INVALID_VALUE"
    )
    ERROR_FIELD: str | None = Field(None, description="The field at fault")
    MESSAGE: str | None = Field(None, description="What was wrong, for a person")
    WARNINGS: list[str] | None = Field(
        None, description="Queued, but something needs a look (a legacy id reused, say)"
    )


class UpdateMessagesResult(BaseModel):
    RESULT: Literal["OK", "PARTIAL", "ERROR"] = Field(
        description="OK (all queued), PARTIAL (some refused) or ERROR (none)"
    )
    QUEUED: int
    ALREADY_QUEUED: int
    FAILED: int
    ITEMS: list[MessageItemResult]


# --- searchMessages ----------------------------------------------------------


class SearchMessagesRequest(BaseModel):
    """searchMessages: every filter optional, all of them combined (AND)."""

    model_config = _REQUEST

    LEGACY_ID: Text | None = Field(None, description="Exact LEGACY_ID (the guide's legacyid)")
    TO: Text | None = Field(
        None, description="Every message sent to this number or address (the guide's to)"
    )
    CHANNEL: Text | None = Field(None, description="SMS, EMAIL, VOICE, FAX, PUSH or WHATSAPP")
    STATUS: Text | None = Field(
        None, description="QUEUED, SENDING, SENT, DELIVERED, FAILED, EXPIRED or CANCELLED"
    )
    CREATED_FROM: Text | None = Field(
        None, description="Created on or after (dd/mm/yyyy or dd/mm/yyyy hh:mm:ss)"
    )
    CREATED_TO: Text | None = Field(
        None, description="Created on or before (a date includes the whole day)"
    )
    SENT_FROM: Text | None = Field(None, description="Sent on or after")
    SENT_TO: Text | None = Field(None, description="Sent on or before")
    PAGE_TOKEN: Text | None = Field(None, description="NEXT_PAGE_TOKEN of the previous page")
    MAX_RESULTS: Annotated[int, Field(le=INT32_MAX)] | None = Field(
        None, description="Page size (default and maximum set by the server)"
    )


class StoredMessage(BaseModel):
    """What became of a message (guide A.5.2)."""

    MESSAGE_ID: int
    LEGACY_ID: str
    CHANNEL: Channel
    TO: str = Field(description="As stored (phones in E.164)")
    STATUS: MessageStatus
    SEGMENTS: int | None = None
    ATTEMPTS: int
    CREATED: str = Field(description="dd/mm/yyyy hh:mm:ss, instance time zone")
    SEND_AT: str | None = None
    EXPIRES_AT: str | None = None
    SENT_DATE: str | None = Field(None, description="dd/mm/yyyy")
    SENT_TIME: str | None = Field(None, description="hh:mm:ss")
    DELIVERED_AT: str | None = None
    FAILED_AT: str | None = None
    ERROR: str | None = Field(None, description="The provider's or our reason for a failure")


class SearchMessagesResult(BaseModel):
    RESULT: Literal["OK"]
    COUNT: int = Field(description="Messages in this page")
    MORE_RESULTS: bool = Field(description="true: call again with PAGE_TOKEN = NEXT_PAGE_TOKEN")
    NEXT_PAGE_TOKEN: str | None = Field(None, description="Pass as PAGE_TOKEN for the next page")
    MESSAGES: list[StoredMessage]


# --- errors --------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(
        description="The SOAP faultcode of the same problem (Client.AuthenticationFailed, "
        "Client.ValidationError ...), plus Client.MalformedJSON"
    )
    field: str | None = Field(
        description="The field at fault: a body path such as MESSAGES[2].TEXT, "
        "Authorization (the header) or instance (the path); null when none is"
    )
    message: str = Field(description="What was wrong, for a person")
    reference: str = Field(
        description="The request's id (also sent as X-Request-ID): quote it to support"
    )


class ErrorAnswer(BaseModel):
    """Every refusal: the HTTP status says the kind, `error.code` the exact problem."""

    error: ErrorDetail
