"""The monthly ledger (KF/QR-05) prints the audit chain's head of the day, and anchors it outside the
database, so that the paper and the anchor log both contradict a later truncation or rewrite."""

import json
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

from app import printing
from app.domain import records

from . import pdf as read


def test_the_ledger_prints_the_audit_head_and_appends_an_anchor(app, ctx, users):
    log = Path(app.config["KEFU_AUDIT_ANCHOR_LOG"])
    before = log.read_text().splitlines() if log.exists() else []
    seq, digest = ctx.execute(text("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")).one()
    with records.unit_of_work(ctx):
        record = printing.print_ledger(ctx, "2026-11", users["cs_manager"], printed_at=datetime(2026, 12, 1, 9))
    added = [json.loads(line) for line in log.read_text().splitlines()[len(before):]]
    assert [(line["seq"], line["hash"]) for line in added] == [(seq, digest)]
    printed = read.text((Path(app.config["KEFU_ARCHIVE_DIR"]) / record.file_path).read_bytes())
    assert "审计链头" in printed
    assert re.search(rf"第\s*{seq}\s*条\s*{digest[:16]}\s*\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d", printed), printed[-800:]


def test_no_ledger_is_filed_when_the_head_cannot_be_anchored(fresh_app):
    from flask_babel import force_locale
    from sqlalchemy import func, select

    from app import audit
    from app.domain.errors import ConflictError
    from app.extensions import db
    from app.models import ArchiveRecord

    log = Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"])
    log.mkdir(parents=True)  # a folder where the log should be
    try:
        with fresh_app.app_context(), force_locale("zh"):
            session = db.session
            try:
                with records.unit_of_work(session):
                    printing.print_ledger(session, "2026-11", audit.SystemActor(None, "tester"))
                raise AssertionError("the ledger was printed without an anchor")
            except ConflictError as err:
                assert str(err).startswith("台帐未打印：审计链头无法写入锚定日志")
            session.rollback()
            assert session.scalar(select(func.count(ArchiveRecord.id))) == 0
            session.remove()
    finally:
        log.rmdir()
