"""Operators' searches on the in-memory unit of work: a phone number in any
spelling, keyset pages that neither skip nor repeat, and bad filters refused
naming the filter."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from tuotempo_soap.errors import RequestValidationError
from tuotempo_soap.services import messages, reservations, search
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.search import MessageFilter, ReservationFilter

from .fakes import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 9, 0)


def book(uow: FakeUnitOfWork, instance: Instance, *items: dict[str, object]) -> None:
    done = reservations.update_reservations(uow, instance, list(items), max_items=100, now=NOW)
    assert done.result == "OK", [item.error for item in done.items]


def appointment(lid: str, day: str = "10/03/2027", **fields: str) -> dict[str, object]:
    return {
        "APP_LID": lid,
        "APP_DATE": day,
        "APP_START_TIME": "10:00",
        "RESOURCE_LID": "DR1",
        "USER_MOBILE_PHONE": "612345678",
        "STATUS": "APPROVED",
        **fields,
    }


def test_a_phone_in_any_spelling_finds_the_patient(uow: FakeUnitOfWork, instance: Instance) -> None:
    book(uow, instance, appointment("A1"), appointment("B1", USER_MOBILE_PHONE="699000111"))

    for typed in ("612 34 56 78", "+34612345678", "0034 612-345-678"):
        page = search.search_reservations(uow, instance, ReservationFilter(patient=typed))
        assert [hit.app_lid for hit in page.items] == ["A1"], typed


def test_pages_go_newest_first_without_gaps_or_repeats(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    book(uow, instance, *(appointment(f"P{n}") for n in range(7)))

    seen: list[str] = []
    before = None
    for _ in range(10):  # bounded: 7 rows at 3 a page is 3 pages
        page = search.search_reservations(
            uow, instance, ReservationFilter(), limit=3, before_id=before
        )
        seen += [hit.app_lid for hit in page.items]
        before = page.next_before
        if before is None:
            break
    assert seen == [f"P{n}" for n in reversed(range(7))]


def test_a_date_range_pages_in_appointment_order(uow: FakeUnitOfWork, instance: Instance) -> None:
    book(
        uow,
        instance,
        appointment("EARLY", "09/03/2027"),
        appointment("LATE", "12/03/2027"),
        appointment("MIDDLE", "10/03/2027"),
        appointment("OUTSIDE", "20/03/2027"),
    )
    filters = ReservationFilter(date_from=date(2027, 3, 9), date_to=date(2027, 3, 12))

    first = search.search_reservations(uow, instance, filters, limit=2)
    rest = search.search_reservations(uow, instance, filters, limit=2, before_id=first.next_before)

    assert [h.app_lid for h in first.items + rest.items] == ["LATE", "MIDDLE", "EARLY"]
    assert rest.next_before is None


def test_messages_by_recipient_and_status(uow: FakeUnitOfWork, instance: Instance) -> None:
    items = [
        {"LEGACY_ID": "m1", "CHANNEL": "SMS", "TO": "612345678", "TEXT": "Hola"},
        {"LEGACY_ID": "m2", "CHANNEL": "EMAIL", "TO": "Ana@Example.org", "TEXT": "Hola"}
        | {"SUBJECT": "Cita"},
    ]
    queued = messages.update_messages(uow, instance, items, max_items=10, now=NOW)
    assert all(item.ok for item in queued.items), queued

    by_phone = search.search_messages(uow, instance, MessageFilter(to="+34 612 345 678"))
    by_mail = search.search_messages(uow, instance, MessageFilter(to="ana@example.org"))
    sent = search.search_messages(uow, instance, MessageFilter(status="sent"))

    assert [m.legacy_id for m in by_phone.items] == ["m1"]
    assert [m.legacy_id for m in by_mail.items] == ["m2"]
    assert sent.items == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda uow, i: search.search_reservations(uow, i, ReservationFilter(status="LATE")),
            "status",
        ),
        (
            lambda uow, i: search.search_reservations(
                uow, i, ReservationFilter(patient_answer="MAYBE")
            ),
            "patient_answer",
        ),
        (
            lambda uow, i: search.search_reservations(
                uow, i, ReservationFilter(date_from=date(2027, 3, 2), date_to=date(2027, 3, 1))
            ),
            "date_to",
        ),
        (lambda uow, i: search.search_reservations(uow, i, ReservationFilter(), limit=0), "limit"),
        (lambda uow, i: search.search_messages(uow, i, MessageFilter(channel="PIGEON")), "channel"),
        (
            lambda uow, i: search.search_messages(uow, i, MessageFilter(), before_id=-1),
            "before",
        ),
    ],
)
def test_bad_filters_are_refused_naming_the_filter(
    uow: FakeUnitOfWork, instance: Instance, call: object, field: str
) -> None:
    with pytest.raises(RequestValidationError) as refused:
        call(uow, instance)  # type: ignore[operator]
    assert refused.value.field == field
    assert sum(uow.calls.values()) == 0  # refused before any read
