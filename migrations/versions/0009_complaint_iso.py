"""ISO 10002 / GB/T 19012-2019 on the complaint workflow (issue 12, item 6): the remedy the customer
asks for (诉求), the acknowledgement with the number (受理回执) and its deadline, the closing
unresolved (未解决关闭) with the routes explained, and the satisfaction with how the complaint was
handled, asked apart from the satisfaction with the result.

Complaints received before have no acknowledgement deadline: nothing runs late for them.

Revision ID: 0009_complaint_iso
Revises: 0008_audit_hmac
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_complaint_iso"
down_revision = "0008_audit_hmac"
branch_labels = None
depends_on = None

COLUMNS = (
    ("remedy_requested", sa.Text()),
    ("acknowledge_due_at", sa.DateTime()),
    ("acknowledged_at", sa.DateTime()),
    ("acknowledged_how", sa.String(10)),
    ("unresolved_position", sa.Text()),
    ("unresolved_routes", sa.String(120)),
    ("return_visit_process_satisfaction", sa.Integer()),
)


def upgrade():
    with op.batch_alter_table("complaint") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade():
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): a batch would rebuild the table, which its foreign
    # keys refuse.
    for name, _type in reversed(COLUMNS):
        op.drop_column("complaint", name)
