"""Complaints (投诉), their step entries, progress entries and evidence attachments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model
from .customers import Customer
from .org import Department


class Complaint(AuditedMixin, Model):
    __tablename__ = "complaint"
    __table_args__ = (
        Index("ix_complaint_state", "state"),
        Index("ix_complaint_received_at", "received_at"),
        Index("ix_complaint_department_state", "department_id", "state"),
        Index("ix_complaint_first_responsible_state", "first_responsible_id", "state"),
        Index("ix_complaint_customer", "customer_id"),
        Index("ix_complaint_closed_at", "closed_at"),  # the monthly statistics' time to close
        Index("ix_complaint_unit", "unit_id"),  # the quick search by unit (migration 0013_search)
        NO_ID_REUSE,
    )
    # Department staff see only the complaints assigned to their department (app.domain.scope).
    __department_column__ = "department_id"

    # 受理 received
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    content: Mapped[str] = mapped_column(Text, nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    state: Mapped[str] = mapped_column(String(20), nullable=False, default="received")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    first_responsible_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False)
    remedy_requested: Mapped[str | None] = mapped_column(Text)  # 诉求: what the customer asks for
    # 受理回执: the customer is told the complaint's number within the set time (ISO 10002)
    acknowledge_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledged_how: Mapped[str | None] = mapped_column(String(10))
    # 确认 confirmed / 无效关闭 closed as invalid
    confirmed_how: Mapped[str | None] = mapped_column(String(200))
    invalid_explanation: Mapped[str | None] = mapped_column(Text)
    # 评估 assessed
    severity: Mapped[str | None] = mapped_column(String(10))
    category: Mapped[str | None] = mapped_column(String(30))
    legal_opinion: Mapped[str | None] = mapped_column(Text)
    handling_plan: Mapped[str | None] = mapped_column(Text)
    plan_approved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # 调查 investigating
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    assigned_post: Mapped[str | None] = mapped_column(String(64))
    assigned_person: Mapped[str | None] = mapped_column(String(64))
    # 处理 handling
    cause_analysis: Mapped[str | None] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[str | None] = mapped_column(Text)
    handling_person: Mapped[str | None] = mapped_column(String(64))
    handling_deadline: Mapped[date | None] = mapped_column(Date)
    # 回复 replied
    reply_result: Mapped[str | None] = mapped_column(Text)
    customer_accepted: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    rehandling_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # 关闭 closed
    department_signed_off: Mapped[bool | None] = mapped_column(Boolean)
    person_signed_off: Mapped[bool | None] = mapped_column(Boolean)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 未解决关闭 closed unresolved: the company's final position and the routes explained to the customer
    unresolved_position: Mapped[str | None] = mapped_column(Text)
    unresolved_routes: Mapped[str | None] = mapped_column(String(120))  # ComplaintRoute codes, by commas
    # 回访 return-visited
    return_visit_method: Mapped[str | None] = mapped_column(String(10))
    return_visit_record: Mapped[str | None] = mapped_column(Text)
    return_visit_satisfaction: Mapped[int | None] = mapped_column(Integer)  # with the result
    return_visit_process_satisfaction: Mapped[int | None] = mapped_column(Integer)  # with how it was handled
    return_visited_at: Mapped[datetime | None] = mapped_column(DateTime)
    # 反馈 fed back
    root_cause: Mapped[str | None] = mapped_column(Text)
    improvement: Mapped[str | None] = mapped_column(Text)
    case_entry_id: Mapped[int | None] = mapped_column(ForeignKey("case_entry.id"))
    # Deadlines (working time, app.domain.calendar), set when the step that starts them is taken.
    assign_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    investigate_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    close_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    return_visit_due_at: Mapped[datetime | None] = mapped_column(DateTime)

    customer: Mapped[Customer] = relationship(lazy="joined", innerjoin=True)
    department: Mapped[Department | None] = relationship(lazy="joined")
    steps: Mapped[list[ComplaintStep]] = relationship(back_populates="complaint", lazy="select",
                                                      order_by="ComplaintStep.id")

    @property
    def number(self) -> str:
        return f"TS{self.received_at:%Y}-{self.id:06d}" if self.id and self.received_at else ""

    def __repr__(self) -> str:
        return self.number or "投诉"


class ComplaintStep(AuditedMixin, Model):
    """One entry per transition: who, when, from -> to, comment, and the fields the step recorded."""

    __tablename__ = "complaint_step"
    __table_args__ = (NO_ID_REUSE,)
    __permanent__ = True

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    from_state: Mapped[str] = mapped_column(String(20), nullable=False)
    to_state: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)  # canonical JSON of the fields the step set

    complaint: Mapped[Complaint] = relationship(back_populates="steps")


class ComplaintAttachment(AuditedMixin, Model):
    """Evidence (images, PDFs): stored under the instance folder by SHA-256, never overwritten or deleted."""

    __tablename__ = "complaint_attachment"
    __table_args__ = (NO_ID_REUSE,)
    __permanent__ = True

    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(50), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    stored_path: Mapped[str] = mapped_column(String(300), nullable=False)
