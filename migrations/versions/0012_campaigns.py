"""campaigns (guide A.6, bulk messages): campaigns, their recipients, opt-outs

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 10:00:00.000000

``campaigns``: what an operator set up (texts per language, how the list was
read, rate, quiet hours) and when it was started. ``campaign_recipients``: each
address of a campaign once, its language, and the outbox message it became.
``campaign_opt_outs``: per instance, the addresses that asked for no more
campaigns (an SMS STOP reply, or an operator).

New tables only: nothing existing is locked or rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
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
        "campaigns",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("texts", sa.Text(), nullable=False),
        sa.Column("default_language", sa.String(length=10), nullable=False),
        sa.Column("filters", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("filtered_out", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("quiet_hours", sa.String(length=11), nullable=True),
        sa.Column("send_after", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=True),
        sa.Column("first_due_at", sa.DateTime(), nullable=True),
        sa.Column("last_due_at", sa.DateTime(), nullable=True),
        sa.Column("queuing_until", sa.DateTime(), nullable=True),
        _instance_fk("campaigns"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_campaigns_instance_id", ["instance_id", "id"], unique=False)
        batch_op.create_index("ix_campaigns_state", ["state"], unique=False)
    op.create_table(
        "campaign_recipients",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        _instance_fk("campaign_recipients"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "address", name="uq_campaign_recipients_campaign_address"
        ),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_recipients_campaign_id", ["campaign_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_campaign_recipients_instance_address", ["instance_id", "address"], unique=False
        )
    op.create_table(
        "campaign_opt_outs",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _instance_fk("campaign_opt_outs"),
        sa.PrimaryKeyConstraint("instance_id", "address", name=op.f("pk_campaign_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("campaign_opt_outs")
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_recipients_instance_address")
        batch_op.drop_index("ix_campaign_recipients_campaign_id")
    op.drop_table("campaign_recipients")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_campaigns_state")
        batch_op.drop_index("ix_campaigns_instance_id")
    op.drop_table("campaigns")
