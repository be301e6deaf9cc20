"""Visits through the HTML pages (CSRF is off in the test app): planning one through the add form, each
step through its form (the visit with its table of service items, the rectifications, each item's
rounds, the return visit, the archive), refusals shown with the domain's message and nothing changed,
department staff seeing and working only their department's items, my-work, the return visits of a
project, the summary through the general manager, and a fixed number of statements per page."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import event, select

from app.domain.calendar import local_now
from app.extensions import db
from app.models.choices import ServiceItem

from .conftest import form_values, text_of, wordings

_days = itertools.count()
NC_OPINION = {"cleaning": "大堂地面清洁不及时", "parking": "地库照明不足"}


def a_far_day() -> datetime:
    """A visit moment of its own, long ago: a summary of that day reports this test's visit only."""
    return datetime(2018, 1, 1, 10, 0) + timedelta(days=next(_days))


def in_days(n: int) -> str:
    return f"{local_now().date() + timedelta(days=n):%Y-%m-%d}"


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def departments(dbr):
    from app.models import Department

    with dbr.session() as s:
        return {d.code: d.id for d in s.scalars(select(Department))}


@pytest.fixture
def customer(created):
    """A new customer (unique name and mobile), so lists can be filtered to this test's visits."""
    _cid, payload, _body = created()
    return payload


def plan(client, customer_text: str, **fields) -> int:
    page = text_of(client.get("/visit/add"))
    data = form_values(page, 'name="customer"')
    data.update(customer=customer_text, contact_phone="13912345678", **fields)
    response = client.post("/visit/add", data=data)
    assert response.status_code == 302, text_of(response)
    return int(re.search(r"/visit/show/(\d+)", response.headers["Location"]).group(1))


def step_form(client, url) -> dict:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.headers.get("Location"))
    return form_values(text_of(response), 'name="version"')


def take(client, pk, action, **fields):
    url = f"/visit/transition/{pk}/{action}"
    return client.post(url, data={**step_form(client, url), **fields})


def take_item(client, pk, action, **fields):
    url = f"/rectification/transition/{pk}/{action}"
    return client.post(url, data={**step_form(client, url), **fields})


def ok(response):
    assert response.status_code == 302, text_of(response)
    return response


VISIT_FIELDS = {"result_cleaning": "non_conforming", "opinion_cleaning": NC_OPINION["cleaning"],
                "result_parking": "non_conforming", "opinion_parking": NC_OPINION["parking"],
                "result_security": "qualified", "opinion_security": "门岗认真",
                "result_other": "out_of_scope", "opinion_other": "希望增加公交线路",
                "explanation_other": "公交线路由公交公司规划，已向客户说明", "opinions": "希望加强夜间巡逻"}


def visit_row(dbr, pk) -> dict:
    from app.models import Rectification, ReturnVisit, Visit, VisitItem, VisitStep

    with dbr.session() as s:
        v = s.get(Visit, pk)
        items = s.scalars(select(VisitItem).where(VisitItem.visit_id == pk).order_by(VisitItem.seq)).all()
        rects = s.scalars(select(Rectification).where(Rectification.visit_id == pk).order_by(Rectification.id)).all()
        steps = s.scalars(select(VisitStep.action).where(VisitStep.visit_id == pk).order_by(VisitStep.id)).all()
        rvs = s.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == pk)).all()
        return {"state": v.state, "version": v.version, "number": v.number, "staff_id": v.staff_id,
                "contact_name": v.contact_name, "contact_phone": v.contact_phone, "satisfaction": v.satisfaction,
                "items": [(i.service_item, i.result) for i in items],
                "rectifications": [{"id": r.id, "number": r.number, "department_id": r.department_id,
                                    "state": r.state, "round": r.round, "service_item": r.item.service_item,
                                    "version": r.version, "measure": r.measure} for r in rects],
                "steps": steps, "return_visits": [(rv.state, rv.due_on) for rv in rvs]}


def rectify_fields(dbr, pk, departments, deadline=None) -> dict:
    """Cleaning to the property company (PM), parking to engineering (ENG)."""
    from app.models import VisitItem

    owner = {"cleaning": "PM", "parking": "ENG"}
    fields = {}
    with dbr.session() as s:
        for item in s.scalars(select(VisitItem).where(VisitItem.visit_id == pk, VisitItem.result == "non_conforming")):
            fields[f"department_id_{item.id}"] = str(departments[owner[item.service_item]])
            fields[f"measure_{item.id}"] = f"整改：{NC_OPINION[item.service_item]}"
            fields[f"responsible_person_{item.id}"] = "赵工" if owner[item.service_item] == "ENG" else "孙丽"
            fields[f"deadline_{item.id}"] = deadline or in_days(5)
            if item.service_item == "cleaning":
                fields[f"tenant_consulted_{item.id}"] = "y"
    return fields


def asks_first(page: str) -> bool:
    """The page's form asks the user to confirm before it is sent."""
    return bool(re.search(r'<form[^>]*class="[^"]*kefu-confirm[^"]*"[^>]*data-confirm="[^"]+"', page, re.S))


def buttons(page: str) -> set[str]:
    return set(re.findall(r'class="btn[^"]*kefu-action"\s+data-action="(\w+)"', page))


def any_wording(app, message, text) -> bool:
    """The message (an English source, or a lazy string with its values) in either language."""
    return any(w in text for w in wordings(app, _l(message) if isinstance(message, str) else message))


def by_department(row, departments, code) -> dict:
    return next(r for r in row["rectifications"] if r["department_id"] == departments[code])


def to_rectifying(html_as, dbr, customer, departments, **visit_fields) -> int:
    pk = plan(html_as("cs_staff"), customer["mobile"])
    ok(take(html_as("cs_staff"), pk, "visit", **{**VISIT_FIELDS, **visit_fields}))
    ok(take(html_as("cs_manager"), pk, "rectify", **rectify_fields(dbr, pk, departments)))
    return pk


def to_return_visited(html_as, dbr, customer, departments, **visit_fields) -> int:
    pk = to_rectifying(html_as, dbr, customer, departments, **visit_fields)
    for r in visit_row(dbr, pk)["rectifications"]:
        worker = "pm_staff" if r["department_id"] == departments["PM"] else "eng_staff"
        ok(take_item(html_as(worker), r["id"], "complete", note="已整改", customer_told="yes", told_how="电话"))
        ok(take_item(html_as("cs_staff"), r["id"], "accept", note="客户满意"))
    ok(take(html_as("cs_staff"), pk, "return_visit", return_visit_method="phone", return_visit_record="效果良好",
            satisfaction="5", effect_confirmed="y"))
    return pk


# --- planning --------------------------------------------------------------------------------------

def test_cs_staff_plans_a_visit_through_the_form(html_as, dbr, customer, app):
    client = html_as("cs_staff")
    page = text_of(client.get("/visit/add"))
    for name in ("customer", "unit", "contact_role", "contact_name", "contact_post", "contact_phone", "planned_at",
                 "staff_id", "companions"):
        assert f'name="{name}"' in page, name
    pk = plan(client, customer["mobile"], contact_post="业主", companions="李四")
    row = visit_row(dbr, pk)
    with dbr.session():
        cs_staff = app.appbuilder.sm.find_user(username="cs_staff").id
    assert row["state"] == "planned" and row["staff_id"] == cs_staff and row["steps"] == ["plan"]
    assert row["contact_name"] == customer["name"]  # a person: the household, by the customer's name
    show = text_of(client.get(f"/visit/show/{pk}"))
    assert row["number"] in show and 'data-state="planned"' in show
    assert "139****5678" in show and "13912345678" not in show  # the contact's phone masked
    assert buttons(show) == {"visit"}
    assert 'data-action="plan"' in show  # the timeline


def test_a_customer_is_found_by_name_too(html_as, dbr, customer):
    pk = plan(html_as("cs_staff"), customer["name"])
    assert visit_row(dbr, pk)["contact_name"] == customer["name"]


@pytest.mark.parametrize("typed", ["不存在的客户甲乙丙", "16600000000"])
def test_an_unknown_customer_is_refused_beside_the_field_and_nothing_is_written(typed, html_as, dbr):
    from app.models import Visit

    before = dbr.count(Visit)
    client = html_as("cs_staff")
    data = form_values(text_of(client.get("/visit/add")), 'name="customer"')
    data["customer"] = typed
    response = client.post("/visit/add", data=data)
    assert response.status_code == 200
    page = text_of(response)
    assert typed in page and "alert-danger" in page
    assert dbr.count(Visit) == before


@pytest.mark.parametrize("username", ["pm_staff", "eng_staff", "gm", "archivist", "auditor"])
def test_only_customer_service_plans_visits(username, html_as):
    assert html_as(username).get("/visit/add").status_code in (302, 403)


def test_department_staff_cannot_see_visits(html_as, customer, dbr):
    pk = plan(html_as("cs_staff"), customer["mobile"])
    for username in ("pm_staff", "eng_staff"):
        assert html_as(username).get("/visit/list/").status_code in (302, 403)
        assert html_as(username).get(f"/visit/show/{pk}").status_code in (302, 403, 404)


@pytest.mark.parametrize(("username", "entries"), [
    ("cs_staff", {"Visit list", "Rectification items", "Return visits", "Visit summaries"}),
    ("cs_manager", {"Visit list", "Rectification items", "Return visits", "Visit summaries"}),
    ("gm", {"Visit list", "Rectification items", "Return visits", "Visit summaries"}),
    ("pm_staff", {"Rectification items"}), ("eng_staff", {"Rectification items"}), ("archivist", set())])
def test_the_visits_menu_shows_what_the_role_may_list(username, entries, api_as):
    menu = api_as(username).get("/api/v1/menu/").get_json()["result"]
    found = {child["name"] for entry in menu if entry["name"] == "Visits" for child in entry.get("childs", [])
             if isinstance(child, dict)}
    assert found == entries


def test_readers_see_the_visit_without_any_action(html_as, customer):
    pk = plan(html_as("cs_staff"), customer["mobile"])
    for username in ("gm", "auditor"):
        response = html_as(username).get(f"/visit/show/{pk}")
        assert response.status_code == 200
        assert buttons(text_of(response)) == set()
    assert html_as("gm").get(f"/visit/transition/{pk}/visit").status_code in (302, 403)


# --- the steps ---------------------------------------------------------------------------------------

def test_a_visit_walks_through_every_step_with_a_second_round(html_as, dbr, customer, departments, app):
    cs, manager = html_as("cs_staff"), html_as("cs_manager")
    pk = plan(cs, customer["mobile"])
    form = step_form(cs, f"/visit/transition/{pk}/visit")
    for code in ("security", "cleaning", "greening", "maintenance", "equipment", "parking", "reception", "other"):
        assert f"result_{code}" in form and f"opinion_{code}" in form and f"explanation_{code}" in form
    ok(take(cs, pk, "visit", **VISIT_FIELDS))
    row = visit_row(dbr, pk)
    assert row["state"] == "visited"
    assert row["items"] == [("security", "qualified"), ("cleaning", "non_conforming"),
                            ("parking", "non_conforming"), ("other", "out_of_scope")]  # only rows with a result
    assert buttons(text_of(cs.get(f"/visit/show/{pk}"))) == {"rectify"}  # the return visit waits for them

    page = text_of(manager.get(f"/visit/transition/{pk}/rectify"))
    assert page.count('class="kefu-rectify-row"') == 2 and NC_OPINION["parking"] in page
    ok(take(manager, pk, "rectify", **rectify_fields(dbr, pk, departments)))
    row = visit_row(dbr, pk)
    assert row["state"] == "rectifying" and row["return_visits"] == [("due", date.fromisoformat(in_days(12)))]
    pm_item, eng_item = by_department(row, departments, "PM"), by_department(row, departments, "ENG")
    assert (pm_item["service_item"], eng_item["service_item"]) == ("cleaning", "parking")
    assert buttons(text_of(cs.get(f"/visit/show/{pk}"))) == set()  # the departments' turn

    # Each department reports its item done (the customer told), the progress first for one of them.
    pm, eng = html_as("pm_staff"), html_as("eng_staff")
    assert buttons(text_of(pm.get(f"/rectification/show/{pm_item['id']}"))) == {"report_progress", "complete"}
    ok(take_item(pm, pm_item["id"], "report_progress", note="已增加拖地频次", customer_told="no"))
    ok(take_item(pm, pm_item["id"], "complete", note="已整改完毕", customer_told="yes", told_how="电话告知"))
    ok(take_item(eng, eng_item["id"], "complete", note="已更换灯具", customer_told="yes", told_how="上门告知"))
    assert buttons(text_of(cs.get(f"/rectification/show/{eng_item['id']}"))) == {"accept", "reject"}

    # Customer service: satisfied with one, not with the other (a second round).
    ok(take_item(cs, pm_item["id"], "accept", note="客户满意"))
    reject = text_of(cs.get(f"/rectification/transition/{eng_item['id']}/reject"))
    assert eng_item["measure"] in reject  # the current measure to start from
    ok(take_item(cs, eng_item["id"], "reject", note="客户认为照明仍不足", measure="加装应急照明并重新布线",
                 deadline=in_days(10)))
    row = visit_row(dbr, pk)
    eng_item = by_department(row, departments, "ENG")
    assert eng_item["state"] == "open" and eng_item["round"] == 2 and eng_item["measure"] == "加装应急照明并重新布线"
    assert row["return_visits"] == [("due", date.fromisoformat(in_days(17)))]  # moved on by the new round
    show = text_of(cs.get(f"/visit/show/{pk}"))
    assert re.search(rf'data-pk="{eng_item["id"]}" data-state="open">.*?data-round="2"', show, re.S)

    # The return visit is not offered while an item waits; sent all the same, it is refused with the
    # message and nothing changes.
    before = visit_row(dbr, pk)
    assert cs.get(f"/visit/transition/{pk}/return_visit").status_code == 302
    refused = cs.post(f"/visit/transition/{pk}/return_visit", data={
        "version": before["version"], "return_visit_method": "phone", "return_visit_record": "回访",
        "satisfaction": "4", "effect_confirmed": "y"})
    assert refused.status_code == 409
    assert "回访" in text_of(refused)  # what was typed is kept
    assert any_wording(app, _l("%(n)s rectification item(s) still wait for the customer's satisfaction: the return "
                               "visit comes after.", n=1), text_of(refused))
    assert visit_row(dbr, pk) == before

    ok(take_item(eng, eng_item["id"], "complete", note="应急照明已安装", customer_told="yes", told_how="电话"))
    ok(take_item(cs, eng_item["id"], "accept", note="客户满意"))
    page = text_of(cs.get(f"/visit/show/{pk}"))
    assert buttons(page) == {"return_visit"}
    assert asks_first(text_of(cs.get(f"/visit/transition/{pk}/return_visit")))
    ok(take(cs, pk, "return_visit", return_visit_method="on_site", return_visit_record="整改效果良好",
            satisfaction="5", effect_confirmed="y"))
    row = visit_row(dbr, pk)
    assert row["state"] == "return_visited" and row["satisfaction"] == 5
    assert row["return_visits"] == [("done", date.fromisoformat(in_days(17)))]
    assert row["steps"] == ["plan", "visit", "rectify", "report_progress", "complete", "complete", "accept", "reject",
                            "complete", "accept", "return_visit"]
    show = text_of(cs.get(f"/visit/show/{pk}"))
    assert 'data-state="return_visited"' in show and buttons(show) == set()
    timeline = show[show.index("kefu-timeline"):]
    for text in ("孙丽", "赵工", "王建国", "加装应急照明并重新布线", "整改效果良好", NC_OPINION["cleaning"]):
        assert text in timeline, text
    for login in ("pm_staff", "eng_staff", "cs_manager", "cs_staff"):  # people by their names only
        assert login not in timeline, login
    assert re.search(rf'data-rectification="{eng_item["id"]}" data-round="2"', timeline)


def test_a_missing_opinion_is_refused_with_the_item_named_and_what_was_typed_kept(html_as, dbr, customer, app):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    before = visit_row(dbr, pk)
    response = take(cs, pk, "visit", result_cleaning="non_conforming", result_security="qualified",
                    explanation_security="这段说明会保留", opinions="客户的意见")
    assert response.status_code == 422
    page = text_of(response)
    assert any_wording(app, "Non-conforming: write what the customer found wrong.", page)
    assert any(f"{label}：" in page for label in wordings(app, ServiceItem.LABELS["cleaning"]))
    assert "这段说明会保留" in page and "客户的意见" in page
    assert re.search(r'<option selected value="non_conforming">|<option value="non_conforming" selected', page)
    assert visit_row(dbr, pk) == before


def test_a_visit_without_any_result_is_refused(html_as, dbr, customer, app):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    response = take(cs, pk, "visit")
    assert response.status_code == 422
    assert any_wording(app, "List at least one inspected item with its result.", text_of(response))
    assert visit_row(dbr, pk)["state"] == "planned"


def test_rectifications_with_a_past_deadline_are_refused_and_nothing_is_created(html_as, dbr, customer, departments,
                                                                                 app):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    ok(take(cs, pk, "visit", **VISIT_FIELDS))
    before = visit_row(dbr, pk)
    response = take(html_as("cs_manager"), pk, "rectify", **rectify_fields(dbr, pk, departments, deadline=in_days(-1)))
    assert response.status_code == 422
    page = text_of(response)
    assert any_wording(app, "A deadline cannot lie in the past.", page)
    assert "整改：" in page  # the measures typed are kept
    assert visit_row(dbr, pk) == before and before["rectifications"] == []


def test_a_missing_measure_is_named_by_its_item(html_as, dbr, customer, departments, app):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    ok(take(cs, pk, "visit", **VISIT_FIELDS))
    fields = rectify_fields(dbr, pk, departments)
    blank = next(k for k in fields if k.startswith("measure_"))
    fields[blank] = ""
    response = take(html_as("cs_manager"), pk, "rectify", **fields)
    assert response.status_code == 422
    page = text_of(response)
    assert any_wording(app, "A measure and a responsible person are required.", page)
    assert re.search(r"\d\. [^：<]+：", page)  # "2. 清洁：…" rather than the position in the list
    assert visit_row(dbr, pk)["state"] == "visited"


def test_a_stale_version_is_refused_and_changes_nothing(html_as, dbr, customer, app):
    from app.domain.errors import StaleRecordError

    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    url = f"/visit/transition/{pk}/visit"
    data = {**step_form(cs, url), **VISIT_FIELDS}
    data["version"] = str(int(data["version"]) - 1) if int(data["version"]) > 1 else "999"
    response = cs.post(url, data=data)
    assert response.status_code == 409
    assert any_wording(app, StaleRecordError.default_message, text_of(response))
    assert visit_row(dbr, pk)["state"] == "planned"


def test_a_step_not_open_now_is_not_offered_and_its_form_does_not_open(html_as, customer):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    response = cs.get(f"/visit/transition/{pk}/return_visit")
    assert response.status_code == 302 and f"/visit/show/{pk}" in response.headers["Location"]
    assert cs.get(f"/visit/transition/{pk}/nonsense").status_code == 404


def test_the_rectification_steps_ask_for_confirmation(html_as, dbr, customer, departments):
    pk = to_rectifying(html_as, dbr, customer, departments)
    item = by_department(visit_row(dbr, pk), departments, "PM")
    page = text_of(html_as("pm_staff").get(f"/rectification/transition/{item['id']}/complete"))
    assert asks_first(page)
    assert not asks_first(text_of(html_as("pm_staff").get(f"/rectification/transition/{item['id']}/report_progress")))


def test_completing_without_telling_the_customer_is_refused(html_as, dbr, customer, departments, app):
    pk = to_rectifying(html_as, dbr, customer, departments)
    item = by_department(visit_row(dbr, pk), departments, "PM")
    response = take_item(html_as("pm_staff"), item["id"], "complete", note="已整改", customer_told="no")
    assert response.status_code == 422
    assert any_wording(app, "Tell the customer the result before reporting it done.", text_of(response))
    assert by_department(visit_row(dbr, pk), departments, "PM")["state"] == "open"


# --- department scope ----------------------------------------------------------------------------------

def test_department_staff_see_and_work_only_their_department_s_items(html_as, dbr, customer, departments):
    pk = to_rectifying(html_as, dbr, customer, departments)
    row = visit_row(dbr, pk)
    pm_item, eng_item = by_department(row, departments, "PM"), by_department(row, departments, "ENG")
    listing = text_of(html_as("pm_staff").get(f"/rectification/list/?_flt_0_customer={customer['mobile']}"))
    assert pm_item["number"] in listing and eng_item["number"] not in listing
    listing = text_of(html_as("eng_staff").get(f"/rectification/list/?_flt_0_customer={customer['mobile']}"))
    assert eng_item["number"] in listing and pm_item["number"] not in listing
    assert html_as("pm_staff").get(f"/rectification/show/{eng_item['id']}").status_code == 404
    assert html_as("pm_staff").get(f"/rectification/transition/{eng_item['id']}/complete").status_code == 404
    assert html_as("pm_staff").post(f"/rectification/transition/{eng_item['id']}/complete",
                                    data={"note": "x", "customer_told": "yes"}).status_code == 404
    assert html_as("eng_staff").get(f"/rectification/show/{eng_item['id']}").status_code == 200
    # Customer service sees both, and the list shows each item's round.
    listing = text_of(html_as("cs_staff").get(f"/rectification/list/?_flt_0_customer={customer['mobile']}"))
    assert pm_item["number"] in listing and eng_item["number"] in listing and 'data-round="1"' in listing
    assert visit_row(dbr, pk)["rectifications"] == row["rectifications"]


def test_the_rectification_list_filters_overdue_items_and_shows_them_in_red(html_as, dbr, customer, departments, app):
    from app import audit
    from app.models import Rectification

    pk = to_rectifying(html_as, dbr, customer, departments)
    item = by_department(visit_row(dbr, pk), departments, "PM")
    with dbr.session() as s:  # a deadline that has passed since (the form refuses one in the past)
        with audit.acting_as(s, app.appbuilder.sm.find_user(username="cs_manager")):
            s.get(Rectification, item["id"]).deadline = local_now().date() - timedelta(days=2)
            s.commit()
    late = text_of(html_as("pm_staff").get(f"/rectification/list/?_flt_0_overdue=y&_flt_0_customer={customer['mobile']}"))
    assert item["number"] in late
    assert re.search(rf'<tr class="kefu-row danger kefu-overdue" data-pk="{item["id"]}"', late)
    not_late = text_of(html_as("pm_staff").get(f"/rectification/list/?_flt_0_overdue=n&_flt_0_customer={customer['mobile']}"))
    assert item["number"] not in not_late
    # my-work: the department's items, the overdue one first and in red
    work = text_of(html_as("pm_staff").get("/mywork/"))
    section = re.search(r'data-section="rectification">(.*?)</table>', work, re.S).group(1)
    assert item["number"] in section
    classes = re.findall(r'<tr class="(kefu-work-row[^"]*)"', section)
    flags = ["kefu-overdue" in c for c in classes]
    assert flags[0] and flags == sorted(flags, reverse=True)
    # the visit list marks the visit overdue too
    listing = text_of(html_as("cs_staff").get(f"/visit/list/?_flt_0_overdue=y&_flt_0_customer={customer['mobile']}"))
    assert visit_row(dbr, pk)["number"] in listing and "kefu-overdue" in listing


# --- lists -----------------------------------------------------------------------------------------------

def test_the_visit_list_filters_by_customer_state_and_overdue(html_as, dbr, customer):
    cs = html_as("cs_staff")
    late = plan(cs, customer["mobile"], planned_at=f"{local_now() - timedelta(days=3):%Y-%m-%dT%H:%M}")
    soon = plan(cs, customer["mobile"])
    late_no, soon_no = visit_row(dbr, late)["number"], visit_row(dbr, soon)["number"]
    listing = text_of(cs.get(f"/visit/list/?_flt_0_customer={customer['mobile']}"))
    assert late_no in listing and soon_no in listing
    assert re.search(rf'<tr class="kefu-row danger kefu-overdue" data-pk="{late}"', listing)
    assert re.search(rf'<tr class="kefu-row" data-pk="{soon}"', listing)
    overdue = text_of(cs.get(f"/visit/list/?_flt_0_customer={customer['mobile']}&_flt_0_overdue=y"))
    assert late_no in overdue and soon_no not in overdue
    ok(take(cs, soon, "visit", result_security="qualified"))
    visited = text_of(cs.get(f"/visit/list/?_flt_0_customer={customer['mobile']}&_flt_0_state=visited"))
    assert soon_no in visited and late_no not in visited
    assert cs.get("/visit/list/?_flt_0_staff=cs_staff").status_code == 200


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
    assert response.status_code == 200, url
    return len(statements)


@pytest.mark.parametrize(("username", "url", "view"), [
    ("cs_staff", "/visit/list/", "VisitView"), ("cs_staff", "/rectification/list/", "RectificationView"),
    ("pm_staff", "/rectification/list/", "RectificationView"), ("cs_staff", "/returnvisit/list/", "ReturnVisitView"),
    ("cs_manager", "/visitsummary/list/", "VisitSummaryView")])
def test_list_statements_do_not_grow_with_the_rows(username, url, view, app, html_as):
    client = html_as(username)
    small = _statements(app, client, f"{url}?psize_{view}=1")
    large = _statements(app, client, f"{url}?psize_{view}=100")
    assert small == large, f"{small} statements for 1 row but {large} for 100: a query per row"


def test_my_work_statements_do_not_grow_with_the_visits(app, html_as, dbr, customer, departments):
    to_rectifying(html_as, dbr, customer, departments)
    counts = {name: _statements(app, html_as(name), "/mywork/") for name in ("cs_staff", "pm_staff", "cs_manager")}
    to_rectifying(html_as, dbr, customer, departments)
    plan(html_as("cs_staff"), customer["mobile"])
    assert {name: _statements(app, html_as(name), "/mywork/") for name in counts} == counts


# --- my work -----------------------------------------------------------------------------------------

def _section(page: str, key: str) -> str:
    match = re.search(rf'data-section="{key}">(.*?)</table>', page, re.S)
    return match.group(1) if match else ""


def test_my_work_shows_the_visit_work_of_each_role(html_as, dbr, customer, departments):
    cs = html_as("cs_staff")
    pk = plan(cs, customer["mobile"])
    number = visit_row(dbr, pk)["number"]
    assert number in _section(text_of(cs.get("/mywork/")), "visit")
    assert number not in _section(text_of(html_as("cs_manager").get("/mywork/")), "visit")  # not their visit
    ok(take(cs, pk, "visit", **VISIT_FIELDS))
    assert number in _section(text_of(cs.get("/mywork/")), "visit")  # rectifications to assign
    ok(take(html_as("cs_manager"), pk, "rectify", **rectify_fields(dbr, pk, departments)))
    assert number not in _section(text_of(cs.get("/mywork/")), "visit")  # the departments are at work
    row = visit_row(dbr, pk)
    pm_item, eng_item = by_department(row, departments, "PM"), by_department(row, departments, "ENG")
    pm_work = _section(text_of(html_as("pm_staff").get("/mywork/")), "rectification")
    assert pm_item["number"] in pm_work and eng_item["number"] not in pm_work
    assert eng_item["number"] in _section(text_of(html_as("eng_staff").get("/mywork/")), "rectification")
    ok(take_item(html_as("pm_staff"), pm_item["id"], "complete", note="已整改", customer_told="yes"))
    assert pm_item["number"] not in _section(text_of(html_as("pm_staff").get("/mywork/")), "rectification")
    # the customer's verdict to ask on the rectified item, under its visiting staff
    assert pm_item["number"] in _section(text_of(cs.get("/mywork/")), "rectification")
    assert number not in _section(text_of(cs.get("/mywork/")), "visit")  # 工程部 is still at work
    assert "data-section=\"visit\"" not in text_of(html_as("pm_staff").get("/mywork/"))


def first_due_return_visit(dbr) -> dict:
    """The demo's first due delivery or move-in return visit (its project was delivered 120 days ago)."""
    from app.models import Project, ReturnVisit

    with dbr.session() as s:
        record = s.scalars(select(ReturnVisit).where(ReturnVisit.state == "due", ReturnVisit.kind != "visit")
                           .order_by(ReturnVisit.due_on, ReturnVisit.id)).first()
        return {"id": record.id, "number": record.number, "version": record.version, "kind": record.kind,
                "project": s.get(Project, record.project_id).name, "customer_id": record.customer_id}


def test_my_work_lists_due_return_visits_for_customer_service(html_as, dbr):
    record = first_due_return_visit(dbr)
    section = _section(text_of(html_as("cs_staff").get("/mywork/")), "return_visit")
    assert record["number"] in section
    assert re.search(rf'<tr class="kefu-work-row danger kefu-overdue">(?:(?!</tr>).)*{record["number"]}', section,
                     re.S)
    assert 'data-section="return_visit"' not in text_of(html_as("pm_staff").get("/mywork/"))


# --- return visits ------------------------------------------------------------------------------------

def test_return_visits_are_scheduled_for_a_project_recorded_and_printed(html_as, dbr, app):
    """Scheduling is idempotent (the demo scheduled this project already: nothing is added; the counts
    themselves are the domain's tests), recording refuses missing fields, printing files a copy."""
    from app.models import ArchiveRecord, ReturnVisit

    record = first_due_return_visit(dbr)
    cs = html_as("cs_staff")
    assert "kefu-schedule-link" in text_of(cs.get("/returnvisit/list/"))
    assert asks_first(text_of(cs.get("/returnvisit/schedule")))
    before = dbr.count(ReturnVisit)
    response = cs.post("/returnvisit/schedule", data={"project": record["project"]})
    assert response.status_code == 302, text_of(response)
    assert any_wording(app, _l("%(n)s return visit(s) scheduled for %(project)s.", n=0, project=record["project"]),
                       text_of(cs.get(response.headers["Location"])))
    assert dbr.count(ReturnVisit) == before
    unknown = cs.post("/returnvisit/schedule", data={"project": "没有这个项目"})
    assert unknown.status_code == 422 and any_wording(app, "No project has this name.", text_of(unknown))
    assert html_as("gm").post("/returnvisit/schedule", data={"project": record["project"]}).status_code in (302, 403)

    listing = text_of(cs.get("/returnvisit/list/?_flt_0_overdue=y&_flt_0_state=due&psize_ReturnVisitView=100"))
    assert record["number"] in listing and "kefu-overdue" in listing
    pk, version = record["id"], record["version"]
    show = text_of(cs.get(f"/returnvisit/show/{pk}"))
    assert 'data-action="record"' in show and 'data-state="due"' in show
    form = form_values(text_of(cs.get(f"/returnvisit/record/{pk}")), 'name="version"')
    assert form["version"] == str(version)
    refused = cs.post(f"/returnvisit/record/{pk}", data={**form, "record": "客户反映房屋质量良好"})
    assert refused.status_code == 422 and "客户反映房屋质量良好" in text_of(refused)
    with dbr.session() as s:
        assert s.get(ReturnVisit, pk).state == "due"
    ok(cs.post(f"/returnvisit/record/{pk}", data={**form, "method": "phone", "satisfaction": "4",
                                                   "record": "客户反映房屋质量良好"}))
    with dbr.session() as s:
        done = s.get(ReturnVisit, pk)
        assert (done.state, done.method, done.satisfaction, done.done_by_name) == ("done", "phone", 4, "cs_staff")
    again = cs.post(f"/returnvisit/record/{pk}", data={**form, "method": "phone", "satisfaction": "4", "record": "x"})
    assert again.status_code == 409  # the version read is stale and it is recorded already: nothing changes
    show = text_of(cs.get(f"/returnvisit/show/{pk}"))
    assert "record" not in buttons(show) and "kefu-print-form" in show
    timeline = show[show.index("kefu-timeline"):]  # who made it, by name; what was recorded, labelled
    assert "李晓梅" in timeline and "cs_staff" not in timeline and "客户反映房屋质量良好" in timeline
    assert "电话" in timeline and ">phone<" not in timeline
    before = dbr.count(ArchiveRecord)
    printed = cs.post(f"/returnvisit/print/{pk}")
    assert printed.status_code == 302 and "/archive/show/" in printed.headers["Location"]
    assert dbr.count(ArchiveRecord, ArchiveRecord.source_table == "return_visit", ArchiveRecord.source_id == pk) == 1
    assert html_as("gm").post(f"/returnvisit/print/{pk}").status_code in (302, 403)
    assert dbr.count(ArchiveRecord) == before + 1


# --- the summary, the general manager, the archive -------------------------------------------------------

def test_the_summary_goes_to_the_general_manager_and_the_visit_is_archived(html_as, dbr, customer, departments, app):
    from app.models import Approval, ArchiveRecord, CaseEntry, Visit, VisitSummary

    day = a_far_day()
    pk = to_return_visited(html_as, dbr, customer, departments, visited_at=f"{day:%Y-%m-%dT%H:%M}")
    manager = html_as("cs_manager")
    assert html_as("cs_staff").get("/visitsummary/add").status_code in (302, 403)
    data = form_values(text_of(manager.get("/visitsummary/add")), 'name="period_from"')
    data.update(period_from=f"{day:%Y-%m-%d}", period_to=f"{day:%Y-%m-%d}", title="")
    response = manager.post("/visitsummary/add", data=data)
    assert response.status_code == 302, text_of(response)
    sid = int(re.search(r"/visitsummary/show/(\d+)", response.headers["Location"]).group(1))
    show = text_of(manager.get(f"/visitsummary/show/{sid}"))
    assert "共走访客户 1 次" in show and buttons(show) == {"edit", "submit", "case"}
    assert asks_first(show)  # submitting asks first

    form = form_values(text_of(manager.get(f"/visitsummary/edit/{sid}")), 'name="content"')
    form["content"] += "\n建议：地库照明纳入季度巡检。"
    ok(manager.post(f"/visitsummary/edit/{sid}", data=form))
    with dbr.session() as s:
        summary = s.get(VisitSummary, sid)
        assert summary.content.endswith("建议：地库照明纳入季度巡检。") and summary.state == "draft"
        version = summary.version
    ok(manager.post(f"/visitsummary/submit/{sid}", data={"version": version}))
    with dbr.session() as s:
        approval = s.scalars(select(Approval).where(Approval.subject_table == "visit_summary",
                                                    Approval.subject_id == sid)).one()
        approval_id = approval.id
    show = text_of(manager.get(f"/visitsummary/show/{sid}"))
    assert 'data-state="submitted"' in show and buttons(show) == {"case"}
    assert manager.get(f"/visitsummary/edit/{sid}").status_code == 302

    gm = html_as("gm")
    approval_page = text_of(gm.get(f"/approval/show/{approval_id}"))
    assert f"/visitsummary/show/{sid}" in approval_page
    assert gm.get(f"/visitsummary/show/{sid}").status_code == 200
    ok(gm.post(f"/approval/decide/{approval_id}", data={"decision": "approve", "comment": "已阅，照明问题要跟进"}))
    show = text_of(manager.get(f"/visitsummary/show/{sid}"))
    assert 'data-state="acknowledged"' in show and "已阅，照明问题要跟进" in show
    assert visit_row(dbr, pk)["state"] == "summarised"

    # A recurring problem becomes a case-library entry.
    case = form_values(text_of(manager.get(f"/visitsummary/case/{sid}")), 'name="stage"')
    case.update(stage="move_in", category="living", lesson="地库照明纳入季度巡检")
    response = manager.post(f"/visitsummary/case/{sid}", data=case)
    assert response.status_code == 302, text_of(response)
    with dbr.session() as s:
        entry = s.scalars(select(CaseEntry).where(CaseEntry.source_table == "visit_summary",
                                                  CaseEntry.source_id == sid)).one()
        assert entry.lesson == "地库照明纳入季度巡检"

    # Archiving is offered once both filled forms are printed (and refused before); then it is filed.
    cs = html_as("cs_staff")
    show = text_of(cs.get(f"/visit/show/{pk}"))
    assert buttons(show) == set() and "kefu-print-first" in show and "kefu-print-form" in show
    assert cs.get(f"/visit/transition/{pk}/archive").status_code == 302
    with dbr.session() as s:
        version = s.get(Visit, pk).version
    refused = cs.post(f"/visit/transition/{pk}/archive", data={"version": version})
    assert refused.status_code == 409
    assert any_wording(app, "Print the filled 走访客户记录表 and 客户意见、建议征求表 first: they are what the "
                            "archive keeps.", text_of(refused))
    assert visit_row(dbr, pk)["state"] == "summarised"
    assert dbr.count(ArchiveRecord, ArchiveRecord.source_table == "visit", ArchiveRecord.source_id == pk) == 0
    printed = cs.post(f"/visit/print/{pk}")
    assert printed.status_code == 302 and f"/visit/show/{pk}" in printed.headers["Location"]
    with dbr.session() as s:
        forms = s.scalars(select(ArchiveRecord.form).where(ArchiveRecord.source_table == "visit",
                                                           ArchiveRecord.source_id == pk)).all()
        assert sorted(forms) == ["opinion_sheet", "visit_record"]
    show = text_of(cs.get(f"/visit/show/{pk}"))
    assert buttons(show) == {"archive"} and "kefu-print-first" not in show
    assert show.count('class="kefu-archived-copy"') == 2
    assert asks_first(text_of(cs.get(f"/visit/transition/{pk}/archive")))
    ok(cs.post(f"/visit/transition/{pk}/archive", data=step_form(cs, f"/visit/transition/{pk}/archive")))
    row = visit_row(dbr, pk)
    assert row["state"] == "archived" and row["steps"][-2:] == ["summarise", "archive"]
    assert buttons(text_of(cs.get(f"/visit/show/{pk}"))) == set()
    assert html_as("gm").post(f"/visit/print/{pk}").status_code in (302, 403)
    assert dbr.count(ArchiveRecord, ArchiveRecord.source_table == "visit", ArchiveRecord.source_id == pk) == 2


def test_submitting_a_summary_of_a_period_without_visits_is_refused(html_as, dbr, app):
    from app.models import VisitSummary

    manager = html_as("cs_manager")
    response = manager.post("/visitsummary/add", data={"period_from": "2001-01-01", "period_to": "2001-01-02"})
    sid = int(re.search(r"/visitsummary/show/(\d+)", response.headers["Location"]).group(1))
    with dbr.session() as s:
        version = s.get(VisitSummary, sid).version
    response = manager.post(f"/visitsummary/submit/{sid}", data={"version": version})
    assert response.status_code == 302
    page = text_of(manager.get(f"/visitsummary/show/{sid}"))
    assert any_wording(app, "No return-visited visit in this period is waiting to be summarised.", page)
    with dbr.session() as s:
        assert s.get(VisitSummary, sid).state == "draft"
    bad = manager.post("/visitsummary/add", data={"period_from": "2001-01-05", "period_to": "2001-01-01"})
    assert bad.status_code == 422
    assert any_wording(app, "The end of the period cannot lie before its start.", text_of(bad))
