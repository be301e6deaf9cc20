"""What a printed copy carries (issue 13, item 5): whether an archived file holds personal data in
full. Such a file may be opened only by a role that may reveal personal data, and opening it is
audited as a reveal.

Copies filed before this revision were printed in full for every role that may reveal, so they are
taken as carrying full data (the column's default, true): the safe side. The archive record is
permanent (no UPDATE), which a column default respects: nothing is rewritten.

Revision ID: 0011_print_content
Revises: 0010_archive_sm3
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_print_content"
down_revision = "0010_archive_sm3"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("archive_record", sa.Column("full_personal_data", sa.Boolean(), nullable=False,
                                              server_default=sa.true()))


def downgrade():
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): a batch would rebuild the permanent table.
    op.drop_column("archive_record", "full_personal_data")
