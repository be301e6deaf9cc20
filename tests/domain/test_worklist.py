"""Who acts next (app.domain.worklist): the one-line status text follows the same wait that decides who
acts — a rectifying visit whose items are at the departments says so, not only its due date — and one
person's work, read narrowed in SQL (for_user), is exactly their part of everyone's (waiting), also when
the person named on a record has left or a department has nobody to act for it."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import select

from app import audit
from app.domain import worklist
from app.models import Complaint, Department, Rectification, UserDepartment
from tests.conftest import USERNAMES
from tests.domain.test_visits import departments, rect_step, visit_in  # noqa: F401  (departments: a fixture)


def _status(app, session, record) -> str:
    with app.test_request_context(), force_locale("zh"):
        return worklist.status_text(session, record)


def test_a_rectifying_visit_says_whom_it_waits_for_at_each_stage(app, ctx, users, departments):  # noqa: F811
    visit = visit_in(ctx, users, departments, "rectifying")
    text = _status(app, ctx, visit)
    assert text.startswith(f"走访 {visit.number}：整改，待各部门整改，期限 "), text
    assert "记录回访" not in text

    items = ctx.scalars(select(Rectification).where(Rectification.visit_id == visit.id)).all()
    for item in items:
        worker = users["pm_staff"] if item.department_id == departments["PM"].id else users["eng_staff"]
        rect_step(ctx, item, "complete", worker, {"note": "已整改", "customer_told": True})
    text = _status(app, ctx, visit)
    assert text.startswith(f"走访 {visit.number}：整改，待客户确认整改满意，期限 "), text

    for item in items:
        rect_step(ctx, item, "accept", users["cs_staff"], {"note": "客户满意"})
    text = _status(app, ctx, visit)
    assert text.startswith(f"走访 {visit.number}：整改，待李晓梅记录回访，期限 "), text


def test_an_item_at_its_department_names_the_department(app, ctx, users, departments):  # noqa: F811
    visit = visit_in(ctx, users, departments, "rectifying")
    item = ctx.scalars(select(Rectification).where(Rectification.visit_id == visit.id,
                                                   Rectification.department_id == departments["PM"].id)).first()
    text = _status(app, ctx, item)
    assert f"{item.number}：整改中，待物业公司报告进展、整改完成（已告知客户），期限 " in text, text


def _parts(session) -> dict[int, list[dict]]:
    return {person.user_id: [item.as_dict() for item in person.items] for person in worklist.waiting(session)}


def _check_every_user(session, ids) -> None:
    everyone = _parts(session)
    for name, user_id in ids.items():
        assert [item.as_dict() for item in worklist.for_user(session, user_id)] == everyone.get(user_id, []), name


def test_one_persons_work_is_their_part_of_everyones(ctx, users):
    _check_every_user(ctx, {name: users[name].id for name in USERNAMES})


def test_work_falls_to_the_manager_when_nobody_named_can_act(demo_copy):
    """cs_staff leaves and the engineering department has nobody: their complaints go to the CS manager."""
    from app.extensions import db

    with demo_copy.app_context():
        session = db.session
        sm = demo_copy.appbuilder.sm
        ids = {name: sm.find_user(username=name).id for name in USERNAMES}
        engineering = session.scalar(select(Department.id).where(Department.code == "ENG"))
        received = [c.number for c in session.scalars(select(Complaint).where(
            Complaint.state == "received", Complaint.first_responsible_id == ids["cs_staff"]))]
        investigating = [c.number for c in session.scalars(select(Complaint).where(
            Complaint.state == "investigating", Complaint.department_id == engineering))]
        assert received and investigating, "the demo data has no such complaints"
        before = {i.number for i in worklist.for_user(session, ids["cs_manager"]) if i.kind == "complaint"}
        assert not set(received) & before and not set(investigating) & before

        with audit.acting_as(session, sm.find_user(username="admin")):
            sm.find_user(username="cs_staff").active = False
            for row in session.scalars(select(UserDepartment).where(UserDepartment.department_id == engineering)):
                session.delete(row)
            session.commit()

        after = {i.number for i in worklist.for_user(session, ids["cs_manager"]) if i.kind == "complaint"}
        assert set(received) <= after and set(investigating) <= after
        assert not worklist.for_user(session, ids["cs_staff"])
        assert not [i for i in worklist.for_user(session, ids["eng_staff"]) if i.kind == "complaint"]
        _check_every_user(session, ids)
