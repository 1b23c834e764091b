"""instance disabled: an operator can switch an instance off without deleting it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:40:00.000000

A disabled instance keeps its reservations, messages and users but answers no
SOAP call and sends nothing until it is enabled again. NULL means enabled; the
timestamp says since when it is off.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
