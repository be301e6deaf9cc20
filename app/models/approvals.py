"""Approval requests (审批): one mechanism for every kind that needs the general manager."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import NO_ID_REUSE, AuditedMixin, Model


class Approval(AuditedMixin, Model):
    __tablename__ = "approval"
    __table_args__ = (
        Index("ix_approval_state", "state", "requested_at"),
        Index("ix_approval_subject", "subject_table", "subject_id"),
        NO_ID_REUSE,
    )

    kind: Mapped[str] = mapped_column(String(40), nullable=False)  # e.g. complaint_plan, complaint_close
    subject_table: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_id: Mapped[int] = mapped_column(Integer, nullable=False)
    summary: Mapped[str] = mapped_column(String(300), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    requested_by_name: Mapped[str] = mapped_column(String(64), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    decided_by_name: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)
