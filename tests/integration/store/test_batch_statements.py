"""How many statements updateReservations sends for a batch, whatever its size:
a batch of new reservations is written without reading the table (the unique
key, not a query plan, decides which items are new), and a batch re-sent adds
one SELECT of the stored rows and, for those that changed, one write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import make_instance
from tuotempo_soap.services import instances, reservations
from tuotempo_soap.services.reservations import ItemAction
from tuotempo_soap.store.engine import Store


def items(prefix: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {"APP_LID": f"{prefix}{n}", "APP_DATE": "24/02/2027", "RESOURCE_LID": "DR-1", **fields}
        for n in range(count)
    ]


class Statements:
    """The first words of each statement sent through the store's engine."""

    def __init__(self, store: Store) -> None:
        self.seen: list[str] = []
        self.engine = store.engine
        event.listen(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = " ".join(statement.split()[:3]).upper()
        if not words.startswith("BEGIN"):  # SQLite's own BEGIN (store/engine.py)
            self.seen.append(words)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


@pytest.fixture
def statements(store: Store) -> Iterator[Statements]:
    recorder = Statements(store)
    yield recorder
    recorder.close()


def push(
    store: Store, instance: instances.Instance, batch: list[dict[str, Any]]
) -> list[ItemAction | None]:
    outcome = reservations.update_reservations(store, instance, batch, max_items=1000)
    return [item.action for item in outcome.items]


def test_statements_per_batch(store: Store, statements: Statements) -> None:
    instance = instances.get_instance(store, make_instance(store).instance)
    postgres = store.dialect == "postgresql"
    lock = "UPDATE INSTANCES SET"  # SQLite: the change lock, and the sequence moved on
    offer = ["WITH LOCKED AS"] if postgres else [lock, "INSERT INTO RESERVATIONS"]

    statements.seen.clear()
    assert push(store, instance, items("N", 100)) == [ItemAction.CREATED] * 100
    # PostgreSQL: ONE statement (the lock, the rows, their history, the sequence).
    # SQLite: one per kind of write. No SELECT either way.
    history = [] if postgres else ["INSERT INTO RESERVATION_CHANGES", lock]
    assert statements.seen == [*offer, *history]

    statements.seen.clear()
    assert push(store, instance, items("N", 100)) == [ItemAction.UNCHANGED] * 100
    # The offer (nothing new), one SELECT, the sequence set back: nothing changed.
    assert statements.seen[-2].startswith("SELECT") and statements.seen[-1] == lock
    assert len(statements.seen) == (3 if postgres else 5)

    statements.seen.clear()
    mixed = items("N", 50, NOTES="changed") + items("N", 100)[50:] + items("M", 50)
    assert push(store, instance, mixed) == (
        [ItemAction.UPDATED] * 50 + [ItemAction.UNCHANGED] * 50 + [ItemAction.CREATED] * 50
    )
    # The offer (the 50 new ones written), one SELECT, one write of the changes.
    assert len(statements.seen) == (3 if postgres else 8)
