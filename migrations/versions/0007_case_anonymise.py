"""Case-library entries made before anonymising (issue 11, item 11): the customer's name, contacts, units
and every phone or ID number are taken out of their text, as app.domain.cases does for new entries.

Entries made from a complaint copied its content, which names the unit (the demo's do too). The audit
rows of their creation keep the old text: audit rows are permanent and are read only by roles that see
complaints anyway. The entries' version moves on, so an edit form opened before refuses to save.

Revision ID: 0007_case_anonymise
Revises: 0006_auth
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0007_case_anonymise"
down_revision = "0006_auth"
branch_labels = None
depends_on = None

TEXT_FIELDS = ("title", "description", "cause", "lesson")


def _people(conn, source_table, source_id):
    """(names, unit labels) behind the entry's source: its customers, their contacts and units."""
    customer_ids, names, unit_ids = set(), set(), set()
    if source_table == "complaint":
        row = conn.execute(sa.text("SELECT customer_id, unit_id FROM complaint WHERE id = :id"),
                           {"id": source_id}).first()
        if row:
            customer_ids.add(row.customer_id)
            unit_ids.add(row.unit_id)
    elif source_table in ("visit", "visit_summary"):
        visit_ids = [source_id]
        if source_table == "visit_summary":
            found = conn.execute(sa.text("SELECT visit_ids FROM visit_summary WHERE id = :id"),
                                 {"id": source_id}).scalar()
            visit_ids = json.loads(found or "[]")
        for visit_id in visit_ids:
            row = conn.execute(sa.text("SELECT customer_id, unit_id, contact_name FROM visit WHERE id = :id"),
                               {"id": visit_id}).first()
            if row:
                customer_ids.add(row.customer_id)
                unit_ids.add(row.unit_id)
                names.add(row.contact_name)
    for customer_id in customer_ids - {None}:
        row = conn.execute(sa.text("SELECT name, main_contact, property_contact FROM customer WHERE id = :id"),
                           {"id": customer_id}).first()
        if row:
            names |= {row.name, row.main_contact, row.property_contact}
        unit_ids |= set(conn.execute(sa.text("SELECT unit_id FROM customer_unit WHERE customer_id = :id"),
                                     {"id": customer_id}).scalars())
    units = []
    for unit_id in unit_ids - {None}:
        row = conn.execute(sa.text(
            "SELECT p.name AS project, b.name AS building, u.number AS number FROM unit u "
            "JOIN building b ON b.id = u.building_id JOIN project p ON p.id = b.project_id WHERE u.id = :id"),
            {"id": unit_id}).first()
        if row:
            for text in (f"{row.project} {row.building} {row.number}", f"{row.project}{row.building}{row.number}",
                         f"{row.building} {row.number}", f"{row.building}{row.number}"):
                units += [text + "室", text]
    return names - {None}, units


def upgrade():
    from app.domain.cases import redact  # the one rule for what is taken out

    conn = op.get_bind()
    entries = conn.execute(sa.text(
        "SELECT id, version, source_table, source_id, title, description, cause, lesson FROM case_entry")).all()
    for entry in entries:
        names, units = _people(conn, entry.source_table, entry.source_id)
        cleaned = {field: redact(getattr(entry, field), names, units) for field in TEXT_FIELDS}
        if any(cleaned[field] != getattr(entry, field) for field in TEXT_FIELDS):
            conn.execute(sa.text(
                "UPDATE case_entry SET title = :title, description = :description, cause = :cause, "
                "lesson = :lesson, version = :version WHERE id = :id"),
                {**cleaned, "version": entry.version + 1, "id": entry.id})


def downgrade():
    pass  # the personal data taken out is not put back
