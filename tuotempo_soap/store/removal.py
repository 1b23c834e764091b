"""SQL that removes an instance and everything it owns, in bounded batches.

What an instance owns is read from the schema itself: every table with a
foreign key to ``instances.id`` (its users, reservations, messages, clinic
settings, reminders, portal centers, and whatever tables come later), children
before parents. Rows that hang off those (reminder links, used answer links)
go with them through their ``ON DELETE CASCADE``. Tables that copy an
instance's id without a foreign key (the audit trail) are left alone on purpose.

Large tables are emptied a batch at a time, each batch its own transaction, so
no statement runs into the statement timeout and no lock is held for long; the
caller repeats ``delete_batch`` until it returns 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, func, select

from .tables import instances, metadata


@dataclass(frozen=True)
class OwnedTable:
    """A table holding an instance's rows, and the column that names the instance."""

    table: Table
    column: Column[Any]

    @property
    def name(self) -> str:
        return self.table.name


def owned_tables() -> list[OwnedTable]:
    """Every (table, column) referencing ``instances.id``, children first."""
    found = []
    for table in reversed(metadata.sorted_tables):
        for key in sorted(table.foreign_keys, key=lambda k: k.parent.name):
            if key.column is instances.c.id:
                found.append(OwnedTable(table, key.parent))
    return found


def _owned(table: OwnedTable | str) -> OwnedTable:
    if isinstance(table, OwnedTable):
        return table
    found = next((owned for owned in owned_tables() if owned.name == table), None)
    if found is None:
        raise ValueError(f"{table} holds no instance's rows")
    return found


class InstanceRemovalRepository:
    """Counts and deletes an instance's rows; tables are an ``OwnedTable`` or its name."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @staticmethod
    def owned_tables() -> list[str]:
        """The names of ``owned_tables()``, in the order to empty them."""
        return [owned.name for owned in owned_tables()]

    def count(self, owned: OwnedTable | str, instance_id: int) -> int:
        owned = _owned(owned)
        query = select(func.count()).select_from(owned.table).where(owned.column == instance_id)
        return int(self.connection.execute(query).scalar_one())

    def delete_batch(self, owned: OwnedTable | str, instance_id: int, limit: int) -> int:
        """Delete up to ``limit`` of the instance's rows of one table.

        Batches are taken by the one primary-key column besides the instance's
        (``id``, ``change_seq``, ``resource_lid``...); a table keyed otherwise
        holds a handful of rows per instance and is emptied in one statement.
        """
        owned = _owned(owned)
        table, column = owned.table, owned.column
        rest = [key for key in table.primary_key.columns if key is not column]
        mine = column == instance_id
        if len(rest) == 1:
            batch = select(rest[0]).where(mine).limit(limit)
            statement = delete(table).where(mine, rest[0].in_(batch.scalar_subquery()))
        else:
            statement = delete(table).where(mine)
        return int(self.connection.execute(statement).rowcount)

    def delete_instance(self, instance_id: int) -> bool:
        statement = delete(instances).where(instances.c.id == instance_id)
        return bool(self.connection.execute(statement).rowcount)
