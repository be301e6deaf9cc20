"""An index on complaint.closed_at: the monthly statistics select the complaints closed in a month.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 17:30:00

"""
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_closed_at', ['closed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_closed_at')
