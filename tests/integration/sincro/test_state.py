"""The agent's local state file: what a restart resumes from."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tuotempo_soap.sincro.changes import Known
from tuotempo_soap.sincro.errors import StateError
from tuotempo_soap.sincro.state import SERVER_CURSOR, LockedError, SincroState

DAY = date(2026, 12, 3)


@pytest.fixture
def state(tmp_path: Path) -> SincroState:
    opened = SincroState(tmp_path / "deep" / "state.db")
    yield opened  # type: ignore[misc]
    opened.close()


def test_rows_sent_stale_and_forgotten_survive_a_restart(state: SincroState) -> None:
    state.record_sent([("1", "aaa", DAY, "7"), ("2", "bbb", DAY, "7"), ("3", "ccc", DAY, "8")])
    state.record_sent([("2", "bbb2", DAY, "7")])  # sent again after a change
    state.mark_stale(["3"])
    state.forget(["1"])
    state.put(SERVER_CURSOR, "02/12/2026 11:00:00#42")
    state.close()
    again = SincroState(state.path)
    assert again.known() == {"2": Known("bbb2", DAY, "7"), "3": Known(None, DAY, "8")}
    assert again.get(SERVER_CURSOR) == "02/12/2026 11:00:00#42"
    assert again.counts() == {"rows": 2, "stale": 1, "cancellations_delivered": 0}
    again.close()


@pytest.mark.parametrize(
    "mark",
    [
        datetime(2026, 12, 1, 10, 30, 15, 123456),
        date(2026, 12, 1),
        20261201103015,
        Decimal("1201.2026"),
        b"\x00\x00\x00\x00\x00\x00\x07\xd1",  # SQL Server rowversion
        "2026-12-01 10:30",
    ],
)
def test_the_change_column_mark_keeps_its_type(state: SincroState, mark: object) -> None:
    assert state.change_cursor() is None
    state.set_change_cursor(mark)
    assert state.change_cursor() == mark and type(state.change_cursor()) is type(mark)


def test_deliveries_and_reinstatements(state: SincroState) -> None:
    state.record_delivered([("ABCDEFGHIJ", "104"), ("KLMNOPQRST", "105")])
    assert state.delivered(["ABCDEFGHIJ", "ZZZZZZZZZZ"]) == {"ABCDEFGHIJ"}
    assert state.patient_cancelled() == {"104", "105"}
    state.reinstated(["105"])
    assert state.patient_cancelled() == {"104"}
    assert state.delivered(["KLMNOPQRST"]) == {"KLMNOPQRST"}  # still never written twice


def test_a_state_file_belongs_to_one_instance(state: SincroState) -> None:
    state.claim("tt_clinic")
    state.claim("tt_clinic")
    with pytest.raises(StateError, match="belongs to instance tt_clinic") as raised:
        state.claim("tt_other")
    assert raised.value.field == "state.path"


def test_one_run_at_a_time(state: SincroState) -> None:
    other = SincroState(state.path)
    with (
        state.locked(),
        pytest.raises(LockedError, match="another run of the agent"),
        other.locked(),
    ):
        pass
    with other.locked():  # released
        pass
    other.close()
