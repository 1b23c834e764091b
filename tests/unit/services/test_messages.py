"""updateMessages, searchMessages and delivery receipts on the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from tuotempo_soap.errors import BatchTooLargeError, NotFoundError, RequestValidationError
from tuotempo_soap.services import messages
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.messages import MessageAction, MessageFilter
from tuotempo_soap.store.records import MessageRecord

from .fakes import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 9, 0)


def sms(legacy_id: str, to: str = "612345678", text: str = "Hola") -> dict[str, object]:
    return {"LEGACY_ID": legacy_id, "CHANNEL": "SMS", "TO": to, "TEXT": text}


def send(
    uow: FakeUnitOfWork, instance: Instance, *items: dict[str, object]
) -> messages.MessageBatchOutcome:
    return messages.update_messages(uow, instance, list(items), max_items=100, now=NOW)


def test_a_batch_is_queued_in_one_transaction(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = send(uow, instance, sms("a"), sms("b", text="x" * 200))

    assert outcome.result == "OK"
    assert [item.action for item in outcome.items] == [MessageAction.QUEUED] * 2
    assert [item.segments for item in outcome.items] == [1, 2]
    stored = {m.legacy_id: m for m in uow.tables.messages.values()}
    assert stored["a"].id == outcome.items[0].message_id
    assert stored["a"].recipient == "+34612345678"  # stored in international form
    assert stored["a"].status == "QUEUED" and stored["a"].next_attempt_at == NOW
    assert uow.commits == 1


def test_one_read_and_one_insert_whatever_the_batch_size(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    send(uow, instance, *(sms(f"m{i}") for i in range(50)))

    assert uow.calls["FakeMessageRepository.by_legacy_ids"] == 1
    assert uow.calls["FakeMessageRepository.insert_new"] == 1


def test_bad_items_are_refused_one_by_one(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = send(
        uow,
        instance,
        sms("ok"),
        {"LEGACY_ID": "no-channel", "TO": "612345678", "TEXT": "x"},
        sms("bad-number", to="12"),
        {"LEGACY_ID": "mail", "CHANNEL": "EMAIL", "TO": "a@b.example", "TEXT": "x"},
    )

    assert outcome.result == "PARTIAL"
    assert [item.ok for item in outcome.items] == [True, False, False, False]
    errors = [item.error for item in outcome.items[1:]]
    assert [(e.code, e.field) for e in errors if e] == [
        ("MISSING_FIELD", "CHANNEL"),
        ("INVALID_RECIPIENT", "TO"),
        ("MISSING_FIELD", "SUBJECT"),
    ]
    assert [m.legacy_id for m in uow.tables.messages.values()] == ["ok"]


def test_a_batch_with_no_good_item_writes_nothing(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = send(uow, instance, sms("bad", to="12"))

    assert outcome.result == "ERROR"
    assert uow.tables.messages == {} and uow.commits == 0


def test_batch_size_is_bounded(uow: FakeUnitOfWork, instance: Instance) -> None:
    with pytest.raises(BatchTooLargeError) as raised:
        messages.update_messages(uow, instance, [sms("a"), sms("b")], max_items=1, now=NOW)
    assert raised.value.field == "MESSAGES"
    with pytest.raises(RequestValidationError):
        messages.update_messages(uow, instance, [], max_items=1, now=NOW)


def test_a_legacy_id_is_queued_once(uow: FakeUnitOfWork, instance: Instance) -> None:
    first = send(uow, instance, sms("a")).items[0]
    again = send(uow, instance, sms("a")).items[0]
    changed = send(uow, instance, sms("a", text="Another text")).items[0]

    assert again.action is changed.action is MessageAction.ALREADY_QUEUED
    assert again.message_id == changed.message_id == first.message_id
    assert again.warnings == []
    assert changed.warnings == [
        "LEGACY_ID was already used for a different message; the first one stands"
    ]
    assert len(uow.tables.messages) == 1


def test_the_same_legacy_id_twice_in_a_batch_is_one_message(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    first, second = send(uow, instance, sms("a"), sms("a")).items

    assert first.action is MessageAction.QUEUED
    assert second.action is MessageAction.ALREADY_QUEUED
    assert second.message_id == first.message_id
    assert second.warnings == ["LEGACY_ID repeated in this batch; queued once"]
    assert len(uow.tables.messages) == 1


def test_a_concurrent_call_that_queued_the_same_id_first_wins(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    winner = send(uow, instance, sms("a")).items[0]
    # Our read comes before the other call's commit: the id looks free, the
    # insert skips it, and the second read finds the winner's message.
    reads: Iterator[dict[str, MessageRecord]] = iter([{}])
    real = uow.messages.by_legacy_ids
    uow.messages.by_legacy_ids = lambda *args: next(reads, None) or real(*args)  # type: ignore[method-assign]

    loser = send(uow, instance, sms("a")).items[0]

    assert loser.action is MessageAction.ALREADY_QUEUED
    assert loser.message_id == winner.message_id
    assert len(uow.tables.messages) == 1


def test_instances_keep_their_own_legacy_ids(uow: FakeUnitOfWork, instance: Instance) -> None:
    from tuotempo_soap.services import instances

    other = instances.create_instance(uow, "tt_other")
    mine = send(uow, instance, sms("a")).items[0]
    theirs = send(uow, other, sms("a")).items[0]

    assert theirs.action is MessageAction.QUEUED
    assert theirs.message_id != mine.message_id


def search(uow: FakeUnitOfWork, instance: Instance, **filters: Any) -> messages.MessagePage:
    return messages.search_messages(
        uow, instance, MessageFilter(**filters), default_page_size=2, max_page_size=3
    )


def test_search_pages_through_the_instances_messages(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    send(uow, instance, *(sms(f"m{i}") for i in range(5)))

    first = search(uow, instance)
    assert [m["LEGACY_ID"] for m in first.messages] == ["m0", "m1"]
    assert first.more_results and first.next_page_token
    second = search(uow, instance, page_token=first.next_page_token, max_results=10)
    assert [m["LEGACY_ID"] for m in second.messages] == ["m2", "m3", "m4"]
    assert not second.more_results and second.next_page_token is None


def test_search_filters(uow: FakeUnitOfWork, instance: Instance) -> None:
    send(uow, instance, sms("a"), sms("b", to="+34 699 999 999"))
    uow.tables.messages = {
        k: replace(m, status="SENT", sent_at=NOW) if m.legacy_id == "b" else m
        for k, m in uow.tables.messages.items()
    }

    by_number = search(uow, instance, to="699999999")
    assert [m["LEGACY_ID"] for m in by_number.messages] == ["b"]
    assert [m["LEGACY_ID"] for m in search(uow, instance, status="sent").messages] == ["b"]
    assert [m["LEGACY_ID"] for m in search(uow, instance, legacy_id="a").messages] == ["a"]
    assert search(uow, instance, channel="email").messages == []
    sent = search(uow, instance, sent_from="01/03/2027", sent_to="01/03/2027").messages
    assert [m["LEGACY_ID"] for m in sent] == ["b"]
    assert sent[0]["SENT_DATE"] == "01/03/2027" and sent[0]["SENT_TIME"] == "10:00:00"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"channel": "PIGEON"}, "CHANNEL"),
        ({"status": "LOST"}, "STATUS"),
        ({"page_token": "²"}, "PAGE_TOKEN"),
        ({"page_token": "1" * 19}, "PAGE_TOKEN"),
        ({"max_results": 0}, "MAX_RESULTS"),
        ({"created_from": "31/02/2027"}, "CREATED_FROM"),
    ],
)
def test_search_refuses_bad_filters_naming_the_field(
    uow: FakeUnitOfWork, instance: Instance, filters: dict[str, object], field: str
) -> None:
    with pytest.raises(RequestValidationError) as raised:
        search(uow, instance, **filters)
    assert raised.value.field == field


def test_show_message(uow: FakeUnitOfWork, instance: Instance) -> None:
    send(uow, instance, sms("a"))

    assert messages.show_message(uow, instance, "a")["STATUS"] == "QUEUED"
    with pytest.raises(NotFoundError) as raised:
        messages.show_message(uow, instance, "missing")
    assert raised.value.field == "LEGACY_ID"


def handed_to(uow: FakeUnitOfWork, message_id: int, provider: str, reference: str) -> None:
    message = uow.tables.messages[message_id]
    uow.tables.messages[message_id] = replace(
        message, status="SENT", provider=provider, reference=reference, sent_at=NOW
    )


def test_receipts_move_a_sent_message_once(uow: FakeUnitOfWork, instance: Instance) -> None:
    message_id = send(uow, instance, sms("a")).items[0].message_id
    assert message_id is not None

    def receipt(provider: str, delivered: bool) -> str:
        return messages.apply_receipt(
            uow,
            provider,
            provider_message_id="p-1",
            reference="ref-1",
            delivered=delivered,
            error=None,
            now=NOW + timedelta(minutes=1),
        )

    assert receipt("gw", True) == "unknown"  # still queued: never handed to gw
    handed_to(uow, message_id, "gw", "ref-1")
    assert receipt("other", True) == "unknown"
    assert receipt("gw", True) == "applied"
    stored = uow.tables.messages[message_id]
    assert stored.status == "DELIVERED" and stored.provider_message_id == "p-1"
    assert receipt("gw", False) == "ignored"  # final already
    assert uow.tables.messages[message_id].status == "DELIVERED"
