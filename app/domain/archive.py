"""The permanent archive (SPEC §6): every printed form is filed at the moment it is printed.

`file_form` gives the copy its archive number, builds the PDF with that number and its verification
code on every page, writes the bytes atomically under KEFU_ARCHIVE_DIR and adds the record in the same
transaction. The file is written before the record commits; if the transaction rolls back, the file is
removed again, so the archive never holds a record without its file nor a file half written.

A process killed between linking the file and committing its record (kill -9, power loss) leaves a
file under a number that has no record — and, since the counter rolled back too, the next print gets
that same number. Such a leftover is moved to the quarantine folder (`.quarantine/`, never part of
the archive, never deleted) by whoever next holds that year's counter lock: the next print taking the
number, or `archive verify`. Holding the lock proves no print of that year is in flight, so a file
under a number above the counter's last committed value can only be a leftover. Printing therefore
never stops on a crash, and `archive verify` lists what it finds in quarantine.
Records and files are never changed or deleted: the record is `__permanent__`, the file is written
once (a hard link that fails if the name exists) and made read-only, and on PostgreSQL a trigger
refuses UPDATE, DELETE and TRUNCATE.

The verification code is derived from the archive number and the content printed (the canonical JSON
of the form's data): a made-up number has no record, and a paper whose content was altered no longer
matches the archived file a verifier opens from the code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Callable, Iterator
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
from reports import pdfa

from . import privacy
from .calendar import local_now
from .errors import ConflictError, ForbiddenError, NotFoundError
from .people import display_name
from .records import flush

INCOMING = ".incoming"  # temporary files while a PDF is written; never part of the archive
QUARANTINE = ".quarantine"  # files of prints that never committed (a crash); never part of the archive
PENDING_FILES = "kefu_archive_pending_files"  # session.info: files written by the open transaction
NUMBER = re.compile(r"KF-(\d{4})-(\d{6})")

# Tests set this to stop a real printing process at a named point ("before_link", "after_link",
# "before_commit", "after_commit") and kill it there; nothing else sets it, so in production it is a no-op.
fault_hook: Callable[[str], None] | None = None


def _fault_point(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


# --- numbers and codes ---------------------------------------------------------------------------

def next_number(session: Session, year: int) -> str:
    """The next archive number of the year, e.g. KF-2026-000123. The counter row is locked by the
    UPDATE until the transaction ends, so two printers never get the same number."""
    return f"KF-{year}-{_lock_counter(session, year, ArchiveCounter.last + 1):06d}"


def _lock_counter(session_or_connection, year: int, new_value) -> int:
    """Set the year's counter to `new_value` (an expression of the old one), creating the row if need
    be; the row stays locked until the transaction ends. Returns the value written."""
    moved = session_or_connection.execute(update(ArchiveCounter).where(ArchiveCounter.year == year)
                                          .values(last=new_value).returning(ArchiveCounter.last)).scalar()
    if moved is None:
        dialect = getattr(session_or_connection, "dialect", None) or session_or_connection.get_bind().dialect
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        session_or_connection.execute(upsert(ArchiveCounter).values(year=year, last=0).on_conflict_do_nothing())
        moved = session_or_connection.execute(update(ArchiveCounter).where(ArchiveCounter.year == year)
                                              .values(last=new_value).returning(ArchiveCounter.last)).scalar_one()
    return moved


def content_hash(data) -> str:
    return hashlib.sha256(audit.canonical_json(data).encode()).hexdigest()


def verification_code(number: str, content_sha256: str) -> str:
    digest = hashlib.sha256(f"kefu-archive\n{number}\n{content_sha256}".encode()).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


CODE_FORMAT = re.compile(r"[0-9A-F]{16}")  # 64 bits: not to be guessed, even for a sequential number


def record_for_code(session: Session, number: str, code: str) -> ArchiveRecord | None:
    """The record whose number AND verification code are these, else None — the same None for an
    unknown number, a malformed code and a wrong one, so that the answer tells nothing of the record.
    Spaces, dashes and case in the code as typed do not matter."""
    typed = re.sub(r"[\s-]", "", code or "").upper()
    if not CODE_FORMAT.fullmatch(typed) or not NUMBER.fullmatch((number or "").strip().upper()):
        return None
    record = by_number(session, number.strip().upper())
    if record is None or not hmac.compare_digest(typed, record.verify_code.replace("-", "")):
        return None
    return record


def verify_url(number: str, code: str) -> str:
    return f"{current_app.config['KEFU_PUBLIC_URL']}/verify/{number}?c={code}"


# --- files ----------------------------------------------------------------------------------------

def archive_root() -> Path:
    return Path(current_app.config["KEFU_ARCHIVE_DIR"])


def _write_once(relative: str, data: bytes, number: str | None = None) -> Path:
    """Write the bytes under `relative`: a temporary file (named after the number, so that a leftover
    can be told), flushed and fsynced, then hard-linked into place (which fails if the name exists:
    an archived file is never overwritten)."""
    root = archive_root()
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = root / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f"{number or 'print'}.", suffix=".pdf", dir=incoming)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o444)
        _fault_point("before_link")
        os.link(temp_name, target)
        _fault_point("after_link")
    finally:
        os.unlink(temp_name)
    return target


def _quarantine(root: Path, path: Path) -> str:
    """Move a leftover into the quarantine folder, keeping its place below the root and never
    replacing a file already there (a link fails if the name exists); returns its new relative path."""
    relative = path.relative_to(root)
    folder = root / QUARANTINE / relative.parent
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        name = relative.name if attempt == 0 else f"{path.stem}.{attempt}{path.suffix}"
        try:
            os.link(path, folder / name)
        except FileExistsError:
            continue
        os.unlink(path)
        return (folder / name).relative_to(root).as_posix()
    raise ConflictError(_l("The quarantine folder of the archive is full for %(name)s.", name=relative.name))


def _leftovers_of(root: Path, number: str) -> list[Path]:
    """The files a print of `number` that never committed may have left: the archived name and temps."""
    found = [root / _relative_path(number)]
    incoming = root / INCOMING
    if incoming.is_dir():
        found += sorted(incoming.glob(f"{number}.*"))
    return [path for path in found if path.is_file()]


def _relative_path(number: str) -> str:
    return f"{number[3:7]}/{number}.pdf"


def _set_aside_leftovers(session: Session, number: str) -> list[str]:
    """Called by the print that was just given `number` (so it holds the year's counter lock): any file
    under that number belongs to an earlier print that never committed. A committed record with that
    number would mean the counter went backwards: refuse rather than touch its file."""
    root = archive_root()
    leftovers = _leftovers_of(root, number)
    if not leftovers:
        return []
    if by_number(session, number) is not None:
        raise ConflictError(_l("The archive number %(number)s is already filed: the archive counter is behind.",
                               number=number))
    return [_quarantine(root, path) for path in leftovers]


def _before_commit(session: Session) -> None:
    if session.info.get(PENDING_FILES):
        _fault_point("before_commit")


def _forget_pending(session: Session, *_args) -> None:
    if session.info.pop(PENDING_FILES, None):
        _fault_point("after_commit")


def _remove_pending(session: Session, *_args) -> None:
    """The transaction that wrote these files did not commit: they belong to no record."""
    for path in session.info.pop(PENDING_FILES, ()):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def install(session_class) -> None:
    if not event.contains(session_class, "after_commit", _forget_pending):
        event.listen(session_class, "before_commit", _before_commit)
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
              printed_at: datetime | None = None, full_personal_data: bool = False) -> ArchiveRecord:
    """Print `form` with `data` and file it: returns the new (flushed) archive record. A second print
    of the same form for the same source is a new record whose `previous_id` names the one before.
    `full_personal_data` says the copy carries personal data unmasked (see `open_file`)."""
    printed_at = printed_at or local_now()
    form_name = form.__name__.rsplit(".", 1)[-1]
    source_table = source.__table__.name if source is not None else None
    source_id = source.id if source is not None else None
    number = next_number(session, printed_at.year)
    content_sha256 = content_hash(data)
    code = verification_code(number, content_sha256)
    printed_by = display_name(getattr(actor, "first_name", None), getattr(actor, "last_name", None),
                              getattr(actor, "username", None) or "system")  # a name, not a login
    context = printing.PrintContext(company=current_app.config["COMPANY_NAME"], archive_number=number,
                                    verify_url=verify_url(number, code), verify_code=code,
                                    printed_at=printed_at, printed_by=printed_by,
                                    record=record_label(source_table, source_id, source_label),
                                    retention=ArchiveRecord.retention_text(retention_years))
    printed = printing.build(form, data, context)
    previous = latest_for(session, form_name, source_table, source_id)
    relative = _relative_path(number)
    _set_aside_leftovers(session, number)
    path = _write_once(relative, printed.pdf, number)
    session.info.setdefault(PENDING_FILES, []).append(str(path))
    record = ArchiveRecord(
        number=number, form=form_name, form_code=form.CODE, title=title or form.TITLE,
        source_table=source_table, source_id=source_id, source_label=source_label, file_path=relative,
        sha256=hashlib.sha256(printed.pdf).hexdigest(), sm3=sm3_hex(printed.pdf), size=len(printed.pdf),
        pages=printed.pages,
        content_sha256=content_sha256, verify_code=code, retention_years=retention_years,
        previous_id=previous.id if previous else None, revision=previous.revision + 1 if previous else 1,
        printed_at=printed_at, printed_by_name=printed_by, full_personal_data=full_personal_data,
    )
    with audit.acting_as(session, actor):
        session.add(record)
        flush(session)
    return record


def record_label(source_table: str | None, source_id: int | None, source_label: str | None) -> str:
    """What the PDF's metadata names as the record printed, e.g. `complaint TS2026-000012`."""
    label = source_label or (str(source_id) if source_id is not None else "")
    return f"{source_table} {label}".strip() if source_table else label


def open_file(session: Session, record: ArchiveRecord, actor) -> bytes:
    """The archived file for `actor` to open. A file that carries personal data in full is a reveal:
    only a role that may reveal opens it (403 otherwise), and the opening is audited like a reveal on
    screen. The caller commits."""
    if record.full_personal_data:
        if not privacy.may_reveal(session, actor):
            raise ForbiddenError(_l("This archived copy carries personal data in full: only a role that may "
                                    "reveal personal data may open it."))
        data = read_file(record)
        audit.record_event(session, actor, record, "reveal", {"file": record.number})
        session.flush()
        return data
    return read_file(record)


def read_file(record: ArchiveRecord) -> bytes:
    path = archive_root() / record.file_path
    if not path.is_file():
        raise NotFoundError(_l("The archived file of %(number)s is missing.", number=record.number))
    return path.read_bytes()


def by_number(session: Session, number: str) -> ArchiveRecord | None:
    return session.scalars(select(ArchiveRecord).where(ArchiveRecord.number == number)).first()


# --- checking (DA/T 70: authenticity, integrity, usability; SHA-256 and SM3 fixity) ----------------

def file_state(record: ArchiveRecord) -> str:
    """`ok`, `missing` or `changed`: the stored file against the SHA-256 recorded when it was filed."""
    path = archive_root() / record.file_path
    if not path.is_file():
        return "missing"
    return "ok" if _digests_of(path)[0] == record.sha256 else "changed"


def sm3_hex(data: bytes) -> str:
    """SM3 (GB/T 32905) of the bytes: the archive's second fixity value beside SHA-256."""
    return hashlib.new("sm3", data).hexdigest()


def _digests_of(path: Path) -> tuple[str, str]:
    """(SHA-256, SM3) of the file, read once."""
    sha256, sm3 = hashlib.sha256(), hashlib.new("sm3")
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(block)
            sm3.update(block)
    return sha256.hexdigest(), sm3.hexdigest()


@dataclass
class VerifyResult:
    count: int = 0
    problems: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)  # every file in the quarantine folder
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure

    @property
    def ok(self) -> bool:
        return not self.problems


RECORD_COLUMNS = (ArchiveRecord.number, ArchiveRecord.file_path, ArchiveRecord.sha256, ArchiveRecord.sm3,
                  ArchiveRecord.form_code, ArchiveRecord.retention_years, ArchiveRecord.printed_at)


def verify(connection) -> VerifyResult:
    """Check the archive as DA/T 70 asks; each problem is one line naming the number or file:
    - authenticity: each file's SHA-256 and SM3 match its record, and so do the archive number, form
      code, retention and print time in its XMP metadata;
    - integrity: every record has its file, no file lies in the archive unregistered, and the archive
      numbers of each year run from 1 with no gap (up to the year's counter);
    - usability: each file opens as a PDF, is not encrypted and is identified as PDF/A in its XMP metadata.
    Nothing is changed: records and files are only read."""
    result = VerifyResult()
    registered = set()
    numbers: dict[int, list[int]] = {}
    root = archive_root()
    rows = connection.execution_options(yield_per=2000).execute(select(*RECORD_COLUMNS).order_by(ArchiveRecord.id))
    for row in rows:
        result.count += 1
        registered.add(row.file_path)
        found = NUMBER.fullmatch(row.number)
        if found:
            numbers.setdefault(int(found.group(1)), []).append(int(found.group(2)))
        result.problems += [str(problem) for problem in _check_file(root, row, result)]
    result.problems += [str(problem) for problem in _gaps(connection, numbers)]
    for path in _archived_files(root):
        relative = path.relative_to(root).as_posix()
        if relative not in registered:
            result.problems.append(str(_l("unregistered file in the archive: %(path)s", path=relative)))
    quarantine = root / QUARANTINE
    if quarantine.is_dir():
        result.quarantined = sorted(p.relative_to(root).as_posix() for p in quarantine.rglob("*") if p.is_file())
    return result


def _check_file(root: Path, row, result: VerifyResult) -> list:
    number, relative = row.number, row.file_path
    path = root / relative
    if not path.is_file():
        return [_l("%(number)s: file missing (%(path)s)", number=number, path=relative)]
    problems = []
    sha256, sm3 = _digests_of(path)
    if sha256 != row.sha256:
        problems.append(_l("%(number)s: file changed (%(path)s): its SHA-256 no longer matches the record",
                           number=number, path=relative))
    if row.sm3 is None:
        result.notes.append(str(_l("%(number)s: no SM3 value recorded (its file was missing when SM3 was "
                                   "introduced)", number=number)))
    elif sm3 != row.sm3:
        problems.append(_l("%(number)s: file changed (%(path)s): its SM3 no longer matches the record",
                           number=number, path=relative))
    return problems + _check_pdf(path, row)


def _check_pdf(path: Path, row) -> list:
    """Usability (opens as a PDF, PDF/A-identified) and authenticity of the metadata it carries."""
    import pikepdf

    number, relative = row.number, row.file_path
    try:
        with pikepdf.open(path) as pdf:
            stream = pdf.Root.get("/Metadata")
            packet = stream.read_bytes() if stream is not None else b""
            encrypted = pdf.is_encrypted
    except Exception as exc:  # noqa: BLE001 — whatever the parser says, the file is not usable
        return [_l("%(number)s: the file cannot be read as a PDF (%(path)s): %(error)s", number=number,
                   path=relative, error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)]
    try:
        metadata = pdfa.read_xmp(packet) if packet else {}
    except ValueError:
        metadata = {}  # not XML: no PDF/A identification either
    if encrypted:  # PDF/A forbids it: a key lost is a record lost
        return [_l("%(number)s: the file is encrypted (%(path)s)", number=number, path=relative)]
    if metadata.get("pdfaid:part") != "2" or (metadata.get("pdfaid:conformance") or "").upper() != "B":
        return [_l("%(number)s: the file is not identified as PDF/A-2b in its XMP metadata (%(path)s)",
                   number=number, path=relative)]
    expected = {
        "kefu:ArchiveNumber": number,
        "kefu:FormCode": row.form_code,
        "kefu:Retention": ArchiveRecord.retention_text(row.retention_years),
        "xmp:CreateDate": pdfa.xmp_date(row.printed_at),
    }
    problems = []
    for key, value in expected.items():
        found = metadata.get(key) or ""
        if not (found == value or (key == "kefu:FormCode" and found.startswith(f"{value} "))):
            problems.append(_l("%(number)s: the file's metadata does not match its record: %(field)s is "
                               "«%(found)s», the record says «%(expected)s»", number=number, field=key,
                               found=found, expected=value))
    return problems


def _gaps(connection, numbers: dict[int, list[int]]) -> list:
    """Each run of numbers missing from a year's sequence 1..max(last filed, the year's counter)."""
    counters = dict(connection.execute(select(ArchiveCounter.year, ArchiveCounter.last)).all())
    problems = []
    for year in sorted(set(numbers) | set(counters)):
        present = sorted(set(numbers.get(year, ())))
        top = max(present[-1] if present else 0, counters.get(year) or 0)
        expected, missing = 1, []
        for n in [*present, top + 1]:
            if n > expected:
                missing.append((expected, n - 1))
            expected = max(expected, n + 1)
        for first, last in missing:
            if first == last:
                problems.append(_l("archive number missing (a gap in the sequence): %(number)s",
                                   number=f"KF-{year}-{first:06d}"))
            else:
                problems.append(_l("archive numbers missing (a gap in the sequence): %(first)s to %(last)s",
                                   first=f"KF-{year}-{first:06d}", last=f"KF-{year}-{last:06d}"))
    return problems


def set_aside_leftovers(engine) -> list[str]:
    """Move every file left by a print that never committed into the quarantine folder; returns where
    each went. For each year with a candidate, this takes the year's counter lock (as a print does, in
    a transaction that is rolled back): while it is held no print of that year is in flight, so a file
    under a number above the counter's last committed value, with no record, is a leftover. Any other
    unregistered file is left in place for `verify` to report."""
    root = archive_root()
    candidates: dict[int, list[tuple[str, Path]]] = {}
    for path in [*_archived_files(root), *sorted((root / INCOMING).glob("KF-*"))]:
        found = NUMBER.match(path.name)
        if found:
            candidates.setdefault(int(found.group(1)), []).append((found.group(0), path))
    moved = []
    for year, files in sorted(candidates.items()):
        with engine.connect() as conn:
            with conn.begin() as transaction:
                last = _lock_counter(conn, year, ArchiveCounter.last)
                for number, path in files:
                    if int(number[-6:]) <= last or not path.is_file():
                        continue
                    if conn.execute(select(ArchiveRecord.id).where(ArchiveRecord.number == number)).first():
                        continue
                    moved.append(_quarantine(root, path))
                transaction.rollback()  # the lock was all this transaction was for
    return moved


def _archived_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d not in (INCOMING, QUARANTINE))
        for name in sorted(files):
            yield Path(folder) / name
