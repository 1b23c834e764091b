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
    func,
    text,
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
    # Set while an operator has switched the instance off (no SOAP, no sends).
    Column("disabled_at", DateTime),
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
    # The day read of getReservations (one APP_DATE, in change order, a page at a
    # time): equality on the first two columns leaves the rows in change_seq order,
    # so the first page comes straight off the index at any table size. It also
    # serves every lookup by (instance, day) the former (instance_id, app_date)
    # index did.
    Index("ix_reservations_instance_date_seq", "instance_id", "app_date", "change_seq"),
    Index("ix_reservations_instance_resource_date", "instance_id", "resource_lid", "app_date"),
    # The search by the patient's number or address (services/search.py): the
    # numbers and the address messages go to (SMS, calls, e-mail).
    Index("ix_reservations_instance_mobile", "instance_id", "user_mobile_phone"),
    Index("ix_reservations_instance_landline", "instance_id", "user_landline_phone"),
)
# Addresses are compared without regard to case (services/search.py).
Index(
    "ix_reservations_instance_email",
    reservations.c.instance_id,
    func.lower(reservations.c.user_email),
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
    # What we hand the provider to quote back (receipts, voice answers, reply
    # references): random, so nobody can guess another message's reference.
    # NULL only on rows sent before it existed.
    Column("reference", String(32)),
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
    Index("ix_messages_reference", "reference", unique=True),
    Index("ix_messages_provider_recipient", "provider", "recipient"),
    # Recent failures (the back office's outbox health, failure metrics) without
    # reading every message that ever failed; partial, so sends pay nothing for it.
    Index(
        "ix_messages_failed_at",
        "failed_at",
        postgresql_where=text("failed_at IS NOT NULL"),
        sqlite_where=text("failed_at IS NOT NULL"),
    ),
)

# Every send attempt of a message and the provider's answer to it (the outbox
# row keeps only the count and the last answer): the back office's timeline.
# Written by the worker with the outcomes it records, one statement a round.
message_attempts = Table(
    "message_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", BigInteger, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", Integer, nullable=False),  # 1 for the first send
    Column("at", DateTime, nullable=False),
    Column("provider", String(64), nullable=False),
    Column("outcome", String(16), nullable=False),  # sent, retry, permanent
    Column("provider_message_id", String(255)),
    Column("error", String(1000)),
    Index("ix_message_attempts_message", "message_id", "attempt"),
)

# How an instance reaches its clinic's own web services (guide A.4, B.2), and
# where its poller stands. Secrets are not stored: ``password_env`` names the
# environment variable that holds the password.
clinic_integrations = Table(
    "clinic_integrations",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("wsdl_url", String(500), nullable=False),
    Column("endpoint_url", String(500)),
    Column("username", String(255)),
    Column("password_env", String(100)),
    Column("center_lid", String(50)),
    Column("timeout_seconds", Integer, nullable=False, default=10),
    Column("poll_enabled", Boolean, nullable=False, default=True),
    Column("poll_interval_seconds", Integer, nullable=False, default=300),
    # The LAST_REQUEST_TIMESTAMP of the next SearchAppointments: the start of
    # the last successful poll. A failed poll leaves it, so the gap is re-read.
    Column("last_success_at", DateTime),
    Column("next_poll_at", DateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", String(1000)),
    Column("key_entities_at", DateTime),
    # One poller per instance at a time: a lease row, portable and crash-safe.
    Column("poll_owner", String(64)),
    Column("poll_lease_until", DateTime),
    Column("updated_at", DateTime, nullable=False),
)

# The clinic's key entities (KeyEntities, B.2.1.2), replaced as a whole once a day.
clinic_resources = Table(
    "clinic_resources",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("resource_lid", String(50), primary_key=True),
    Column("first_name", String(50)),
    Column("second_name", String(50)),
)
clinic_activities = Table(
    "clinic_activities",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("activity_lid", String(50), primary_key=True),
    Column("name", String(50)),
    Column("group_lid", String(50)),
    Column("group_name", String(50)),
    Column("duration_minutes", Integer),
)
clinic_insurances = Table(
    "clinic_insurances",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("insurance_lid", String(50), primary_key=True),
    Column("name", String(50)),
)
clinic_locations = Table(
    "clinic_locations",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("location_lid", String(50), primary_key=True),
    Column("name", String(50)),
)
# Which resource offers which activity, where, under which insurance, at what price.
clinic_relations = Table(
    "clinic_relations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("resource_lid", String(50), nullable=False),
    Column("activity_lid", String(50), nullable=False),
    Column("insurance_lid", String(50)),
    Column("location_lid", String(50)),
    Column("price", String(50)),
    Column("duration_minutes", Integer),
    Index("ix_clinic_relations_instance_resource", "instance_id", "resource_lid"),
)

# A portal instance (B.3) groups centers; each is reached through the clinic
# integration of ``via_instance_id`` with its CENTER_LID.
portal_centers = Table(
    "portal_centers",
    metadata,
    Column(
        "portal_instance_id",
        Integer,
        ForeignKey("instances.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("center_lid", String(50), primary_key=True),
    Column("name", String(100)),
    Column(
        "via_instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False
    ),
)

# Reminder rules of an instance (JSON of domain.reminders.ReminderRules), and
# how far its planner has read the reservations' change sequence.
reminder_settings = Table(
    "reminder_settings",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("rules_json", Text, nullable=False),
    Column("planner_seq", BigInteger, nullable=False, default=0),
    Column("updated_at", DateTime, nullable=False),
)

# Planned patient communications (reminders, change and cancellation notices,
# post-visit messages, acknowledgements) and the outbox message each became.
reminders = Table(
    "reminders",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reservation_ids", String(500), nullable=False),
    Column("day", Date),
    Column("offset_hours", Integer),
    Column("due_at", DateTime, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("language", String(10)),
    # PLANNED -> QUEUED (handed to the outbox) | CANCELLED (appointment moved or
    # cancelled before it went out) | SKIPPED (with the reason).
    Column("status", String(16), nullable=False),
    Column("message_id", BigInteger),
    Column("snapshot", Text),  # the appointment fields the text was built from (JSON)
    Column("reason", String(500)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("instance_id", "key", name="uq_reminders_instance_key"),
    Index("ix_reminders_due", "status", "due_at"),
    Index("ix_reminders_message", "message_id"),
)

# What happened and why, for operators: planned, skipped (and why), queued,
# replies received, answers applied, clinic told.
reminder_events = Table(
    "reminder_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("reservation_id", BigInteger),
    Column("reminder_id", BigInteger),
    Column("event", String(32), nullable=False),
    Column("detail", String(1000)),
    Column("at", DateTime, nullable=False),
    # The outbox message the event is about (a reminder queued, an acknowledgement
    # sent after an answer), so a reservation's page lists every message it caused.
    Column("message_id", BigInteger),
    Index("ix_reminder_events_instance_reservation", "instance_id", "reservation_id"),
)

# Patient cancellations to forward to clinics with web services (A.4.2
# CancelAppointment), retried until they succeed or are marked FAILED.
clinic_callbacks = Table(
    "clinic_callbacks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("reservation_id", BigInteger, nullable=False),
    Column("app_lid", String(50), nullable=False),
    Column("user_lid", String(50)),
    Column("action", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # PENDING, DONE, FAILED
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("last_error", String(1000)),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("instance_id", "reservation_id", "action", name="uq_clinic_callbacks_once"),
    Index("ix_clinic_callbacks_due", "status", "next_attempt_at"),
)

# Which reservations each reminder is about (a reminder may cover a patient's
# whole day), indexed both ways so re-planning a batch is a few queries.
reminder_links = Table(
    "reminder_links",
    metadata,
    Column(
        "reminder_id", BigInteger, ForeignKey("reminders.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("reservation_id", BigInteger, primary_key=True),
    Index("ix_reminder_links_reservation", "reservation_id"),
)

# E-mail answer links already used: each (reminder, action) link answers once.
answer_link_uses = Table(
    "answer_link_uses",
    metadata,
    Column(
        "reminder_id", BigInteger, ForeignKey("reminders.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("action", String(16), primary_key=True),
    Column("used_at", DateTime, nullable=False),
)

# "Which appointment do you mean?": asked when one number has open reminders
# from several instances through the same provider. ``reminder_ids`` keeps the
# order of the numbered list the patient was sent ("12,7"), so "1 NO" resolves.
reply_questions = Table(
    "reply_questions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("provider", String(64), nullable=False),
    Column("recipient", String(255), nullable=False),
    Column("reminder_ids", String(500), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Index("ix_reply_questions_provider_recipient", "provider", "recipient", "created_at"),
)

# What operators did in the back office, and whether it was allowed: who, when,
# on which instance, which action, on what (an internal id), and the outcome.
# Names are copied, not referenced, so the trail outlives a removed operator or
# instance; nothing here is patient data (no recipients, names or texts).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("operator_id", Integer),
    Column("operator_name", String(64), nullable=False),
    Column("instance_id", Integer),
    Column("instance_name", String(64)),
    Column("action", String(32), nullable=False),
    Column("target_kind", String(32)),
    Column("target_id", BigInteger),
    Column("outcome", String(16), nullable=False),  # DONE, REFUSED
    Column("detail", String(500)),
    # The per-instance page of the trail, newest first (keyset on id).
    Index("ix_audit_log_instance_id", "instance_id", "id"),
    # What was done to one message (its page in the back office).
    Index("ix_audit_log_target", "target_kind", "target_id"),
)

# Every change a reservation went through, one row per change-sequence number:
# the columns the change wrote (JSON: all of them when the HIS sends the
# appointment, only the status and answer when a patient answers), so the back
# office can show what changed, when and by whom. Written in the same
# transaction as the change, with one bulk INSERT per batch.
reservation_changes = Table(
    "reservation_changes",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("change_seq", BigInteger, primary_key=True),
    # No foreign key: checking one per row would cost every batch a lookup.
    Column("reservation_id", BigInteger, nullable=False),
    Column("changed_at", DateTime, nullable=False),
    Column("changed_by", String(16), nullable=False),  # a domain.reservation.ChangedBy value
    Column("created", Boolean, nullable=False),  # the change that created the reservation
    Column("fields", Text, nullable=False),
    Index("ix_reservation_changes_reservation", "reservation_id", "change_seq"),
)

# Back-office operators: people of the platform, not the HIS's SOAP users. An
# operator sees every instance (``all_instances``) or only those granted.
operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("all_instances", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

operator_instances = Table(
    "operator_instances",
    metadata,
    Column(
        "operator_id", Integer, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("granted_at", DateTime, nullable=False),
)

# Data export files (guide A.1): where an instance's clinic drops its periodic
# export and picks up our cancellations file, how the files are read, and the
# scheduled round's state. Secrets are not stored: ``password_env`` names the
# environment variable holding the password (or the private key's passphrase).
file_sources = Table(
    "file_sources",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("url", String(500), nullable=False),
    Column("username", String(255)),
    Column("password_env", String(100)),
    Column("key_file", String(500)),
    Column("host_key", String(1000)),
    Column("ca_file", String(500)),
    # Which names are exports (shell patterns, blank-separated).
    Column("pattern", String(200), nullable=False),
    # "stable": the same size and time in two listings; "done": a NAME.done marker.
    Column("completion", String(16), nullable=False),
    # NULL: detected in each file.
    Column("delimiter", String(8)),
    Column("encoding", String(32)),
    Column("date_format", String(32)),
    Column("window_ahead_hours", Integer, nullable=False),
    Column("window_past_hours", Integer, nullable=False),
    Column("window_margin_minutes", Integer, nullable=False),
    # The STATUS given to an appointment missing from the next file ("keep": none).
    Column("on_missing", String(32), nullable=False),
    # A file that would cancel more than this share of the window is not trusted.
    Column("max_missing_percent", Integer, nullable=False),
    Column("export_enabled", Boolean, nullable=False),
    Column("export_dir", String(500)),
    Column("export_prefix", String(64), nullable=False),
    Column("export_confirmations", Boolean, nullable=False),
    # The last change-sequence number whose cancellations are in a file.
    Column("export_cursor", BigInteger, nullable=False),
    Column("poll_enabled", Boolean, nullable=False),
    Column("poll_interval_seconds", Integer, nullable=False),
    Column("next_poll_at", DateTime),
    Column("last_success_at", DateTime),
    Column("consecutive_failures", Integer, nullable=False),
    Column("last_error", String(1000)),
    # One round per instance at a time: a lease row, as the clinic poller's.
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime),
    Column("updated_at", DateTime, nullable=False),
)

# Every export file seen: by name, size and checksum, so each is imported once.
# SEEN: listed, waiting to be complete; IMPORTING; DONE; REJECTED (unusable as a
# whole, said in its result file); INTERRUPTED (the process stopped: read again).
file_imports = Table(
    "file_imports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("modified_at", DateTime),
    Column("sha256", String(64)),
    Column("state", String(16), nullable=False),
    Column("seen_at", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("rows", Integer),
    Column("accepted", Integer),
    Column("rejected", Integer),
    Column("created", Integer),
    Column("updated", Integer),
    Column("unchanged", Integer),
    Column("cancelled", Integer),
    Column("encoding", String(32)),
    Column("delimiter", String(8)),
    Column("date_format", String(32)),
    Column("window_start", DateTime),
    Column("window_end", DateTime),
    Column("error", String(1000)),
    Index("ix_file_imports_instance_name", "instance_id", "name"),
)

# The appointments that came from an instance's files, and the last import that
# held each: one missing from the next file (inside its window) was deleted.
file_appointments = Table(
    "file_appointments",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("app_lid", String(50), primary_key=True),
    Column("last_import_id", BigInteger, nullable=False),
)

# Cancellations files written (A.1.2.1): the change-sequence range each holds.
# Recorded before the upload and finished after it, so a file interrupted
# half-way is written again with the same range, never a second one.
file_exports = Table(
    "file_exports",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("after_seq", BigInteger, nullable=False),
    Column("upto_seq", BigInteger, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Index("ix_file_exports_instance_id", "instance_id", "id"),
)

# Campaigns (guide A.6, bulk messages): one row per campaign an operator set up,
# with its texts per language (JSON of {language: {"text", "subject"}}), how its
# list was read (counts only: the file itself is not kept), its rate and quiet
# hours, and when it was started and by whom.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("texts", Text, nullable=False),
    Column("default_language", String(10), nullable=False),
    Column("filters", Text),
    Column("source", String(16), nullable=False),  # FILE or PASTED
    Column("source_name", String(255)),
    Column("rows_read", Integer, nullable=False),
    Column("filtered_out", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("recipients", Integer, nullable=False),
    # The first unusable rows: JSON [[line, why], ...], line numbers and our words.
    Column("problems", Text),
    Column("rate_per_minute", Integer, nullable=False),
    Column("quiet_hours", String(11)),  # "21:00-09:00", the instance's wall clock
    Column("send_after", DateTime),  # not before (UTC); NULL: as soon as started
    Column("state", String(16), nullable=False),  # a domain.campaigns.CampaignState
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("started_at", DateTime),
    Column("started_by", String(64)),
    Column("first_due_at", DateTime),
    Column("last_due_at", DateTime),
    # While QUEUING: who queues its recipients holds this lease; once it runs
    # out (a start cut short), the worker takes over.
    Column("queuing_until", DateTime),
    Index("ix_campaigns_instance_id", "instance_id", "id"),
    Index("ix_campaigns_state", "state"),
)

# Each address of a campaign once (its list's duplicates were dropped), the
# language of its text, and the outbox message it became; OPTED_OUT when the
# address had opted out by the time the campaign started.
campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "campaign_id", BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    ),
    Column("instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("address", String(255), nullable=False),
    Column("language", String(10), nullable=False),
    Column("state", String(16), nullable=False),  # a domain.campaigns.RecipientState
    # No foreign key: the outbox is the busiest table, and checking one per row
    # would cost every start a lookup.
    Column("message_id", BigInteger),
    UniqueConstraint("campaign_id", "address", name="uq_campaign_recipients_campaign_address"),
    Index("ix_campaign_recipients_campaign_id", "campaign_id", "id"),
    # A STOP reply cancels the address's campaign messages still queued.
    Index("ix_campaign_recipients_instance_address", "instance_id", "address"),
)

# Addresses that asked an instance for no more campaigns (an SMS STOP reply, or
# an operator on the patient's behalf): every later campaign skips them.
campaign_opt_outs = Table(
    "campaign_opt_outs",
    metadata,
    Column(
        "instance_id", Integer, ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("address", String(255), primary_key=True),
    Column("source", String(16), nullable=False),  # SMS_STOP or OPERATOR
    Column("created_at", DateTime, nullable=False),
)
