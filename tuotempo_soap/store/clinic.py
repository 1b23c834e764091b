"""SQL of clinic integrations: endpoint settings, poller state and its lease,
the key entities tables, and the centers of portal instances."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, insert, or_, select, update

from .columns import columns_of, record_factory
from .records import CenterRecord, InstanceIntegration, IntegrationRecord, PollStatus
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

_INTEGRATION = select(*columns_of(clinic_integrations, IntegrationRecord))
_integration = record_factory(IntegrationRecord)
# An integration's columns, then its instance's name and disabled time.
_WITH_INSTANCE = _INTEGRATION.add_columns(instances.c.name, instances.c.disabled_at).join(
    instances, instances.c.id == clinic_integrations.c.instance_id
)


class IntegrationRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _with_instance(self, query: Select[Any]) -> list[InstanceIntegration]:
        """``query`` (of ``_WITH_INSTANCE``) as integrations with their instance's
        name and disabled time."""
        width = len(_INTEGRATION.selected_columns)
        return [
            InstanceIntegration(_integration(row[:width]), row[width], row[width + 1])
            for row in self.connection.execute(query)
        ]

    def statuses(self, instance_ids: Collection[int] | None = None) -> list[PollStatus]:
        """Every integration's poll state with its instance's name, by name;
        ``instance_ids`` narrows to those instances (None: all)."""
        query = _WITH_INSTANCE
        if instance_ids is not None:
            query = query.where(clinic_integrations.c.instance_id.in_(sorted(instance_ids)))
        found = self._with_instance(query.order_by(instances.c.name))
        return [PollStatus.of(integration) for integration in found]

    def status(self, instance_id: int) -> PollStatus | None:
        found = self.statuses([instance_id])
        return found[0] if found else None

    def schedule_now(self, instance_id: int, now: datetime) -> bool:
        """Make the next poll due at ``now`` (the poller's next round takes it).

        Only when polling is on and no poll is running (a running poll sets the
        next time itself when it ends); False otherwise.
        """
        c = clinic_integrations.c
        statement = (
            update(clinic_integrations)
            .where(
                c.instance_id == instance_id,
                c.poll_enabled.is_(True),
                or_(c.poll_lease_until.is_(None), c.poll_lease_until < now),
            )
            .values(next_poll_at=now, updated_at=now)
        )
        return bool(self.connection.execute(statement).rowcount)

    def get(self, instance_id: int) -> IntegrationRecord | None:
        query = _INTEGRATION.where(clinic_integrations.c.instance_id == instance_id)
        row = self.connection.execute(query).first()
        return None if row is None else _integration(row)

    def configured(self, instance_id: int) -> bool:
        """Whether the instance reaches its clinic through the clinic's web services."""
        c = clinic_integrations.c
        query = select(c.instance_id).where(c.instance_id == instance_id)
        return self.connection.execute(query).first() is not None

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

    def due(self, now: datetime) -> list[InstanceIntegration]:
        """Enabled integrations whose next poll is due, with their instance's name
        and since when an operator disabled it (None: enabled)."""
        c = clinic_integrations.c
        query = _WITH_INSTANCE.where(
            c.poll_enabled.is_(True), or_(c.next_poll_at.is_(None), c.next_poll_at <= now)
        )
        return self._with_instance(query.order_by(c.next_poll_at))

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

    def remove(self, instance_id: int) -> bool:
        """Forget how the instance reaches its clinic, with the key entities read
        from it; False when it had no integration."""
        for table in _ENTITY_TABLES:
            self.connection.execute(delete(table).where(table.c.instance_id == instance_id))
        statement = delete(clinic_integrations).where(
            clinic_integrations.c.instance_id == instance_id
        )
        return bool(self.connection.execute(statement).rowcount)


_ENTITY_TABLES = (
    clinic_resources,
    clinic_activities,
    clinic_insurances,
    clinic_locations,
    clinic_relations,
)


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

    def center_records(self, portal_instance_id: int) -> list[CenterRecord]:
        """A portal instance's centers and the instance each is reached through,
        by CENTER_LID."""
        c = portal_centers.c
        query = (
            select(c.center_lid, c.name, c.via_instance_id, instances.c.name)
            .join(instances, instances.c.id == c.via_instance_id)
            .where(c.portal_instance_id == portal_instance_id)
            .order_by(c.center_lid)
        )
        return [
            CenterRecord(center_lid, name, int(via_id), via_name)
            for center_lid, name, via_id, via_name in self.connection.execute(query)
        ]

    def routed_through(self, via_instance_id: int) -> list[tuple[str, str]]:
        """(portal name, CENTER_LID) of every center of another portal reached
        through this instance's integration."""
        c = portal_centers.c
        query = (
            select(instances.c.name, c.center_lid)
            .join(instances, instances.c.id == c.portal_instance_id)
            .where(c.via_instance_id == via_instance_id, c.portal_instance_id != via_instance_id)
            .order_by(instances.c.name, c.center_lid)
        )
        return [(str(name), str(center)) for name, center in self.connection.execute(query).all()]

    def remove(self, portal_instance_id: int, center_lid: str) -> bool:
        """False when the portal had no such center."""
        c = portal_centers.c
        statement = delete(portal_centers).where(
            c.portal_instance_id == portal_instance_id, c.center_lid == center_lid
        )
        return bool(self.connection.execute(statement).rowcount)

    def remove_routed_through_itself(self, instance_id: int) -> int:
        """The instance's own centers reached through its own integration."""
        c = portal_centers.c
        statement = delete(portal_centers).where(
            c.portal_instance_id == instance_id, c.via_instance_id == instance_id
        )
        return int(self.connection.execute(statement).rowcount)

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
