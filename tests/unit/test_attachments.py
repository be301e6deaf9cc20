"""Evidence attachments: the type is taken from the content, at most 10 MB, stored once by SHA-256
(atomically, never overwritten), permanent rows, and only customer service or the complaint's own
department may add them."""

import hashlib
import io
import os
import struct
import zlib
from datetime import datetime

import pytest
from sqlalchemy import func, select

from app import audit
from app.domain import attachments, complaints, records
from app.domain.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PermanentRecordError,
    ValidationError,
)
from app.models import ComplaintAttachment, Customer, Department
from tests.conftest import audit_count


def png(seed: int = 0) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"\x00" + bytes([seed % 256, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


SAMPLES = {
    "image/png": png(),
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 20,
    "image/gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "image/webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 14,
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
}
NOT_ALLOWED = [
    b"just text named like a picture",
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"PK\x03\x04 a zip or an office file",
    b"MZ\x90\x00 a windows program",
    b"RIFF\x1a\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
    b"\x89PN",  # a truncated signature
]


@pytest.fixture
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.fixture
def complaint(ctx, users):
    """A complaint assigned to 工程部."""
    customer_id = ctx.scalar(select(Customer.id).order_by(Customer.id))
    eng = ctx.scalar(select(Department).where(Department.code == "ENG"))
    with records.unit_of_work(ctx):
        item = complaints.open_complaint(ctx, users["cs_staff"], channel="hotline", customer_id=customer_id,
                                         content="外墙渗水", received_at=datetime(2026, 11, 2, 10, 0))
    for action, fields in (("confirm", {"confirmed_how": "电话"}),
                           ("assess", {"severity": "general", "category": "engineering_quality"}),
                           ("assign", {"department_id": eng.id, "assigned_post": "主管", "assigned_person": "赵工"})):
        with records.unit_of_work(ctx):
            complaints.transition(ctx, item, action, users["cs_manager"], item.version, fields)
    return item


def _count(session) -> int:
    return session.scalar(select(func.count(ComplaintAttachment.id)))


@pytest.mark.parametrize("content_type", list(SAMPLES))
def test_the_type_comes_from_the_content(content_type):
    assert attachments.sniff(SAMPLES[content_type]) == content_type


@pytest.mark.parametrize("data", NOT_ALLOWED)
def test_other_content_is_not_recognised(data):
    assert attachments.sniff(data) is None


def test_an_image_is_stored_by_its_hash_and_recorded(ctx, users, complaint, uploads):
    data = png(1)
    digest = hashlib.sha256(data).hexdigest()
    before = audit_count(ctx)
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["eng_staff"], "C:\\照片\\现场 1.png", data)
    assert (item.complaint_id, item.filename, item.content_type, item.size, item.sha256) == (
        complaint.id, "现场 1.png", "image/png", len(data), digest)
    assert item.stored_path == f"evidence/{digest[:2]}/{digest}.png"  # the detected type's extension
    stored = uploads / item.stored_path
    assert stored.read_bytes() == data
    assert [p.name for p in stored.parent.iterdir()] == [f"{digest}.png"]  # no temporary file left behind
    assert audit_count(ctx) == before + 1
    assert item.created_by_id == users["eng_staff"].id
    found, path = attachments.get_attachment(ctx, complaint, item.id)
    assert found.id == item.id and path == stored


def test_the_same_content_is_stored_once_and_never_overwritten(ctx, users, complaint, uploads):
    data = png(2)
    with records.unit_of_work(ctx):
        first = attachments.add_attachment(ctx, complaint, users["cs_staff"], "a.png", data)
    stored = uploads / first.stored_path
    stat = stored.stat()
    with records.unit_of_work(ctx):
        second = attachments.add_attachment(ctx, complaint, users["cs_manager"], "b.png", data)
    assert second.id != first.id and second.stored_path == first.stored_path
    assert (stored.stat().st_ino, stored.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


@pytest.mark.parametrize(("name", "data"), [
    ("photo.png", b"just text named like a picture"),
    ("scan.pdf", b"<html>not a pdf</html>"),
    ("empty.png", b""),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * attachments.MAX_BYTES),
])
def test_refused_files_write_nothing(ctx, users, complaint, uploads, name, data):
    before = (_count(ctx), audit_count(ctx))
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx):
            attachments.add_attachment(ctx, complaint, users["eng_staff"], name, data)
    assert set(refused.value.errors) == {"file"}
    assert str(refused.value)
    assert (_count(ctx), audit_count(ctx)) == before
    assert not uploads.exists() or not any(uploads.rglob("*"))


def test_exactly_ten_megabytes_is_accepted(ctx, users, complaint, uploads):
    data = b"%PDF-1.4\n" + b"0" * (attachments.MAX_BYTES - 9)
    assert len(data) == attachments.MAX_BYTES
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "big.pdf", data)
    assert item.size == attachments.MAX_BYTES and item.content_type == "application/pdf"


@pytest.mark.parametrize(("username", "allowed"), [
    ("cs_staff", True), ("cs_manager", True), ("eng_staff", True),
    ("pm_staff", False), ("gm", False), ("auditor", False), ("archivist", False), ("admin", False),
])
def test_who_may_add_evidence(ctx, users, complaint, uploads, username, allowed):
    before = (_count(ctx), audit_count(ctx))
    if allowed:
        with records.unit_of_work(ctx):
            attachments.add_attachment(ctx, complaint, users[username], "p.png", png(3))
        assert _count(ctx) == before[0] + 1
    else:
        with pytest.raises(ForbiddenError):
            attachments.add_attachment(ctx, complaint, users[username], "p.png", png(3))
        ctx.rollback()
        assert (_count(ctx), audit_count(ctx)) == before
        assert not uploads.exists()  # refused before any file is written


def test_a_department_may_not_add_to_a_complaint_not_yet_assigned_to_it(ctx, users, uploads):
    customer_id = ctx.scalar(select(Customer.id).order_by(Customer.id))
    with records.unit_of_work(ctx):
        item = complaints.open_complaint(ctx, users["cs_staff"], channel="online", customer_id=customer_id,
                                         content="噪音", received_at=datetime(2026, 11, 3, 10, 0))
    with pytest.raises(ForbiddenError):
        attachments.add_attachment(ctx, item, users["eng_staff"], "p.png", png(4))


def test_attachments_are_permanent(ctx, users, complaint, uploads):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "p.png", png(5))
    with pytest.raises(PermanentRecordError):
        with audit.acting_as(ctx, users["admin"]), records.unit_of_work(ctx):
            item.filename = "renamed.png"
    with pytest.raises(PermanentRecordError):
        with audit.acting_as(ctx, users["admin"]), records.unit_of_work(ctx):
            ctx.delete(ctx.get(ComplaintAttachment, item.id))
    assert ctx.get(ComplaintAttachment, item.id).filename == "p.png"


def test_a_download_checks_the_file_against_its_hash(ctx, users, complaint, uploads):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "p.png", png(6))
    path = uploads / item.stored_path
    os.chmod(path, 0o600)
    path.write_bytes(png(7))  # tampered on disk
    with pytest.raises(ConflictError):
        attachments.get_attachment(ctx, complaint, item.id)
    path.unlink()
    with pytest.raises(NotFoundError):
        attachments.get_attachment(ctx, complaint, item.id)


def test_an_attachment_belongs_to_its_complaint(ctx, users, complaint, uploads):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "p.png", png(8))
    customer_id = ctx.scalar(select(Customer.id).order_by(Customer.id))
    with records.unit_of_work(ctx):
        other = complaints.open_complaint(ctx, users["cs_staff"], channel="online", customer_id=customer_id,
                                          content="噪音", received_at=datetime(2026, 11, 3, 10, 0))
    with pytest.raises(NotFoundError):
        attachments.get_attachment(ctx, other, item.id)
    with pytest.raises(NotFoundError):
        attachments.get_attachment(ctx, complaint, 10 ** 9)
    assert [a.id for a in attachments.attachments_of(ctx, complaint)] == [item.id]


# --- uploads that cannot become pages (issue 11, item 9) ---------------------------------------------

POLYGLOTS = {  # valid as their magic number says AND as a web page
    "jpeg+html": SAMPLES["image/jpeg"] + b"<html><body><script>alert(document.cookie)</script></body></html>",
    "pdf+html": b"%PDF-1.4\n1 0 obj<<>>endobj\n<html><script>fetch('/api/v1/customer/')</script>\n%%EOF\n",
    "gif+script": b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;<SCRIPT src=//evil.example></SCRIPT>",
    "png+svg": png(7) + b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
    "webp+iframe": SAMPLES["image/webp"] + b"<iframe src=javascript:alert(1)>",
    "pdf+doctype": b"%PDF-1.7\n<!DOCTYPE html><p>hi</p>\n%%EOF",
    "jpeg+xml": SAMPLES["image/jpeg"] + b"<?xml version='1.0'?><x:script xmlns:x='http://www.w3.org/1999/xhtml'>",
    "png+uppercase-html": png(8) + b"<HtMl>\n<ScRiPt\t>alert(1)</script>",
}


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_a_file_that_is_also_a_page_is_refused_and_nothing_is_written(ctx, users, complaint, uploads, kind):
    data = POLYGLOTS[kind]
    assert attachments.sniff(data) is not None  # its magic number alone would let it in
    before = (_count(ctx), audit_count(ctx))
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx):
            attachments.add_attachment(ctx, complaint, users["cs_staff"], f"{kind}.jpg", data)
    assert set(refused.value.errors) == {"file"}
    assert (_count(ctx), audit_count(ctx)) == before
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


def test_ordinary_files_are_not_taken_for_pages(ctx, users, complaint, uploads):
    import random

    noise = random.Random(11).randbytes(2 * 1024 * 1024)  # compressed image data looks like this
    for content_type, data in [*SAMPLES.items(), ("image/jpeg", SAMPLES["image/jpeg"] + noise),
                               ("application/pdf", b"%PDF-1.4\n% <<\n/Type /Page>> <a> < html\n" + noise)]:
        with records.unit_of_work(ctx):
            item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "x", data)
        assert item.content_type == content_type


@pytest.mark.parametrize(("given", "kept"), [
    ("page.html", "page.png"),  # the user's extension never counts
    ("photo.JPG", "photo.png"),
    ("a\x00b.png", "ab.png"),  # NUL
    ("line\r\nbreak\t.png", "linebreak.png"),  # control characters
    ("\x1b[31mred\x07.png", "[31mred.png"),
    ("invoice\u202egnp.html", "invoicegnp.png"),  # a right-to-left override that would show "...lmth.png"
    ("zero\u200bwidth.svg", "zerowidth.png"),
    ("../../etc/passwd", "passwd.png"),  # folders
    ("..\\..\\windows\\win.ini", "win.png"),
    ("/abs/path/x.php.png", "x.php.png"),
    ("..", "attachment.png"),
    (".htaccess", "htaccess.png"),
    ("", "attachment.png"),
    (None, "attachment.png"),
    ("现场照片 1.jpeg", "现场照片 1.png"),
])
def test_names_lose_folders_and_control_characters_and_take_the_detected_extension(
        ctx, users, complaint, uploads, given, kept):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], given, png(3))
    assert item.filename == kept
    assert item.stored_path.endswith(".png") and "/" not in item.stored_path.removeprefix("evidence/")[3:]


def test_a_long_name_keeps_its_extension(ctx, users, complaint, uploads):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "长" * 500 + ".html", SAMPLES["image/gif"])
    assert item.filename == "长" * (attachments.MAX_FILENAME - 4) + ".gif"


def test_a_download_is_an_attachment_of_the_detected_type_under_its_extension(app, api, ctx, complaint, uploads):
    client = api("cs_staff")
    data = png(9)
    sent = client.post(f"/api/v1/complaint/{complaint.id}/attachment",
                       data={"file": (io.BytesIO(data), "report.html", "text/html")},
                       content_type="multipart/form-data")
    assert sent.status_code == 201, sent.get_data(as_text=True)
    item = sent.get_json()["result"]
    assert (item["filename"], item["content_type"]) == ("report.png", "image/png")
    got = client.get(f"/api/v1/complaint/{complaint.id}/attachment/{item['id']}")
    assert got.status_code == 200 and got.data == data
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"] == "attachment; filename=report.png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    polyglot = client.post(f"/api/v1/complaint/{complaint.id}/attachment",
                           data={"file": (io.BytesIO(POLYGLOTS["jpeg+html"]), "x.jpg", "image/jpeg")},
                           content_type="multipart/form-data")
    assert polyglot.status_code == 422 and polyglot.get_json()["message"]


def test_a_row_stored_under_the_users_extension_is_still_served_under_the_detected_one(ctx, users, complaint, uploads):
    with records.unit_of_work(ctx):
        item = attachments.add_attachment(ctx, complaint, users["cs_staff"], "scan.pdf", SAMPLES["application/pdf"])
    legacy = type("Row", (), {"filename": "scan.html", "content_type": "application/pdf"})()  # as rows before
    assert attachments.download_name(legacy) == "scan.pdf" == attachments.download_name(item)
