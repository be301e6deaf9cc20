"""The archive: printing files the copy at once (number, file, SHA-256, retention), a reprint is a new
version pointing at the old one, records and files are never changed or deleted, a transaction that
does not commit leaves no file, and `archive verify` names every problem DA/T 70 asks it to find: a
changed, missing, unreadable or unregistered file, a stripped XMP, metadata of another record, a gap."""

import hashlib
import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from app import printing
from app.domain import archive, records
from app.domain.errors import PermanentRecordError
from app.extensions import db
from app.models import ArchiveRecord, Complaint
from tests.conftest import audit_count, demo_app

from . import pdf as read

PRINTED_AT = datetime(2026, 11, 24, 10, 0)


def a_complaint(session, state="fed_back") -> Complaint:
    return session.scalars(select(Complaint).where(Complaint.state == state).order_by(Complaint.id)).first()


def stored(app, record) -> Path:
    return Path(app.config["KEFU_ARCHIVE_DIR"]) / record.file_path


def test_printing_files_the_copy_with_its_number_hash_and_retention(app, ctx, users):
    complaint = a_complaint(ctx)
    before = audit_count(ctx)
    with records.unit_of_work(ctx):
        record = printing.print_complaint_record(ctx, complaint, users["cs_staff"], full_data=False,
                                                 printed_at=PRINTED_AT)
    assert record.number.startswith("KF-2026-") and len(record.number) == len("KF-2026-000001")
    assert record.form == "complaint_record" and record.form_code == "KF/QR-03"
    assert (record.source_table, record.source_id, record.source_label) == ("complaint", complaint.id, complaint.number)
    assert record.retention_years is None and record.retention_label == "永久"
    data = stored(app, record).read_bytes()
    assert hashlib.sha256(data).hexdigest() == record.sha256 and len(data) == record.size
    assert not os.access(stored(app, record), os.W_OK) or os.geteuid() == 0  # read-only (root may still write)
    assert audit_count(ctx) > before  # the record's insert is in the audit trail
    flat = read.text(data).replace(" ", "")
    for expected in (complaint.number, complaint.customer.name, "客户投诉处理记录表", "KF/QR-03", record.number,
                     record.verify_code, "处理过程记录", "受理"):
        assert expected in flat, expected
    assert complaint.customer.mobile not in flat  # masked for a user who may not reveal it


def test_a_reprint_is_a_new_version_and_keeps_the_old_one(app, ctx, users):
    complaint = a_complaint(ctx, "closed")
    with records.unit_of_work(ctx):
        first = printing.print_complaint_record(ctx, complaint, users["cs_staff"], False, printed_at=PRINTED_AT)
    first_bytes = stored(app, first).read_bytes()
    with records.unit_of_work(ctx):
        second = printing.print_complaint_record(ctx, complaint, users["cs_staff"], False, printed_at=PRINTED_AT)
    assert second.id != first.id and second.number != first.number
    assert second.previous_id == first.id and second.revision == first.revision + 1
    assert stored(app, first).read_bytes() == first_bytes
    assert hashlib.sha256(first_bytes).hexdigest() == first.sha256


def test_the_verification_code_follows_the_number_and_the_content():
    code = archive.verification_code("KF-2026-000001", "a" * 64)
    assert code == archive.verification_code("KF-2026-000001", "a" * 64)
    assert code != archive.verification_code("KF-2026-000002", "a" * 64)
    assert code != archive.verification_code("KF-2026-000001", "b" * 64)


def test_the_qr_code_opens_the_verification_page(app, ctx, users, artifacts):
    complaint = a_complaint(ctx)
    with records.unit_of_work(ctx):
        record = printing.print_complaint_record(ctx, complaint, users["cs_staff"], False, printed_at=PRINTED_AT)
    png = read.first_page_png(stored(app, record), artifacts / "complaint_record")
    assert read.qr_codes(png) == [f"{app.config['KEFU_PUBLIC_URL']}/verify/{record.number}?c={record.verify_code}"]


def test_an_archive_record_is_never_changed_or_deleted(app, ctx, users):
    with records.unit_of_work(ctx):
        record = printing.print_blank(ctx, "visit_record", users["cs_staff"], printed_at=PRINTED_AT)
    record.title = "改过的标题"
    with pytest.raises(PermanentRecordError):
        ctx.flush()
    ctx.rollback()
    ctx.delete(ctx.get(ArchiveRecord, record.id))
    with pytest.raises(PermanentRecordError):
        ctx.flush()
    ctx.rollback()


def test_the_database_refuses_to_change_an_archive_record(app, ctx, users):
    """Triggers on both databases, for a write that bypasses the application (SQL by hand)."""
    with records.unit_of_work(ctx):
        record = printing.print_blank(ctx, "opinion_sheet", users["cs_staff"], printed_at=PRINTED_AT)
    statements = [update(ArchiveRecord).where(ArchiveRecord.id == record.id).values(sha256="0" * 64),
                  text(f"DELETE FROM archive_record WHERE id = {record.id}")]
    if db.engine.dialect.name == "postgresql":
        statements.append(text("TRUNCATE archive_record CASCADE"))
    for statement in statements:
        with pytest.raises(Exception, match="permanent"):
            ctx.execute(statement)
        ctx.rollback()
    assert ctx.get(ArchiveRecord, record.id).sha256 == record.sha256


def test_a_print_that_does_not_commit_leaves_no_file(app, ctx, users):
    archive_dir = Path(app.config["KEFU_ARCHIVE_DIR"])
    before = {p for p in archive_dir.rglob("*.pdf")}
    record = printing.print_blank(ctx, "visit_record", users["cs_staff"], printed_at=PRINTED_AT)
    path = stored(app, record)
    assert path.exists()
    ctx.rollback()
    assert not path.exists()
    assert {p for p in archive_dir.rglob("*.pdf")} == before
    assert not list((archive_dir / archive.INCOMING).iterdir())


def test_an_archived_file_is_never_overwritten(app, ctx, users):
    with records.unit_of_work(ctx):
        record = printing.print_blank(ctx, "visit_record", users["cs_staff"], printed_at=PRINTED_AT)
    with pytest.raises(FileExistsError):
        archive._write_once(record.file_path, b"%PDF- something else")
    assert hashlib.sha256(stored(app, record).read_bytes()).hexdigest() == record.sha256


@pytest.fixture
def own_archive(databases):
    """An app with an archive of its own (so that `archive verify` sees only this test's files)."""
    app = demo_app(databases.new(), complaint_count=0)  # no demo complaints or visits: no demo prints
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def print_four(app):
    """Four filed copies in the app's own archive: their numbers and paths."""
    with app.app_context():
        session = db.session
        actor = app.appbuilder.sm.find_user(username="cs_staff")
        printed = []
        for name in ("visit_record", "opinion_sheet", "visit_record"):
            with records.unit_of_work(session):
                printed.append(printing.print_blank(session, name, actor, printed_at=PRINTED_AT))
        with records.unit_of_work(session):
            printed.append(printing.print_ledger(session, f"{datetime.now():%Y-%m}", actor, printed_at=PRINTED_AT))
        numbers = [r.number for r in printed]
        paths = [stored(app, r) for r in printed]
        session.remove()
    return numbers, paths


def verify(app):
    result = app.test_cli_runner().invoke(args=["archive", "verify"])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def rewrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o644)  # archived files are read-only: the tests tamper by hand
    path.write_bytes(data)


def without_xmp(path: Path) -> bytes:
    """The same PDF with its XMP metadata stream taken out of the catalog (pikepdf rewrites the file)."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(path.read_bytes())) as pdf:
        del pdf.Root["/Metadata"]
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def encrypted(path: Path) -> bytes:
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(path.read_bytes())) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner", user="", R=6))
    return out.getvalue()


def delete_record_by_hand(app, number: str) -> None:
    """What no code of Kefu can do (the triggers refuse it): a row deleted with the guard lifted."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE archive_record DISABLE TRIGGER archive_record_permanent"))
            conn.execute(text("DELETE FROM archive_record WHERE number = :n"), {"n": number})
            conn.execute(text("ALTER TABLE archive_record ENABLE TRIGGER archive_record_permanent"))
        else:
            conn.execute(text("DROP TRIGGER archive_record_no_delete"))
            conn.execute(text("DELETE FROM archive_record WHERE number = :n"), {"n": number})
            conn.execute(text("CREATE TRIGGER archive_record_no_delete BEFORE DELETE ON archive_record "
                              "BEGIN SELECT RAISE(ABORT, 'archive_record is permanent: DELETE refused'); END"))
        db.engine.dispose()


def test_archive_verify_passes_a_sound_archive_and_records_sm3(own_archive):
    numbers, paths = print_four(own_archive)
    result = verify(own_archive)
    assert result.exit_code == 0, result.output
    assert "通过，已检测 4 个文件" in result.output
    with own_archive.app_context():
        for number, path in zip(numbers, paths, strict=False):
            record = archive.by_number(db.session, number)
            assert record.sm3 == hashlib.new("sm3", path.read_bytes()).hexdigest()
        db.session.remove()


def one_byte_changed(path: Path) -> bytes:
    changed = bytearray(path.read_bytes())
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


# Each way of tampering, by hand, with the second of four filed copies (its index 1) and what
# `archive verify` must say about it: the lines it must print (with {n} its number, {p} its path).
TAMPERING = {
    "altered file": (lambda app, n, p: rewrite(p, one_byte_changed(p)),
                     ["{n}：归档文件被改动（{p}）：SHA-256 与登记值不符", "{n}：归档文件被改动（{p}）：SM3 与登记值不符"]),
    "stripped XMP": (lambda app, n, p: rewrite(p, without_xmp(p)),
                     ["{n}：归档文件的 XMP 元数据中没有 PDF/A-2b 标识（{p}）", "{n}：归档文件被改动（{p}）：SHA-256"]),
    "deleted file": (lambda app, n, p: p.unlink(), ["{n}：归档文件缺失（{p}）"]),
    "encrypted file": (lambda app, n, p: rewrite(p, encrypted(p)), ["{n}：归档文件被加密（{p}）"]),
    "not a PDF": (lambda app, n, p: rewrite(p, b"this is no PDF at all"), ["{n}：归档文件无法作为 PDF 读取（{p}）"]),
    "metadata of another number": (
        lambda app, n, p: rewrite(p, p.read_bytes().replace(n.encode(), (n[:-1] + "9").encode())),
        ["{n}：归档文件的元数据与登记不符：kefu:ArchiveNumber 为«" + "{n9}»，登记为«{n}»"]),
    "gap in the numbers": (lambda app, n, p: (delete_record_by_hand(app, n), p.unlink()),
                           ["档案号缺号（编号不连续）：{n}"]),
    "unregistered file": (lambda app, n, p: (p.parent / "KF-2026-000000.pdf").write_bytes(b"%PDF-1.4 not registered"),
                          ["档案目录中有未登记的文件：2026/KF-2026-000000.pdf"]),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_archive_verify_names_each_kind_of_tampering(own_archive, tampering):
    numbers, paths = print_four(own_archive)
    assert verify(own_archive).exit_code == 0
    tamper, expected = TAMPERING[tampering]
    number, path = numbers[1], paths[1]
    tamper(own_archive, number, path)
    result = verify(own_archive)
    assert result.exit_code == 1, result.output
    relative = path.relative_to(own_archive.config["KEFU_ARCHIVE_DIR"]).as_posix()
    for line in expected:
        assert line.format(n=number, p=relative, n9=number[:-1] + "9") in result.output, result.output
    assert "未通过" in result.output
    for other in (numbers[0], numbers[2], numbers[3]):
        assert other not in result.output  # the untouched copies are not named


def test_archive_verify_names_every_problem_at_once(own_archive):
    numbers, paths = print_four(own_archive)
    rewrite(paths[0], one_byte_changed(paths[0]))
    paths[1].unlink()
    (paths[2].parent / "KF-2026-000000.pdf").write_bytes(b"%PDF-1.4 not registered")
    result = verify(own_archive)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith(f"archive verify: {numbers[0]}：归档文件被改动") for line in lines)
    assert any(line.startswith(f"archive verify: {numbers[1]}：归档文件缺失") for line in lines)
    assert "archive verify: 档案目录中有未登记的文件：2026/KF-2026-000000.pdf" in lines
    assert numbers[2] not in result.output and numbers[3] not in result.output


def test_the_record_of_a_major_complaint_shows_the_gms_decisions_and_every_step(app, ctx, users, artifacts):
    complaint = ctx.scalars(select(Complaint).where(Complaint.state == "fed_back", Complaint.severity == "major")
                            .order_by(Complaint.id)).first()
    assert complaint is not None, "the demo data has a major complaint that went through every step"
    with records.unit_of_work(ctx):
        record = printing.print_complaint_record(ctx, complaint, users["cs_manager"], full_data=True,
                                                 printed_at=PRINTED_AT)
    flat = read.text(stored(app, record).read_bytes()).replace(" ", "")
    for expected in ("总经理审批", "同意", "处理方案", "回访", "反馈", complaint.customer.mobile):
        assert expected in flat, expected  # the manager may reveal: the full mobile is printed (and audited)
    read.first_page_png(stored(app, record), artifacts / "complaint_record_major")


def test_the_return_visit_record_carries_the_visit(app, ctx, users, artifacts):
    complaint = a_complaint(ctx, "fed_back")
    with records.unit_of_work(ctx):
        record = printing.print_complaint_return_visit(ctx, complaint, users["cs_staff"], False,
                                                       printed_at=PRINTED_AT)
    assert record.form_code == "KF/QR-04"
    flat = read.text(stored(app, record).read_bytes()).replace(" ", "")
    for expected in ("回访记录表", "投诉回访", complaint.number, complaint.customer.name,
                     complaint.return_visit_record.replace(" ", "")[:10]):
        assert expected in flat, expected
    read.first_page_png(stored(app, record), artifacts / "return_visit")


def test_archive_verify_on_a_database_it_cannot_read_says_so_in_one_line(tmp_path):
    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(f"sqlite:///{tmp_path / 'never-migrated.db'}"))
    result = app.test_cli_runner().invoke(args=["archive", "verify"])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        "archive verify: 失败：无法检测档案：(sqlite3.OperationalError) no such table: archive_record"]
    with app.app_context():
        db.engine.dispose()
