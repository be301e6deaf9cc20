"""The official mainland calendar: public holidays and make-up workdays (调休), maintained by the Admin."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import NO_ID_REUSE, AuditedMixin, Model


class CalendarDay(AuditedMixin, Model):
    """A date that differs from Monday–Friday: a holiday on a weekday, or a workday on a weekend."""

    __tablename__ = "calendar_day"
    __table_args__ = (NO_ID_REUSE,)

    day: Mapped[date] = mapped_column(Date, unique=True, nullable=False)
    is_workday: Mapped[bool] = mapped_column(Boolean, nullable=False)
    name: Mapped[str | None] = mapped_column(String(50))


class CalendarYear(AuditedMixin, Model):
    """A year whose holidays are in the table; a year missing here counts as plain Monday–Friday."""

    __tablename__ = "calendar_year"
    __table_args__ = (NO_ID_REUSE,)

    year: Mapped[int] = mapped_column(unique=True, nullable=False)
    source: Mapped[str] = mapped_column(String(50), nullable=False)
