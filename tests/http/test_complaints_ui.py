"""Complaints through the HTML pages (CSRF is off in the test app): receiving one through the form, the
detail page offering exactly the actions the user may take, the form of a step refusing missing fields
and stale versions with nothing changed, the overdue filter and red rows, "my work" overdue first, the
general manager's approval queue, and a fixed number of statements per list and my-work page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.domain.calendar import local_now
from app.domain.errors import StaleRecordError, ValidationError
from app.extensions import db

from .conftest import form_values, text_of, wordings

# Valid fields of each step's form (as a user types them).
GOOD = {
    "confirm": {"confirmed_how": "电话回访，客户确认为有效投诉"},
    "close_invalid": {"invalid_explanation": "属咨询，已向客户解释"},
    "assess": {"severity": "general", "category": "engineering_quality"},
    "assign": {"assigned_post": "维修主管", "assigned_person": "赵工"},  # + department_id
    "start_handling": {"cause_analysis": "防水层破损", "report": "现场勘查报告", "measures": "重做防水",
                       "handling_person": "赵工", "handling_deadline": "2030-01-31",
                       "deadline_reason": "需等待第三方鉴定"},
    "reply": {"reply_result": "已修复", "customer_accepted": "yes", "satisfaction": "4"},
    "close": {"department_signed_off": "y", "person_signed_off": "y"},
}
WHO = {"confirm": "cs_staff", "close_invalid": "cs_staff", "assess": "cs_manager", "assign": "cs_manager",
       "start_handling": "eng_staff", "reply": "cs_staff", "close": "cs_manager"}
TO_INVESTIGATING = ["confirm", "assess", "assign"]


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def departments(dbr):
    from app.models import Department

    with dbr.session() as s:
        return {d.code: d.id for d in s.scalars(select(Department))}


def receive(client, customer: str, content: str, received_at=None) -> int:
    page = text_of(client.get("/complaint/add"))
    data = form_values(page, 'name="customer"')
    data.update(channel="hotline", customer=customer, content=content)
    if received_at is not None:
        data["received_at"] = f"{received_at:%Y-%m-%d %H:%M}"
    response = client.post("/complaint/add", data=data)
    assert response.status_code == 302, text_of(response)
    return int(re.search(r"/complaint/show/(\d+)", response.headers["Location"]).group(1))


def step_form(client, pk, action) -> dict:
    response = client.get(f"/complaint/transition/{pk}/{action}")
    assert response.status_code == 200, (action, response.status_code)
    return form_values(text_of(response), 'name="version"')


def take(client, pk, action, **fields):
    data = {**step_form(client, pk, action), **fields}
    return client.post(f"/complaint/transition/{pk}/{action}", data=data)


def walk(html_as, pk, actions, departments, department="ENG"):
    for action in actions:
        fields = dict(GOOD[action])
        if action == "assign":
            fields["department_id"] = str(departments[department])
        who = "pm_staff" if action == "start_handling" and department == "PM" else WHO[action]
        response = take(html_as(who), pk, action, **fields)
        assert response.status_code == 302, (action, text_of(response))


def buttons(page: str) -> set[str]:
    """The actions offered on a complaint's detail page."""
    return set(re.findall(r'class="btn[^"]*kefu-action"\s+data-action="(\w+)"', page))


def complaint_row(dbr, pk) -> dict:
    from app.models import Complaint, ComplaintStep

    with dbr.session() as s:
        c = s.get(Complaint, pk)
        steps = s.scalars(select(ComplaintStep.action).where(ComplaintStep.complaint_id == pk)
                          .order_by(ComplaintStep.id)).all()
        return {"state": c.state, "version": c.version, "steps": steps, "number": c.number,
                "plan_approved": c.plan_approved, "first_responsible_id": c.first_responsible_id}


def pending_approval(dbr, pk) -> dict | None:
    from app.models import Approval

    with dbr.session() as s:
        a = s.scalars(select(Approval).where(Approval.subject_table == "complaint", Approval.subject_id == pk)
                      .order_by(Approval.id.desc())).first()
        return a and {"id": a.id, "state": a.state, "kind": a.kind, "comment": a.comment}


def any_wording(app, message, text) -> bool:
    return any(w in text for w in wordings(app, message))


def field_cell(page: str, field: str) -> str:
    start = page.index(f'id="{field}"')
    return page[start:page.index("</td>", start)]


@pytest.fixture
def customer(created):
    """A new customer (unique name and mobile), so lists can be filtered to this test's complaints."""
    _cid, payload, _body = created()
    return payload


# --- receiving ------------------------------------------------------------------------------------

def test_cs_staff_receives_a_complaint_through_the_form(html_as, dbr, customer, users_by_name):
    seq = dbr.last_seq()
    pk = receive(html_as("cs_staff"), customer["mobile"], "厨房吊顶开裂")
    row = complaint_row(dbr, pk)
    assert row["state"] == "received" and row["steps"] == ["receive"]
    assert row["first_responsible_id"] == users_by_name["cs_staff"]
    written = dbr.audit_after(seq)
    inserts = [(r["table"], r["action"]) for r in written if r["action"] == "insert"]
    assert inserts == [("complaint", "insert"), ("complaint_step", "insert")]
    assert {r["table"] for r in written} == {"complaint", "complaint_step"}
    assert all(r["actor"] == "cs_staff" for r in written)
    page = text_of(html_as("cs_staff").get(f"/complaint/show/{pk}"))
    assert "厨房吊顶开裂" in page and customer["name"] in page
    assert customer["mobile"] not in page  # masked


def test_receiving_writes_one_audit_row_for_the_complaint_and_one_for_its_step(html_as, dbr, customer):
    seq = dbr.last_seq()
    receive(html_as("cs_staff"), customer["mobile"], "客厅墙面空鼓")
    assert [(r["table"], r["action"]) for r in dbr.audit_after(seq)] == [
        ("complaint", "insert"), ("complaint_step", "insert")]


@pytest.fixture(scope="module")
def users_by_name(dbr, app):
    user = app.appbuilder.sm.user_model
    with dbr.session() as s:
        return {u.username: u.id for u in s.scalars(select(user))}


@pytest.mark.parametrize("typed", ["", "12345678901234", "13800000000"])
def test_an_unknown_customer_is_refused_beside_the_field_and_nothing_is_written(typed, html_as, dbr):
    client = html_as("cs_staff")
    data = form_values(text_of(client.get("/complaint/add")), 'name="customer"')
    data.update(channel="hotline", customer=typed, content="门窗漏风")
    seq = dbr.last_seq()
    response = client.post("/complaint/add", data=data)
    page = text_of(response)
    assert response.status_code == 200
    assert "alert-danger" in field_cell(page, "customer")
    assert "门窗漏风</textarea>" in page  # nothing typed is lost
    assert dbr.audit_after(seq) == []


def test_a_received_at_in_the_future_is_refused(html_as, dbr, customer):
    client = html_as("cs_staff")
    data = form_values(text_of(client.get("/complaint/add")), 'name="customer"')
    data.update(channel="hotline", customer=customer["mobile"], content="电梯异响",
                received_at=f"{local_now() + timedelta(days=2):%Y-%m-%d %H:%M}")
    seq = dbr.last_seq()
    page = text_of(client.post("/complaint/add", data=data))
    assert "alert-danger" in field_cell(page, "received_at")
    assert dbr.audit_after(seq) == []


@pytest.mark.parametrize("username", ["eng_staff", "gm", "auditor", "archivist"])
def test_only_customer_service_receives_complaints(username, html_as, customer, dbr):
    seq = dbr.last_seq()
    response = html_as(username).post("/complaint/add", data={"channel": "hotline", "customer": customer["mobile"],
                                                              "content": "x"})
    assert response.status_code in (302, 403)
    assert dbr.audit_after(seq) == []


# --- the detail page offers exactly the allowed actions ----------------------------------------------

def test_cs_staff_on_a_received_complaint_may_confirm_or_close_as_invalid(html_as, customer):
    pk = receive(html_as("cs_staff"), customer["mobile"], "地下车库积水")
    page = text_of(html_as("cs_staff").get(f"/complaint/show/{pk}"))
    assert buttons(page) == {"acknowledge", "confirm", "close_invalid"}  # 受理回执 until given
    assert f"/complaint/transition/{pk}/confirm" in page
    assert "/assign" not in page


@pytest.mark.parametrize("username", ["gm", "auditor", "archivist", "admin"])
def test_readers_see_the_complaint_without_any_action(username, html_as, customer):
    pk = receive(html_as("cs_staff"), customer["mobile"], "小区绿化养护差")
    response = html_as(username).get(f"/complaint/show/{pk}")
    assert response.status_code == 200
    page = text_of(response)
    assert "小区绿化养护差" in page and buttons(page) == set()


def test_a_refused_action_is_not_offered_and_its_form_does_not_open(html_as, customer, dbr):
    pk = receive(html_as("cs_staff"), customer["mobile"], "外墙渗水")
    response = html_as("cs_staff").get(f"/complaint/transition/{pk}/assign")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/complaint/show/{pk}")
    assert html_as("cs_staff").get(f"/complaint/transition/{pk}/no_such_action").status_code == 404
    assert complaint_row(dbr, pk)["state"] == "received"


def test_department_staff_see_their_department_s_complaints_only_after_assignment(html_as, customer, departments):
    pk = receive(html_as("cs_staff"), customer["mobile"], "入户门变形")
    # Before assignment: not theirs, so not there at all.
    for username in ("eng_staff", "pm_staff"):
        assert html_as(username).get(f"/complaint/show/{pk}").status_code == 404
        assert html_as(username).get(f"/complaint/transition/{pk}/start_handling").status_code == 404
    walk(html_as, pk, TO_INVESTIGATING, departments, "ENG")
    page = text_of(html_as("eng_staff").get(f"/complaint/show/{pk}"))
    assert buttons(page) == {"start_handling"}
    # Another department's complaint: 404 on every page of it, and on its list.
    assert html_as("pm_staff").get(f"/complaint/show/{pk}").status_code == 404
    assert html_as("pm_staff").post(f"/complaint/transition/{pk}/start_handling",
                                    data={"version": "1"}).status_code == 404
    number = complaint_row_number(html_as, pk)
    assert number not in text_of(html_as("pm_staff").get("/complaint/list/?psize_ComplaintView=100"))
    # After handling starts the first-responsible person replies; the department may add progress only.
    walk(html_as, pk, ["start_handling"], departments)
    assert buttons(text_of(html_as("eng_staff").get(f"/complaint/show/{pk}"))) == {"add_progress"}
    assert buttons(text_of(html_as("cs_staff").get(f"/complaint/show/{pk}"))) == {"acknowledge", "add_progress", "reply"}


def complaint_row_number(html_as, pk) -> str:
    page = text_of(html_as("cs_staff").get(f"/complaint/show/{pk}"))
    return re.search(r'class="kefu-number">([^<]+)<', page).group(1)


# --- the form of a step ---------------------------------------------------------------------------

def test_every_field_of_every_step_has_a_form_field_and_a_label():
    from app.domain import complaints
    from app.labels import COMPLAINT_STEP_FIELDS
    from app.views.workflow import field_kind

    for step in complaints.STEPS:
        for name in (*step.required, *step.optional):
            assert field_kind(name, step.fields[name]) and name in COMPLAINT_STEP_FIELDS, (step.action, name)


def test_a_missing_required_field_re_renders_the_form_with_the_message_and_changes_nothing(
        html_as, customer, dbr, app):
    client = html_as("cs_staff")
    pk = receive(client, customer["mobile"], "燃气表漏气")
    before, seq = complaint_row(dbr, pk), dbr.last_seq()
    data = {**step_form(client, pk, "confirm"), "confirmed_how": "", "comment": "客户稍后回电"}
    response = client.post(f"/complaint/transition/{pk}/confirm", data=data)
    assert response.status_code == 422
    page = text_of(response)
    assert any_wording(app, ValidationError({}).message, page) or "alert-danger" in page
    from flask_babel import lazy_gettext as _l

    assert any_wording(app, _l("This field is required."), field_cell(page, "confirmed_how"))
    assert "客户稍后回电" in page  # the comment typed is kept
    assert complaint_row(dbr, pk) == before and dbr.audit_after(seq) == []


def test_a_wrong_value_is_shown_beside_its_field_and_what_was_typed_is_kept(html_as, customer, dbr, departments):
    pk = receive(html_as("cs_staff"), customer["mobile"], "楼道灯不亮")
    walk(html_as, pk, TO_INVESTIGATING, departments)
    seq = dbr.last_seq()
    fields = {**GOOD["start_handling"], "handling_deadline": "下周一"}
    response = take(html_as("eng_staff"), pk, "start_handling", **fields)
    assert response.status_code == 422
    page = text_of(response)
    assert "alert-danger" in field_cell(page, "handling_deadline")
    assert "现场勘查报告" in page and 'value="下周一"' in page
    assert complaint_row(dbr, pk)["state"] == "investigating" and dbr.audit_after(seq) == []


def test_a_stale_version_is_refused_and_changes_nothing(html_as, customer, dbr, app):
    client = html_as("cs_staff")
    pk = receive(client, customer["mobile"], "物业费收费不透明")
    form = step_form(client, pk, "confirm")
    # Someone else confirms first.
    assert take(html_as("cs_manager"), pk, "confirm", **GOOD["confirm"]).status_code == 302
    before, seq = complaint_row(dbr, pk), dbr.last_seq()
    response = client.post(f"/complaint/transition/{pk}/confirm", data={**form, **GOOD["confirm"]})
    assert response.status_code == 409
    assert any_wording(app, StaleRecordError().message, text_of(response))
    assert complaint_row(dbr, pk) == before and dbr.audit_after(seq) == []


def test_a_successful_step_redirects_to_the_detail_page_with_the_timeline(html_as, customer, dbr):
    client = html_as("cs_staff")
    pk = receive(client, customer["mobile"], "阳台漏水")
    response = take(client, pk, "confirm", **GOOD["confirm"], comment="客户同意等待上门")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/complaint/show/{pk}")
    page = text_of(client.get(f"/complaint/show/{pk}"))
    assert "alert-success" in page
    assert GOOD["confirm"]["confirmed_how"] in page and "客户同意等待上门" in page
    assert re.findall(r'kefu-timeline-entry" data-action="(\w+)"', page) == ["receive", "confirm"]
    assert complaint_row(dbr, pk)["steps"] == ["receive", "confirm"]


def test_closing_asks_for_confirmation(html_as, customer):
    pk = receive(html_as("cs_staff"), customer["mobile"], "装修垃圾未清运")
    page = text_of(html_as("cs_staff").get(f"/complaint/transition/{pk}/close_invalid"))
    assert re.search(r'<form[^>]*class="kefu-step-form[^"]*"[^>]*data-confirm="[^"]+"', page)
    page = text_of(html_as("cs_staff").get(f"/complaint/transition/{pk}/confirm"))
    assert "data-confirm" not in page


# --- overdue ----------------------------------------------------------------------------------------

def _rows(page: str) -> dict[str, str]:
    """Complaint number -> the class attribute of its list row."""
    return {number: cls for cls, number in re.findall(
        r'<tr class="([^"]*kefu-row[^"]*)"[^>]*>.*?/complaint/show/\d+">([^<]+)</a>', page, re.S)}


def test_the_overdue_filter_and_red_rows(html_as, customer, app):
    client = html_as("cs_staff")
    late = receive(client, customer["mobile"], "逾期投诉", received_at=local_now() - timedelta(days=20))
    fresh = receive(client, customer["mobile"], "新投诉")
    late_no, fresh_no = complaint_row_number(html_as, late), complaint_row_number(html_as, fresh)
    base = f"/complaint/list/?_flt_0_customer={customer['mobile']}"
    everything = _rows(text_of(client.get(base)))
    assert set(everything) == {late_no, fresh_no}
    assert "kefu-overdue" in everything[late_no] and "danger" in everything[late_no]
    assert "kefu-overdue" not in everything[fresh_no]
    overdue = _rows(text_of(client.get(base + "&_flt_0_overdue=y")))
    assert set(overdue) == {late_no}
    on_time = _rows(text_of(client.get(base + "&_flt_0_overdue=n")))
    assert set(on_time) == {fresh_no}
    detail = text_of(client.get(f"/complaint/show/{late}"))
    assert "kefu-overdue-flag" in detail
    assert "kefu-overdue-flag" not in text_of(client.get(f"/complaint/show/{fresh}"))


def test_the_list_filters_by_state_and_by_department_name(html_as, customer, departments):
    client = html_as("cs_staff")
    assigned = receive(client, customer["mobile"], "水压不足")
    walk(html_as, assigned, TO_INVESTIGATING, departments, "PM")
    other = receive(client, customer["mobile"], "噪音扰民")
    numbers = {pk: complaint_row_number(html_as, pk) for pk in (assigned, other)}
    base = f"/complaint/list/?_flt_0_customer={customer['mobile']}"
    assert set(_rows(text_of(client.get(base + "&_flt_0_state=investigating")))) == {numbers[assigned]}
    assert set(_rows(text_of(client.get(base + "&_flt_1_state=investigating")))) == {numbers[other]}
    assert set(_rows(text_of(client.get(base + "&_flt_0_department=物业")))) == {numbers[assigned]}


def test_the_export_is_scoped_and_filtered(html_as, customer):
    client = html_as("cs_staff")
    pk = receive(client, customer["mobile"], "排水管堵塞")
    response = client.get(f"/complaint/export/?_flt_0_customer={customer['mobile']}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert complaint_row_number(html_as, pk) in body and customer["mobile"] not in body
    assert html_as("eng_staff").get("/complaint/export/").status_code in (302, 403)


def test_the_export_link_is_offered_only_to_a_role_that_may_export(html_as):
    assert "/complaint/export/" in html_as("cs_staff").get("/complaint/list/").get_data(as_text=True)
    listing = html_as("eng_staff").get("/complaint/list/")
    assert listing.status_code == 200 and "/complaint/export/" not in listing.get_data(as_text=True)


# --- my work ----------------------------------------------------------------------------------------

def my_work(page: str) -> str:
    """The my-work page without its flashed messages (which may name a complaint)."""
    return page[page.index('class="kefu-my-work"'):]


def _section(page: str, key: str) -> str:
    match = re.search(rf'data-section="{key}">(.*?)</table>', page, re.S)
    return match.group(1) if match else ""


def test_my_work_lists_overdue_first(html_as, customer, departments):
    client = html_as("cs_staff")
    # Received long ago but closed now: waiting for its return visit, not overdue.
    old = receive(client, customer["mobile"], "早先的投诉", received_at=local_now() - timedelta(days=30))
    walk(html_as, old, [*TO_INVESTIGATING, "start_handling", "reply", "close"], departments)
    # Received later, still waiting to be confirmed: overdue.
    late = receive(client, customer["mobile"], "后来的投诉", received_at=local_now() - timedelta(days=10))
    old_no, late_no = complaint_row_number(html_as, old), complaint_row_number(html_as, late)
    mine = _section(text_of(client.get("/mywork/")), "complaint")
    assert old_no in mine and late_no in mine
    assert mine.index(late_no) < mine.index(old_no)
    classes = re.findall(r'<tr class="(kefu-work-row[^"]*)"', mine)
    flags = ["kefu-overdue" in c for c in classes]
    assert flags == sorted(flags, reverse=True), "an overdue row after one that is not"
    row_of_late = re.search(rf'<tr class="([^"]*)">(?:(?!</tr>).)*{late_no}', mine, re.S).group(1)
    assert "kefu-overdue" in row_of_late


def test_my_work_of_each_role(html_as, customer, departments):
    pk = receive(html_as("cs_staff"), customer["mobile"], "门禁卡失灵")
    number = complaint_row_number(html_as, pk)
    assert number in _section(text_of(html_as("cs_staff").get("/mywork/")), "complaint")
    assert number not in my_work(text_of(html_as("cs_manager").get("/mywork/")))  # not theirs, not their step
    walk(html_as, pk, TO_INVESTIGATING, departments)
    assert number in _section(text_of(html_as("eng_staff").get("/mywork/")), "complaint")
    assert number not in my_work(text_of(html_as("pm_staff").get("/mywork/")))
    walk(html_as, pk, ["start_handling", "reply"], departments)
    assert number in _section(text_of(html_as("cs_manager").get("/mywork/")), "complaint")
    assert number not in my_work(text_of(html_as("eng_staff").get("/mywork/")))


def _statements(app, client, url):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    client.get(url)  # warm up
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements)


def test_statements_per_page_do_not_grow_with_the_rows(app, html_as, customer, departments):
    client = html_as("cs_staff")
    receive(client, customer["mobile"], "第一条")
    small = _statements(app, client, "/complaint/list/?psize_ComplaintView=1")
    large = _statements(app, client, "/complaint/list/?psize_ComplaintView=100")
    assert small == large, f"{small} statements for 1 row but {large} for 100: a query per row"
    before = _statements(app, client, "/mywork/")
    for n in range(3):
        receive(client, customer["mobile"], f"又一条 {n}")
    assert _statements(app, client, "/mywork/") == before


# --- approvals ----------------------------------------------------------------------------------------

def _major(html_as, customer) -> int:
    pk = receive(html_as("cs_staff"), customer["mobile"], "楼板开裂，担心结构安全")
    assert take(html_as("cs_staff"), pk, "confirm", **GOOD["confirm"]).status_code == 302
    response = take(html_as("cs_manager"), pk, "assess", severity="major", category="engineering_quality",
                    legal_opinion="法务：先做结构鉴定", handling_plan="第三方鉴定后加固")
    assert response.status_code == 302
    return pk


def test_a_major_assessment_without_plan_is_refused_beside_the_fields(html_as, customer, dbr):
    pk = receive(html_as("cs_staff"), customer["mobile"], "屋面渗漏严重")
    assert take(html_as("cs_staff"), pk, "confirm", **GOOD["confirm"]).status_code == 302
    seq = dbr.last_seq()
    response = take(html_as("cs_manager"), pk, "assess", severity="major", category="engineering_quality")
    assert response.status_code == 422
    page = text_of(response)
    assert "alert-danger" in field_cell(page, "legal_opinion") and "alert-danger" in field_cell(page, "handling_plan")
    assert dbr.audit_after(seq) == []


def test_the_general_manager_decides_in_the_approval_queue(html_as, customer, dbr):
    pk = _major(html_as, customer)
    approval = pending_approval(dbr, pk)
    assert approval["state"] == "pending" and approval["kind"] == "complaint_plan"
    # Held: nobody may assign it yet.
    assert "assign" not in buttons(text_of(html_as("cs_manager").get(f"/complaint/show/{pk}")))
    gm = html_as("gm")
    queue = text_of(gm.get("/approval/list/"))
    assert f"/complaint/show/{pk}" in queue
    assert approval["id"] in {int(i) for i in re.findall(r"/approval/show/(\d+)", queue)}
    assert f"/approval/show/{approval['id']}" in my_work(text_of(gm.get("/mywork/")))
    show = text_of(gm.get(f"/approval/show/{approval['id']}"))
    assert "kefu-decide-form" in show
    # A rejection without a comment is refused beside the comment.
    response = gm.post(f"/approval/decide/{approval['id']}", data={"decision": "reject", "comment": ""})
    assert response.status_code == 422 and "alert-danger" in field_cell(text_of(response), "comment")
    assert pending_approval(dbr, pk)["state"] == "pending"
    response = gm.post(f"/approval/decide/{approval['id']}", data={"decision": "approve", "comment": "同意方案"})
    assert response.status_code == 302
    assert pending_approval(dbr, pk) == {**approval, "state": "approved", "comment": "同意方案"}
    row = complaint_row(dbr, pk)
    assert row["plan_approved"] and row["steps"][-1] == "approve_plan"
    assert "assign" in buttons(text_of(html_as("cs_manager").get(f"/complaint/show/{pk}")))
    assert "kefu-decide-form" not in text_of(gm.get(f"/approval/show/{approval['id']}"))


def test_pending_approvals_come_first_with_their_waiting_time(html_as, customer, dbr):
    decided = _major(html_as, customer)
    html_as("gm").post(f"/approval/decide/{pending_approval(dbr, decided)['id']}",
                       data={"decision": "approve", "comment": "同意"})
    waiting = _major(html_as, customer)
    queue = text_of(html_as("gm").get("/approval/list/?psize_ApprovalView=100"))
    positions = [queue.index(f"/complaint/show/{pk}") for pk in (waiting, decided)]
    assert positions[0] < positions[1]
    states = re.findall(r"<td>(待审批|已批准|已驳回|Pending|Approved|Rejected)</td>", queue)
    first_decided = next((i for i, s in enumerate(states) if s not in ("待审批", "Pending")), len(states))
    assert all(s in ("待审批", "Pending") for s in states[:first_decided])
    assert all(s not in ("待审批", "Pending") for s in states[first_decided:])


def test_the_requester_cannot_decide(html_as, customer, dbr, app):
    pk = _major(html_as, customer)
    approval = pending_approval(dbr, pk)
    # The requester (a CS manager) holds no permission to decide: refused, and no decide form is offered.
    page = text_of(html_as("cs_manager").get(f"/approval/show/{approval['id']}"))
    assert "kefu-decide-form" not in page
    response = html_as("cs_manager").post(f"/approval/decide/{approval['id']}",
                                          data={"decision": "approve", "comment": ""})
    assert response.status_code in (302, 403)
    assert pending_approval(dbr, pk)["state"] == "pending"
    # The Admin holds every permission but is not the general manager: the domain's refusal is flashed.
    admin = html_as("admin")
    response = admin.post(f"/approval/decide/{approval['id']}", data={"decision": "approve", "comment": "x"})
    assert response.status_code == 302
    page = text_of(admin.get(response.headers["Location"]))
    from flask_babel import lazy_gettext as _l

    assert any_wording(app, _l("Only the general manager decides approvals."), page)
    assert pending_approval(dbr, pk)["state"] == "pending"
    assert complaint_row(dbr, pk)["plan_approved"] is False


def test_department_staff_have_no_approval_queue(html_as):
    assert html_as("eng_staff").get("/approval/list/").status_code in (302, 403)


# --- case library ---------------------------------------------------------------------------------

def test_the_case_library_is_searchable_and_only_the_cs_manager_adds(html_as, dbr):
    from app.models import CaseEntry

    manager = html_as("cs_manager")
    data = form_values(text_of(manager.get("/caseentry/add")), 'name="title"')
    data.update(title="卫生间防水层破损案例", stage="construction", category="quality",
                description="交付后一年内多户卫生间渗水", lesson="闭水试验须 48 小时并拍照留档")
    data.pop("project", None)
    data.pop("department", None)
    response = manager.post("/caseentry/add", data=data)
    assert response.status_code == 302, text_of(response)
    assert dbr.count(CaseEntry, CaseEntry.title == "卫生间防水层破损案例") == 1
    for query in ("_flt_0_text=闭水试验", "_flt_0_stage=construction", "_flt_0_category=quality"):
        page = text_of(html_as("eng_staff").get(f"/caseentry/list/?{query}"))
        assert "卫生间防水层破损案例" in page, query
    assert "卫生间防水层破损案例" not in text_of(html_as("eng_staff").get("/caseentry/list/?_flt_0_stage=design"))
    assert html_as("cs_staff").get("/caseentry/add").status_code in (302, 403)


# --- monthly statistics ---------------------------------------------------------------------------

def test_the_monthly_statistics_page_with_its_sortable_ledger(html_as, customer, dbr):
    from datetime import datetime

    client = html_as("cs_staff")
    month = "2024-02"  # a month of its own: no other test receives complaints in it
    invalid = receive(client, customer["mobile"], "咨询车位租赁", received_at=datetime(2024, 2, 5, 10, 0))
    assert take(client, invalid, "close_invalid", **GOOD["close_invalid"]).status_code == 302
    waiting = receive(client, customer["mobile"], "电梯停运无人处理", received_at=datetime(2024, 2, 6, 11, 0))
    numbers = {pk: complaint_row_number(html_as, pk) for pk in (invalid, waiting)}
    manager = html_as("cs_manager")
    response = manager.get(f"/complaintstats/?month={month}")
    assert response.status_code == 200
    page = text_of(response)
    assert re.search(r'class="kefu-total">\s*2\s*<', page)
    assert re.search(r'class="kefu-overdue-total[^"]*">\s*1\s*<', page)
    rows = {number: cls for cls, number in re.findall(
        r'<tr class="(kefu-ledger-row[^"]*)">\s*<td><a href="/complaint/show/\d+">([^<]+)</a>', page)}
    assert set(rows) == set(numbers.values())
    assert "kefu-overdue" in rows[numbers[waiting]] and "kefu-overdue" not in rows[numbers[invalid]]

    def order(query):
        text = text_of(manager.get(f"/complaintstats/?month={month}&{query}"))
        return re.findall(r'kefu-ledger-row[^"]*">\s*<td><a href="[^"]+">([^<]+)</a>', text)

    assert order("sort=received_at&dir=asc") == [numbers[invalid], numbers[waiting]]
    assert order("sort=received_at&dir=desc") == [numbers[waiting], numbers[invalid]]
    assert html_as("gm").get(f"/complaintstats/?month={month}").status_code == 200
    for username in ("cs_staff", "eng_staff"):
        assert html_as(username).get("/complaintstats/").status_code in (302, 403)
    refused = text_of(manager.get("/complaintstats/?month=2024-13"))
    assert "alert-danger" in refused
