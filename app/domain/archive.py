"""The permanent archive (SPEC §6): every printed form is filed at the moment it is printed.

`file_form` gives the copy its archive number, builds the PDF with that number and its verification
code on every page, writes the bytes atomically under KEFU_ARCHIVE_DIR and adds the record in the same
transaction. The file is written before the record commits; if the transaction does not commit, the
file is removed again, so the archive never holds a record without its file nor a file half written.
Records and files are never changed or deleted: the record is `__permanent__`, the file is written
once (a hard link that fails if the name exists) and made read-only, and on PostgreSQL a trigger
refuses UPDATE, DELETE and TRUNCATE.

The verification code is derived from the archive number and the content printed (the canonical JSON
of the form's data): a made-up number has no record, and a paper whose content was altered no longer
matches the archived file a verifier opens from the code.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from app import audit
from app.models import ArchiveCounter, ArchiveRecord
from reports import base as printing

from .calendar import local_now
from .errors import NotFoundError
from .records import flush

INCOMING = ".incoming"  # temporary files while a PDF is written; never part of the archive
PENDING_FILES = "kefu_archive_pending_files"  # session.info: files written by the open transaction


# --- numbers and codes ---------------------------------------------------------------------------

def next_number(session: Session, year: int) -> str:
    """The next archive number of the year, e.g. KF-2026-000123. The counter row is locked by the
    UPDATE until the transaction ends, so two printers never get the same number."""
    moved = session.execute(update(ArchiveCounter).where(ArchiveCounter.year == year)
                            .values(last=ArchiveCounter.last + 1).returning(ArchiveCounter.last)).scalar()
    if moved is None:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        session.execute(upsert(ArchiveCounter).values(year=year, last=0).on_conflict_do_nothing())
        moved = session.execute(update(ArchiveCounter).where(ArchiveCounter.year == year)
                                .values(last=ArchiveCounter.last + 1).returning(ArchiveCounter.last)).scalar_one()
    return f"KF-{year}-{moved:06d}"


def content_hash(data) -> str:
    return hashlib.sha256(audit.canonical_json(data).encode()).hexdigest()


def verification_code(number: str, content_sha256: str) -> str:
    digest = hashlib.sha256(f"kefu-archive\n{number}\n{content_sha256}".encode()).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


def verify_url(number: str, code: str) -> str:
    return f"{current_app.config['KEFU_PUBLIC_URL']}/verify/{number}?c={code}"


# --- files ----------------------------------------------------------------------------------------

def archive_root() -> Path:
    return Path(current_app.config["KEFU_ARCHIVE_DIR"])


def _write_once(relative: str, data: bytes) -> Path:
    """Write the bytes under `relative`: a temporary file, flushed and fsynced, then hard-linked into
    place (which fails if the name exists: an archived file is never overwritten)."""
    root = archive_root()
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = root / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix="print-", suffix=".pdf", dir=incoming)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o444)
        os.link(temp_name, target)
    finally:
        os.unlink(temp_name)
    return target


def _forget_pending(session: Session, *_args) -> None:
    session.info.pop(PENDING_FILES, None)


def _remove_pending(session: Session, *_args) -> None:
    """The transaction that wrote these files did not commit: they belong to no record."""
    for path in session.info.pop(PENDING_FILES, ()):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def install(session_class) -> None:
    if not event.contains(session_class, "after_commit", _forget_pending):
        event.listen(session_class, "after_commit", _forget_pending)
        event.listen(session_class, "after_rollback", _remove_pending)


# --- filing a printed form ------------------------------------------------------------------------

def latest_for(session: Session, form: str, source_table: str | None, source_id: int | None) -> ArchiveRecord | None:
    if source_table is None:
        return None
    return session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.form == form, ArchiveRecord.source_table == source_table,
        ArchiveRecord.source_id == source_id).order_by(ArchiveRecord.id.desc()).limit(1)).first()


def file_form(session: Session, form, data: dict, actor, *, source=None, source_label: str | None = None,
              title: str | None = None, retention_years: int | None = None,
              printed_at: datetime | None = None) -> ArchiveRecord:
    """Print `form` with `data` and file it: returns the new (flushed) archive record. A second print
    of the same form for the same source is a new record whose `previous_id` names the one before."""
    printed_at = printed_at or local_now()
    form_name = form.__name__.rsplit(".", 1)[-1]
    source_table = source.__table__.name if source is not None else None
    source_id = source.id if source is not None else None
    number = next_number(session, printed_at.year)
    content_sha256 = content_hash(data)
    code = verification_code(number, content_sha256)
    printed_by = getattr(actor, "username", None) or "system"
    context = printing.PrintContext(company=current_app.config["COMPANY_NAME"], archive_number=number,
                                    verify_url=verify_url(number, code), verify_code=code,
                                    printed_at=printed_at, printed_by=printed_by)
    printed = printing.build(form, data, context)
    previous = latest_for(session, form_name, source_table, source_id)
    relative = f"{printed_at:%Y}/{number}.pdf"
    path = _write_once(relative, printed.pdf)
    session.info.setdefault(PENDING_FILES, []).append(str(path))
    record = ArchiveRecord(
        number=number, form=form_name, form_code=form.CODE, title=title or form.TITLE,
        source_table=source_table, source_id=source_id, source_label=source_label, file_path=relative,
        sha256=hashlib.sha256(printed.pdf).hexdigest(), size=len(printed.pdf), pages=printed.pages,
        content_sha256=content_sha256, verify_code=code, retention_years=retention_years,
        previous_id=previous.id if previous else None, revision=previous.revision + 1 if previous else 1,
        printed_at=printed_at, printed_by_name=printed_by,
    )
    with audit.acting_as(session, actor):
        session.add(record)
        flush(session)
    return record


def read_file(record: ArchiveRecord) -> bytes:
    path = archive_root() / record.file_path
    if not path.is_file():
        raise NotFoundError(_l("The archived file of %(number)s is missing.", number=record.number))
    return path.read_bytes()


def by_number(session: Session, number: str) -> ArchiveRecord | None:
    return session.scalars(select(ArchiveRecord).where(ArchiveRecord.number == number)).first()


# --- checking ---------------------------------------------------------------------------------------

def file_state(record: ArchiveRecord) -> str:
    """`ok`, `missing` or `changed`: the stored file against the SHA-256 recorded when it was filed."""
    path = archive_root() / record.file_path
    if not path.is_file():
        return "missing"
    return "ok" if _sha256_of(path) == record.sha256 else "changed"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class VerifyResult:
    count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(connection) -> VerifyResult:
    """Re-hash every archived file; name each one missing, changed, or lying in the archive unregistered."""
    result = VerifyResult()
    registered = set()
    root = archive_root()
    rows = connection.execution_options(yield_per=2000).execute(
        select(ArchiveRecord.number, ArchiveRecord.file_path, ArchiveRecord.sha256).order_by(ArchiveRecord.id))
    for number, relative, sha256 in rows:
        result.count += 1
        registered.add(relative)
        path = root / relative
        if not path.is_file():
            result.problems.append(f"{number}: file missing ({relative})")
        elif _sha256_of(path) != sha256:
            result.problems.append(f"{number}: file changed ({relative}): its SHA-256 no longer matches")
    for path in _archived_files(root):
        relative = path.relative_to(root).as_posix()
        if relative not in registered:
            result.problems.append(f"unregistered file in the archive: {relative}")
    return result


def _archived_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d != INCOMING)
        for name in sorted(files):
            yield Path(folder) / name
