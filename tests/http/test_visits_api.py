"""Visits through the REST API as the users who do each step: a visit with mixed results, two
rectification items for two departments (one rejected by the customer: a second round), the return
visit refused until both are satisfied, the summary through the general manager, both forms printed
and the visit archived; refusals (state 409, role 403, fields 422, stale version 409) that write
nothing; department isolation of rectification items; masked contact phones; delivery and move-in
return visits of a project scheduled, recorded and flagged overdue; the OpenAPI spec."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import prison
import pytest
from sqlalchemy import func, select

from .conftest import unique_mobile

ITEMS = [{"service_item": "cleaning", "result": "non_conforming", "opinion": "大堂地面清洁不及时"},
         {"service_item": "parking", "result": "non_conforming", "opinion": "地库照明不足"},
         {"service_item": "security", "result": "qualified", "opinion": "门岗认真"},
         {"service_item": "other", "result": "out_of_scope", "opinion": "希望增加公交线路",
          "explanation": "公交线路由公交公司规划，已向客户说明"}]
RETURN_VISIT = {"return_visit_method": "on_site", "return_visit_record": "整改效果良好，客户满意", "satisfaction": 5,
                "effect_confirmed": True}
CONTACT_PHONE = "13812345678"

# Visit days of this module's own (2015; the unit tests use 2019, the demo the recent past): a summary of
# such a day reports this module's visit only, whatever else the shared test database holds.
_day = itertools.count()


def a_day() -> datetime:
    return datetime(2015, 3, 2, 10, 0) + timedelta(days=next(_day))


def _q(**args) -> dict:
    return {"q": prison.dumps(args)}


def _message(response) -> str:
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert isinstance(body.get("message"), str) and body["message"].strip(), body
    return body["message"]


@pytest.fixture(scope="module")
def departments(dbr):
    from app.models import Department

    with dbr.session() as s:
        return {d.code: d.id for d in s.scalars(select(Department))}


@pytest.fixture(scope="module")
def company(dbr):
    """A demo company customer holding a unit."""
    from app.models import Customer, CustomerUnit

    with dbr.session() as s:
        row = s.execute(select(Customer.id, func.min(CustomerUnit.unit_id)).join(CustomerUnit)
                        .where(Customer.kind == "company").group_by(Customer.id).order_by(Customer.id)
                        .limit(1)).one()
        return {"id": row[0], "unit_id": row[1]}


class Visits:
    """Plans visits and moves them through the API; reads what is stored."""

    def __init__(self, api_as, dbr, departments, company):
        self.api_as, self.dbr, self.departments, self.company = api_as, dbr, departments, company

    def plan(self, user="cs_staff", **fields):
        payload = {"customer_id": self.company["id"], "unit_id": self.company["unit_id"],
                   "planned_at": (a_day() - timedelta(days=1)).isoformat(), "contact_role": "main_contact",
                   "contact_name": f"接待人{unique_mobile()[-6:]}", "contact_post": "行政经理",
                   "contact_phone": CONTACT_PHONE, "companions": "王工", **fields}
        response = self.api_as(user).post("/api/v1/visit/", json=payload)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def step(self, vid, action, user="cs_staff", version=None, **values):
        body = {"action": action, "version": self.stored(vid)["version"] if version is None else version, **values}
        return self.api_as(user).post(f"/api/v1/visit/{vid}/transition", json=body)

    def ok(self, vid, action, user="cs_staff", **values):
        response = self.step(vid, action, user, **values)
        assert response.status_code == 200, (action, response.get_data(as_text=True))
        return response.get_json()

    def rect_step(self, rid, action, user, version=None, **values):
        body = {"action": action, "version": self.rectification(rid)["version"] if version is None else version,
                **values}
        return self.api_as(user).post(f"/api/v1/rectification/{rid}/transition", json=body)

    def rect_ok(self, rid, action, user, **values):
        response = self.rect_step(rid, action, user, **values)
        assert response.status_code == 200, (action, response.get_data(as_text=True))
        return response.get_json()

    def items(self, vid) -> list[dict]:
        response = self.api_as("cs_staff").get(f"/api/v1/visit/{vid}/items")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["result"]

    def rectify_values(self, vid, departments=("PM", "ENG")) -> dict:
        wrong = [item for item in self.items(vid) if item["result"] == "non_conforming"]
        deadline = (date.today() + timedelta(days=5)).isoformat()
        return {"rectifications": [
            {"item_id": item["id"], "department_id": self.departments[departments[i % len(departments)]],
             "measure": f"整改措施 {item['seq']}", "responsible_person": "负责人", "deadline": deadline,
             "tenant_consulted": i == 0} for i, item in enumerate(wrong)]}

    def stored(self, vid) -> dict:
        from app.models import Visit

        with self.dbr.session() as s:
            visit = s.get(Visit, vid)
            return {c.key: getattr(visit, c.key) for c in Visit.__table__.columns}

    def rectification(self, rid) -> dict:
        from app.models import Rectification

        with self.dbr.session() as s:
            item = s.get(Rectification, rid)
            return {c.key: getattr(item, c.key) for c in Rectification.__table__.columns}

    def rectification_ids(self, vid) -> dict[str, int]:
        """{department code: rectification id} of a visit."""
        from app.models import Department, Rectification

        with self.dbr.session() as s:
            return dict(s.execute(select(Department.code, Rectification.id).join(Department)
                                  .where(Rectification.visit_id == vid)).all())

    def snapshot(self, vid) -> tuple:
        """What a refusal must leave unchanged: the visit's version and state, its rectification items'
        versions and states, its steps and the whole audit trail."""
        from app.models import Rectification, VisitStep

        visit = self.stored(vid)
        with self.dbr.session() as s:
            items = s.execute(select(Rectification.id, Rectification.version, Rectification.state, Rectification.round)
                              .where(Rectification.visit_id == vid).order_by(Rectification.id)).all()
            steps = s.scalar(select(func.count(VisitStep.id)).where(VisitStep.visit_id == vid))
        return visit["version"], visit["state"], [tuple(r) for r in items], steps, self.dbr.audit_count()


@pytest.fixture
def walker(api_as, dbr, departments, company):
    return Visits(api_as, dbr, departments, company)


def refused(response, status, *, errors=None):
    """Assert a refusal with its status and a message (and field errors for 422)."""
    assert response.status_code == status, response.get_data(as_text=True)
    _message(response)
    if errors:
        assert set(errors) <= set(response.get_json().get("errors", {})), response.get_json()


# --- the whole procedure ------------------------------------------------------------------------

def test_a_visit_from_plan_to_archive(walker, api_as, dbr, departments):
    from app.models import ArchiveRecord, ReturnVisit

    planned = walker.plan()
    vid = planned["id"]
    assert planned["result"]["state"] == "planned" and planned["result"]["number"].startswith("ZF2015-")
    assert planned["result"]["allowed_actions"] == ["visit"]
    assert planned["result"]["contact_phone"] == "138****5678"

    # 走访: mixed results, the moment given with an offset is stored as China time.
    day = a_day()
    visited_at = (day - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = walker.ok(vid, "visit", items=ITEMS, visited_at=visited_at, opinions="希望加强夜间巡逻")
    # Only what would be accepted is offered: the return visit waits for the non-conforming items.
    assert body["state"] == "visited" and body["allowed_actions"] == ["rectify"]
    assert walker.stored(vid)["visited_at"] == day
    items = walker.items(vid)
    assert [(i["seq"], i["service_item"], i["result"]) for i in items] == [
        (1, "cleaning", "non_conforming"), (2, "parking", "non_conforming"), (3, "security", "qualified"),
        (4, "other", "out_of_scope")]
    assert items[3]["explanation"] == ITEMS[3]["explanation"]

    # Non-conforming items come before the return visit.
    before = walker.snapshot(vid)
    refused(walker.step(vid, "return_visit", **RETURN_VISIT), 409)
    assert walker.snapshot(vid) == before

    # 整改: one item to the property company, one to engineering.
    partial = walker.rectify_values(vid)
    partial["rectifications"] = partial["rectifications"][:1]
    refused(walker.step(vid, "rectify", "cs_manager", **partial), 422, errors=["rectifications"])
    assert walker.snapshot(vid) == before
    body = walker.ok(vid, "rectify", "cs_manager", **walker.rectify_values(vid))
    assert body["state"] == "rectifying"
    rect = walker.rectification_ids(vid)
    assert set(rect) == {"PM", "ENG"}
    listed = api_as("cs_staff").get(f"/api/v1/visit/{vid}/rectifications").get_json()["result"]
    assert [(r["department_id"], r["round"], r["state"], r["overdue"]) for r in listed] == [
        (departments["PM"], 1, "open", False), (departments["ENG"], 1, "open", False)]
    assert listed[0]["opinion"] == ITEMS[0]["opinion"] and listed[0]["tenant_consulted"] is True

    # Each department sees and works its own item only; the other department's answers 404.
    for user, own, other in (("pm_staff", "PM", "ENG"), ("eng_staff", "ENG", "PM")):
        response = api_as(user).get("/api/v1/rectification/", query_string=_q(
            filters=[{"col": "visit_id", "opr": "eq", "value": vid}]))
        assert response.status_code == 200
        assert response.get_json()["ids"] == [rect[own]]
        row = response.get_json()["result"][0]
        assert row["round"] == 1 and row["overdue"] is False and row["visit_number"] == planned["result"]["number"]
        assert api_as(user).get(f"/api/v1/rectification/{rect[own]}").status_code == 200
        assert api_as(user).get(f"/api/v1/rectification/{rect[other]}").status_code == 404
        before = walker.snapshot(vid)
        refused(walker.rect_step(rect[other], "report_progress", user, note="x", customer_told=True), 404)
        assert walker.snapshot(vid) == before
    detail = api_as("pm_staff").get(f"/api/v1/rectification/{rect['PM']}").get_json()["result"]
    assert set(detail["allowed_actions"]) == {"report_progress", "complete"} and detail["overdue"] is False

    body = walker.rect_ok(rect["PM"], "report_progress", "pm_staff", note="已增加保洁频次", customer_told=True,
                          told_how="电话")
    assert body["state"] == "open" and body["round"] == 1
    before = walker.snapshot(vid)
    refused(walker.rect_step(rect["PM"], "complete", "pm_staff", note="已完成", customer_told=False),
            422, errors=["customer_told"])
    refused(walker.rect_step(rect["PM"], "accept", "pm_staff"), 409)  # open: not yet done
    assert walker.snapshot(vid) == before
    walker.rect_ok(rect["PM"], "complete", "pm_staff", note="已完成", customer_told=True, told_how="电话")
    walker.rect_ok(rect["ENG"], "complete", "eng_staff", note="已更换灯具", customer_told=True)
    before = walker.snapshot(vid)
    refused(walker.rect_step(rect["PM"], "accept", "pm_staff"), 403)  # the customer's verdict: CS only
    assert walker.snapshot(vid) == before
    walker.rect_ok(rect["PM"], "accept", "cs_staff", note="客户满意")

    # The customer is not satisfied with the parking lights: a second round.
    before = walker.snapshot(vid)
    refused(walker.rect_step(rect["ENG"], "reject", "cs_staff", note="仍偏暗"), 422,
            errors=["measure", "deadline"])
    assert walker.snapshot(vid) == before
    later = date.today() + timedelta(days=20)
    body = walker.rect_ok(rect["ENG"], "reject", "cs_staff", note="仍偏暗", measure="加装照明灯带",
                          deadline=later.isoformat())
    assert body["state"] == "open" and body["round"] == 2 and body["result"]["deadline"] == later.isoformat()
    with dbr.session() as s:
        due = s.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == vid)).one()
        assert due.state == "due" and due.due_on == later + timedelta(days=7)

    # No return visit while one item is open.
    before = walker.snapshot(vid)
    refused(walker.step(vid, "return_visit", **RETURN_VISIT), 409)
    assert walker.snapshot(vid) == before
    walker.rect_ok(rect["ENG"], "complete", "eng_staff", note="灯带已装", customer_told=True)
    walker.rect_ok(rect["ENG"], "accept", "cs_staff")
    listed = api_as("cs_staff").get(f"/api/v1/visit/{vid}/rectifications").get_json()["result"]
    assert [(r["round"], r["state"]) for r in listed] == [(1, "satisfied"), (2, "satisfied")]
    before = walker.snapshot(vid)
    refused(walker.step(vid, "return_visit", **{**RETURN_VISIT, "effect_confirmed": False}), 422,
            errors=["effect_confirmed"])
    assert walker.snapshot(vid) == before
    body = walker.ok(vid, "return_visit", **RETURN_VISIT)
    assert body["state"] == "return_visited" and body["result"]["satisfaction"] == 5

    steps = api_as("cs_staff").get(f"/api/v1/visit/{vid}/steps").get_json()["result"]
    assert [s["action"] for s in steps if s["rectification_id"] is None] == ["plan", "visit", "rectify", "return_visit"]
    eng_completes = [s["round"] for s in steps if s["rectification_id"] == rect["ENG"] and s["action"] == "complete"]
    assert eng_completes == [1, 2]
    progress = next(s for s in steps if s["action"] == "report_progress")
    assert progress["customer_told"] is True and progress["actor_name"] == "pm_staff"

    # The summary: drafted, edited and submitted by the manager, acknowledged by the general manager.
    period = {"period_from": day.date().isoformat(), "period_to": day.date().isoformat()}
    assert api_as("cs_staff").post("/api/v1/visit_summary/", json=period).status_code == 403
    response = api_as("cs_manager").post("/api/v1/visit_summary/", json=period)
    assert response.status_code == 201, response.get_data(as_text=True)
    summary = response.get_json()
    sid = summary["id"]
    figures = summary["result"]["figures"]
    assert figures["visits"] == 1 and figures["items"]["non_conforming"] == 2 and figures["second_rounds"] == 1
    assert summary["result"]["state"] == "draft" and summary["result"]["approval_id"] is None
    content = summary["result"]["content"] + "\n建议：加强地库照明巡查。"
    stale = api_as("cs_manager").put(f"/api/v1/visit_summary/{sid}",
                                     json={"version": summary["version"] - 1, "content": content})
    assert stale.status_code == 409
    response = api_as("cs_manager").put(f"/api/v1/visit_summary/{sid}",
                                        json={"version": summary["version"], "content": content})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["result"]["content"] == content
    response = api_as("cs_manager").post(f"/api/v1/visit_summary/{sid}/submit",
                                         json={"version": response.get_json()["version"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    submitted = response.get_json()
    assert submitted["state"] == "submitted" and submitted["result"]["visit_ids"] == [vid]
    again = api_as("cs_manager").post(f"/api/v1/visit_summary/{sid}/submit", json={"version": submitted["version"]})
    assert again.status_code == 409
    shown = api_as("gm").get(f"/api/v1/visit_summary/{sid}")
    assert shown.status_code == 200 and shown.get_json()["result"]["figures"] == figures
    approval_id = submitted["approval_id"]
    approval = api_as("gm").get(f"/api/v1/approval/{approval_id}").get_json()["result"]
    assert approval["kind"] == "visit_summary" and approval["subject_id"] == sid
    assert api_as("cs_manager").post(f"/api/v1/approval/{approval_id}/decide",
                                     json={"decision": "approve"}).status_code == 403
    assert walker.stored(vid)["state"] == "return_visited"
    response = api_as("gm").post(f"/api/v1/approval/{approval_id}/decide", json={"decision": "approve", "comment": "已阅"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["subject"]["state"] == "acknowledged"
    assert walker.stored(vid)["state"] == "summarised" and walker.stored(vid)["summary_id"] == sid
    visit = api_as("cs_staff").get(f"/api/v1/visit/{vid}").get_json()["result"]
    assert visit["state"] == "summarised" and visit["allowed_actions"] == []  # the forms come first

    # A recurring problem of the summary goes to the case library.
    refused(api_as("cs_manager").post(f"/api/v1/visit_summary/{sid}/case", json={"title": "x"}), 422,
            errors=["stage", "category", "description"])
    response = api_as("cs_manager").post(f"/api/v1/visit_summary/{sid}/case", json={
        "title": "地库照明不足", "stage": "move_in", "category": "living", "description": "走访客户反映地库照明不足",
        "lesson": "设计阶段提高地库照度标准"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["result"]["source_table"] == "visit_summary"
    assert response.get_json()["result"]["source_id"] == sid

    # Archived only with both forms filed.
    before = walker.snapshot(vid)
    refused(walker.step(vid, "archive"), 409)
    assert walker.snapshot(vid) == before
    assert api_as("eng_staff").post(f"/api/v1/visit/{vid}/print").status_code == 403
    response = api_as("cs_staff").post(f"/api/v1/visit/{vid}/print")
    assert response.status_code == 201, response.get_data(as_text=True)
    filed = response.get_json()
    assert filed["count"] == 2 and len(filed["ids"]) == 2
    assert {r["form"] for r in filed["result"]} == {"visit_record", "opinion_sheet"}
    assert all(r["retention_years"] is None and r["source_id"] == vid for r in filed["result"])
    assert dbr.count(ArchiveRecord, ArchiveRecord.source_table == "visit", ArchiveRecord.source_id == vid) == 2
    body = walker.ok(vid, "archive")
    assert body["state"] == "archived" and body["allowed_actions"] == []
    assert walker.stored(vid)["archived_at"] is not None


# --- refusals -----------------------------------------------------------------------------------

def test_refusals_change_nothing(walker, api_as):
    vid = walker.plan()["id"]
    before = walker.snapshot(vid)
    version = before[0]
    # State: not possible from `planned`.
    refused(walker.step(vid, "rectify", "cs_manager", rectifications=[]), 409)
    refused(walker.step(vid, "archive"), 409)
    # Role: department staff hold no visit permission (and would not see the visit); the admin is not
    # customer service, which alone takes the steps.
    response = walker.step(vid, "visit", "eng_staff", items=ITEMS)
    assert response.status_code in (403, 404), response.get_data(as_text=True)
    refused(walker.step(vid, "visit", "admin", items=ITEMS), 403)
    refused(walker.step(vid, "visit", "auditor", items=ITEMS), 403)
    # Fields: the inspected items are required; an out-of-scope item needs its explanation; no other field.
    refused(walker.step(vid, "visit"), 422, errors=["items"])
    refused(walker.step(vid, "visit", items=[{"service_item": "other", "result": "out_of_scope"}]), 422,
            errors=["items"])
    refused(walker.step(vid, "visit", items=ITEMS, satisfaction=5), 422, errors=["satisfaction"])
    refused(walker.step(vid, "fly"), 422, errors=["action"])
    # Stale or missing version.
    refused(walker.step(vid, "visit", version=version - 1, items=ITEMS), 409)
    refused(walker.step(vid, "visit", version="", items=ITEMS), 422)
    # Not JSON at all.
    response = api_as("cs_staff").post(f"/api/v1/visit/{vid}/transition", data="x", content_type="text/plain")
    refused(response, 422, errors=["body"])
    # Not visible / not there.
    refused(walker.step(10**9, "visit", version=1, items=ITEMS), 404)
    assert walker.snapshot(vid) == before
    # And the step still goes through afterwards.
    assert walker.ok(vid, "visit", items=ITEMS[2:])["state"] == "visited"


def test_planning_refusals(walker, api_as, dbr, company):
    from app.models import Visit

    before = (dbr.count(Visit), dbr.audit_count())
    for user in ("eng_staff", "gm", "auditor"):
        response = api_as(user).post("/api/v1/visit/", json={"customer_id": company["id"],
                                                             "planned_at": "2030-01-02 10:00"})
        assert response.status_code == 403, (user, response.get_data(as_text=True))
    response = api_as("cs_staff").post("/api/v1/visit/", json={"customer_id": 10**9, "planned_at": "tomorrow"})
    refused(response, 422, errors=["customer_id", "planned_at"])
    response = api_as("cs_staff").post("/api/v1/visit/", json={"customer_id": company["id"], "planned_at":
                                                               "2030-01-02 10:00", "state": "archived"})
    refused(response, 422, errors=["state"])
    response = api_as("cs_staff").post("/api/v1/visit/", json={"customer_id": company["id"],
                                                               "planned_at": "2030-01-02 10:00", "unit_id": 10**9})
    refused(response, 422, errors=["unit_id"])
    assert (dbr.count(Visit), dbr.audit_count()) == before


# --- who sees what ------------------------------------------------------------------------------

def test_department_staff_see_no_visits_and_only_their_own_rectification_items(walker, api_as, departments):
    vid = walker.plan()["id"]
    walker.ok(vid, "visit", items=ITEMS)
    walker.ok(vid, "rectify", "cs_manager", **walker.rectify_values(vid))
    for user in ("eng_staff", "pm_staff"):
        response = api_as(user).get("/api/v1/visit/")
        assert response.status_code == 403  # no visit permission at all: visits are customer service's
        assert "ZF" not in response.get_data(as_text=True)
        assert api_as(user).get(f"/api/v1/visit/{vid}").status_code == 403
        assert api_as(user).get(f"/api/v1/visit/{vid}/rectifications").status_code == 403
    assert walker.stored(vid)["state"] == "rectifying"
    for user, code in (("eng_staff", "ENG"), ("pm_staff", "PM")):
        response = api_as(user).get("/api/v1/rectification/", query_string=_q(page_size=100))
        assert response.status_code == 200
        rows = response.get_json()["result"]
        assert rows and {r["department_id"] for r in rows} == {departments[code]}
    everyone = api_as("cs_staff").get("/api/v1/rectification/", query_string=_q(
        filters=[{"col": "visit_id", "opr": "eq", "value": vid}])).get_json()
    assert {r["department_id"] for r in everyone["result"]} == {departments["PM"], departments["ENG"]}
    # A department's overdue items (the demo data has some); the flag and the filter agree.
    for value in (True, False):
        response = api_as("eng_staff").get("/api/v1/rectification/", query_string=_q(
            page_size=100, filters=[{"col": "state", "opr": "rectification_overdue", "value": value}]))
        assert response.status_code == 200, response.get_data(as_text=True)
        rows = response.get_json()["result"]
        assert rows and all(r["overdue"] is value and r["department_id"] == departments["ENG"] for r in rows)


def test_the_contact_phone_is_masked_for_every_reader(walker, api_as):
    planned = walker.plan()
    vid, name = planned["id"], planned["result"]["contact_name"]
    for user in ("cs_staff", "cs_manager", "gm", "auditor", "admin"):
        shown = api_as(user).get(f"/api/v1/visit/{vid}")
        assert shown.status_code == 200, user
        assert shown.get_json()["result"]["contact_phone"] == "138****5678"
        listed = api_as(user).get("/api/v1/visit/", query_string=_q(
            filters=[{"col": "contact_name", "opr": "eq", "value": name}]))
        assert listed.status_code == 200 and listed.get_json()["ids"] == [vid]
        assert listed.get_json()["result"][0]["contact_phone"] == "138****5678"
        for response in (shown, listed):
            assert CONTACT_PHONE not in response.get_data(as_text=True)


# --- delivery and move-in return visits ---------------------------------------------------------

def test_delivery_and_move_in_return_visits(api_as, dbr, company, walker):
    from app.models import ReturnVisit

    manager = api_as("cs_manager")
    code = f"V{unique_mobile()[-8:]}"
    response = manager.post("/api/v1/project/", json={"code": code, "name": f"回访测试项目 {code}", "city": "杭州"})
    assert response.status_code == 201, response.get_data(as_text=True)
    project = response.get_json()
    response = manager.post("/api/v1/building/", json={"project": project["id"], "name": "1栋", "floors": 5})
    assert response.status_code == 201, response.get_data(as_text=True)
    response = manager.post("/api/v1/unit/", json={"building": response.get_json()["id"], "number": "101",
                                                   "floor": 1, "area": 99})
    assert response.status_code == 201, response.get_data(as_text=True)
    response = manager.post("/api/v1/customer_unit/", json={"customer": company["id"],
                                                            "unit": response.get_json()["id"]})
    assert response.status_code == 201, response.get_data(as_text=True)

    schedule = {"project_id": project["id"]}
    refused(manager.post("/api/v1/return_visit/schedule", json=schedule), 422, errors=["project"])
    refused(manager.post("/api/v1/return_visit/schedule", json={"project_id": 10**9}), 422,
            errors=["project_id"])
    delivery_date, move_in_date = date(2020, 1, 10), date(date.today().year + 1, 5, 31)
    response = manager.put(f"/api/v1/project/{project['id']}", json={
        "version": project["result"]["version"], "delivery_date": delivery_date.isoformat(),
        "move_in_date": move_in_date.isoformat()})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api_as("eng_staff").post("/api/v1/return_visit/schedule", json=schedule).status_code == 403
    response = api_as("cs_staff").post("/api/v1/return_visit/schedule", json=schedule)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["added"] == 2
    assert api_as("cs_staff").post("/api/v1/return_visit/schedule", json=schedule).get_json()["added"] == 0

    response = api_as("cs_staff").get("/api/v1/return_visit/", query_string=_q(
        filters=[{"col": "project_id", "opr": "eq", "value": project["id"]}], order_column="due_on",
        order_direction="asc"))
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = response.get_json()["result"]
    assert [(r["kind"], r["due_on"], r["state"], r["overdue"]) for r in rows] == [
        ("delivery", (delivery_date + timedelta(days=30)).isoformat(), "due", True),
        ("move_in", date(move_in_date.year, 8, 31).isoformat(), "due", False)]  # three months after
    delivery_id = response.get_json()["ids"][0]
    overdue = api_as("cs_staff").get("/api/v1/return_visit/", query_string=_q(filters=[
        {"col": "project_id", "opr": "eq", "value": project["id"]},
        {"col": "state", "opr": "return_visit_overdue", "value": True}])).get_json()
    assert overdue["ids"] == [delivery_id]
    kinds = api_as("cs_staff").get("/api/v1/return_visit/", query_string=_q(filters=[
        {"col": "project_id", "opr": "eq", "value": project["id"]},
        {"col": "kind", "opr": "eq", "value": "move_in"}])).get_json()
    assert [r["kind"] for r in kinds["result"]] == ["move_in"]
    assert api_as("eng_staff").get("/api/v1/return_visit/").status_code == 403

    def stored():
        with dbr.session() as s:
            item = s.get(ReturnVisit, delivery_id)
            version, state = item.version, item.state
        return version, state, dbr.audit_count()

    detail = api_as("cs_staff").get(f"/api/v1/return_visit/{delivery_id}").get_json()["result"]
    assert detail["overdue"] is True and detail["number"].startswith("HF-")
    before = stored()
    url = f"/api/v1/return_visit/{delivery_id}/record"
    refused(api_as("cs_staff").post(url, json={"version": detail["version"], "method": "phone"}), 422,
            errors=["record", "satisfaction"])
    refused(api_as("cs_staff").post(url, json={"version": detail["version"] - 1, "method": "phone",
                                                             "record": "满意", "satisfaction": 5}), 409)
    assert api_as("gm").post(url, json={"version": detail["version"], "method": "phone", "record": "满意",
                                        "satisfaction": 5}).status_code == 403
    assert stored() == before
    response = api_as("cs_staff").post(url, json={"version": detail["version"], "method": "phone",
                                                  "record": "交房质量满意", "satisfaction": 5})
    assert response.status_code == 200, response.get_data(as_text=True)
    done = response.get_json()
    assert done["state"] == "done" and done["result"]["overdue"] is False
    assert done["result"]["done_by_name"] == "cs_staff"
    refused(api_as("cs_staff").post(url, json={"version": done["version"], "method": "phone",
                                                             "record": "x", "satisfaction": 5}), 409)
    response = api_as("cs_staff").post(f"/api/v1/return_visit/{delivery_id}/print")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["result"]["form"] == "return_visit"


def test_a_visits_own_return_visit_is_a_step_of_the_visit(walker, api_as):
    vid = walker.plan()["id"]
    walker.ok(vid, "visit", items=ITEMS)
    walker.ok(vid, "rectify", "cs_manager", **walker.rectify_values(vid))
    listed = api_as("cs_staff").get("/api/v1/return_visit/", query_string=_q(
        filters=[{"col": "visit_id", "opr": "eq", "value": vid}])).get_json()
    assert [r["kind"] for r in listed["result"]] == ["visit"]
    rid = listed["ids"][0]
    response = api_as("cs_staff").post(f"/api/v1/return_visit/{rid}/record", json={
        "version": listed["result"][0]["version"], "method": "phone", "record": "满意", "satisfaction": 5})
    refused(response, 409)


# --- the spec -----------------------------------------------------------------------------------

def test_the_endpoints_are_documented_in_the_openapi_spec(api_as):
    response = api_as("admin").get("/api/v1/_openapi")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    documented = (("/api/v1/visit/", "post"), ("/api/v1/visit/", "get"), ("/api/v1/visit/{pk}", "get"),
                  ("/api/v1/visit/{pk}/transition", "post"), ("/api/v1/visit/{pk}/items", "get"),
                  ("/api/v1/visit/{pk}/rectifications", "get"), ("/api/v1/visit/{pk}/steps", "get"),
                  ("/api/v1/visit/{pk}/print", "post"), ("/api/v1/rectification/", "get"),
                  ("/api/v1/rectification/{pk}", "get"), ("/api/v1/rectification/{pk}/transition", "post"),
                  ("/api/v1/return_visit/", "get"), ("/api/v1/return_visit/{pk}", "get"),
                  ("/api/v1/return_visit/{pk}/record", "post"), ("/api/v1/return_visit/schedule", "post"),
                  ("/api/v1/return_visit/{pk}/print", "post"), ("/api/v1/visit_summary/", "post"),
                  ("/api/v1/visit_summary/", "get"), ("/api/v1/visit_summary/{pk}", "get"),
                  ("/api/v1/visit_summary/{pk}", "put"), ("/api/v1/visit_summary/{pk}/submit", "post"),
                  ("/api/v1/visit_summary/{pk}/case", "post"))
    for path, method in documented:
        assert method in paths.get(path, {}), (path, method)
        if not path.endswith(("/", "{pk}")):
            assert paths[path][method]["summary"], (path, method)
            assert paths[path][method]["responses"], (path, method)
    for path in ("/api/v1/visit/{pk}", "/api/v1/rectification/{pk}", "/api/v1/return_visit/{pk}"):
        assert "put" not in paths[path] and "delete" not in paths[path], path
    assert "delete" not in paths["/api/v1/visit_summary/{pk}"]
