"""SQL of what operators read about one reservation or one message: the rows
around it (its reminders' messages, a message's attempts, the reservations a
message is about), each by an indexed lookup and always within one instance.

The reservation and the message themselves are read through their own
repositories (``ReservationRepository.by_ids``, ``MessageRepository.get``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from .columns import columns_of, record_factory
from .records import MessageAttemptRecord, MessageRecord, ReservationRecord
from .tables import message_attempts, messages, reminder_links, reminders, reservations

_ATTEMPT = select(*columns_of(message_attempts, MessageAttemptRecord))
_MESSAGE = select(*columns_of(messages, MessageRecord))
_RESERVATION = select(*columns_of(reservations, ReservationRecord))
_attempt = record_factory(MessageAttemptRecord)
_message = record_factory(MessageRecord)
_reservation = record_factory(ReservationRecord)


class TimelineRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def attempts(self, instance_id: int, message_id: int) -> list[MessageAttemptRecord]:
        """A message's send attempts, in the order they were made."""
        c = message_attempts.c
        query = _ATTEMPT.where(c.message_id == message_id, c.instance_id == instance_id).order_by(
            c.id  # as made: a retried FAILED message counts its attempts anew
        )
        return [_attempt(row) for row in self.connection.execute(query)]

    def messages(self, instance_id: int, message_ids: Iterable[int]) -> list[MessageRecord]:
        wanted = sorted(set(message_ids))
        if not wanted:
            return []
        c = messages.c
        query = _MESSAGE.where(c.id.in_(wanted), c.instance_id == instance_id).order_by(c.id)
        return [_message(row) for row in self.connection.execute(query)]

    def reminder_ids_of_message(self, instance_id: int, message_id: int) -> list[int]:
        """The reminders that became this message (``ix_reminders_message``)."""
        c = reminders.c
        query = select(c.id).where(c.message_id == message_id, c.instance_id == instance_id)
        return [int(reminder_id) for reminder_id in self.connection.execute(query).scalars()]

    def reservations_of_reminders(
        self, instance_id: int, reminder_ids: Iterable[int]
    ) -> list[ReservationRecord]:
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
        query = _RESERVATION.where(c.id.in_(ids), c.instance_id == instance_id).order_by(
            c.app_date, c.app_start_time, c.id
        )
        return [_reservation(row) for row in self.connection.execute(query)]
