"""The customer club 客户会 (SPEC §5, issue 15): members and their cards, the points ledger, the annual
activity plan, activities and their attendance. No rules here: app.domain.club holds them.

The ledger is append-only: a wrong row is corrected by a reversing row tied to it (`reverses_id`,
unique: a row is reversed once only). The database refuses UPDATE and DELETE of a ledger row by trigger
(migration 0012), as it does for the archive; `__permanent__` refuses them in the ORM first.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import NO_ID_REUSE, AuditedMixin, Model
from .choices import LabelledEnum
from .customers import Customer


class MemberState(LabelledEnum):
    APPLIED = "applied"
    REVIEWED = "reviewed"
    CARD_ISSUED = "card_issued"
    ACTIVE = "active"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"


MemberState.LABELS = {
    "applied": _l("Applied"), "reviewed": _l("Eligibility reviewed"), "card_issued": _l("Card issued"),
    "active": _l("Active"), "lapsed": _l("Lapsed"), "cancelled": _l("Cancelled"),
}


class PointsKind(LabelledEnum):
    AWARD = "award"
    REDEEM = "redeem"
    ADJUST = "adjust"
    REVERSAL = "reversal"


PointsKind.LABELS = {"award": _l("Award"), "redeem": _l("Redemption"), "adjust": _l("Adjustment"),
                     "reversal": _l("Reversal")}


class PlanState(LabelledEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


PlanState.LABELS = {"draft": _l("Draft"), "submitted": _l("Submitted to the general manager"),
                    "approved": _l("Approved"), "rejected": _l("Rejected")}


class ActivityState(LabelledEnum):
    PROPOSED = "proposed"  # outside the plan: waits for the general manager's own approval
    SCHEDULED = "scheduled"
    HELD = "held"
    AWARDED = "awarded"
    CLOSED = "closed"
    CANCELLED = "cancelled"


ActivityState.LABELS = {
    "proposed": _l("Waiting for the general manager (outside the plan)"), "scheduled": _l("Scheduled"),
    "held": _l("Held"), "awarded": _l("Points awarded"), "closed": _l("Closed"), "cancelled": _l("Cancelled"),
}


class Member(AuditedMixin, Model):
    """A customer's membership: applied → reviewed → card_issued → active → lapsed / cancelled."""

    __tablename__ = "club_member"
    __customer_service_only__ = True
    __table_args__ = (Index("ix_club_member_state", "state"), NO_ID_REUSE)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False, index=True)
    member_number: Mapped[str | None] = mapped_column(String(30), unique=True)
    card_number: Mapped[str | None] = mapped_column(String(30), unique=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="applied")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The eligibility review: who, the result and why.
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    eligible: Mapped[bool | None] = mapped_column(Boolean)
    review_reason: Mapped[str | None] = mapped_column(String(300))
    card_issued_at: Mapped[datetime | None] = mapped_column(DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(300))
    previous_stage: Mapped[str | None] = mapped_column(String(16))  # the customer's stage before 会员
    hobbies: Mapped[str | None] = mapped_column(String(200))
    important_dates: Mapped[str | None] = mapped_column(Text)  # e.g. 生日 03-08, one per line
    remarks: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[Customer] = relationship(lazy="joined")

    @property
    def number(self) -> str:
        return self.member_number or f"#{self.id}"

    def __repr__(self) -> str:
        return f"{self.number} {self.customer.name if self.customer else ''}".strip()


class MemberCard(AuditedMixin, Model):
    """Every card a member was given; a replaced (lost) card is voided, its number never reused."""

    __tablename__ = "club_card"
    __customer_service_only__ = True
    __table_args__ = (NO_ID_REUSE,)

    member_id: Mapped[int] = mapped_column(ForeignKey("club_member.id"), nullable=False, index=True)
    card_number: Mapped[str] = mapped_column(String(30), nullable=False, unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    void_reason: Mapped[str | None] = mapped_column(String(300))


class PointsEntry(AuditedMixin, Model):
    """One row of the points ledger: signed `points` (awards positive, redemptions negative)."""

    __tablename__ = "club_points"
    __customer_service_only__ = True
    __permanent__ = True
    __table_args__ = (
        # An award is made at most once per member and activity: `activity_id` is set for awards only.
        UniqueConstraint("member_id", "activity_id", name="uq_club_points_award"),
        # The balance and a page read the index alone (points in it: the SUM is an index-only scan).
        Index("ix_club_points_member", "member_id", "id", "points"),
        NO_ID_REUSE,
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("club_member.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # award | redeem | adjust | reversal
    points: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str] = mapped_column(String(300), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("club_activity.id"))
    redemption_ref: Mapped[str | None] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("club_points.id"), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)


class ActivityPlan(AuditedMixin, Model):
    """The year's activity plan (themes, times, customer groups, types), approved by the GM."""

    __tablename__ = "club_plan"
    __table_args__ = (NO_ID_REUSE,)

    year: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    items: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: [{theme, month, customer_group, activity_type}]
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_comment: Mapped[str | None] = mapped_column(Text)

    @property
    def number(self) -> str:
        return f"{self.year} {self.title}"

    def __repr__(self) -> str:
        return self.number


class Activity(AuditedMixin, Model):
    """One club activity: scheduled from an approved plan (or approved on its own), held, points
    awarded within 7 days, closed with its summary and evaluation."""

    __tablename__ = "club_activity"
    __table_args__ = (Index("ix_club_activity_state", "state", "starts_at"), NO_ID_REUSE)

    plan_id: Mapped[int | None] = mapped_column(ForeignKey("club_plan.id"), index=True)
    title: Mapped[str] = mapped_column(String(100), nullable=False)
    activity_type: Mapped[str | None] = mapped_column(String(50))
    customer_group: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    place: Mapped[str | None] = mapped_column(String(200))
    responsible_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id"))
    implementation_plan: Mapped[str | None] = mapped_column(Text)
    points: Mapped[int] = mapped_column(Integer, nullable=False, default=0)  # awarded to each attending member
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    state_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    held_at: Mapped[datetime | None] = mapped_column(DateTime)
    award_due_on: Mapped[date | None] = mapped_column(Date)
    awarded_at: Mapped[datetime | None] = mapped_column(DateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    evaluation: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))

    plan: Mapped[ActivityPlan | None] = relationship(lazy="select")

    @property
    def number(self) -> str:
        return f"#{self.id} {self.title}"

    def __repr__(self) -> str:
        return self.title


class Attendance(AuditedMixin, Model):
    """Who came to an activity: a member (by card number or name) or a guest who is a customer."""

    __tablename__ = "club_attendance"
    __table_args__ = (UniqueConstraint("activity_id", "customer_id", name="uq_club_attendance"), NO_ID_REUSE)

    activity_id: Mapped[int] = mapped_column(ForeignKey("club_activity.id"), nullable=False, index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("club_member.id"), index=True)
    card_number: Mapped[str | None] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    recorded_by_name: Mapped[str] = mapped_column(String(64), nullable=False)

    customer: Mapped[Customer] = relationship(lazy="joined")
