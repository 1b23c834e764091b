"""Operators' searches of one instance's reservations and messages.

The CLI (``reservations search``, ``messages search``) and the web back office
ask the same questions with the same filter objects, plain dataclasses of what
a person typed: an APP_LID, a day range, a status, a patient's phone number in
any spelling (read with the instance's country, as the HIS's numbers were) or
e-mail address. Bad values raise ``RequestValidationError`` naming the filter.

Results are newest first, a page at a time: pass ``Page.next_before`` back as
``before_id`` for the next one (None: this was the last page). Reservations
searched with a date range come in appointment order instead, latest first,
read straight off the (instance, day, change) index; their ``next_before`` is
then a position in that order (day and change number in one integer), to be
passed back unchanged like any other.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from ..domain.formats import FormatError
from ..domain.message import Channel, MessageStatus, normalise_recipient
from ..domain.phones import normalise_phone
from ..domain.reservation import PatientAnswer, Status
from ..errors import RequestValidationError
from ..store.records import (
    NO_ANSWER,
    MessageHit,
    MessageSearch,
    ReservationHit,
    ReservationSearch,
)
from .instances import Instance
from .unit_of_work import Store

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "NO_ANSWER",
    "MessageFilter",
    "MessageHit",
    "Page",
    "ReservationFilter",
    "ReservationHit",
    "search_messages",
    "search_reservations",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True)
class ReservationFilter:
    """What to look for among an instance's reservations; None: any.

    ``patient_answer`` is CONFIRMED, CANCELLED or NONE (not answered);
    ``patient`` is a phone number in any spelling (matched against the mobile
    and landline numbers, where SMS and calls go) or an e-mail address.
    """

    app_lid: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    resource_lid: str | None = None
    status: str | None = None
    patient_answer: str | None = None
    patient: str | None = None


@dataclass(frozen=True)
class MessageFilter:
    """What to look for among an instance's messages; None: any.

    ``to`` is a phone number in any spelling or an e-mail address. A date bound
    is a whole day in the instance's time zone (``created_to`` inclusive); a
    naive date-time is read in that zone too.
    """

    legacy_id: str | None = None
    to: str | None = None
    channel: str | None = None
    status: str | None = None
    created_from: date | datetime | None = None
    created_to: date | datetime | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_before: int | None  # ``before_id`` of the next page; None: no more


def _blank(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise RequestValidationError(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    return limit


def _before(before_id: int | None) -> int | None:
    if before_id is not None and before_id < 1:
        raise RequestValidationError("before must be an id from a previous page", field="before")
    return before_id


def _page(items: list[T], limit: int, last_id: int | None) -> Page[T]:
    more = len(items) > limit
    return Page(items[:limit], last_id if more else None)


# A position in appointment order, as one integer: the day's ordinal times this,
# plus the change number (below a trillion changes per instance).
_DAY_POSITION = 10**12


def _day_position(record: ReservationHit) -> int:
    return record.app_date.toordinal() * _DAY_POSITION + record.change_seq


def _day_before(before_id: int | None) -> tuple[date, int] | None:
    if before_id is None:
        return None
    day, seq = divmod(before_id, _DAY_POSITION)
    if not 1 <= day <= date.max.toordinal():
        raise RequestValidationError("before is not a position of these results", field="before")
    return date.fromordinal(day), seq


def phone_spellings(instance: Instance, text: str) -> tuple[str, ...]:
    """The stored spellings of a number as typed: E.164 read with the instance's
    country (how the HIS's numbers were stored), and the text itself (how an
    unusable number was kept)."""
    forms = {text}
    check = normalise_phone(text, instance.country)
    if check.problem is None or check.value.startswith("+"):
        forms.add(check.value)
    return tuple(sorted(forms))


def search_reservations(
    store: Store,
    instance: Instance,
    filters: ReservationFilter,
    *,
    limit: int = DEFAULT_LIMIT,
    before_id: int | None = None,
) -> Page[ReservationHit]:
    """``instance``'s reservations matching every filter given, newest first
    (with a date range: latest appointment first)."""
    limit = _limit(limit)
    status = _blank(filters.status)
    if status is not None:
        try:
            status = Status.parse(status).value
        except ValueError:
            allowed = ", ".join(s.value for s in Status)
            raise RequestValidationError(
                f"status must be one of {allowed}", field="status"
            ) from None
    answer = _blank(filters.patient_answer)
    if answer is not None:
        answer = answer.upper()
        allowed_answers = (*(a.value for a in PatientAnswer), NO_ANSWER)
        if answer not in allowed_answers:
            raise RequestValidationError(
                f"patient answer must be one of {', '.join(allowed_answers)}",
                field="patient_answer",
            )
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise RequestValidationError("the end date is before the start date", field="date_to")
    patient = _blank(filters.patient)
    phones: tuple[str, ...] = ()
    email = None
    if patient is not None:
        if "@" in patient:
            email = patient
        else:
            phones = phone_spellings(instance, patient)
    by_day = filters.date_from is not None or filters.date_to is not None
    query = ReservationSearch(
        instance_id=instance.id,
        limit=limit + 1,
        before_id=None if by_day else _before(before_id),
        before_day=_day_before(_before(before_id)) if by_day else None,
        app_lid=_blank(filters.app_lid),
        date_from=filters.date_from,
        date_to=filters.date_to,
        resource_lid=_blank(filters.resource_lid),
        status=status,
        patient_answer=answer,
        phones=phones,
        email=email,
    )
    with store.begin() as uow:
        found = uow.search.reservations(query)
    if len(found) <= limit:
        return _page(found, limit, None)
    last = found[limit - 1]
    return _page(found, limit, _day_position(last) if by_day else last.id)


def _recipient_spellings(instance: Instance, text: str) -> tuple[str, ...]:
    """Every stored form this address or number can have (as ``updateMessages``
    stored it: E.164 with the instance's country, lower-case addresses)."""
    forms = {text}
    if "@" in text:
        forms.add(text.lower())
        with suppress(FormatError):
            forms.add(normalise_recipient(Channel.EMAIL, text, instance.country))
    else:
        forms.update(phone_spellings(instance, text))
    return tuple(sorted(forms))


def _utc_bound(instance: Instance, value: date | datetime | None, *, end: bool) -> datetime | None:
    """A bound in naive UTC: a date is its whole day in the instance's zone."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=instance.zone)
    else:
        day = value + timedelta(days=1) if end else value
        moment = datetime.combine(day, time(0, 0), tzinfo=instance.zone)
    return moment.astimezone(UTC).replace(tzinfo=None)


def search_messages(
    store: Store,
    instance: Instance,
    filters: MessageFilter,
    *,
    limit: int = DEFAULT_LIMIT,
    before_id: int | None = None,
) -> Page[MessageHit]:
    """``instance``'s messages matching every filter given, newest first."""
    limit = _limit(limit)
    channel = _blank(filters.channel)
    if channel is not None:
        try:
            channel = Channel(channel.upper()).value
        except ValueError:
            allowed = ", ".join(c.value for c in Channel)
            raise RequestValidationError(
                f"channel must be one of {allowed}", field="channel"
            ) from None
    status = _blank(filters.status)
    if status is not None:
        try:
            status = MessageStatus(status.upper()).value
        except ValueError:
            allowed = ", ".join(s.value for s in MessageStatus)
            raise RequestValidationError(
                f"status must be one of {allowed}", field="status"
            ) from None
    created_from = _utc_bound(instance, filters.created_from, end=False)
    created_to = _utc_bound(instance, filters.created_to, end=True)
    if created_from and created_to and created_to <= created_from:
        raise RequestValidationError("the end date is before the start date", field="created_to")
    to = _blank(filters.to)
    query = MessageSearch(
        instance_id=instance.id,
        limit=limit + 1,
        before_id=_before(before_id),
        legacy_id=_blank(filters.legacy_id),
        recipients=_recipient_spellings(instance, to) if to else (),
        channel=channel,
        status=status,
        created_from=created_from,
        created_to=created_to,
    )
    with store.begin() as uow:
        found = uow.search.messages(query)
    return _page(found, limit, found[limit - 1].id if len(found) > limit else None)
