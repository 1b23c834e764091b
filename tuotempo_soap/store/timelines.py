"""SQL of what operators read about one reservation or one message: the rows
around it (its reminders, their messages, the reservations a message is
about), each by an indexed lookup and always within one instance."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, RowMapping, select

from .tables import message_attempts, messages, reminder_links, reminders, reservations


class TimelineRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def reservation(self, instance_id: int, reservation_id: int) -> RowMapping | None:
        query = select(reservations).where(
            reservations.c.id == reservation_id, reservations.c.instance_id == instance_id
        )
        return self.connection.execute(query).mappings().first()

    def message(self, instance_id: int, message_id: int) -> RowMapping | None:
        query = select(messages).where(
            messages.c.id == message_id, messages.c.instance_id == instance_id
        )
        return self.connection.execute(query).mappings().first()

    def attempts(self, instance_id: int, message_id: int) -> list[RowMapping]:
        """A message's send attempts, in the order they were made."""
        c = message_attempts.c
        query = (
            select(c.attempt, c.at, c.provider, c.outcome, c.provider_message_id, c.error)
            .where(c.message_id == message_id, c.instance_id == instance_id)
            .order_by(c.id)  # as made: a retried FAILED message counts its attempts anew
        )
        return list(self.connection.execute(query).mappings())

    def messages(self, instance_id: int, message_ids: Iterable[int]) -> list[RowMapping]:
        wanted = sorted(set(message_ids))
        if not wanted:
            return []
        query = (
            select(messages)
            .where(messages.c.id.in_(wanted), messages.c.instance_id == instance_id)
            .order_by(messages.c.id)
        )
        return list(self.connection.execute(query).mappings())

    def reminders_of_message(self, instance_id: int, message_id: int) -> list[RowMapping]:
        """The reminders that became this message (``ix_reminders_message``)."""
        query = select(reminders).where(
            reminders.c.message_id == message_id, reminders.c.instance_id == instance_id
        )
        return list(self.connection.execute(query).mappings())

    def reservations_of_reminders(
        self, instance_id: int, reminder_ids: Iterable[int]
    ) -> list[RowMapping]:
        """The reservations these reminders are about, by appointment time."""
        wanted = sorted(set(reminder_ids))
        if not wanted:
            return []
        linked = select(reminder_links.c.reservation_id).where(
            reminder_links.c.reminder_id.in_(wanted)
        )
        ids = [int(row_id) for row_id in self.connection.execute(linked).scalars()]
        if not ids:
            return []
        c = reservations.c
        query = (
            select(c.id, c.app_lid, c.app_date, c.app_start_time, c.resource_lid, c.status)
            .where(c.id.in_(ids), c.instance_id == instance_id)
            .order_by(c.app_date, c.app_start_time, c.id)
        )
        return list(self.connection.execute(query).mappings())
