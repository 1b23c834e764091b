"""The columns a typed record is read from (``store.records``).

Repositories select exactly a record's columns, in its field order, and build
the record from each row positionally: no name lookups per value, and a column
added to a table later changes nothing until a record asks for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Table

from .records import field_names


def columns_of(table: Table, record_type: type) -> list[Column[Any]]:
    """``table``'s columns named by ``record_type``'s fields, in their order."""
    return [table.c[name] for name in field_names(record_type)]
