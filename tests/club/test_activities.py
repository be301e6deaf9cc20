"""Plans and activities: scheduled only from an approved plan (or approved on its own), attendance by card
number or name, each attending member awarded once, the award due within 7 days, closing only with the
summary and evaluation."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.domain import approvals
from app.domain.club import activities, members, plans, points
from app.domain.errors import TransitionNotAllowedError, ValidationError
from app.domain.records import unit_of_work
from app.models import Approval

from .conftest import active_member

ITEMS = [{"theme": "端午包粽子", "month": 6, "customer_group": "业主家庭", "activity_type": "亲子"}]


def _approved_plan(session, users, year=2026):
    with unit_of_work(session):
        plan = plans.create(session, users["cs_manager"], year, "年度计划", ITEMS)
    with unit_of_work(session):
        plans.transition(session, plan, "submit", users["cs_manager"], plan.version)
    approval = session.scalars(select(Approval).where(Approval.subject_table == "club_plan",
                                                      Approval.subject_id == plan.id)).one()
    with unit_of_work(session):
        approvals.decide(session, approval, "approve", "同意", users["gm"])
    return plan


def test_scheduling_needs_an_approved_plan(ctx, users):
    staff = users["cs_staff"]
    with unit_of_work(ctx):
        draft = plans.create(ctx, users["cs_manager"], 2026, "草稿计划", ITEMS)
    with pytest.raises(TransitionNotAllowedError) as refused, unit_of_work(ctx):
        activities.schedule(ctx, staff, {"plan_id": draft.id, "title": "x", "starts_at": "2026-06-01 09:00"})
    assert "已批准" in str(refused.value)
    plan = _approved_plan(ctx, users)
    assert plan.state == "approved" and plan.decision_comment == "同意"
    with unit_of_work(ctx):
        activity = activities.schedule(ctx, staff, {"plan_id": plan.id, "title": "包粽子",
                                                    "starts_at": "2026-06-01 09:00", "points": 20})
    assert activity.state == "scheduled"


def test_an_activity_outside_the_plan_waits_for_the_general_manager(ctx, users):
    with unit_of_work(ctx):
        activity = activities.schedule(ctx, users["cs_staff"], {"title": "临时茶话会", "starts_at": "2026-07-01 15:00"})
    assert activity.state == "proposed"
    approval = approvals.pending_for(ctx, activity)
    assert approval is not None and approval.kind == "club_activity"
    with pytest.raises(TransitionNotAllowedError), unit_of_work(ctx):
        activities.record_attendance(ctx, activity, users["cs_staff"], customer_id=activity.id)
    with unit_of_work(ctx):
        approvals.decide(ctx, approval, "approve", "可以", users["gm"])
    assert activity.state == "scheduled"


def test_attendance_awards_and_closing(ctx, users):
    staff = users["cs_staff"]
    plan = _approved_plan(ctx, users)
    one, two = active_member(ctx, staff, "朱甲"), active_member(ctx, staff, "秦乙")
    with unit_of_work(ctx):
        activity = activities.schedule(ctx, staff, {"plan_id": plan.id, "title": "中秋赏月",
                                                    "starts_at": "2026-09-20 19:00", "points": 15})
    with unit_of_work(ctx):
        activities.record_attendance(ctx, activity, staff, card_number=one.card_number)
    with unit_of_work(ctx):
        activities.record_attendance(ctx, activity, staff, name="秦乙")
    with pytest.raises(Exception) as twice, unit_of_work(ctx):
        activities.record_attendance(ctx, activity, staff, card_number=one.card_number)
    assert getattr(twice.value, "status", None) == 409
    with unit_of_work(ctx):
        activities.transition(ctx, activity, "hold", staff, activity.version, {"held_at": "2026-09-20 21:00"})
    assert activity.award_due_on == date(2026, 9, 27)
    with pytest.raises(TransitionNotAllowedError), unit_of_work(ctx):  # points first
        activities.transition(ctx, activity, "close", staff, activity.version, {"summary": "好", "evaluation": "好"})
    with unit_of_work(ctx):
        activities.transition(ctx, activity, "award", staff, activity.version)
    assert points.balance(ctx, one.id) == 15 and points.balance(ctx, two.id) == 15
    with pytest.raises(TransitionNotAllowedError), unit_of_work(ctx):  # the second award
        activities.transition(ctx, activity, "award", staff, activity.version)
    assert points.balance(ctx, one.id) == 15
    with pytest.raises(ValidationError) as refused, unit_of_work(ctx):
        activities.transition(ctx, activity, "close", staff, activity.version, {"evaluation": "效果好"})
    assert set(refused.value.errors) == {"summary"} and activity.state == "awarded"
    with unit_of_work(ctx):
        activities.transition(ctx, activity, "close", staff, activity.version,
                              {"summary": "到场 2 人", "evaluation": "效果好"})
    assert activity.state == "closed" and activity.closed_at is not None


def test_a_replaced_card_no_longer_signs_in(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "尤丙")
    old = member.card_number
    with unit_of_work(ctx):
        members.transition(ctx, member, "replace_card", staff, member.version, {"reason": "遗失"})
    with unit_of_work(ctx):
        activity = activities.schedule(ctx, staff, {"title": "x", "starts_at": "2026-08-01 10:00"})
    activity_state = activity.state
    assert activity_state == "proposed"
    with pytest.raises(ValidationError) as refused:
        activities._member_by_card(ctx, old)
    assert "作废" in str(refused.value)



def test_the_monthly_figures(ctx, users):
    """Everything happens in March 2031 (the domain's clock moved there): a year no other test touches."""
    from datetime import datetime

    from app.domain import calendar
    from app.domain.club import figures

    from .conftest import key

    staff = users["cs_staff"]
    with calendar.clock_at(datetime(2031, 3, 10, 9, 0)):
        plan = _approved_plan(ctx, users, year=2031)
        one = active_member(ctx, staff, "月报甲")
        with unit_of_work(ctx):
            activity = activities.schedule(ctx, staff, {"plan_id": plan.id, "title": "月报活动",
                                                        "starts_at": "2031-03-10 10:00", "points": 8})
            activities.record_attendance(ctx, activity, staff, card_number=one.card_number)
            activities.transition(ctx, activity, "hold", staff, activity.version, {"held_at": "2031-03-10 12:00"})
            activities.transition(ctx, activity, "award", staff, activity.version)
        with unit_of_work(ctx):
            points.change(ctx, one.id, staff, "redeem", 3, "兑换", key("fig"))
    rows = {r["month"]: r for r in figures.monthly(ctx, 2031)}
    february, march, april = rows["2031-02"], rows["2031-03"], rows["2031-04"]
    assert (march["new_members"], march["activities"], march["attendances"]) == (1, 1, 1)
    assert (march["points_awarded"], march["points_redeemed"]) == (8, 3)
    assert march["points_outstanding"] - february["points_outstanding"] == 5
    assert (april["new_members"], april["points_awarded"], april["attendance_rate"]) == (0, 0, None)
    assert march["attendance_rate"] == round(1 / march["active_members"], 4)
