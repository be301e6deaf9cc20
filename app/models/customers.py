"""Customers (客户) and the units they hold."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model
from .properties import Unit


class Customer(AuditedMixin, Model):
    __tablename__ = "customer"
    __table_args__ = (
        Index("ix_customer_name", "name"),
        Index("ix_customer_mobile", "mobile"),
        Index("ix_customer_phone", "phone"),
        Index("ix_customer_id_number", "id_number"),
        Index("ix_customer_stage", "stage"), NO_ID_REUSE)
    # Personal data: masked on every screen, in the API and exports unless revealed (app.domain.privacy).
    __personal_fields__ = ("id_number", "mobile", "phone", "main_contact_phone", "property_contact_phone")
    __customer_service_only__ = True

    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="person")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    gender: Mapped[str | None] = mapped_column(String(8))
    id_number: Mapped[str | None] = mapped_column(String(18))
    mobile: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(16), nullable=False, default="potential")
    # A company's main contact (主要负责人) and property contact (物业联系人).
    main_contact: Mapped[str | None] = mapped_column(String(50))
    main_contact_phone: Mapped[str | None] = mapped_column(String(20))
    property_contact: Mapped[str | None] = mapped_column(String(50))
    property_contact_phone: Mapped[str | None] = mapped_column(String(20))
    certificate_number: Mapped[str | None] = mapped_column(String(50))  # 产权证号
    certificate_issued_on: Mapped[date | None] = mapped_column(Date)
    # Family and profile data.
    birthday: Mapped[date | None] = mapped_column(Date)
    age_band: Mapped[str | None] = mapped_column(String(20))
    income_band: Mapped[str | None] = mapped_column(String(20))
    housing: Mapped[str | None] = mapped_column(String(50))
    education: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str | None] = mapped_column(String(50))
    family: Mapped[str | None] = mapped_column(String(200))
    social_activities: Mapped[str | None] = mapped_column(String(200))
    hobbies: Mapped[str | None] = mapped_column(String(200))
    important_dates: Mapped[str | None] = mapped_column(Text)  # e.g. 结婚纪念日 05-20, one per line
    remarks: Mapped[str | None] = mapped_column(Text)

    units: Mapped[list[CustomerUnit]] = relationship(back_populates="customer", lazy="select")

    @property
    def units_summary(self) -> str:
        return "、".join(cu.unit.label for cu in self.units)

    def __repr__(self) -> str:
        return self.name


class CustomerUnit(AuditedMixin, Model):
    """A unit a customer bought or rents, with the purchase data."""

    __tablename__ = "customer_unit"
    __customer_service_only__ = True
    __table_args__ = (UniqueConstraint("customer_id", "unit_id", name="uq_customer_unit"), NO_ID_REUSE)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False, index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), nullable=False, index=True)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))

    customer: Mapped[Customer] = relationship(back_populates="units", lazy="joined")
    unit: Mapped[Unit] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"{self.customer.name} · {self.unit.label}"
