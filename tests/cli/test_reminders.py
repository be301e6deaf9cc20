"""`flask --app run reminders`: what is due and overdue, per person, for a scheduler (SPEC §10).

Runs on the session database (the demo data with its ~300 complaints is there too); each test finds
its own complaints by id."""

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from app.domain import approvals, calendar, complaints, records, reminders
from app.extensions import db
from app.models import Complaint, Customer, Department

GOOD = {
    "confirm": {"confirmed_how": "电话确认"},
    "assess": {"severity": "general", "category": "engineering_quality"},
    "assess_major": {"severity": "major", "category": "engineering_quality", "legal_opinion": "法务：先鉴定",
                     "handling_plan": "第三方鉴定后维修"},
    "assign": {"assigned_post": "维修主管", "assigned_person": "赵工"},
    "start_handling": {"cause_analysis": "防水层破损", "report": "勘查报告", "measures": "重做防水",
                       "handling_person": "赵工", "handling_deadline": "2099-01-31",
                       "deadline_reason": "需等待第三方鉴定"},
    "reply": {"reply_result": "已修复", "customer_accepted": True, "satisfaction": 4},
}


def make_complaint(app, received_at, actions=(), department="ENG", receiver="cs_staff") -> int:
    """A complaint received by `receiver`, walked through `actions` by the right demo users; its id."""
    with app.app_context():
        session = db.session
        sm = app.appbuilder.sm
        user = {name: sm.find_user(username=name) for name in ("cs_staff", "cs_manager", "eng_staff")}
        customer_id = session.scalar(select(Customer.id).order_by(Customer.id))
        department_id = session.scalar(select(Department.id).where(Department.code == department))
        with records.unit_of_work(session):
            complaint = complaints.open_complaint(session, user[receiver], channel="hotline",
                                                  customer_id=customer_id, content="卫生间渗水（提醒测试）",
                                                  received_at=received_at)
        with records.unit_of_work(session):  # 受理回执 at once: its own deadline is not what these tests are about
            complaints.transition(session, complaint, "acknowledge", user[receiver], complaint.version,
                                  {"acknowledged_how": "phone"})
        for action in actions:
            fields = dict(GOOD[action])
            if action == "assign":
                fields["department_id"] = department_id
            actor = user["eng_staff"] if action == "start_handling" and department == "ENG" else user["cs_manager"]
            with records.unit_of_work(session):
                complaints.transition(session, complaint, action.removesuffix("_major"), actor, complaint.version,
                                      fields)
        complaint_id = complaint.id
        db.session.remove()
    return complaint_id


def run(app, *args) -> dict:
    result = app.test_cli_runner().invoke(args=["reminders", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def items_of(report, username) -> list[dict]:
    for person in report["people"]:
        if person["username"] == username:
            return person["items"]
    return []


def find(report, kind, complaint_id) -> dict[str, dict]:
    """username -> the item about this complaint, for everyone it is listed under."""
    found = {}
    for person in report["people"]:
        for item in person["items"]:
            if item["kind"] == kind and item["complaint_id"] == complaint_id:
                found[person["username"]] = item
    return found


def days_ago(days: float) -> datetime:
    return (calendar.local_now() - timedelta(days=days)).replace(second=0, microsecond=0)


def test_a_complaint_overdue_for_assignment_shows_under_its_first_responsible_person(app):
    complaint_id = make_complaint(app, days_ago(5))
    report = run(app)
    listed = find(report, "complaint", complaint_id)
    assert set(listed) == {"cs_staff"}
    item = listed["cs_staff"]
    assert item["is_overdue"] and "assign" in item["overdue"]
    assert item["due"] == "assign" and set(item["actions"]) == {"confirm", "close_invalid"}
    # overdue first in the person's list
    flags = [i["is_overdue"] for i in items_of(report, "cs_staff")]
    assert flags == sorted(flags, reverse=True)


def test_the_first_responsible_person_is_whoever_received_it(app):
    complaint_id = make_complaint(app, days_ago(1), ["confirm"], receiver="cs_manager")
    assert set(find(run(app), "complaint", complaint_id)) == {"cs_manager"}


def test_a_complaint_investigated_by_the_engineering_department_shows_under_eng_staff(app):
    complaint_id = make_complaint(app, days_ago(0.2), ["confirm", "assess", "assign"])
    listed = find(run(app), "complaint", complaint_id)
    assert set(listed) == {"eng_staff"}
    assert listed["eng_staff"]["state"] == "investigating"
    assert listed["eng_staff"]["due"] == "investigate" and listed["eng_staff"]["actions"] == ["start_handling"]
    assert "工程部" in listed["eng_staff"]["summary"]


def test_a_department_without_staff_falls_to_the_customer_service_managers(app):
    complaint_id = make_complaint(app, days_ago(0.2), ["confirm", "assess", "assign"], department="SALES")
    assert set(find(run(app), "complaint", complaint_id)) == {"cs_manager"}


def test_handling_waits_for_the_department_and_a_reply_for_the_managers_to_close(app):
    handling = make_complaint(app, days_ago(1), ["confirm", "assess", "assign", "start_handling"])
    replied = make_complaint(app, days_ago(1), ["confirm", "assess", "assign", "start_handling", "reply"])
    report = run(app)
    assert find(report, "complaint", handling)["eng_staff"]["due"] == "handling"
    assert set(find(report, "complaint", replied)) == {"cs_manager"}
    # SPEC §3: the manager closes it, resolved or (routes explained) unresolved.
    assert find(report, "complaint", replied)["cs_manager"]["actions"] == ["close", "close_unresolved"]


def test_a_pending_approval_shows_under_the_general_manager(app):
    complaint_id = make_complaint(app, days_ago(0.1), ["confirm", "assess_major"])
    report = run(app)
    approvals_listed = find(report, "approval", complaint_id)
    assert set(approvals_listed) == {"gm"}
    assert approvals_listed["gm"]["actions"] == ["decide"] and approvals_listed["gm"]["state"] == "complaint_plan"
    assert find(report, "complaint", complaint_id) == {}  # held for the GM: nobody else is reminded
    with app.app_context():
        complaint = db.session.get(Complaint, complaint_id)
        approval = approvals.pending_for(db.session, complaint, "complaint_plan")
        with records.unit_of_work(db.session):
            approvals.decide(db.session, approval, "approve", "同意", app.appbuilder.sm.find_user(username="gm"))
        db.session.remove()
    after = run(app)
    assert find(after, "approval", complaint_id) == {}
    assert set(find(after, "complaint", complaint_id)) == {"cs_manager"}  # now to be assigned: the manager's (SPEC §1)


def test_at_changes_what_is_overdue(app):
    complaint_id = make_complaint(app, days_ago(3))
    with app.app_context():
        complaint = db.session.get(Complaint, complaint_id)
        assign_due, close_due = complaint.assign_due_at, complaint.close_due_at
        db.session.remove()
    before = find(run(app, "--at", f"{assign_due - timedelta(minutes=1):%Y-%m-%d %H:%M}"), "complaint", complaint_id)
    assert before["cs_staff"]["overdue"] == [] and not before["cs_staff"]["is_overdue"]
    late = find(run(app, "--at", f"{assign_due + timedelta(minutes=1):%Y-%m-%d %H:%M}"), "complaint", complaint_id)
    assert late["cs_staff"]["overdue"] == ["assign"]
    very_late = find(run(app, "--at", f"{close_due + timedelta(days=1):%Y-%m-%d %H:%M}"), "complaint", complaint_id)
    assert very_late["cs_staff"]["overdue"] == ["assign", "investigate", "close"]


def test_plain_text_groups_per_person_and_marks_the_overdue(app):
    overdue_id = make_complaint(app, days_ago(5))
    result = app.test_cli_runner().invoke(args=["reminders"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        number = db.session.get(Complaint, overdue_id).number
        db.session.remove()
    lines = result.output.splitlines()
    line = next(line for line in lines if f" {number} " in line)
    assert line.startswith("  ! ")
    owner = max(i for i, text in enumerate(lines[: lines.index(line)]) if text and not text.startswith(" "))
    assert lines[owner].startswith("cs_staff ")


def test_a_bad_at_is_refused(app):
    result = app.test_cli_runner().invoke(args=["reminders", "--at", "next tuesday"])
    assert result.exit_code == 2 and "--at" in result.output


def test_a_missing_calendar_year_is_listed_for_the_admin(app):
    report = run(app, "--at", "2099-03-01 10:00")
    items = [i for i in items_of(report, "admin") if i["kind"] == "calendar"]
    assert [(i["number"], i["is_overdue"]) for i in items] == [("2099", True), ("2100", False)]


@pytest.mark.parametrize("extra", [3])
def test_a_fixed_number_of_queries_whatever_the_number_of_complaints(app, extra):
    def statements() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", counter)
            try:
                people = reminders.due_and_overdue(db.session, calendar.local_now())
            finally:
                event.remove(db.engine, "before_cursor_execute", counter)
                db.session.remove()
        assert people
        return count

    before = statements()
    for i in range(extra):
        make_complaint(app, days_ago(i + 1), ["confirm", "assess", "assign"][: i + 1])
    # Per workflow one query for its waiting records and one per relationship loaded with them, the
    # approvals, users, departments, calendar years; the visits' own conditions (a handful of visits):
    # the same number of statements however many complaints wait.
    assert statements() == before


def test_visit_work_waits_for_the_right_people(app):
    """The demo's rectifying visits have open items past their deadline: each is listed, overdue, under
    its own department's staff only; due delivery return visits under customer-service staff."""
    from app.models import Rectification

    with app.app_context():
        people = {p.username: p for p in reminders.due_and_overdue(db.session, calendar.local_now())}
        open_items = {r.id: r.department.code for r in db.session.scalars(
            select(Rectification).where(Rectification.state == "open"))}
        db.session.remove()
    assert open_items, "the demo data has open rectification items"
    for username, code in (("eng_staff", "ENG"), ("pm_staff", "PM")):
        listed = {i.record_id for i in people[username].items if i.kind == "rectification"}
        assert listed == {rid for rid, dept in open_items.items() if dept == code}
    assert any(i.kind == "rectification" and i.overdue for i in people["eng_staff"].items + people["pm_staff"].items)
    assert any(i.kind == "visit" for i in people["cs_staff"].items)
