"""SQL of the operators' searches: one instance's reservations and messages by
what a person knows (an APP_LID, a day, a patient's phone or e-mail address, a
legacy id), newest first, a page at a time.

Pages are keyset pages on the id (``before_id``: the last id of the previous
page), so the tenth page costs what the first does. Rows come back as
dataclass records; the service (``services/search.py``) turns what a person
typed into the exact stored spellings these queries compare with.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, tuple_

from .columns import columns_of, record_factory
from .records import NO_ANSWER, MessageHit, MessageSearch, ReservationHit, ReservationSearch
from .tables import messages, reservations

_RESERVATION_COLUMNS = columns_of(reservations, ReservationHit)
_MESSAGE_COLUMNS = columns_of(messages, MessageHit)
_reservation = record_factory(ReservationHit)
_message = record_factory(MessageHit)


class SearchRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def reservations(self, q: ReservationSearch) -> list[ReservationHit]:
        """At most ``q.limit`` matching reservations, highest id first."""
        query = self.reservations_statement(q)
        return [_reservation(row) for row in self.connection.execute(query)]

    @staticmethod
    def reservations_statement(q: ReservationSearch) -> Select[Any]:
        """The SELECT of ``reservations`` (public so its plan can be examined)."""
        c = reservations.c
        conditions = [c.instance_id == q.instance_id]
        if q.app_lid is not None:
            conditions.append(c.app_lid == q.app_lid)
        if q.date_from is not None:
            conditions.append(c.app_date >= q.date_from)
        if q.date_to is not None:
            conditions.append(c.app_date <= q.date_to)
        if q.resource_lid is not None:
            conditions.append(c.resource_lid == q.resource_lid)
        if q.status is not None:
            conditions.append(c.status == q.status)
        if q.patient_answer == NO_ANSWER:
            conditions.append(c.patient_answer.is_(None))
        elif q.patient_answer is not None:
            conditions.append(c.patient_answer == q.patient_answer)
        if q.phones:
            # Only indexed columns in the OR: one more (the work number, which
            # no message goes to) would make it a scan of the instance's rows.
            conditions.append(
                or_(c.user_mobile_phone.in_(q.phones), c.user_landline_phone.in_(q.phones))
            )
        if q.email is not None:
            conditions.append(func.lower(c.user_email) == q.email.lower())
        query = select(*_RESERVATION_COLUMNS)
        if q.date_from is not None or q.date_to is not None:
            # In (instance_id, app_date, change_seq) order, read backwards off that
            # index: a page costs the same whatever the range and the table's size.
            # (Newest id first here walked the primary key through every other
            # day's rows: a week a year back took 367 ms at 1M rows.)
            if q.before_day is not None:
                conditions.append(tuple_(c.app_date, c.change_seq) < q.before_day)
            order = [c.app_date.desc(), c.change_seq.desc()]
        else:
            if q.before_id is not None:
                conditions.append(c.id < q.before_id)
            order = [c.id.desc()]
        return query.where(*conditions).order_by(*order).limit(q.limit)

    def messages(self, q: MessageSearch) -> list[MessageHit]:
        """At most ``q.limit`` matching messages, highest id first (with a time
        range: latest queued first, which is the same order but for ties)."""
        c = messages.c
        conditions = [c.instance_id == q.instance_id]
        if q.legacy_id is not None:
            conditions.append(c.legacy_id == q.legacy_id)
        if q.recipients:
            conditions.append(c.recipient.in_(q.recipients))
        if q.channel is not None:
            conditions.append(c.channel == q.channel)
        if q.status is not None:
            conditions.append(c.status == q.status)
        if q.created_from is not None:
            conditions.append(c.created_at >= q.created_from)
        if q.created_to is not None:
            conditions.append(c.created_at < q.created_to)
        if q.created_from is None and q.created_to is None:
            if q.before_id is not None:
                conditions.append(c.id < q.before_id)
            order = [c.id.desc()]
        else:
            # Read backwards off (instance_id, created_at), the page starting at the
            # previous page's last message: ordered by the bare id, the planner
            # walked the primary key through every later message (a week a year
            # back at 10M rows: 70 ms for the first page, 400 ms for the 21st).
            if q.before_id is not None:
                anchor = (
                    select(c.created_at)
                    .where(c.id == q.before_id, c.instance_id == q.instance_id)
                    .scalar_subquery()
                )
                conditions.append(c.created_at <= anchor)
                conditions.append(
                    or_(c.created_at < anchor, and_(c.created_at == anchor, c.id < q.before_id))
                )
            order = [c.created_at.desc(), c.id.desc()]
        query = select(*_MESSAGE_COLUMNS).where(*conditions).order_by(*order).limit(q.limit)
        return [_message(row) for row in self.connection.execute(query)]
