"""updateReservations and getReservations on the in-memory unit of work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from tuotempo_soap.errors import BatchTooLargeError, RequestValidationError
from tuotempo_soap.services import reservations
from tuotempo_soap.services.instances import Instance
from tuotempo_soap.services.reservations import ItemAction, ReservationFilter
from tuotempo_soap.store.records import ReservationRecord

from .fakes import FakeUnitOfWork

NOW = datetime(2027, 3, 1, 9, 0)


def item(lid: str, **fields: str) -> dict[str, object]:
    return {
        "APP_LID": lid,
        "APP_DATE": "10/03/2027",
        "APP_START_TIME": "10:00",
        "RESOURCE_LID": "DR1",
        "USER_MOBILE_PHONE": "612345678",
        "STATUS": "APPROVED",
        **fields,
    }


def update(
    uow: FakeUnitOfWork, instance: Instance, *items: dict[str, object], now: datetime = NOW
) -> reservations.BatchOutcome:
    return reservations.update_reservations(uow, instance, list(items), max_items=100, now=now)


def stored(uow: FakeUnitOfWork, lid: str) -> ReservationRecord:
    [found] = [r for r in uow.tables.reservations.values() if r.app_lid == lid]
    return found


def seq(uow: FakeUnitOfWork, instance: Instance) -> int:
    return uow.tables.instances[instance.id].change_seq


def test_new_reservations_are_created_and_numbered(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = update(uow, instance, item("A"), item("B"), item("C"))

    assert outcome.result == "OK"
    assert [i.action for i in outcome.items] == [ItemAction.CREATED] * 3
    assert [i.reservation_id for i in outcome.items] == [stored(uow, x).id for x in "ABC"]
    assert [stored(uow, x).change_seq for x in "ABC"] == [1, 2, 3]
    assert seq(uow, instance) == 3
    a = stored(uow, "A")
    assert a.user_mobile_phone == "+34612345678" and a.status_changed_by == "HIS"
    assert [(c["change_seq"], c["created"], c["changed_by"]) for c in uow.tables.changes] == [
        (1, True, "HIS"),
        (2, True, "HIS"),
        (3, True, "HIS"),
    ]
    assert uow.commits == 1


def test_a_batch_of_new_reservations_is_one_statement(
    uow: FakeUnitOfWork, instance: Instance
) -> None:
    update(uow, instance, *(item(f"N{n}") for n in range(60)))

    assert uow.calls["FakeReservationRepository.offer_new"] == 1
    assert uow.calls["FakeReservationRepository.by_app_lids"] == 0
    assert uow.calls["FakeReservationRepository.write_batch"] == 0


def test_a_mixed_batch_reads_once_and_writes_once(uow: FakeUnitOfWork, instance: Instance) -> None:
    update(uow, instance, *(item(f"N{n}") for n in range(60)))
    uow.calls.clear()

    changed = [item(f"N{n}", NOTES="moved") if n % 2 else item(f"N{n}") for n in range(60)]
    outcome = update(uow, instance, *changed, *(item(f"M{n}") for n in range(40)))

    assert outcome.count(ItemAction.UPDATED) == 30
    assert outcome.count(ItemAction.UNCHANGED) == 30
    assert outcome.count(ItemAction.CREATED) == 40
    assert uow.calls["FakeReservationRepository.offer_new"] == 1
    assert uow.calls["FakeReservationRepository.by_app_lids"] == 1
    assert uow.calls["FakeReservationRepository.write_batch"] == 1


def test_a_resent_batch_changes_nothing(uow: FakeUnitOfWork, instance: Instance) -> None:
    first = update(uow, instance, item("A"), item("B"))
    history = len(uow.tables.changes)

    again = update(uow, instance, item("A"), item("B"), now=NOW + timedelta(hours=1))

    assert [i.action for i in again.items] == [ItemAction.UNCHANGED] * 2
    assert [i.reservation_id for i in again.items] == [i.reservation_id for i in first.items]
    assert seq(uow, instance) == 2
    assert len(uow.tables.changes) == history
    assert stored(uow, "A").updated_at == NOW


def test_a_change_gets_the_next_numbers(uow: FakeUnitOfWork, instance: Instance) -> None:
    update(uow, instance, item("A"), item("B"))
    later = NOW + timedelta(hours=1)

    outcome = update(uow, instance, item("A"), item("B", APP_START_TIME="11:30"), now=later)

    assert [i.action for i in outcome.items] == [ItemAction.UNCHANGED, ItemAction.UPDATED]
    b = stored(uow, "B")
    # Numbered by its place in the batch, after every number handed out before.
    assert b.change_seq == 4 and seq(uow, instance) == 4
    assert (b.app_start_time, b.updated_at, b.created_at) == ("11:30", later, NOW)
    assert uow.tables.changes[-1]["created"] is False


def test_the_his_cancelling_is_its_patients_answer(uow: FakeUnitOfWork, instance: Instance) -> None:
    update(uow, instance, item("A"))
    later = NOW + timedelta(hours=1)

    update(uow, instance, item("A", STATUS="CANCELLED by USER"), now=later)

    a = stored(uow, "A")
    assert (a.status, a.status_changed_by, a.status_changed_at) == (
        "CANCELLED by USER",
        "HIS",
        later,
    )
    assert (a.patient_answer, a.patient_answer_channel) == ("CANCELLED", "HIS")
    # Re-instated: the old answer no longer holds.
    update(uow, instance, item("A"), now=later + timedelta(hours=1))
    assert stored(uow, "A").patient_answer is None


def test_bad_items_are_refused_one_by_one(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = update(
        uow,
        instance,
        item("A"),
        {k: v for k, v in item("no-lid").items() if k != "APP_LID"},
        item("B", APP_DATE="31/02/2027"),
        item("A", NOTES="again"),
    )

    assert outcome.result == "PARTIAL"
    assert [i.ok for i in outcome.items] == [True, False, False, False]
    errors = [(i.error.code, i.error.field) for i in outcome.items if i.error]
    assert errors[0][1] == "APP_LID"
    assert errors[1][1] == "APP_DATE"
    assert errors[2] == ("DUPLICATE_APP_LID", "APP_LID")
    assert [r.app_lid for r in uow.tables.reservations.values()] == ["A"]
    assert stored(uow, "A").notes is None  # the first one stands


def test_a_batch_of_bad_items_opens_no_transaction(uow: FakeUnitOfWork, instance: Instance) -> None:
    outcome = update(uow, instance, item("B", APP_DATE="yesterday"))

    assert outcome.result == "ERROR"
    assert sum(uow.calls.values()) == 0 and uow.commits == 0


def test_batch_size_is_bounded(uow: FakeUnitOfWork, instance: Instance) -> None:
    with pytest.raises(BatchTooLargeError) as raised:
        reservations.update_reservations(uow, instance, [item("A"), item("B")], max_items=1)
    assert raised.value.field == "RESERVATIONS"


def test_a_failed_write_leaves_nothing_behind(
    uow: FakeUnitOfWork, instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    update(uow, instance, item("A"))
    before = uow.tables.saved()

    def fail(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(uow.reservations, "write_batch", fail)
    with pytest.raises(RuntimeError):
        update(uow, instance, item("A", NOTES="changed"), item("B"))

    # B's insert and its sequence number went with the transaction.
    assert uow.tables.saved() == before


def read(uow: FakeUnitOfWork, instance: Instance, **filters: Any) -> reservations.ReservationPage:
    return reservations.get_reservations(
        uow, instance, ReservationFilter(**filters), default_page_size=2, max_page_size=3
    )


def test_delta_reads_follow_the_change_sequence(uow: FakeUnitOfWork, instance: Instance) -> None:
    update(uow, instance, item("A"), item("B"), item("C"))

    first = read(uow, instance)
    assert [r["APP_LID"] for r in first.reservations] == ["A", "B"] and first.more_results
    rest = read(uow, instance, last_request_timestamp=first.next_request_timestamp)
    assert [r["APP_LID"] for r in rest.reservations] == ["C"] and not rest.more_results
    assert rest.next_request_timestamp.endswith("#3")

    update(uow, instance, item("B", NOTES="moved"), now=NOW + timedelta(hours=1))
    delta = read(uow, instance, last_request_timestamp=rest.next_request_timestamp)
    assert [r["APP_LID"] for r in delta.reservations] == ["B"]
    shown = delta.reservations[0]
    assert shown["NOTES"] == "moved" and shown["APP_DATE"] == "10/03/2027"
    assert shown["RESERVATION_ID"] == stored(uow, "B").id
    assert shown["LAST_UPDATE"] == "01/03/2027 11:00:00"  # Madrid time
    nothing = read(uow, instance, last_request_timestamp=delta.next_request_timestamp)
    assert nothing.reservations == []


def test_reads_filter(uow: FakeUnitOfWork, instance: Instance) -> None:
    update(
        uow,
        instance,
        item("A"),
        item("B", APP_DATE="11/03/2027", RESOURCE_LID="DR2"),
        item("C", STATUS="CANCELLED by ADMIN"),
    )

    def lids(**filters: Any) -> list[object]:
        return [r["APP_LID"] for r in read(uow, instance, max_results=3, **filters).reservations]

    assert lids(start_date="11/03/2027") == ["B"]
    assert lids(end_date="10/03/2027") == ["A", "C"]
    assert lids(resource_lid="DR2") == ["B"]
    assert lids(status="cancelled_by_admin") == ["C"]
    assert lids(app_lid="A") == ["A"]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"start_date": "11/03/2027", "end_date": "10/03/2027"}, "END_DATE"),
        ({"start_date": "31/02/2027"}, "START_DATE"),
        ({"status": "DONE"}, "STATUS"),
        ({"max_results": 0}, "MAX_RESULTS"),
        ({"last_request_timestamp": "yesterday"}, "LAST_REQUEST_TIMESTAMP"),
        ({"last_request_timestamp": "01/03/2027 10:00:00#99"}, "LAST_REQUEST_TIMESTAMP"),
    ],
)
def test_reads_refuse_bad_filters_naming_the_field(
    uow: FakeUnitOfWork, instance: Instance, filters: dict[str, Any], field: str
) -> None:
    update(uow, instance, item("A"))

    with pytest.raises(RequestValidationError) as raised:
        read(uow, instance, **filters)
    assert raised.value.field == field
