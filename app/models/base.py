"""What every business record carries: id, who/when created and updated, and an optimistic-lock version.

The audit flush hook (app.audit) stamps the who/when columns and writes the audit rows; nothing else
sets them.
"""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

# Columns that are bookkeeping, not content: left out of forms and of the audit diff of an update.
# SQLite reuses the id of a deleted last row unless told not to: a new record would then inherit the
# deleted one's audit history. Every table passes this as its last __table_args__ element.
NO_ID_REUSE = {"sqlite_autoincrement": True}

BOOKKEEPING_COLUMNS = frozenset({"id", "created_at", "created_by_id", "updated_at", "updated_by_id", "version"})


class AuditedMixin:
    """Mix into every business model. Marks it for the audit trail and the optimistic lock."""

    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("ab_user.id"))

    @declared_attr
    def updated_by_id(cls) -> Mapped[int | None]:  # noqa: N805
        return mapped_column(Integer, ForeignKey("ab_user.id"))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}


__all__ = ["Model", "AuditedMixin", "BOOKKEEPING_COLUMNS", "NO_ID_REUSE"]
