"""Departments and the department each user belongs to."""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model


class Department(AuditedMixin, Model):
    __tablename__ = "department"
    __table_args__ = (NO_ID_REUSE,)

    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # Customer service owns customers; other departments only see what is assigned to them.
    is_customer_service: Mapped[bool] = mapped_column(default=False, nullable=False)

    def __repr__(self) -> str:
        return self.name


class UserDepartment(AuditedMixin, Model):
    """One row per user: the department the user works in (FAB's user table stays FAB's)."""

    __tablename__ = "user_department"
    __table_args__ = (NO_ID_REUSE,)

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), unique=True, nullable=False)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False, index=True)
    post: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(User, foreign_keys=[user_id], lazy="joined")
    department: Mapped[Department] = relationship(Department, lazy="joined")

    def __repr__(self) -> str:
        return f"{self.user} · {self.department}"
