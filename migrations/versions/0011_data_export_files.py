"""data export files (guide A.1): folders, imported files, file-sourced appointments, cancellations files

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00.000000

``file_sources``: where an instance's clinic drops its export and picks up the
cancellations file (local, FTP, FTPS or SFTP), how files are read, and the
scheduled round's state and lease. No password is stored: ``password_env``
names the environment variable that holds it.

``file_imports``: every file seen, by name, size and SHA-256, so each is
imported once. ``file_appointments``: which appointments came from the
instance's files and the last import that held each (a missing one, inside the
export's window, was deleted in the HIS). ``file_exports``: the cancellations
files written and the change-sequence range each holds.

New tables only: nothing existing is locked or rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _instance_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["instance_id"],
        ["instances.id"],
        name=op.f(f"fk_{table}_instance_id_instances"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "file_sources",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_env", sa.String(length=100), nullable=True),
        sa.Column("key_file", sa.String(length=500), nullable=True),
        sa.Column("host_key", sa.String(length=1000), nullable=True),
        sa.Column("ca_file", sa.String(length=500), nullable=True),
        sa.Column("pattern", sa.String(length=200), nullable=False),
        sa.Column("completion", sa.String(length=16), nullable=False),
        sa.Column("delimiter", sa.String(length=8), nullable=True),
        sa.Column("encoding", sa.String(length=32), nullable=True),
        sa.Column("date_format", sa.String(length=32), nullable=True),
        sa.Column("window_ahead_hours", sa.Integer(), nullable=False),
        sa.Column("window_past_hours", sa.Integer(), nullable=False),
        sa.Column("window_margin_minutes", sa.Integer(), nullable=False),
        sa.Column("on_missing", sa.String(length=32), nullable=False),
        sa.Column("max_missing_percent", sa.Integer(), nullable=False),
        sa.Column("export_enabled", sa.Boolean(), nullable=False),
        sa.Column("export_dir", sa.String(length=500), nullable=True),
        sa.Column("export_prefix", sa.String(length=64), nullable=False),
        sa.Column("export_confirmations", sa.Boolean(), nullable=False),
        sa.Column("export_cursor", sa.BigInteger(), nullable=False),
        sa.Column("poll_enabled", sa.Boolean(), nullable=False),
        sa.Column("poll_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _instance_fk("file_sources"),
        sa.PrimaryKeyConstraint("instance_id", name=op.f("pk_file_sources")),
    )
    op.create_table(
        "file_imports",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("accepted", sa.Integer(), nullable=True),
        sa.Column("rejected", sa.Integer(), nullable=True),
        sa.Column("created", sa.Integer(), nullable=True),
        sa.Column("updated", sa.Integer(), nullable=True),
        sa.Column("unchanged", sa.Integer(), nullable=True),
        sa.Column("cancelled", sa.Integer(), nullable=True),
        sa.Column("encoding", sa.String(length=32), nullable=True),
        sa.Column("delimiter", sa.String(length=8), nullable=True),
        sa.Column("date_format", sa.String(length=32), nullable=True),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("window_end", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        _instance_fk("file_imports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_imports")),
    )
    with op.batch_alter_table("file_imports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_file_imports_instance_name", ["instance_id", "name"], unique=False
        )
    op.create_table(
        "file_appointments",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("app_lid", sa.String(length=50), nullable=False),
        sa.Column("last_import_id", sa.BigInteger(), nullable=False),
        _instance_fk("file_appointments"),
        sa.PrimaryKeyConstraint("instance_id", "app_lid", name=op.f("pk_file_appointments")),
    )
    op.create_table(
        "file_exports",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        sa.Column("upto_seq", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        _instance_fk("file_exports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_exports")),
    )
    with op.batch_alter_table("file_exports", schema=None) as batch_op:
        batch_op.create_index("ix_file_exports_instance_id", ["instance_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("file_exports", schema=None) as batch_op:
        batch_op.drop_index("ix_file_exports_instance_id")
    op.drop_table("file_exports")
    op.drop_table("file_appointments")
    with op.batch_alter_table("file_imports", schema=None) as batch_op:
        batch_op.drop_index("ix_file_imports_instance_name")
    op.drop_table("file_imports")
    op.drop_table("file_sources")
