"""Migration 0007_case_anonymise takes personal data out of case entries made before anonymising."""

from sqlalchemy import text

from tests.conftest import demo_app


def test_existing_case_entries_lose_the_customers_name_phone_and_unit(databases):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    app = demo_app(databases.new(), complaint_count=60)
    with app.app_context():
        row = db.session.execute(text(
            "SELECT e.id, e.version, c.name, c.mobile, p.name AS project, b.name AS building, u.number "
            "FROM case_entry e JOIN complaint k ON k.case_entry_id = e.id JOIN customer c ON c.id = k.customer_id "
            "JOIN unit u ON u.id = k.unit_id JOIN building b ON b.id = u.building_id "
            "JOIN project p ON p.id = b.project_id ORDER BY e.id LIMIT 1")).one()
        unit = f"{row.project}{row.building}{row.number}室"
        # As an entry made before the fix reads: the complaint's content copied with the customer in it.
        old = f"{unit}{row.name}（{row.mobile}）反映卫生间渗水"
        db.session.execute(text("UPDATE case_entry SET description = :d, cause = :c WHERE id = :id"),
                           {"d": old, "c": f"{row.name}家防水层破损", "id": row.id})
        db.session.commit()
        db.session.remove()
        downgrade(revision="0006_auth")
        upgrade()
        entry = db.session.execute(text("SELECT description, cause, version FROM case_entry WHERE id = :id"),
                                   {"id": row.id}).one()
        db.session.remove()
        db.engine.dispose()
    for value in (unit, row.name, row.mobile):
        assert value not in entry.description + entry.cause, (value, entry)
    assert "反映卫生间渗水" in entry.description and "防水层破损" in entry.cause
    assert entry.version == row.version + 1
