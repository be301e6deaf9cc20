"""The case library (案例库): lessons from complaints, visits and return visits."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model
from .org import Department
from .properties import Project


class CaseEntry(AuditedMixin, Model):
    __tablename__ = "case_entry"
    __table_args__ = (Index("ix_case_entry_stage_category", "stage", "category"), NO_ID_REUSE)

    title: Mapped[str] = mapped_column(String(200), nullable=False)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20), nullable=False)
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    photos: Mapped[str | None] = mapped_column(Text)  # attachment references, one per line
    cause: Mapped[str | None] = mapped_column(Text)
    lesson: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    source_table: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column()

    project: Mapped[Project | None] = relationship(lazy="joined")
    department: Mapped[Department | None] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return self.title
