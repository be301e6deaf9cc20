"""The permanent archive (档案): one record per printed copy, its counter, and the lending register."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model


class ArchiveCounter(Model):
    """The last archive number given out in a year (KF-<year>-<n>); the row is locked while it moves."""

    __tablename__ = "archive_counter"
    __table_args__ = (NO_ID_REUSE,)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class ArchiveRecord(AuditedMixin, Model):
    """One printed copy of a form, filed for good: never changed or deleted (a reprint is a new record
    pointing at the one it replaces). The PDF's bytes are stored once and their SHA-256 kept here."""

    __tablename__ = "archive_record"
    __table_args__ = (
        UniqueConstraint("number", name="uq_archive_record_number"),
        Index("ix_archive_record_source", "source_table", "source_id"),
        Index("ix_archive_record_form", "form", "printed_at"),
        NO_ID_REUSE,
    )
    __permanent__ = True

    number: Mapped[str] = mapped_column(String(20), nullable=False)  # KF-2026-000123
    form: Mapped[str] = mapped_column(String(30), nullable=False)  # reports.forms module name
    form_code: Mapped[str] = mapped_column(String(16), nullable=False)  # KF/QR-03
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    source_table: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column(Integer)
    source_label: Mapped[str | None] = mapped_column(String(100))  # e.g. TS2026-000012, 2026-11
    file_path: Mapped[str] = mapped_column(String(300), nullable=False)  # relative to KEFU_ARCHIVE_DIR
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    # SM3 (GB/T 32905) of the same bytes: a second fixity value. NULL only for a record filed before
    # migration 0010 whose file was missing then.
    sm3: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    pages: Mapped[int] = mapped_column(Integer, nullable=False)
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the data printed
    verify_code: Mapped[str] = mapped_column(String(24), nullable=False)
    retention_years: Mapped[int | None] = mapped_column(Integer)  # None: kept permanently (永久)
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("archive_record.id"))
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    printed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    printed_by_name: Mapped[str] = mapped_column(String(64), nullable=False)
    # The copy carries personal data unmasked (a full-data print): opening its file is a reveal. The
    # server default (copies filed before 0011, or a row written without it) is the safe side: true.
    full_personal_data: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                     server_default=sa_true())

    @property
    def retention_label(self) -> str:
        return self.retention_text(self.retention_years)

    @staticmethod
    def retention_text(years: int | None) -> str:
        return "永久" if years is None else f"{years} 年"

    def __repr__(self) -> str:
        return self.number or "档案"


class ArchiveLoan(AuditedMixin, Model):
    """The consultation and lending register (查阅/借阅登记): who, which file, why, when, returned when.
    A loan outside the company (外借) waits for the general manager's approval before it goes out."""

    __tablename__ = "archive_loan"
    __table_args__ = (
        Index("ix_archive_loan_state", "state", "due_on"),
        Index("ix_archive_loan_record", "archive_record_id"),
        NO_ID_REUSE,
    )
    __undeletable__ = True

    archive_record_id: Mapped[int] = mapped_column(ForeignKey("archive_record.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # consultation | loan
    borrower: Mapped[str] = mapped_column(String(64), nullable=False)
    borrower_department: Mapped[str] = mapped_column(String(64), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # requested|rejected|approved|out|returned
    due_on: Mapped[date | None] = mapped_column(Date)
    out_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    registered_by_name: Mapped[str] = mapped_column(String(64), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

    archive_record: Mapped[ArchiveRecord] = relationship(lazy="joined", innerjoin=True)
