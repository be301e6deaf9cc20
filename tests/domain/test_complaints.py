"""The complaint workflow: every (state, action, role) as the transition table says, refusals change
nothing, full runs for a general and a major complaint, re-handling, deadlines in working days."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.domain import approvals, complaints, records
from app.domain.calendar import WorkCalendar
from app.domain.errors import (
    DomainError,
    ForbiddenError,
    StaleRecordError,
    TransitionNotAllowedError,
    ValidationError,
)
from app.models import Approval, CaseEntry, Complaint, ComplaintStep, Customer, Department
from tests.conftest import audit_count

# Valid fields for each action (what a user fills in on that step's form).
GOOD = {
    "confirm": {"confirmed_how": "电话确认，客户认可为有效投诉"},
    "close_invalid": {"invalid_explanation": "属咨询，已向客户解释"},
    "assess": {"severity": "general", "category": "engineering_quality"},
    "assign": {"department_id": None, "assigned_post": "维修主管", "assigned_person": "赵工"},
    "start_handling": {"cause_analysis": "防水层破损", "report": "现场勘查报告", "measures": "重做防水",
                       "handling_person": "赵工", "handling_deadline": "2030-01-31",
                       "deadline_reason": "需等待第三方鉴定"},
    "add_progress": {"progress_note": "已进场施工", "customer_told_how": "电话告知"},
    "reply": {"reply_result": "已修复", "customer_accepted": True, "satisfaction": 4},
    "close": {"department_signed_off": True, "person_signed_off": True},
    "return_visit": {"return_visit_method": "phone", "return_visit_record": "客户表示满意",
                     "return_visit_satisfaction": 5},
    "feed_back": {"root_cause": "施工工艺", "improvement": "加强防水验收"},
}
# The walk that brings a general complaint from received to each state.
PATH = ["confirm", "assess", "assign", "start_handling", "reply", "close", "return_visit", "feed_back"]
STATE_AFTER = {"received": [], "closed_invalid": ["close_invalid"]}
for i, action in enumerate(PATH):
    STATE_AFTER[complaints.STEP_BY_ACTION[action].target] = PATH[: i + 1]


@pytest.fixture
def eng(ctx):
    return ctx.scalar(select(Department).where(Department.code == "ENG"))


def fields(action, eng_department):
    values = dict(GOOD[action])
    if action == "assign":
        values["department_id"] = eng_department.id
    return values


def open_one(session, users):
    customer_id = session.scalar(select(Customer.id).order_by(Customer.id))
    with records.unit_of_work(session):
        return complaints.open_complaint(session, users["cs_staff"], channel="hotline", customer_id=customer_id,
                                         content="卫生间渗水", received_at=datetime(2026, 11, 2, 10, 0))


def walk(session, complaint, actions, users, eng_department):
    for action in actions:
        actor = users["eng_staff"] if action == "start_handling" else users["cs_manager"]
        with records.unit_of_work(session):
            complaints.transition(session, complaint, action, actor, complaint.version,
                                  fields(action, eng_department))
    return complaint


# Which role may take which step in which state: tests/domain/test_workflow_matrix.py (written from SPEC §3).


def test_a_refusal_for_missing_fields_changes_nothing(ctx, users, eng):
    complaint = open_one(ctx, users)
    before = (complaint.version, audit_count(ctx))
    with pytest.raises(ValidationError) as refused:
        complaints.transition(ctx, complaint, "confirm", users["cs_staff"], complaint.version, {})
    assert "confirmed_how" in refused.value.errors
    ctx.rollback()
    assert (ctx.get(Complaint, complaint.id).version, audit_count(ctx)) == before


def test_a_stale_version_is_refused(ctx, users):
    complaint = open_one(ctx, users)
    with pytest.raises(StaleRecordError):
        complaints.transition(ctx, complaint, "confirm", users["cs_staff"], complaint.version + 1,
                              GOOD["confirm"])


def test_unknown_fields_and_bad_values_are_refused(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), ["confirm"], users, eng)
    with pytest.raises(ValidationError) as refused:
        complaints.transition(ctx, complaint, "assess", users["cs_manager"], complaint.version,
                              {"severity": "huge", "category": "engineering_quality", "state": "closed"})
    assert set(refused.value.errors) == {"severity", "state"}


def test_state_cannot_be_written_outside_the_workflow(ctx, users):
    complaint = open_one(ctx, users)
    from app import audit

    with pytest.raises(TransitionNotAllowedError):
        with audit.acting_as(ctx, users["cs_manager"]), records.unit_of_work(ctx):
            complaint.state = "closed"


def test_a_general_complaint_walks_all_nine_steps(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), PATH, users, eng)
    assert complaint.state == "fed_back"
    assert complaint.first_responsible_id == users["cs_staff"].id
    actions = [s.action for s in ctx.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                                               .order_by(ComplaintStep.id))]
    assert actions == ["receive", *PATH]
    assert complaint.closed_at is not None and complaint.return_visit_due_at is not None


def test_a_rejected_reply_goes_back_to_handling_and_counts_a_rehandling(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), PATH[:4], users, eng)
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "reply", users["cs_staff"], complaint.version,
                              {"reply_result": "已处理", "customer_accepted": False, "satisfaction": 2})
    assert (complaint.state, complaint.rehandling_count) == ("handling", 1)
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "reply", users["cs_staff"], complaint.version, GOOD["reply"])
    assert (complaint.state, complaint.rehandling_count) == ("replied", 1)


def test_only_the_first_responsible_person_or_a_manager_replies(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), PATH[:4], users, eng)
    from app import audit

    with audit.acting_as(ctx, users["cs_manager"]), records.unit_of_work(ctx):
        complaint.first_responsible_id = users["cs_manager"].id  # received by someone else
    with pytest.raises(ForbiddenError):
        complaints.transition(ctx, complaint, "reply", users["cs_staff"], complaint.version, GOOD["reply"])


def test_a_major_complaint_waits_for_the_general_manager_twice(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), ["confirm"], users, eng)
    manager, gm = users["cs_manager"], users["gm"]
    with pytest.raises(ValidationError) as refused:
        complaints.transition(ctx, complaint, "assess", manager, complaint.version,
                              {"severity": "major", "category": "engineering_quality"})
    assert set(refused.value.errors) == {"legal_opinion", "handling_plan"}
    ctx.rollback()
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "assess", manager, complaint.version,
                              {"severity": "major", "category": "engineering_quality",
                               "legal_opinion": "法务：应先鉴定", "handling_plan": "第三方鉴定后维修"})
    plan = approvals.pending_for(ctx, complaint, "complaint_plan")
    assert plan is not None and plan.requested_by_id == manager.id
    # Held: cannot be assigned before the plan is approved.
    with pytest.raises(TransitionNotAllowedError):
        complaints.transition(ctx, complaint, "assign", manager, complaint.version, fields("assign", eng))
    # The requester can never approve; only the general manager decides.
    with pytest.raises(ForbiddenError):
        approvals.decide(ctx, plan, "approve", "", manager)
    with records.unit_of_work(ctx):
        approvals.decide(ctx, plan, "approve", "同意", gm)
    assert complaint.plan_approved
    walk(ctx, complaint, ["assign", "start_handling", "reply"], users, eng)
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "close", manager, complaint.version, GOOD["close"])
    assert complaint.state == "replied"  # held for the general manager
    closing = approvals.pending_for(ctx, complaint, "complaint_close")
    with pytest.raises(DomainError):
        complaints.transition(ctx, complaint, "close", manager, complaint.version, GOOD["close"])
    ctx.rollback()
    with records.unit_of_work(ctx):
        approvals.decide(ctx, closing, "approve", "同意关闭", gm)
    assert complaint.state == "closed"
    walk(ctx, complaint, ["return_visit", "feed_back"], users, eng)
    assert complaint.state == "fed_back"


def test_a_rejected_plan_sends_the_complaint_back_to_assessment(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), ["confirm"], users, eng)
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "assess", users["cs_manager"], complaint.version,
                              {"severity": "crisis", "category": "property_management",
                               "legal_opinion": "x", "handling_plan": "y"})
    plan = approvals.pending_for(ctx, complaint, "complaint_plan")
    with pytest.raises(ValidationError):
        approvals.decide(ctx, plan, "reject", "", users["gm"])  # a rejection says why
    with records.unit_of_work(ctx):
        approvals.decide(ctx, plan, "reject", "方案不充分", users["gm"])
    assert complaint.state == "confirmed" and not complaint.plan_approved
    assert ctx.get(Approval, plan.id).comment == "方案不充分"


def test_feed_back_can_create_a_case_library_entry(ctx, users, eng):
    complaint = walk(ctx, open_one(ctx, users), PATH[:-1], users, eng)
    with records.unit_of_work(ctx):
        complaints.transition(ctx, complaint, "feed_back", users["cs_manager"], complaint.version,
                              {**GOOD["feed_back"], "case_title": "卫生间渗水", "case_stage": "delivery",
                               "case_category": "quality", "case_lesson": "交房前闭水试验"})
    case = ctx.get(CaseEntry, complaint.case_entry_id)
    assert case.source_table == "complaint" and case.source_id == complaint.id and case.stage == "delivery"


def test_deadlines_count_working_days_with_holidays_and_make_up_days(ctx, users):
    from app import audit
    from app.domain.calendar import seed_from_chinesecalendar

    with audit.acting_as(ctx, audit.SYSTEM), records.unit_of_work(ctx):
        seed_from_chinesecalendar(ctx, audit.SYSTEM)
    work = WorkCalendar(ctx)
    assert not work.is_workday(date(2026, 10, 1))  # National Day
    assert work.is_workday(date(2026, 9, 20)) or work.is_workday(date(2026, 10, 10))  # a 调休 Sunday/Saturday
    assert work.year_is_known(2026) and not work.year_is_known(2099)
    # Friday 30 Sept 2026 16:00 + 1 working day: the holiday week is skipped.
    due = work.add_working_days(datetime(2026, 9, 30, 16, 0), 1)
    assert due > datetime(2026, 10, 8)
    # Half a working day from Monday 10:00 is Monday 14:30 (office 09:00-18:00).
    assert work.add_working_days(datetime(2026, 11, 2, 10, 0), 0.5) == datetime(2026, 11, 2, 14, 30)
    # An unknown year counts Monday-Friday: Friday 17:00 + 0.5 day -> Monday.
    assert work.add_working_days(datetime(2099, 1, 2, 17, 0), 0.5).date() == date(2099, 1, 5)


def test_overdue_flags_follow_the_state(ctx, users, eng):
    complaint = open_one(ctx, users)
    late = datetime(2026, 11, 30)
    assert "assign" in complaints.overdue_reasons(complaint, late)
    assert ctx.scalar(select(func.count(Complaint.id)).where(Complaint.id == complaint.id,
                                                             complaints.overdue_clause(late))) == 1
    walk(ctx, complaint, PATH, users, eng)
    assert complaints.overdue_reasons(complaint, late) == []


def test_a_complaint_received_in_spring_festival_week_is_due_on_the_first_working_day(ctx, users):
    """The clock is an argument: the test sets the moment, so it passes in any week of the year."""
    from app import audit
    from app.domain import calendar

    with audit.acting_as(ctx, audit.SYSTEM), records.unit_of_work(ctx):
        calendar.seed_from_chinesecalendar(ctx, audit.SYSTEM)
    # Monday 16 Feb 2026, 10:00: the holiday runs 15–23 Feb; Tuesday the 24th is the first working day.
    with calendar.clock_at(datetime(2026, 2, 16, 10, 0)):
        complaint = open_one_now(ctx, users)
    assert complaint.received_at == datetime(2026, 2, 16, 10, 0)
    # One working hour (the default) from before the office opens on the 24th: 10:00 that day.
    assert complaint.acknowledge_due_at == datetime(2026, 2, 24, 10, 0)
    assert "acknowledge" not in complaints.overdue_reasons(complaint, datetime(2026, 2, 23, 23, 59))
    assert "acknowledge" in complaints.overdue_reasons(complaint, datetime(2026, 2, 24, 10, 1))


def open_one_now(session, users):
    customer_id = session.scalar(select(Customer.id).order_by(Customer.id))
    with records.unit_of_work(session):
        return complaints.open_complaint(session, users["cs_staff"], channel="hotline", customer_id=customer_id,
                                         content="春节期间来电：卫生间渗水")
