"""Monthly statistics and the ledger, on a handful of complaints received in March 2025 (a month no
other test and no demo complaint uses, and one without public holidays or make-up workdays)."""

from contextlib import nullcontext
from datetime import datetime

import pytest
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import audit
from app.domain import calendar, complaint_stats, complaints, records
from app.domain.errors import ValidationError
from app.models import Building, Customer, Department, Project, Unit

MONTH = "2025-03"
GOOD = {
    "confirm": {"confirmed_how": "电话确认"},
    "close_invalid": {"invalid_explanation": "属咨询"},
    "start_handling": {"cause_analysis": "c", "report": "r", "measures": "m", "handling_person": "p",
                       "handling_deadline": "2025-03-28", "deadline_reason": "待材料"},
    "close": {"department_signed_off": True, "person_signed_off": True},
    "return_visit": {"return_visit_method": "phone", "return_visit_record": "满意", "return_visit_satisfaction": 5},
    "feed_back": {"root_cause": "r", "improvement": "i"},
}


def _open(session, users, when, channel="hotline", content="卫生间渗水", unit_id=None):
    customer_id = session.scalar(select(Customer.id).order_by(Customer.id))
    with records.unit_of_work(session):
        complaint = complaints.open_complaint(session, users["cs_staff"], channel=channel, customer_id=customer_id,
                                              content=content, received_at=when, unit_id=unit_id)
    # 受理回执 at once (its own deadline is tested in test_workflow_matrix / test_iso_steps).
    _step(session, complaint, "acknowledge", users["cs_staff"], acknowledged_how="phone")
    return complaint


def _step(session, complaint, action, actor, **fields):
    # The handling deadline is set in March 2025 (a deadline in the past is refused).
    moment = datetime(2025, 3, 5, 9, 0) if action == "start_handling" else None
    with calendar.clock_at(moment) if moment else nullcontext(), records.unit_of_work(session):
        complaints.transition(session, complaint, action, actor, complaint.version, {**GOOD.get(action, {}), **fields})


def _stamp(session, complaint, actor, closed_at):
    """Close at a chosen moment (the domain stamps "now")."""
    with audit.acting_as(session, actor), records.unit_of_work(session):
        complaint.closed_at = closed_at
        complaint.return_visit_due_at = closed_at.replace(day=closed_at.day + 7)


@pytest.fixture(scope="module")
def march(app):
    """A: full run, closed after 2 days, fed back.        B: rejected once, closed after 7 days (5 working
    days), return visit late.  C: closed as invalid.  D: still received, deadlines past.  E: received on the
    last evening, not yet late at the month's end.  F: received in February, closed in March.
    Made once for the module (they are committed); the tests read them by id."""
    from app.extensions import db
    from tests.conftest import USERNAMES

    with app.app_context():
        s = db.session
        users = {name: app.appbuilder.sm.find_user(username=name) for name in USERNAMES}
        staff, manager = users["cs_staff"], users["cs_manager"]
        eng = s.scalar(select(Department).where(Department.code == "ENG"))
        pm = s.scalar(select(Department).where(Department.code == "PM"))
        unit = s.scalar(select(Unit).order_by(Unit.id))
        a = _open(s, users, datetime(2025, 3, 3, 10, 0), content="一" * 50, unit_id=unit.id)
        b = _open(s, users, datetime(2025, 3, 4, 9, 0))
        c = _open(s, users, datetime(2025, 3, 10, 10, 0), channel="forum")
        d = _open(s, users, datetime(2025, 3, 20, 10, 0), channel="online")
        e = _open(s, users, datetime(2025, 3, 31, 17, 0), channel="mail")
        f = _open(s, users, datetime(2025, 2, 27, 10, 0))

        for complaint, department, worker, category in ((a, eng, users["eng_staff"], "engineering_quality"),
                                                        (b, pm, users["pm_staff"], "property_management"),
                                                        (f, eng, users["eng_staff"], "engineering_quality")):
            _step(s, complaint, "confirm", staff)
            _step(s, complaint, "assess", staff, severity="general", category=category)
            _step(s, complaint, "assign", manager, department_id=department.id, assigned_post="主管",
                  assigned_person="甲")
            _step(s, complaint, "start_handling", worker)
        _step(s, a, "reply", staff, reply_result="好", customer_accepted=True, satisfaction=4)
        _step(s, b, "reply", staff, reply_result="未好", customer_accepted=False, satisfaction=2)
        _step(s, b, "reply", staff, reply_result="好", customer_accepted=True, satisfaction=3)
        _step(s, f, "reply", staff, reply_result="好", customer_accepted=True, satisfaction=5)
        for complaint in (a, b, f):
            _step(s, complaint, "close", manager)
        _step(s, a, "return_visit", staff)
        _step(s, a, "feed_back", manager)
        _step(s, c, "close_invalid", manager)
        _stamp(s, a, manager, datetime(2025, 3, 5, 10, 0))
        _stamp(s, b, manager, datetime(2025, 3, 11, 9, 0))
        _stamp(s, f, manager, datetime(2025, 3, 3, 10, 0))
        made = {"a": a.id, "b": b.id, "c": c.id, "d": d.id, "e": e.id, "f": f.id, "unit": unit.id,
                "eng": eng.name, "pm": pm.name}
        s.remove()
    return made


def test_counts_by_channel_category_severity_department_and_state(ctx, march):
    stats = complaint_stats.monthly(ctx, MONTH)
    assert stats["month"] == MONTH and stats["total"] == 5
    assert stats["from"] == datetime(2025, 3, 1) and stats["to"] == datetime(2025, 4, 1)
    assert stats["as_of"] == datetime(2025, 4, 1)
    assert stats["by_channel"] == {"hotline": 2, "front_desk": 0, "forum": 1, "mail": 1, "online": 1}
    assert stats["by_category"] == {"engineering_quality": 1, "sales_service": 0, "customer_service": 0,
                                    "property_management": 1, "unset": 3}
    assert stats["by_severity"] == {"general": 2, "major": 0, "crisis": 0, "unset": 3}
    assert stats["by_department"][march["eng"]] == 1 and stats["by_department"][march["pm"]] == 1
    assert stats["by_department"]["unset"] == 3 and sum(stats["by_department"].values()) == 5
    assert {k: v for k, v in stats["by_state"].items() if v} == {"fed_back": 1, "closed": 1, "closed_invalid": 1,
                                                                 "received": 2}


def test_time_to_close_satisfaction_overdue_and_rehandling(ctx, march):
    stats = complaint_stats.monthly(ctx, MONTH, ledger=False)
    # Closed in March: A after 2.0 days, F after 4.0 (received in February), B after 7.0.
    assert stats["time_to_close"] == {"closed": 3, "median_days": 4.0, "p90_days": 6.4}
    assert stats["satisfaction"] == {"answers": 2, "average": 3.5}  # A 4, B 3 (its last reply)
    assert stats["return_visit_satisfaction"] == {"answers": 1, "average": 5.0}
    # At the month's end: B's return visit is late, D waits past all its deadlines; E is not late yet.
    assert stats["overdue"]["total"] == 2
    assert {k: v for k, v in stats["overdue"]["by_state"].items() if v} == {"closed": 1, "received": 1}
    assert stats["overdue"]["by_department"][march["pm"]] == 1
    assert stats["overdue"]["by_department"]["unset"] == 1
    assert stats["rehandling"] == {"rehandled": 1, "replied": 2, "rate": 0.5}
    assert "ledger" not in stats


def test_the_ledger_lists_the_months_complaints_in_order(ctx, march):
    from app.models import Complaint

    stats = complaint_stats.monthly(ctx, MONTH)
    ledger = stats["ledger"]
    a, b = ctx.get(Complaint, march["a"]), ctx.get(Complaint, march["b"])
    assert [row["id"] for row in ledger] == [march[k] for k in "abcde"]
    first = ledger[0]
    staff = ctx.get(User, a.first_responsible_id)
    staff_name = staff.first_name + staff.last_name  # the ledger names a person, never a login
    assert staff.username == "cs_staff" and staff_name != "cs_staff"
    unit = ctx.get(Unit, march["unit"])
    building = ctx.get(Building, unit.building_id)
    project = ctx.get(Project, building.project_id)
    assert first == {
        "id": a.id, "number": a.number, "received_at": datetime(2025, 3, 3, 10, 0), "channel": "hotline",
        "customer": ctx.get(Customer, a.customer_id).name, "unit": f"{project.name} {building.name} {unit.number}",
        "category": "engineering_quality", "severity": "general", "summary": "一" * 40,
        "department": march["eng"], "state": "fed_back", "closed_at": datetime(2025, 3, 5, 10, 0),
        "working_days": 2.0, "satisfaction": 4, "overdue": False, "first_responsible": staff_name,
    }
    second = ledger[1]
    assert second["number"] == b.number and second["working_days"] == 5.0 and second["overdue"] is True
    assert second["unit"] is None and second["department"] == march["pm"]
    assert [row["overdue"] for row in ledger] == [False, True, False, True, False]
    # c was closed as invalid (closed_at set, now), d and e are still open.
    assert ledger[2]["working_days"] > 0
    assert [row["working_days"] for row in ledger[3:]] == [None, None]
    page = complaint_stats.monthly(ctx, MONTH, ledger_offset=1, ledger_limit=2)["ledger"]
    assert [row["id"] for row in page] == [b.id, march["c"]]


def test_overdue_is_judged_now_for_the_current_month(ctx):
    now = calendar.local_now()
    stats = complaint_stats.monthly(ctx, f"{now:%Y-%m}", ledger=False)
    assert stats["as_of"] <= calendar.local_now() and stats["as_of"] >= now


def test_an_empty_month(ctx):
    stats = complaint_stats.monthly(ctx, "2001-02")
    assert stats["total"] == 0 and stats["ledger"] == []
    assert stats["time_to_close"] == {"closed": 0, "median_days": None, "p90_days": None}
    assert stats["satisfaction"]["average"] is None and stats["rehandling"]["rate"] is None


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-3", "25-03", "", "march", "2025-03-01", None])
def test_a_bad_month_is_refused(ctx, month):
    with pytest.raises(ValidationError) as refused:
        complaint_stats.monthly(ctx, month)
    assert "month" in refused.value.errors


def test_month_bounds_cross_the_year():
    assert complaint_stats.month_bounds("2026-12") == (datetime(2026, 12, 1), datetime(2027, 1, 1))


def test_percentiles_interpolate():
    assert complaint_stats.percentile([], 0.5) is None
    assert complaint_stats.percentile([3.0], 0.9) == 3.0
    assert complaint_stats.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert complaint_stats.percentile([float(i) for i in range(1, 11)], 0.9) == pytest.approx(9.1)


def test_working_days_between_is_the_inverse_of_adding_working_days(ctx):
    from app.domain.calendar import WorkCalendar, seed_from_chinesecalendar

    with audit.acting_as(ctx, audit.SYSTEM), records.unit_of_work(ctx):
        seed_from_chinesecalendar(ctx, audit.SYSTEM)
    work = WorkCalendar(ctx)
    monday = datetime(2025, 3, 3, 10, 0)
    assert complaint_stats.working_days_between(work, monday, datetime(2025, 3, 3, 14, 30)) == 0.5
    assert complaint_stats.working_days_between(work, monday, datetime(2025, 3, 10, 10, 0)) == 5.0
    assert complaint_stats.working_days_between(work, monday, monday) == 0.0
    # Across the National Day holiday week of 2026 (and its make-up workdays).
    for start in (datetime(2026, 9, 30, 16, 0), datetime(2026, 9, 19, 20, 0), datetime(2026, 10, 1, 12, 0)):
        for days in (0.5, 1, 3, 7):
            assert complaint_stats.working_days_between(work, start, work.add_working_days(start, days)) == days
