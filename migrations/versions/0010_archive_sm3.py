"""A second fixity value for every archived file (issue 13, item 7): SM3 (GB/T 32905) beside SHA-256.

Records filed before get theirs from their file, when the file is in the archive folder
(KEFU_ARCHIVE_DIR) and still has the SHA-256 recorded for it: a value is only ever computed from the
bytes that were filed. Otherwise the column stays NULL and `archive verify` says so (the missing or
changed file is reported by its own check). Archive records refuse UPDATE (0004's triggers): this one
filling of a new column lifts the guard for the duration of the migration's transaction only.

Revision ID: 0010_archive_sm3
Revises: 0009_complaint_iso
"""
import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0010_archive_sm3"
down_revision = "0009_complaint_iso"
branch_labels = None
depends_on = None

SQLITE_UPDATE_GUARD = """
    CREATE TRIGGER archive_record_no_update BEFORE UPDATE ON archive_record
    BEGIN SELECT RAISE(ABORT, 'archive_record is permanent: UPDATE refused'); END
"""


def _archive_root() -> Path | None:
    try:
        from flask import current_app

        return Path(current_app.config["KEFU_ARCHIVE_DIR"])
    except (RuntimeError, KeyError):  # run without the app: nothing to read the files from
        return None


def _digests(path: Path) -> tuple[str, str]:
    sha256, sm3 = hashlib.sha256(), hashlib.new("sm3")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            sm3.update(block)
    return sha256.hexdigest(), sm3.hexdigest()


def _fill(connection) -> None:
    root = _archive_root()
    if root is None or not root.is_dir():
        return
    table = sa.table("archive_record", sa.column("id", sa.Integer), sa.column("file_path", sa.String),
                     sa.column("sha256", sa.String), sa.column("sm3", sa.String))
    values = []
    for id_, relative, sha256 in connection.execute(sa.select(table.c.id, table.c.file_path, table.c.sha256)):
        path = root / relative
        if path.is_file():
            found_sha256, sm3 = _digests(path)
            if found_sha256 == sha256:
                values.append({"row_id": id_, "sm3": sm3})
    if not values:
        return
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE archive_record DISABLE TRIGGER archive_record_permanent")
    else:
        op.execute("DROP TRIGGER IF EXISTS archive_record_no_update")
    connection.execute(table.update().where(table.c.id == sa.bindparam("row_id")).values(sm3=sa.bindparam("sm3")),
                       values)
    if postgresql:
        op.execute("ALTER TABLE archive_record ENABLE TRIGGER archive_record_permanent")
    else:
        op.execute(SQLITE_UPDATE_GUARD)


def upgrade():
    # Plain ALTER TABLE ADD COLUMN: a batch would rebuild the table on SQLite and lose its triggers.
    op.add_column("archive_record", sa.Column("sm3", sa.String(64), nullable=True))
    _fill(op.get_bind())


def downgrade():
    op.drop_column("archive_record", "sm3")
