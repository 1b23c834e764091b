"""SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create them.

Reservation columns are the guide's field names in lower case, so the mapping
between wire and store is mechanical (``APP_LID`` <-> ``app_lid``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..domain.reservation import FIELDS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")

instances = Table(
    "instances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False),
    Column("country", String(2), nullable=False),
    Column("language", String(10), nullable=False),
    Column("store_patient_identity", Boolean, nullable=False, default=False),
    # From and Reply-To of the e-mails sent for this instance.
    Column("email_from", String(255)),
    Column("email_reply_to", String(255)),
    # Last change sequence number handed out for this instance's reservations.
    # Writers bump it under a row lock, so sequence numbers commit in order.
    Column("change_seq", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime, nullable=False),
)

api_users = Table(
    "api_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("username", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("instance_id", "username", name="uq_api_users_instance_username"),
)


def _field_column(spec_name: str, length: int, kind: str) -> Column:
    if kind == "date":
        return Column(spec_name.lower(), Date, nullable=spec_name != "APP_DATE")
    if kind == "time":
        return Column(spec_name.lower(), String(5))
    return Column(
        spec_name.lower(), String(length), nullable=spec_name not in ("APP_LID", "RESOURCE_LID")
    )


reservations = Table(
    "reservations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    *(_field_column(s.name, s.max_length, s.kind) for s in FIELDS),
    Column("status_changed_by", String(16)),
    Column("status_changed_at", DateTime),
    Column("patient_answer", String(16)),
    Column("patient_answer_channel", String(16)),
    Column("patient_answer_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    UniqueConstraint("instance_id", "app_lid", name="uq_reservations_instance_app_lid"),
    Index("ix_reservations_instance_change_seq", "instance_id", "change_seq", unique=True),
    Index("ix_reservations_instance_app_date", "instance_id", "app_date"),
    Index("ix_reservations_instance_resource_date", "instance_id", "resource_lid", "app_date"),
)

RESERVATION_FIELD_COLUMNS: tuple[str, ...] = tuple(s.name.lower() for s in FIELDS)

# The outbox: every message the gateway accepted, and what became of it.
messages = Table(
    "messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("legacy_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("sender", String(50)),
    Column("subject", String(255)),
    Column("body", Text, nullable=False),
    Column("language", String(10)),
    Column("segments", Integer),
    Column("send_at", DateTime),
    Column("expires_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # When the worker may (re)try it: send_at at first, then after each backoff.
    Column("next_attempt_at", DateTime, nullable=False),
    # A claimed message belongs to one worker until its lease ends; a worker
    # that died mid-send leaves a lease that runs out, and another takes over.
    Column("lease_until", DateTime),
    Column("claimed_by", String(64)),
    Column("provider", String(64)),
    Column("provider_message_id", String(255)),
    Column("last_error", String(1000)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("delivered_at", DateTime),
    Column("failed_at", DateTime),
    UniqueConstraint("instance_id", "legacy_id", name="uq_messages_instance_legacy_id"),
    Index("ix_messages_due", "status", "next_attempt_at"),
    Index("ix_messages_instance_recipient", "instance_id", "recipient"),
    Index("ix_messages_instance_created", "instance_id", "created_at"),
    Index("ix_messages_provider_message_id", "provider", "provider_message_id"),
)
