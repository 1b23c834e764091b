"""day read index: reservations by (instance, day) in change order

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 22:40:00.000000

getReservations of one day orders by change_seq with an app_date filter. With
only (instance_id, app_date) and (instance_id, change_seq) to choose from,
PostgreSQL walked the change_seq index through every other day's rows (1.8 s
for the first page at 10M reservations). (instance_id, app_date, change_seq)
serves the filter and the order at once, and replaces the (instance_id,
app_date) index, of which it is a superset.

A plain CREATE INDEX: Alembic runs each migration in a transaction, where
CREATE INDEX CONCURRENTLY is refused; writes to reservations wait while it builds.
"""

from __future__ import annotations

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(
            'ix_reservations_instance_date_seq',
            ['instance_id', 'app_date', 'change_seq'],
            unique=False,
        )
        batch_op.drop_index('ix_reservations_instance_app_date')


def downgrade() -> None:
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(
            'ix_reservations_instance_app_date', ['instance_id', 'app_date'], unique=False
        )
        batch_op.drop_index('ix_reservations_instance_date_seq')
