"""What the agent sends, cancels and forgets, decided from the view and its state."""

from __future__ import annotations

from datetime import date

from tuotempo_soap.sincro.agent import app_tmp_id
from tuotempo_soap.sincro.changes import ChangeDetector, Known
from tuotempo_soap.sincro.rows import ViewRow, checksum

TODAY = date(2026, 12, 2)


def view_row(lid: str, day: date = TODAY, status: str | None = "APPROVED", **more: str) -> ViewRow:
    item = {"APP_LID": lid, "APP_DATE": day.strftime("%d/%m/%Y"), "RESOURCE_LID": "7", **more}
    if status is not None:
        item["STATUS"] = status
    return ViewRow(lid, day, "7", item, checksum(item))


def known(row: ViewRow) -> Known:
    return Known(row.checksum, row.app_date, row.resource_lid)


def test_new_and_changed_rows_are_sent_unchanged_ones_not() -> None:
    same, moved = view_row("1"), view_row("2", APP_START_TIME="09:00")
    detector = ChangeDetector({"1": known(same), "2": known(moved)}, today=TODAY)
    assert detector.offer(same) is None
    assert detector.offer(view_row("2", APP_START_TIME="10:00")) == {
        **moved.item,
        "APP_START_TIME": "10:00",
    }
    assert detector.offer(view_row("3")) is not None
    assert detector.unchanged == 1
    ending = detector.finish()
    assert ending.cancel == {} and ending.forget == set()


def test_a_stale_row_is_sent_again_even_if_unchanged() -> None:
    row = view_row("1")
    detector = ChangeDetector({"1": Known(None, TODAY, "7")}, today=TODAY)
    assert detector.offer(row) == row.item


def test_a_row_gone_from_the_view_today_or_later_is_cancelled_a_past_one_forgotten() -> None:
    future, today, past = (
        view_row("F", date(2026, 12, 9)),
        view_row("T"),
        view_row("P", date(2026, 12, 1)),
    )
    detector = ChangeDetector({r.app_lid: known(r) for r in (future, today, past)}, today=TODAY)
    ending = detector.finish()
    assert set(ending.cancel) == {"F", "T"} and ending.forget == {"P"}


def test_deletions_can_be_ignored() -> None:
    row = view_row("F", date(2026, 12, 9))
    ending = ChangeDetector({"F": known(row)}, today=TODAY, cancel_deleted=False).finish()
    assert ending.cancel == {} and ending.forget == {"F"}


def test_present_but_not_offered_is_not_a_deletion() -> None:
    row = view_row("1")
    detector = ChangeDetector({"1": known(row)}, today=TODAY)
    detector.present("1")  # unchanged by its change column, not read in full
    assert detector.finish().cancel == {}


def test_a_row_whose_resource_left_tt_resources_is_forgotten_not_cancelled() -> None:
    row = view_row("1")
    detector = ChangeDetector({"1": known(row)}, today=TODAY)
    detector.present("1")
    detector.not_sent("1")
    ending = detector.finish()
    assert ending.cancel == {} and ending.forget == {"1"}


def test_the_patients_cancellation_applied_by_the_trigger_stays_the_patients() -> None:
    before = view_row("1")
    detector = ChangeDetector({"1": known(before)}, today=TODAY, patient_cancelled={"1", "2"})
    # The trigger marked it cancelled (the view may say "by ADMIN" or nothing at all).
    assert detector.offer(view_row("1", status="CANCELLED by ADMIN"))["STATUS"] == (  # type: ignore[index]
        "CANCELLED by USER"
    )
    assert detector.offer(view_row("3", status=None)) == view_row("3", status=None).item
    # The clinic booked it again: its word stands.
    assert detector.offer(view_row("2", status="APPROVED"))["STATUS"] == "APPROVED"  # type: ignore[index]


def test_a_row_the_trigger_deleted_after_the_patient_cancelled_is_forgotten() -> None:
    row = view_row("1", date(2026, 12, 9))
    ending = ChangeDetector({"1": known(row)}, today=TODAY, patient_cancelled={"1"}).finish()
    assert ending.cancel == {} and ending.forget == {"1"}


def test_rows_to_read_in_full_when_their_change_column_did_not_move() -> None:
    fine = view_row("1")
    detector = ChangeDetector(
        {"1": known(fine), "2": Known(None, TODAY, "7"), "4": Known("x", TODAY, "9")},
        today=TODAY,
    )
    detector.offer(view_row("5"))
    present = {"1": "7", "2": "7", "3": "7", "4": "9", "5": "7"}
    # 2 is stale, 3 never sent, 4's resource changed; 5 was read already.
    assert detector.needs_reading(present, changed_resources={"9"}) == {"2", "3", "4"}


def test_app_tmp_id_is_ten_characters_and_the_same_for_the_same_cancellation() -> None:
    stored = {"RESERVATION_ID": 42, "PATIENT_ANSWER_TIME": "02/12/2026 10:00:00"}
    first = app_tmp_id("tt_clinic", stored)
    assert len(first) == 10 and first.isalnum()
    assert app_tmp_id("tt_clinic", dict(stored)) == first
    assert app_tmp_id("tt_other", stored) != first
    assert (
        app_tmp_id("tt_clinic", {**stored, "PATIENT_ANSWER_TIME": "03/12/2026 10:00:00"}) != first
    )
