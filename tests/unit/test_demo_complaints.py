"""The demo complaints: about 300 over the last six months, every state, approvals pending and decided,
re-handlings, overdue ones, case-library entries; made through the domain (real steps and audit rows),
deterministic, and loaded once."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import audit
from app.demo import DEMO_COMPLAINT_DAYS, DEMO_COMPLAINTS, load_demo
from app.domain import calendar, complaints
from app.extensions import db
from app.models import Approval, AuditLog, CalendarYear, CaseEntry, Complaint, ComplaintStep
from app.models.choices import Channel, ComplaintState, Severity
from tests.conftest import PASSWORD, demo_app


@pytest.fixture(scope="module")
def demo(databases):
    """One database with the demo loaded (the load takes seconds: once for the module)."""
    app = demo_app(databases.new())
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def session(demo):
    with demo.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()


def count(session, *where, of=Complaint.id):
    return session.scalar(select(func.count(of)).where(*where))


def test_about_three_hundred_complaints_over_the_last_six_months(session):
    assert count(session) == DEMO_COMPLAINTS
    now = calendar.local_now()
    first, last = session.execute(select(func.min(Complaint.received_at), func.max(Complaint.received_at))).one()
    assert now - timedelta(days=DEMO_COMPLAINT_DAYS + 1) <= first < now - timedelta(days=120)
    assert now - timedelta(days=2) < last <= now
    channels = set(session.scalars(select(Complaint.channel).distinct()))
    assert channels == {c.value for c in Channel}


def test_every_state_and_severity_is_present(session):
    states = dict(session.execute(select(Complaint.state, func.count()).group_by(Complaint.state)).all())
    assert set(states) == {s.value for s in ComplaintState}
    assert states["fed_back"] > states["received"]
    severities = set(session.scalars(select(Complaint.severity).where(Complaint.severity.is_not(None)).distinct()))
    assert severities == {s.value for s in Severity}


def test_approvals_are_pending_in_the_gm_queue_and_decided(session):
    pending = dict(session.execute(select(Approval.kind, func.count()).where(Approval.state == "pending")
                                   .group_by(Approval.kind)).all())
    assert pending.get("complaint_plan", 0) >= 1 and pending.get("complaint_close", 0) >= 1
    decided = dict(session.execute(select(Approval.state, func.count()).where(Approval.state != "pending")
                                   .group_by(Approval.state)).all())
    assert decided.get("approved", 0) >= 5 and decided.get("rejected", 0) >= 1
    assert set(session.scalars(select(Approval.decided_by_name).where(Approval.state != "pending"))) == {"gm"}
    assert count(session, Approval.requested_by_name == "gm", of=Approval.id) == 0


def test_re_handlings_overdue_complaints_and_case_entries(session):
    assert count(session, Complaint.rehandling_count > 0) >= 3
    rejected = count(session, ComplaintStep.action == "reply", ComplaintStep.to_state == "handling",
                     of=ComplaintStep.id)
    assert rejected == session.scalar(select(func.sum(Complaint.rehandling_count)))
    overdue = count(session, complaints.overdue_clause(calendar.local_now()))
    assert 10 <= overdue < DEMO_COMPLAINTS // 2
    cases = session.scalars(select(CaseEntry).where(CaseEntry.source_table == "complaint")).all()
    assert len(cases) >= 5
    assert all(session.get(Complaint, c.source_id).case_entry_id == c.id for c in cases)


def test_each_complaint_has_its_steps_in_time_order_by_the_right_people(session):
    steps = session.execute(select(ComplaintStep.complaint_id, ComplaintStep.action, ComplaintStep.actor_name,
                                   ComplaintStep.at).order_by(ComplaintStep.complaint_id, ComplaintStep.id)).all()
    received = dict(session.execute(select(Complaint.id, Complaint.received_at)).all())
    now = calendar.local_now()
    by_complaint = {}
    for step in steps:
        by_complaint.setdefault(step.complaint_id, []).append(step)
    assert set(by_complaint) == set(received)
    doers = {"confirm": {"cs_staff", "cs_manager"}, "start_handling": {"eng_staff", "pm_staff", "cs_manager"},
             "close": {"cs_manager"}, "feed_back": {"cs_manager"}, "approve_plan": {"gm"}, "approve_close": {"gm"},
             "reject_plan": {"gm"}, "reject_close": {"gm"}, "assign": {"cs_manager"},
             "close_unresolved": {"cs_manager"}, "approve_unresolved": {"gm"},
             "reject_unresolved": {"gm"}}
    for complaint_id, walk in by_complaint.items():
        assert walk[0].action == "receive" and walk[0].at == received[complaint_id]
        times = [s.at for s in walk]
        assert times == sorted(times) and times[-1] <= now
        for step in walk:
            assert step.actor_name in doers.get(step.action, {"cs_staff", "cs_manager", "eng_staff", "pm_staff"})
    closed = session.execute(select(Complaint.received_at, Complaint.closed_at)
                             .where(Complaint.closed_at.is_not(None))).all()
    assert closed and all(r.received_at < r.closed_at <= now for r in closed)
    assert calendar.local_now.__module__ == "app.domain.calendar"  # the demo clock is gone


def test_the_calendar_is_seeded_and_the_audit_chain_verifies(demo, session):
    assert count(session, of=CalendarYear.id) > 10
    with db.engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert count(session, AuditLog.table_name == "complaint_step", of=AuditLog.id) == \
        count(session, of=ComplaintStep.id)


def test_a_second_load_adds_nothing(demo):
    with demo.app_context():
        before = (count(db.session), count(db.session, of=ComplaintStep.id), count(db.session, of=AuditLog.id))
        report = load_demo(db.session, demo.appbuilder, None)
        after = (count(db.session), count(db.session, of=ComplaintStep.id), count(db.session, of=AuditLog.id))
        db.session.remove()
    assert after == before
    assert f"Complaints: {DEMO_COMPLAINTS} present, none added" in report
    assert any(line.startswith("Customers: 200 present") for line in report)
    assert PASSWORD  # the users keep the password of the first load (no reset without --password)
