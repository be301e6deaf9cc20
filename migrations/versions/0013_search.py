"""Quick search on the lists (issue 14, item 4): a unit («翠湖花园 2栋 701») is found through an index on
the lists' `unit_id`, and words of a complaint's content through a trigram index (PostgreSQL only, as
the customer names' in 0001: ILIKE '%…%' is served by it).

Revision ID: 0013_search
Revises: 0012_club
"""
from alembic import op

revision = "0013_search"
down_revision = "0012_club"
branch_labels = None
depends_on = None

UNIT_INDEXES = (("ix_complaint_unit", "complaint"), ("ix_visit_unit", "visit"),
                ("ix_return_visit_unit", "return_visit"))


def upgrade():
    for name, table in UNIT_INDEXES:
        op.create_index(name, table, ["unit_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_trgm_complaint_content ON complaint USING gin (content gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_trgm_complaint_content")
    for name, table in UNIT_INDEXES:
        op.drop_index(name, table_name=table)
