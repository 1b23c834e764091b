"""back office: operators, their instance grants, and every reservation change

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00.000000

``operators`` and ``operator_instances``: the back office's own accounts (not
the HIS's SOAP users) and which instances each may see.

``reservation_changes``: one row per change-sequence number, written with the
change, so a reservation's page shows each change it went through. Changes
made before this migration were not recorded (only the current row exists).

``reminder_events.message_id``: the outbox message an event is about.

Three indexes on reservations, (instance, mobile), (instance, landline) and
(instance, lower(e-mail)), serve the search by the patient's number or address (the
numbers and the address messages go to). Plain CREATE
INDEX (Alembic runs each migration in a transaction): writes to reservations
wait while they build.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'operators',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('all_instances', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operators')),
        sa.UniqueConstraint('username', name=op.f('uq_operators_username')),
    )
    op.create_table(
        'operator_instances',
        sa.Column('operator_id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('granted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['instance_id'],
            ['instances.id'],
            name=op.f('fk_operator_instances_instance_id_instances'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['operator_id'],
            ['operators.id'],
            name=op.f('fk_operator_instances_operator_id_operators'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('operator_id', 'instance_id', name=op.f('pk_operator_instances')),
    )
    op.create_table(
        'reservation_changes',
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('change_seq', sa.BigInteger(), nullable=False),
        sa.Column('reservation_id', sa.BigInteger(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.Column('changed_by', sa.String(length=16), nullable=False),
        sa.Column('created', sa.Boolean(), nullable=False),
        sa.Column('fields', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['instance_id'],
            ['instances.id'],
            name=op.f('fk_reservation_changes_instance_id_instances'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('instance_id', 'change_seq', name=op.f('pk_reservation_changes')),
    )
    with op.batch_alter_table('reservation_changes', schema=None) as batch_op:
        batch_op.create_index(
            'ix_reservation_changes_reservation', ['reservation_id', 'change_seq'], unique=False
        )
    with op.batch_alter_table('reminder_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(
            'ix_reservations_instance_mobile', ['instance_id', 'user_mobile_phone'], unique=False
        )
        batch_op.create_index(
            'ix_reservations_instance_landline',
            ['instance_id', 'user_landline_phone'],
            unique=False,
        )
    # (instance, lower(e-mail)): addresses are searched without regard to case.
    op.create_index(
        'ix_reservations_instance_email',
        'reservations',
        ['instance_id', sa.text('lower(user_email)')],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_reservations_instance_email', table_name='reservations')
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_instance_landline')
        batch_op.drop_index('ix_reservations_instance_mobile')
    with op.batch_alter_table('reminder_events', schema=None) as batch_op:
        batch_op.drop_column('message_id')
    with op.batch_alter_table('reservation_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_reservation_changes_reservation')
    op.drop_table('reservation_changes')
    op.drop_table('operator_instances')
    op.drop_table('operators')
