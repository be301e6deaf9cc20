"""The visit procedure: every (state, action, role) of the visit's transition table allowed or refused
as the table says, with nothing changed on refusal; a visit with two non-conforming items where one
needs a second round and the visit cannot be return-visited until both are satisfied; rectification
items seen and worked only by their department; the summary through the general manager's approval;
return visits of deliveries and move-ins with due dates."""

import itertools
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app import audit, printing
from app.domain import approvals, records, visit_planning, visits
from app.domain.calendar import local_now
from app.domain.errors import (
    ForbiddenError,
    NotFoundError,
    StaleRecordError,
    TransitionNotAllowedError,
    ValidationError,
)
from app.models import (
    Approval,
    Building,
    CaseEntry,
    Customer,
    CustomerUnit,
    Department,
    Project,
    Rectification,
    ReturnVisit,
    Unit,
    Visit,
    VisitItem,
    VisitStep,
)
from tests.conftest import USERNAMES, audit_count

_day = itertools.count()


def a_day() -> datetime:
    """A visit moment of its own (far in the past): a summary of that day covers this test's visit only."""
    return datetime(2019, 1, 1, 10, 0) + timedelta(days=next(_day))


@pytest.fixture
def departments(ctx):
    return {d.code: d for d in ctx.scalars(select(Department))}


def planned(session, users) -> Visit:
    customer_id = session.scalar(select(Customer.id).where(Customer.kind == "company").order_by(Customer.id))
    with records.unit_of_work(session):
        return visit_planning.plan_visit(session, users["cs_staff"], customer_id=customer_id,
                                         planned_at=local_now() + timedelta(days=2), contact_post="行政经理",
                                         contact_phone="0571-87654321")


ITEMS = [{"service_item": "cleaning", "result": "non_conforming", "opinion": "大堂地面清洁不及时"},
         {"service_item": "parking", "result": "non_conforming", "opinion": "地库照明不足"},
         {"service_item": "security", "result": "qualified", "opinion": "门岗认真"},
         {"service_item": "other", "result": "out_of_scope", "opinion": "希望增加公交线路",
          "explanation": "公交线路由公交公司规划，已向客户说明"}]


def step(session, visit, action, actor, values=None):
    with records.unit_of_work(session):
        return visits.transition(session, visit, action, actor, visit.version, values or {})


def rect_step(session, item, action, actor, values=None):
    with records.unit_of_work(session):
        return visits.rectification_transition(session, item, action, actor, item.version, values or {})


def rectify_values(session, visit, departments):
    ncs = session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id,
                                                  VisitItem.result == "non_conforming").order_by(VisitItem.seq)).all()
    owners = [departments["PM"], departments["ENG"]]
    return {"rectifications": [
        {"item_id": item.id, "department_id": owners[i % 2].id, "measure": f"整改措施 {item.seq}",
         "responsible_person": "负责人", "deadline": (local_now().date() + timedelta(days=5)).isoformat(),
         "tenant_consulted": i == 0} for i, item in enumerate(ncs)]}


def visit_in(session, users, departments, state) -> Visit:
    """A visit brought to `state` through the real steps."""
    visit = planned(session, users)
    if state == "planned":
        return visit
    step(session, visit, "visit", users["cs_staff"], {"items": ITEMS, "visited_at": a_day().isoformat(),
                                                      "opinions": "希望加强夜间巡逻"})
    if state == "visited":
        return visit
    step(session, visit, "rectify", users["cs_manager"], rectify_values(session, visit, departments))
    if state == "rectifying":
        return visit
    for item in session.scalars(select(Rectification).where(Rectification.visit_id == visit.id)):
        worker = users["pm_staff"] if item.department_id == departments["PM"].id else users["eng_staff"]
        rect_step(session, item, "complete", worker, {"note": "已整改", "customer_told": True, "told_how": "电话"})
        rect_step(session, item, "accept", users["cs_staff"], {"note": "客户满意"})
    step(session, visit, "return_visit", users["cs_staff"], {
        "return_visit_method": "on_site", "return_visit_record": "整改效果良好", "satisfaction": 5,
        "effect_confirmed": True})
    if state == "return_visited":
        return visit
    day = visit.visited_at.date()
    with records.unit_of_work(session):
        summary = visits.draft_summary(session, users["cs_manager"], day, day)
    with records.unit_of_work(session):
        visits.submit_summary(session, summary, users["cs_manager"], summary.version)
    approval = approvals.pending_for(session, summary)
    with records.unit_of_work(session):
        approvals.decide(session, approval, "approve", "已阅", users["gm"])
    session.refresh(visit)
    if state == "summarised":
        return visit
    with records.unit_of_work(session):
        printing.print_visit_forms(session, visit, users["cs_staff"], full_data=False)
    step(session, visit, "archive", users["cs_staff"])
    assert visit.state == state == "archived"
    return visit


def good_values(session, visit, action, departments):
    if action == "visit":
        return {"items": ITEMS}
    if action == "rectify":
        return rectify_values(session, visit, departments)
    if action == "return_visit":
        return {"return_visit_method": "phone", "return_visit_record": "客户满意", "satisfaction": 4,
                "effect_confirmed": True}
    return {}


STATES = ["planned", "visited", "rectifying", "return_visited", "summarised", "archived"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", [s.action for s in visits.VISIT_STEPS])
def test_every_state_action_and_role_is_allowed_or_refused_as_the_table_says(ctx, users, departments, state, action):
    table = visits.VISIT_STEP_BY_ACTION[action]
    visit = visit_in(ctx, users, departments, state)
    for username in USERNAMES:
        actor = users[username]
        in_state = state in table.sources
        may = bool(table.roles & {r.name for r in actor.roles})
        before = (audit_count(ctx), ctx.scalar(select(func.count(VisitStep.id))), visit.version, visit.state)
        values = good_values(ctx, visit, action, departments)
        if in_state and may:
            continue  # taken below, once, on this visit
        with pytest.raises((TransitionNotAllowedError, ForbiddenError)) as refused:
            step(ctx, visit, action, actor, values)
        assert isinstance(refused.value, TransitionNotAllowedError if not in_state else ForbiddenError)
        ctx.refresh(visit)
        assert (audit_count(ctx), ctx.scalar(select(func.count(VisitStep.id))), visit.version, visit.state) == before
    if (state, action) in (("visited", "return_visit"), ("rectifying", "return_visit")):
        # Allowed by the table, refused by its guard: this visit's non-conforming items are not satisfied yet.
        with pytest.raises(TransitionNotAllowedError):
            step(ctx, visit, action, users["cs_manager"], good_values(ctx, visit, action, departments))
        assert visit.state == state
    elif state in table.sources:
        if action == "archive":
            with records.unit_of_work(ctx):
                printing.print_visit_forms(ctx, visit, users["cs_staff"], full_data=False)
        step(ctx, visit, action, users["cs_manager"], good_values(ctx, visit, action, departments))
        assert visit.state == table.target


def test_a_refused_step_for_missing_fields_or_a_stale_version_changes_nothing(ctx, users, departments):
    visit = planned(ctx, users)
    before = (audit_count(ctx), visit.version)
    with pytest.raises(ValidationError) as missing:
        step(ctx, visit, "visit", users["cs_staff"], {})
    assert "items" in missing.value.errors
    with pytest.raises(ValidationError) as bad:
        step(ctx, visit, "visit", users["cs_staff"], {"items": [{"service_item": "other", "result": "out_of_scope"}]})
    assert "items" in bad.value.errors  # out of scope needs the explanation given
    with pytest.raises(StaleRecordError):
        with records.unit_of_work(ctx):
            visits.transition(ctx, visit, "visit", users["cs_staff"], visit.version - 1, {"items": ITEMS})
    ctx.refresh(visit)
    assert (audit_count(ctx), visit.version, visit.state) == (*before, "planned")


def test_two_items_one_needing_a_second_round(ctx, users, departments):
    visit = visit_in(ctx, users, departments, "rectifying")
    cleaning, parking = ctx.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                    .order_by(Rectification.id)).all()
    assert (cleaning.department_id, parking.department_id) == (departments["PM"].id, departments["ENG"].id)
    due = ctx.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id)).one()
    assert due.state == "due" and due.due_on == max(cleaning.deadline, parking.deadline) + timedelta(days=7)

    # Each department reports on its own item only.
    rect_step(ctx, cleaning, "report_progress", users["pm_staff"], {"note": "已增加保洁频次", "customer_told": True})
    with pytest.raises(NotFoundError):
        rect_step(ctx, parking, "report_progress", users["pm_staff"], {"note": "x", "customer_told": True})
    with pytest.raises(ValidationError):  # done needs the customer told
        rect_step(ctx, cleaning, "complete", users["pm_staff"], {"note": "已完成", "customer_told": False})
    rect_step(ctx, cleaning, "complete", users["pm_staff"], {"note": "已完成", "customer_told": True, "told_how": "电话"})
    rect_step(ctx, parking, "complete", users["eng_staff"], {"note": "已更换灯具", "customer_told": True})
    rect_step(ctx, cleaning, "accept", users["cs_staff"])
    # The customer is not satisfied with the parking lights: a second round, with a new measure and deadline.
    with pytest.raises(ValidationError) as needs:
        rect_step(ctx, parking, "reject", users["cs_staff"], {"note": "仍偏暗"})
    assert {"measure", "deadline"} <= set(needs.value.errors)
    later = local_now().date() + timedelta(days=20)
    rect_step(ctx, parking, "reject", users["cs_staff"], {"note": "仍偏暗", "measure": "加装照明灯带",
                                                          "deadline": later.isoformat()})
    assert parking.round == 2 and parking.state == "open"
    ctx.refresh(due)
    assert due.due_on == later + timedelta(days=7)  # the return visit waits for the new round
    # Not return-visited while one item is open.
    with pytest.raises(TransitionNotAllowedError):
        step(ctx, visit, "return_visit", users["cs_staff"], good_values(ctx, visit, "return_visit", departments))
    assert visit.state == "rectifying"
    rect_step(ctx, parking, "complete", users["eng_staff"], {"note": "灯带已装", "customer_told": True})
    rect_step(ctx, parking, "accept", users["cs_staff"])
    with pytest.raises(ValidationError):  # the effect must be confirmed after rectifications
        step(ctx, visit, "return_visit", users["cs_staff"], {"return_visit_method": "phone",
                                                             "return_visit_record": "满意", "satisfaction": 5})
    step(ctx, visit, "return_visit", users["cs_staff"], good_values(ctx, visit, "return_visit", departments))
    assert visit.state == "return_visited"
    ctx.refresh(due)
    assert due.state == "done" and due.satisfaction == 4 and due.done_by_name == "cs_staff"
    rounds = ctx.scalars(select(VisitStep.round).where(VisitStep.rectification_id == parking.id,
                                                       VisitStep.action == "complete")).all()
    assert rounds == [1, 2]


def test_a_visit_with_nothing_non_conforming_goes_straight_to_its_return_visit(ctx, users, departments):
    visit = planned(ctx, users)
    step(ctx, visit, "visit", users["cs_staff"], {"items": [ITEMS[2], ITEMS[3]]})
    with pytest.raises(TransitionNotAllowedError):
        step(ctx, visit, "rectify", users["cs_staff"], {"rectifications": [
            {"item_id": 1, "department_id": departments["PM"].id, "measure": "x", "responsible_person": "y",
             "deadline": "2030-01-01"}]})
    step(ctx, visit, "return_visit", users["cs_staff"], {"return_visit_method": "phone",
                                                         "return_visit_record": "客户满意", "satisfaction": 5})
    assert visit.state == "return_visited"
    assert ctx.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id)).one().state == "done"


def test_rectification_items_are_scoped_to_their_department(ctx, users, departments):
    visit = visit_in(ctx, users, departments, "rectifying")
    cleaning, parking = ctx.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                    .order_by(Rectification.id)).all()
    assert visits.get_rectification(ctx, cleaning.id, users["pm_staff"]).id == cleaning.id
    with pytest.raises(NotFoundError):
        visits.get_rectification(ctx, parking.id, users["pm_staff"])
    with pytest.raises(NotFoundError):
        visits.get_visit(ctx, visit.id, users["eng_staff"])  # visits are customer service's
    assert [s.action for s in visits.allowed_rectification_steps(ctx, parking, users["pm_staff"])] == []
    assert {s.action for s in visits.allowed_rectification_steps(ctx, parking, users["eng_staff"])} == {
        "report_progress", "complete"}


def test_overdue_rectifications_are_flagged(ctx, users, departments):
    visit = visit_in(ctx, users, departments, "rectifying")
    item = ctx.scalars(select(Rectification).where(Rectification.visit_id == visit.id)).first()
    assert not visits.rectification_overdue(item)
    assert visits.rectification_overdue(item, today=item.deadline + timedelta(days=1))
    late = ctx.scalar(select(func.count(Rectification.id)).where(
        Rectification.id == item.id, visits.rectification_overdue_clause(item.deadline + timedelta(days=1))))
    assert late == 1


def test_the_summary_goes_through_the_general_managers_approval(ctx, users, departments):
    visit = visit_in(ctx, users, departments, "return_visited")
    day = visit.visited_at.date()
    with pytest.raises(ForbiddenError):
        with records.unit_of_work(ctx):
            visits.draft_summary(ctx, users["cs_staff"], day, day)
    with records.unit_of_work(ctx):
        summary = visits.draft_summary(ctx, users["cs_manager"], day, day)
    assert "共走访客户 1 次" in summary.content and "不合格 2 项" in summary.content
    with records.unit_of_work(ctx):
        visits.submit_summary(ctx, summary, users["cs_manager"], summary.version)
    approval = approvals.pending_for(ctx, summary)
    assert approval is not None and approval.kind == "visit_summary"
    with pytest.raises(ForbiddenError):
        with records.unit_of_work(ctx):
            approvals.decide(ctx, approval, "approve", None, users["cs_manager"])
    with records.unit_of_work(ctx):
        approvals.decide(ctx, approval, "reject", "请补充反复出现问题的整改建议", users["gm"])
    assert summary.state == "returned" and visit.state == "return_visited"
    with records.unit_of_work(ctx):
        visits.edit_summary(ctx, summary, users["cs_manager"], summary.version, summary.content + "\n建议：加强地库照明巡查。")
    with records.unit_of_work(ctx):
        visits.submit_summary(ctx, summary, users["cs_manager"], summary.version)
    with records.unit_of_work(ctx):
        approvals.decide(ctx, approvals.pending_for(ctx, summary), "approve", "已阅", users["gm"])
    ctx.refresh(visit)
    assert summary.state == "acknowledged" and visit.state == "summarised" and visit.summary_id == summary.id
    with records.unit_of_work(ctx):
        case = visits.case_from_summary(ctx, summary, users["cs_manager"], title="地库照明不足反复出现",
                                        stage="move_in", category="living",
                                        description="多次走访客户反映地库照明不足", lesson="设计阶段提高地库照度标准")
    assert ctx.get(CaseEntry, case.id).source_table == "visit_summary"


def test_a_visit_is_archived_only_with_its_two_forms_filed(ctx, users, departments):
    visit = visit_in(ctx, users, departments, "summarised")
    with pytest.raises(TransitionNotAllowedError):
        step(ctx, visit, "archive", users["cs_staff"])
    with records.unit_of_work(ctx):
        filed = printing.print_visit_forms(ctx, visit, users["cs_staff"], full_data=False)
    assert {r.form for r in filed} == {"visit_record", "opinion_sheet"} and all(r.retention_years is None for r in filed)
    step(ctx, visit, "archive", users["cs_staff"])
    assert visit.state == "archived" and visit.archived_at is not None


def test_delivery_and_move_in_return_visits_are_scheduled_and_recorded(ctx, users):
    with records.unit_of_work(ctx), audit.acting_as(ctx, users["admin"]):  # a project of this test's own
        serial = ctx.scalar(select(func.count(Project.id))) + 1
        project = Project(code=f"RV{serial:04d}", name=f"回访测试项目{serial}", delivery_date=date(2026, 6, 30),
                          move_in_date=date(2026, 8, 15))
        unit = Unit(building=Building(project=project, name="1栋"), number="101")
        customer = ctx.scalars(select(Customer).order_by(Customer.id)).first()
        ctx.add_all([project, unit, CustomerUnit(customer=customer, unit=unit)])
        ctx.flush()
    with records.unit_of_work(ctx):
        added = visits.schedule_project_return_visits(ctx, project, users["cs_staff"])
    with records.unit_of_work(ctx):
        again = visits.schedule_project_return_visits(ctx, project, users["cs_staff"])
    assert added > 0 and again == 0
    move_in = ctx.scalars(select(ReturnVisit).where(ReturnVisit.project_id == project.id,
                                                    ReturnVisit.kind == "move_in")).first()
    assert move_in.due_on == date(2026, 11, 15)
    delivery = ctx.scalars(select(ReturnVisit).where(ReturnVisit.project_id == project.id,
                                                     ReturnVisit.kind == "delivery")).first()
    assert delivery.due_on == date(2026, 7, 30) and visits.return_visit_overdue(delivery, today=date(2026, 8, 1))
    with pytest.raises(ValidationError) as missing:
        with records.unit_of_work(ctx):
            visits.record_return_visit(ctx, delivery, users["cs_staff"], delivery.version, {"method": "phone"})
    assert {"record", "satisfaction"} <= set(missing.value.errors)
    with records.unit_of_work(ctx):
        visits.record_return_visit(ctx, delivery, users["cs_staff"], delivery.version,
                                   {"method": "phone", "record": "交房质量满意", "satisfaction": 5})
    assert delivery.state == "done" and not visits.return_visit_overdue(delivery, today=date(2026, 8, 1))
    with pytest.raises(TransitionNotAllowedError):
        with records.unit_of_work(ctx):
            visits.record_return_visit(ctx, delivery, users["cs_staff"], delivery.version,
                                       {"method": "phone", "record": "x", "satisfaction": 5})


def test_a_state_written_outside_the_steps_is_refused(ctx, users):
    visit = planned(ctx, users)
    visit.state = "archived"
    with pytest.raises(TransitionNotAllowedError), audit.acting_as(ctx, users["cs_staff"]):
        ctx.flush()
    ctx.rollback()
    assert ctx.scalar(select(Approval.id).where(Approval.subject_table == "visit", Approval.subject_id == visit.id)) is None


def test_the_filled_forms_carry_the_visits_items(app, ctx, users, departments, artifacts):
    from pathlib import Path

    from tests.printing import pdf as read

    visit = visit_in(ctx, users, departments, "return_visited")
    with records.unit_of_work(ctx):
        record_copy, sheet_copy = printing.print_visit_forms(ctx, visit, users["cs_staff"], full_data=False)
    folder = Path(app.config["KEFU_ARCHIVE_DIR"])
    record_text = read.text((folder / record_copy.file_path).read_bytes()).replace(" ", "")
    for expected in ("走访客户记录表", "KF/QR-01", record_copy.number, visit.customer.name, "清洁卫生",
                     "大堂地面清洁不及时", "地库照明不足", "不合格", "非管理范畴", "公交线路由公交公司规划", "整改措施1",
                     "希望加强夜间巡逻", "已确认"):
        assert expected in record_text, expected
    assert "0571-87654321" not in record_text  # the contact's phone is masked for cs_staff's print
    sheet_text = read.text((folder / sheet_copy.file_path).read_bytes()).replace(" ", "")
    for expected in ("客户意见、建议征求表", "KF/QR-02", visit.number, "门岗认真", "希望加强夜间巡逻"):
        assert expected in sheet_text, expected
    # no rating of the customer's was captured: the boxes stay empty to tick (■ marks the two section titles)
    assert sheet_text.count("■") == 2 and "■服务评价" in sheet_text and "■以下由客户服务部填写" in sheet_text
    read.first_page_png(folder / record_copy.file_path, artifacts / "visit_record_filled")
    read.first_page_png(folder / sheet_copy.file_path, artifacts / "opinion_sheet_filled")
