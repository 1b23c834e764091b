"""SQL of back-office operators and the instances granted to each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..errors import ConflictError
from .records import OperatorRecord
from .tables import instances, operator_instances, operators


class OperatorRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add(self, username: str, password_hash: str, all_instances: bool, now: datetime) -> int:
        try:
            result = self.connection.execute(
                insert(operators).values(
                    username=username,
                    password_hash=password_hash,
                    all_instances=all_instances,
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:
            raise ConflictError(f"operator {username} already exists", field="username") from None
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def by_username(self, username: str) -> OperatorRecord | None:
        query = select(operators).where(operators.c.username == username)
        row = self.connection.execute(query).mappings().first()
        return self._with_grants([row])[0] if row is not None else None

    def by_id(self, operator_id: int) -> OperatorRecord | None:
        query = select(operators).where(operators.c.id == operator_id)
        row = self.connection.execute(query).mappings().first()
        return self._with_grants([row])[0] if row is not None else None

    def all(self) -> list[OperatorRecord]:
        query = select(operators).order_by(operators.c.username)
        return self._with_grants(list(self.connection.execute(query).mappings()))

    def _with_grants(self, rows: Sequence[RowMapping]) -> list[OperatorRecord]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        query = (
            select(operator_instances.c.operator_id, instances.c.id, instances.c.name)
            .join(instances, instances.c.id == operator_instances.c.instance_id)
            .where(operator_instances.c.operator_id.in_(ids))
            .order_by(instances.c.name)
        )
        granted: dict[int, list[tuple[int, str]]] = {int(i): [] for i in ids}
        for operator_id, instance_id, name in self.connection.execute(query):
            granted[int(operator_id)].append((int(instance_id), str(name)))
        return [
            OperatorRecord(
                id=int(r["id"]),
                username=str(r["username"]),
                password_hash=str(r["password_hash"]),
                all_instances=bool(r["all_instances"]),
                created_at=r["created_at"],
                updated_at=r["updated_at"],
                granted=tuple(granted[int(r["id"])]),
            )
            for r in rows
        ]

    def set_password(self, operator_id: int, password_hash: str, now: datetime) -> None:
        self.connection.execute(
            update(operators)
            .where(operators.c.id == operator_id)
            .values(password_hash=password_hash, updated_at=now)
        )

    def set_all_instances(self, operator_id: int, all_instances: bool, now: datetime) -> None:
        self.connection.execute(
            update(operators)
            .where(operators.c.id == operator_id)
            .values(all_instances=all_instances, updated_at=now)
        )

    def grant(self, operator_id: int, instance_id: int, now: datetime) -> bool:
        """Grant an instance; False when it already was granted."""
        dialect = postgresql if self.connection.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(operator_instances)
            .values(operator_id=operator_id, instance_id=instance_id, granted_at=now)
            .on_conflict_do_nothing(index_elements=["operator_id", "instance_id"])
        )
        return bool(self.connection.execute(statement).rowcount)

    def revoke(self, operator_id: int, instance_id: int) -> bool:
        """Take an instance back; False when it was not granted."""
        c = operator_instances.c
        statement = delete(operator_instances).where(
            c.operator_id == operator_id, c.instance_id == instance_id
        )
        return bool(self.connection.execute(statement).rowcount)

    def remove(self, operator_id: int) -> None:
        self.connection.execute(delete(operators).where(operators.c.id == operator_id))
