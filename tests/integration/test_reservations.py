"""Reservation use cases against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.conftest import make_instance
from tuotempo_soap.errors import BatchTooLargeError, RequestValidationError
from tuotempo_soap.services import instances, reservations
from tuotempo_soap.services.reservations import ItemAction, ReservationFilter
from tuotempo_soap.store.engine import Store
from tuotempo_soap.store.repositories import ReservationRepository


def item(lid: str, **fields: Any) -> dict[str, Any]:
    return {"APP_LID": lid, "APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1", **fields}


def push(store: Store, name: str, items: list[dict[str, Any]]) -> reservations.BatchOutcome:
    instance = instances.get_instance(store, name)
    return reservations.update_reservations(store, instance, items, max_items=1000)


def read(store: Store, name: str, **filters: Any) -> reservations.ReservationPage:
    instance = instances.get_instance(store, name)
    return reservations.get_reservations(
        store, instance, ReservationFilter(**filters), default_page_size=100, max_page_size=500
    )


def test_store_read_back_and_resend_changes_nothing(store: Store) -> None:
    name = make_instance(store).instance
    batch = [item(f"A{i}", APP_START_TIME="9:00", USER_MOBILE_PHONE="612345678") for i in range(5)]
    first = push(store, name, batch)
    assert first.result == "OK" and first.count(ItemAction.CREATED) == 5
    ids = [i.reservation_id for i in first.items]
    assert all(ids) and len(set(ids)) == 5

    page = read(store, name)
    assert [r["APP_LID"] for r in page.reservations] == [f"A{i}" for i in range(5)]
    assert page.reservations[0]["APP_START_TIME"] == "09:00"
    assert page.reservations[0]["USER_MOBILE_PHONE"] == "+34612345678"
    assert page.reservations[0]["APP_DATE"] == "24/02/2027"

    again = push(store, name, batch)
    assert again.count(ItemAction.UNCHANGED) == 5
    assert [i.reservation_id for i in again.items] == ids
    assert read(store, name, last_request_timestamp=page.next_request_timestamp).reservations == []


def test_bad_items_are_reported_and_good_ones_stored(store: Store) -> None:
    name = make_instance(store).instance
    outcome = push(
        store,
        name,
        [
            item("GOOD-1"),
            {"APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1"},
            item("BAD-DATE", APP_DATE="31/02/2026"),
            item("BAD-RES", RESOURCE_LID="R" * 60),
            item("BAD-STATUS", STATUS="LOST"),
            item("GOOD-2"),
            item("GOOD-1", NOTES="same APP_LID twice"),
        ],
    )
    assert outcome.result == "PARTIAL"
    errors = [(i.app_lid, i.error.code, i.error.field) for i in outcome.items if i.error]
    assert errors == [
        (None, "MISSING_FIELD", "APP_LID"),
        ("BAD-DATE", "INVALID_DATE", "APP_DATE"),
        ("BAD-RES", "FIELD_TOO_LONG", "RESOURCE_LID"),
        ("BAD-STATUS", "INVALID_VALUE", "STATUS"),
        ("GOOD-1", "DUPLICATE_APP_LID", "APP_LID"),
    ]
    stored = {r["APP_LID"] for r in read(store, name).reservations}
    assert stored == {"GOOD-1", "GOOD-2"}


def test_all_bad_is_error_and_limits_are_enforced(store: Store) -> None:
    name = make_instance(store).instance
    assert push(store, name, [item("X", APP_DATE="bad")]).result == "ERROR"
    instance = instances.get_instance(store, name)
    with pytest.raises(BatchTooLargeError):
        reservations.update_reservations(store, instance, [item("A"), item("B")], max_items=1)
    with pytest.raises(RequestValidationError):
        reservations.update_reservations(store, instance, [], max_items=10)


def test_status_changes_record_who_and_patient_answer(store: Store) -> None:
    name = make_instance(store).instance
    push(store, name, [item("A", STATUS="APPROVED"), item("B")])
    push(
        store, name, [item("A", STATUS="CANCELLED by USER"), item("B", STATUS="CANCELLED by ADMIN")]
    )
    rows = {r["APP_LID"]: r for r in read(store, name).reservations}
    assert rows["A"]["STATUS"] == "CANCELLED by USER"
    assert rows["A"]["STATUS_CHANGED_BY"] == "HIS"
    assert rows["A"]["PATIENT_ANSWER"] == "CANCELLED"
    assert rows["A"]["PATIENT_ANSWER_CHANNEL"] == "HIS"
    assert rows["A"]["PATIENT_ANSWER_TIME"]
    assert rows["B"]["STATUS"] == "CANCELLED by ADMIN"
    assert rows["B"]["PATIENT_ANSWER"] is None


def test_instances_never_see_each_other(store: Store) -> None:
    a, b = make_instance(store).instance, make_instance(store).instance
    push(store, a, [item("SHARED", NOTES="from A")])
    push(store, b, [item("SHARED", NOTES="from B")])
    assert [r["NOTES"] for r in read(store, a).reservations] == ["from A"]
    assert [r["NOTES"] for r in read(store, b, app_lid="SHARED").reservations] == ["from B"]


def test_patient_identity_follows_the_instance_setting(store: Store) -> None:
    plain = make_instance(store).instance
    keeps = make_instance(store, store_patient_identity=True).instance
    for name in (plain, keeps):
        push(store, name, [item("P", USER_FIRST_NAME="Ana", USER_ID_NUMBER="12345678Z")])
    assert read(store, plain).reservations[0]["USER_FIRST_NAME"] is None
    assert read(store, keeps).reservations[0]["USER_FIRST_NAME"] == "Ana"


def test_filters(store: Store) -> None:
    name = make_instance(store).instance
    push(
        store,
        name,
        [
            item("D1", APP_DATE="01/03/2027", RESOURCE_LID="R1", STATUS="APPROVED"),
            item("D2", APP_DATE="02/03/2027", RESOURCE_LID="R2", STATUS="PENDING"),
            item("D3", APP_DATE="03/03/2027", RESOURCE_LID="R1", STATUS="APPROVED"),
        ],
    )

    def lids(**filters: Any) -> list[str]:
        return [str(r["APP_LID"]) for r in read(store, name, **filters).reservations]

    assert lids(start_date="02/03/2027") == ["D2", "D3"]
    assert lids(start_date="2027-03-01", end_date="02/03/2027") == ["D1", "D2"]
    assert lids(resource_lid="R1") == ["D1", "D3"]
    assert lids(status="pending") == ["D2"]
    assert lids(app_lid="D3") == ["D3"]
    with pytest.raises(RequestValidationError) as info:
        lids(start_date="31/02/2027")
    assert info.value.field == "START_DATE"
    with pytest.raises(RequestValidationError):
        lids(start_date="03/03/2027", end_date="01/03/2027")
    with pytest.raises(RequestValidationError):
        lids(last_request_timestamp="01/01/2020 00:00:00#999999")


def test_paging_walks_every_row_once(store: Store) -> None:
    name = make_instance(store).instance
    push(store, name, [item(f"P{i:02}") for i in range(25)])
    seen: list[str] = []
    cursor = None
    pages = 0
    while pages < 10:
        page = read(store, name, max_results=10, last_request_timestamp=cursor)
        seen += [str(r["APP_LID"]) for r in page.reservations]
        cursor, pages = page.next_request_timestamp, pages + 1
        if not page.more_results:
            break
    assert pages == 3
    assert seen == [f"P{i:02}" for i in range(25)]


def test_first_call_with_a_plain_datetime(store: Store) -> None:
    name = make_instance(store).instance
    push(store, name, [item("OLD")])
    assert read(store, name, last_request_timestamp="01/01/2000 00:00:00").reservations
    assert read(store, name, last_request_timestamp="01/01/2100 00:00").reservations == []
    with pytest.raises(RequestValidationError):
        read(store, name, last_request_timestamp="yesterday")


def test_delta_reads_interleaved_deterministic(store: Store) -> None:
    """Two changes in the same second still come back, each exactly once."""
    name = make_instance(store).instance
    cursor = read(store, name).next_request_timestamp
    push(store, name, [item("A", NOTES="v1"), item("B", NOTES="v1")])
    push(store, name, [item("A", NOTES="v2")])  # same second as the first push
    page = read(store, name, last_request_timestamp=cursor)
    assert sorted((r["APP_LID"], r["NOTES"]) for r in page.reservations) == [
        ("A", "v2"),
        ("B", "v1"),
    ]
    cursor = page.next_request_timestamp
    push(store, name, [item("B", NOTES="v2")])
    push(store, name, [item("A", NOTES="v2")])  # unchanged: not a change
    page = read(store, name, last_request_timestamp=cursor)
    assert [(r["APP_LID"], r["NOTES"]) for r in page.reservations] == [("B", "v2")]
    assert read(store, name, last_request_timestamp=page.next_request_timestamp).reservations == []


def test_delta_reads_under_concurrent_writers(store: Store) -> None:
    """Writers and a delta reader race; the reader loses nothing and repeats nothing."""
    name = make_instance(store).instance
    lids = [f"C{i}" for i in range(6)]
    push(store, name, [item(lid, NOTES="0") for lid in lids])
    cursor = read(store, name).next_request_timestamp
    rounds = 15
    stop = threading.Event()
    failures: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for version in range(1, rounds + 1):
                batch = [item(lid, NOTES=f"{version}") for lid in lids[offset::2]]
                push(store, name, batch)
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    seen: list[tuple[str, int]] = []

    def reader() -> None:
        nonlocal cursor
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = stop.is_set()
                page = read(store, name, last_request_timestamp=cursor, max_results=4)
                seen.extend((str(r["APP_LID"]), int(str(r["NOTES"]))) for r in page.reservations)
                cursor = page.next_request_timestamp
                if done and not page.more_results:
                    return
        except BaseException as exc:
            failures.append(exc)

    writers = [threading.Thread(target=writer, args=(k,)) for k in (0, 1)]
    reading = threading.Thread(target=reader)
    reading.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    stop.set()
    reading.join(timeout=90)
    assert not failures, failures
    assert len(seen) == len(set(seen)), "a change came back twice"
    last: dict[str, int] = {}
    for lid, version in seen:
        assert version > last.get(lid, 0), f"{lid} went backwards"
        last[lid] = version
    assert last == dict.fromkeys(lids, rounds), "the final change of a row was never read"
    with store.unit_of_work() as connection:
        instance = instances.get_instance(store, name)
        assert ReservationRepository(connection).count(instance.id) == len(lids)
