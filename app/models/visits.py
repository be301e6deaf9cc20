"""Visits (走访), their inspected items, rectification items (整改项) over rounds, the summary report to the
general manager's office, and return visits (回访) of visits, deliveries and move-ins (SPEC §2, §4)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model
from .customers import Customer
from .org import Department


class Visit(AuditedMixin, Model):
    __tablename__ = "visit"
    __table_args__ = (
        Index("ix_visit_state", "state", "planned_at"),
        Index("ix_visit_staff_state", "staff_id", "state"),
        Index("ix_visit_customer", "customer_id"),
        Index("ix_visit_visited_at", "visited_at"),
        Index("ix_visit_unit", "unit_id"),  # the quick search by unit (migration 0013_search)
        NO_ID_REUSE,
    )
    __personal_fields__ = ("contact_phone",)
    __customer_service_only__ = True  # department staff see their rectification items, not the visits

    # 预约 planned
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    contact_role: Mapped[str] = mapped_column(String(20), nullable=False)  # main_contact|property_contact|household
    contact_name: Mapped[str] = mapped_column(String(64), nullable=False)
    contact_post: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(30))
    planned_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    staff_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False)  # who visits (responsible)
    companions: Mapped[str | None] = mapped_column(String(200))  # other visiting staff, by name
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="planned")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 走访 visited
    visited_at: Mapped[datetime | None] = mapped_column(DateTime)
    opinions: Mapped[str | None] = mapped_column(Text)  # the customer's opinions and suggestions
    # 回访 return-visited
    return_visited_at: Mapped[datetime | None] = mapped_column(DateTime)
    return_visit_method: Mapped[str | None] = mapped_column(String(10))
    return_visit_record: Mapped[str | None] = mapped_column(Text)
    effect_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    # 汇总上报 summarised / archived
    summary_id: Mapped[int | None] = mapped_column(ForeignKey("visit_summary.id"))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    items: Mapped[list[VisitItem]] = relationship(back_populates="visit", lazy="select", order_by="VisitItem.seq")
    rectifications: Mapped[list[Rectification]] = relationship(back_populates="visit", lazy="select",
                                                               order_by="Rectification.id")
    # Read-only: return visits are written by the domain through their own rows.
    return_visits: Mapped[list[ReturnVisit]] = relationship(viewonly=True, lazy="select")

    @property
    def number(self) -> str:
        return f"ZF{self.planned_at:%Y}-{self.id:06d}" if self.id and self.planned_at else ""

    def __repr__(self) -> str:
        return self.number or "走访"


class VisitItem(AuditedMixin, Model):
    """One inspected service item of a visit and its result, as recorded on the spot (never changed)."""

    __tablename__ = "visit_item"
    __table_args__ = (Index("ix_visit_item_visit", "visit_id", "seq"), NO_ID_REUSE)
    __permanent__ = True
    __customer_service_only__ = True

    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    service_item: Mapped[str] = mapped_column(String(20), nullable=False)
    opinion: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(20), nullable=False)  # qualified|non_conforming|out_of_scope
    explanation: Mapped[str | None] = mapped_column(Text)  # for out_of_scope: what the customer was told

    visit: Mapped[Visit] = relationship(back_populates="items")


class Rectification(AuditedMixin, Model):
    """The rectification of one non-conforming item: assigned to a department, round after round until
    the customer is satisfied."""

    __tablename__ = "rectification"
    __table_args__ = (
        Index("ix_rectification_department_state", "department_id", "state"),
        Index("ix_rectification_state_deadline", "state", "deadline"),
        Index("ix_rectification_visit", "visit_id"),
        NO_ID_REUSE,
    )
    __department_column__ = "department_id"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("visit_item.id"), nullable=False, unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), nullable=False)
    measure: Mapped[str] = mapped_column(Text, nullable=False)
    responsible_person: Mapped[str] = mapped_column(String(64), nullable=False)
    deadline: Mapped[date] = mapped_column(Date, nullable=False)
    tenant_consulted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    round: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="open")  # open|done|satisfied
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    satisfied_at: Mapped[datetime | None] = mapped_column(DateTime)

    visit: Mapped[Visit] = relationship(back_populates="rectifications")
    item: Mapped[VisitItem] = relationship(lazy="joined", innerjoin=True)
    department: Mapped[Department] = relationship(lazy="joined", innerjoin=True)

    @property
    def number(self) -> str:
        return f"ZG-{self.id:06d}" if self.id else ""

    def __repr__(self) -> str:
        return self.number or "整改项"


class VisitStep(AuditedMixin, Model):
    """One entry per step of a visit or of one of its rectification items: who, when, from -> to, what."""

    __tablename__ = "visit_step"
    __table_args__ = (Index("ix_visit_step_visit", "visit_id", "id"), NO_ID_REUSE)
    __permanent__ = True

    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"), nullable=False)
    rectification_id: Mapped[int | None] = mapped_column(ForeignKey("rectification.id"), index=True)
    round: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    from_state: Mapped[str] = mapped_column(String(20), nullable=False)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    customer_told: Mapped[bool | None] = mapped_column(Boolean)  # progress of a rectification: told the customer?
    data: Mapped[str | None] = mapped_column(Text)  # canonical JSON of the fields the step set


class VisitSummary(AuditedMixin, Model):
    """The summary of the visits of a period, reported to the general manager's office (汇总上报)."""

    __tablename__ = "visit_summary"
    __table_args__ = (Index("ix_visit_summary_state", "state"), NO_ID_REUSE)

    title: Mapped[str] = mapped_column(String(200), nullable=False)
    period_from: Mapped[date] = mapped_column(Date, nullable=False)
    period_to: Mapped[date] = mapped_column(Date, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)  # drafted by the system, edited by the manager
    figures: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON of the counts it was drafted from
    visit_ids: Mapped[str | None] = mapped_column(Text)  # JSON list: the visits it reports (set on submission)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")  # draft|submitted|acknowledged|returned
    comment: Mapped[str | None] = mapped_column(Text)  # the general manager's

    def __repr__(self) -> str:
        return self.title or "走访汇总"


class ReturnVisit(AuditedMixin, Model):
    """A return visit (回访) of a visit's rectifications, of a delivery (交房回访) or of a move-in (入住回访);
    complaints record theirs on the complaint itself (its return_visit step)."""

    __tablename__ = "return_visit"
    __table_args__ = (
        Index("ix_return_visit_state_due", "state", "due_on"),
        Index("ix_return_visit_customer", "customer_id"),
        Index("ix_return_visit_source", "kind", "visit_id", "project_id"),
        Index("ix_return_visit_unit", "unit_id"),  # the quick search by unit (migration 0013_search)
        NO_ID_REUSE,
    )
    __customer_service_only__ = True

    kind: Mapped[str] = mapped_column(String(12), nullable=False)  # visit|delivery|move_in
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    state: Mapped[str] = mapped_column(String(10), nullable=False, default="due")  # due|done
    method: Mapped[str | None] = mapped_column(String(10))
    record: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    effect_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    follow_up: Mapped[str | None] = mapped_column(Text)
    done_by_name: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)

    @property
    def number(self) -> str:
        return f"HF-{self.id:06d}" if self.id else ""

    def __repr__(self) -> str:
        return self.number or "回访"
