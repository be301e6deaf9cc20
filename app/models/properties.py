"""Project / building / unit (项目 / 楼栋 / 房号): the property a customer is linked to."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model


class Project(AuditedMixin, Model):
    __tablename__ = "project"
    __table_args__ = (NO_ID_REUSE,)

    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    city: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(200))
    delivery_date: Mapped[date | None] = mapped_column(Date)
    move_in_date: Mapped[date | None] = mapped_column(Date)  # concentrated move-in (入住回访 +3 months)

    buildings: Mapped[list[Building]] = relationship(back_populates="project", lazy="select")

    def __repr__(self) -> str:
        return self.name


class Building(AuditedMixin, Model):
    __tablename__ = "building"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_building_project_name"), NO_ID_REUSE)

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    floors: Mapped[int | None] = mapped_column()

    project: Mapped[Project] = relationship(back_populates="buildings", lazy="joined")
    units: Mapped[list[Unit]] = relationship(back_populates="building", lazy="select")

    def __repr__(self) -> str:
        return f"{self.project.name} {self.name}"


class Unit(AuditedMixin, Model):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("building_id", "number", name="uq_unit_building_number"), NO_ID_REUSE)

    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), nullable=False, index=True)
    number: Mapped[str] = mapped_column(String(20), nullable=False)
    floor: Mapped[int | None] = mapped_column()
    area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))

    building: Mapped[Building] = relationship(back_populates="units", lazy="joined")

    @property
    def label(self) -> str:
        return f"{self.building.project.name} {self.building.name} {self.number}"

    def __repr__(self) -> str:
        return self.label
