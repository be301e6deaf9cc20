"""Evidence attachments of a complaint (images and PDFs): checked by content, stored by SHA-256.

An upload can never become a page: the type is the one its content shows (never the name's), the name
keeps the user's words but takes the detected type's extension and loses control characters and
folders, and content that is also a web page (a JPEG or PDF carrying `<html>`/`<script>`, a polyglot)
is refused. Downloads go out as attachments of the detected type with `nosniff`.

A file is stored once under UPLOAD_FOLDER/evidence/<sha256[:2]>/<sha256><ext>, written atomically (a
temporary file in the same folder, flushed and fsynced, then renamed into place) and never
overwritten: the same content uploaded again reuses the stored file. The rows are permanent
(`ComplaintAttachment.__permanent__`): an attachment is never changed or deleted.

Who may add: customer-service staff and managers, and the staff of the department the complaint is
assigned to (the same roles that work on the complaint's steps).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit
from app.models import ComplaintAttachment

from . import scope
from .complaints import CS
from .errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from .records import flush
from .roles import DEPARTMENT_STAFF, role_names

MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_DIR = "evidence"
MAX_FILENAME = 200


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are (by their magic number), or None if not allowed."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
              "application/pdf": ".pdf"}

# What makes bytes render as a page or run script if a browser ever takes them for HTML/SVG/XML. Long,
# unambiguous markers only, searched in the whole file: chance alone does not produce them.
PAGE_MARKERS = re.compile(rb"<(?:!doctype|html|head|body|script|iframe|frame|svg|object|embed|meta|style|"
                          rb"link|base|form|\?xml|x:script)[\s/>]|javascript:", re.IGNORECASE)


def looks_like_a_page(data: bytes) -> bool:
    return PAGE_MARKERS.search(data) is not None


def clean_filename(filename, content_type: str) -> str:
    """The name a file is kept and served under: the user's base name without folders, control,
    format (e.g. right-to-left override) or other unprintable characters, with the extension of the
    type its content was detected as (whatever extension the user gave)."""
    name = os.path.basename(str(filename or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable() and not unicodedata.category(ch).startswith("C"))
    stem = os.path.splitext(name.strip())[0].strip(" .")
    extension = EXTENSIONS[content_type]
    return (stem[:MAX_FILENAME - len(extension)] or "attachment") + extension


def may_add(session, complaint, actor) -> bool:
    roles = role_names(actor)
    if roles & CS:
        return True
    return (DEPARTMENT_STAFF in roles and complaint.department_id is not None
            and complaint.department_id == scope.department_id_of(session, actor))


def upload_root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _store(data: bytes, digest: str, extension: str) -> str:
    """Write the bytes under their hash (once); return the path relative to the upload folder."""
    relative = Path(EVIDENCE_DIR) / digest[:2] / f"{digest}{extension}"
    target = upload_root() / relative
    if target.exists():
        return relative.as_posix()  # same content already stored: never overwrite
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)  # atomic; a concurrent writer of the same hash wrote the same bytes
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
    return relative.as_posix()


def add_attachment(session, complaint, actor, filename, data: bytes) -> ComplaintAttachment:
    """Check and store one evidence file and record it on the complaint (in the caller's transaction)."""
    if not may_add(session, complaint, actor):
        raise ForbiddenError(_l("Only customer service or the department the complaint is assigned to may "
                                "add evidence."))
    if not data:
        raise ValidationError({"file": _l("The file is empty.")})
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": _l("The file is larger than %(size)s MB.", size=MAX_BYTES // (1024 * 1024))})
    content_type = sniff(data)
    if content_type is None:
        raise ValidationError({"file": _l("Only images (PNG, JPEG, GIF, WebP) and PDF files can be attached.")})
    if looks_like_a_page(data):
        raise ValidationError({"file": _l("The file also contains a web page or a script (HTML, SVG, XML); "
                                          "it is not accepted.")})
    digest = hashlib.sha256(data).hexdigest()
    stored_path = _store(data, digest, EXTENSIONS[content_type])
    attachment = ComplaintAttachment(complaint_id=complaint.id, filename=clean_filename(filename, content_type),
                                     content_type=content_type, size=len(data), sha256=digest,
                                     stored_path=stored_path)
    with audit.acting_as(session, actor):
        session.add(attachment)
        flush(session)
    return attachment


def attachments_of(session, complaint) -> list[ComplaintAttachment]:
    return list(session.scalars(select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == complaint.id)
                                .order_by(ComplaintAttachment.id)))


def get_attachment(session, complaint, attachment_id) -> tuple[ComplaintAttachment, Path]:
    """One attachment of this complaint and the absolute path of its file, else NotFoundError."""
    attachment = session.get(ComplaintAttachment, attachment_id)
    if attachment is None or attachment.complaint_id != complaint.id:
        raise NotFoundError()
    path = upload_root() / attachment.stored_path
    if not path.is_file():
        raise NotFoundError(_l("The stored file of this attachment is missing."))
    if not verify_file(attachment, path):
        raise ConflictError(_l("The stored file no longer matches its SHA-256 fingerprint; it is not sent."))
    return attachment, path


def download_name(attachment) -> str:
    """The name a download carries (rows stored before names took the detected extension get it here)."""
    return clean_filename(attachment.filename, attachment.content_type)


def verify_file(attachment, path: Path) -> bool:
    """Does the stored file still hash to what the row recorded?"""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == attachment.sha256
