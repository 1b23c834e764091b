"""audit log: what operators did in the back office, and whether it was allowed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000

One row per operator action (retry or cancel a message, re-run a clinic poll,
disable or enable an instance), refused ones included. Operator and instance
are copied by id and name without foreign keys, so the trail outlives a removed
operator or instance. No column holds patient data.

Also an index of failed messages by failure time, for the outbox health page
and the failure metrics ("failed in the last hour / day"). A plain CREATE
INDEX: writes to messages wait while it builds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column(
            'id',
            sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('operator_id', sa.Integer(), nullable=True),
        sa.Column('operator_name', sa.String(length=64), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('instance_name', sa.String(length=64), nullable=True),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('target_kind', sa.String(length=32), nullable=True),
        sa.Column('target_id', sa.BigInteger(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_instance_id', ['instance_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_log_target', ['target_kind', 'target_id'], unique=False)
    # Partial: only failed messages are in it, so sending costs nothing more.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(
            'ix_messages_failed_at',
            ['failed_at'],
            unique=False,
            postgresql_where=sa.text('failed_at IS NOT NULL'),
            sqlite_where=sa.text('failed_at IS NOT NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_failed_at')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_target')
        batch_op.drop_index('ix_audit_log_instance_id')
    op.drop_table('audit_log')
