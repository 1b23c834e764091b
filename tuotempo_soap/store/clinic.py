"""SQL of clinic integrations: endpoint settings, poller state and its lease,
the key entities tables, and the centers of portal instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, insert, or_, select, update

from .tables import (
    clinic_activities,
    clinic_insurances,
    clinic_integrations,
    clinic_locations,
    clinic_relations,
    clinic_resources,
    instances,
    portal_centers,
)


class IntegrationRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self, instance_id: int) -> RowMapping | None:
        query = select(clinic_integrations).where(clinic_integrations.c.instance_id == instance_id)
        return self.connection.execute(query).mappings().first()

    def save(self, instance_id: int, values: Mapping[str, Any]) -> None:
        if self.get(instance_id) is None:
            self.connection.execute(
                insert(clinic_integrations).values(instance_id=instance_id, **values)
            )
        else:
            self.connection.execute(
                update(clinic_integrations)
                .where(clinic_integrations.c.instance_id == instance_id)
                .values(**values)
            )

    def due(self, now: datetime) -> Sequence[RowMapping]:
        """Enabled integrations whose next poll is due, with their instance's name."""
        c = clinic_integrations.c
        query = (
            select(clinic_integrations, instances.c.name.label("instance_name"))
            .join(instances, instances.c.id == c.instance_id)
            .where(c.poll_enabled.is_(True), or_(c.next_poll_at.is_(None), c.next_poll_at <= now))
            .order_by(c.next_poll_at)
        )
        return self.connection.execute(query).mappings().all()

    def acquire(self, instance_id: int, owner: str, now: datetime, until: datetime) -> bool:
        """Take the instance's poll lease if nobody holds a live one."""
        c = clinic_integrations.c
        statement = (
            update(clinic_integrations)
            .where(
                c.instance_id == instance_id,
                or_(c.poll_lease_until.is_(None), c.poll_lease_until < now, c.poll_owner == owner),
            )
            .values(poll_owner=owner, poll_lease_until=until)
        )
        return bool(self.connection.execute(statement).rowcount)

    def finish(self, instance_id: int, owner: str, values: Mapping[str, Any]) -> bool:
        """Record a poll's outcome and release the lease (only the holder may)."""
        c = clinic_integrations.c
        statement = (
            update(clinic_integrations)
            .where(c.instance_id == instance_id, c.poll_owner == owner)
            .values(**values, poll_owner=None, poll_lease_until=None)
        )
        return bool(self.connection.execute(statement).rowcount)


class EntityRepository:
    """Replaces an instance's key entities as a whole (one statement per table)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def replace(self, instance_id: int, tables: Mapping[str, list[dict[str, Any]]]) -> None:
        by_name = {
            "resources": clinic_resources,
            "activities": clinic_activities,
            "insurances": clinic_insurances,
            "locations": clinic_locations,
            "relations": clinic_relations,
        }
        for name, table in by_name.items():
            self.connection.execute(delete(table).where(table.c.instance_id == instance_id))
            rows = [{**row, "instance_id": instance_id} for row in tables.get(name, [])]
            if rows:
                self.connection.execute(insert(table), rows)

    def counts(self, instance_id: int) -> dict[str, int]:
        out = {}
        for name, table in (
            ("resources", clinic_resources),
            ("activities", clinic_activities),
            ("insurances", clinic_insurances),
            ("locations", clinic_locations),
            ("relations", clinic_relations),
        ):
            query = select(table).where(table.c.instance_id == instance_id)
            out[name] = len(self.connection.execute(query).all())
        return out


class PortalRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def centers(self, portal_instance_id: int) -> Sequence[RowMapping]:
        c = portal_centers.c
        query = (
            select(portal_centers, instances.c.name.label("via_instance_name"))
            .join(instances, instances.c.id == c.via_instance_id)
            .where(c.portal_instance_id == portal_instance_id)
            .order_by(c.center_lid)
        )
        return self.connection.execute(query).mappings().all()

    def put(self, portal_instance_id: int, center_lid: str, name: str | None, via: int) -> None:
        c = portal_centers.c
        self.connection.execute(
            delete(portal_centers).where(
                and_(c.portal_instance_id == portal_instance_id, c.center_lid == center_lid)
            )
        )
        self.connection.execute(
            insert(portal_centers).values(
                portal_instance_id=portal_instance_id,
                center_lid=center_lid,
                name=name,
                via_instance_id=via,
            )
        )
