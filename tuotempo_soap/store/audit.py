"""SQL of the back office's audit log: one row per operator action, read newest
first a page at a time (keyset on the id, so any page costs the same)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, insert, select

from .columns import columns_of, record_factory
from .records import AuditEntry, NewAuditEntry
from .tables import audit_log

_ENTRY = select(*columns_of(audit_log, AuditEntry))
_entry = record_factory(AuditEntry)


class AuditRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, entry: NewAuditEntry) -> int:
        values = {
            "at": entry.at,
            "operator_id": entry.operator_id,
            "operator_name": entry.operator_name[:64],
            "instance_id": entry.instance_id,
            "instance_name": entry.instance_name,
            "action": entry.action,
            "target_kind": entry.target_kind,
            "target_id": entry.target_id,
            "outcome": entry.outcome,
            "detail": None if entry.detail is None else entry.detail[:500],
        }
        result = self.connection.execute(insert(audit_log).values(**values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def page(
        self,
        *,
        instance_ids: Collection[int] | None,
        instance_id: int | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """Newest first, ids below ``before_id``.

        ``instance_ids`` is what the reader may see (None: everything, rows
        about no instance included); ``instance_id`` narrows to one instance.
        """
        c = audit_log.c
        query = _ENTRY
        if instance_ids is not None:
            query = query.where(c.instance_id.in_(sorted(instance_ids)))
        if instance_id is not None:
            query = query.where(c.instance_id == instance_id)
        if before_id is not None:
            query = query.where(c.id < before_id)
        query = query.order_by(c.id.desc()).limit(limit)
        return [_entry(row) for row in self.connection.execute(query)]

    def for_target(self, instance_id: int, target_kind: str, target_id: int) -> list[AuditEntry]:
        """Every row about one thing of an instance (who did what to a message)."""
        c = audit_log.c
        query = _ENTRY.where(
            c.instance_id == instance_id,
            c.target_kind == target_kind,
            c.target_id == target_id,
        ).order_by(c.id.desc())
        return [_entry(row) for row in self.connection.execute(query)]
