"""Migration 0010_archive_sm3: records filed before get the SM3 of their file when the file is there and
still has its recorded SHA-256; the guard against changing archive records is back afterwards."""

import hashlib
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import demo_app


def test_existing_records_get_the_sm3_of_their_file(databases):
    from flask_migrate import downgrade, upgrade

    from app import printing
    from app.domain import records
    from app.extensions import db

    app = demo_app(databases.new(), complaint_count=0)
    root = Path(app.config["KEFU_ARCHIVE_DIR"])
    with app.app_context():
        actor = app.appbuilder.sm.find_user(username="cs_staff")
        filed = []
        for _ in range(3):
            with records.unit_of_work(db.session):
                record = printing.print_blank(db.session, "visit_record", actor, printed_at=datetime(2026, 11, 24, 10))
            filed.append((record.id, root / record.file_path))
        db.session.remove()
        downgrade(revision="0009_complaint_iso")
        (kept, kept_path), (gone, gone_path), (changed, changed_path) = filed
        gone_path.unlink()
        os.chmod(changed_path, 0o644)
        changed_path.write_bytes(changed_path.read_bytes() + b"%changed\n")
        upgrade()
        values = dict(db.session.execute(text("SELECT id, sm3 FROM archive_record")).all())
        db.session.remove()
        with pytest.raises(Exception, match="permanent"):
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE archive_record SET sm3 = NULL WHERE id = :id"), {"id": kept})
        assert dict(db.session.execute(text("SELECT id, sm3 FROM archive_record")).all())[kept] == values[kept]
        db.session.remove()
        db.engine.dispose()
    assert values[kept] == hashlib.new("sm3", kept_path.read_bytes()).hexdigest()
    assert values[gone] is None and values[changed] is None
