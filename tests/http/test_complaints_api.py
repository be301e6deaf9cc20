"""Complaints through the REST API as the users who do each step: the nine steps of a general
complaint, refusals (state 409, role 403, fields 422, stale version 409) that write nothing, a major
complaint held until the general manager approves (twice), department isolation, the monthly
statistics, evidence attachments, and two users acting on one complaint at the same moment."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import zlib

import prison
import pytest
from sqlalchemy import select

from app.domain.errors import StaleRecordError
from tests.conftest import PASSWORD, ApiClient

from .conftest import wordings

GOOD = {
    "acknowledge": {"acknowledged_how": "phone"},
    "confirm": {"confirmed_how": "电话确认，客户认可为有效投诉"},
    "close_invalid": {"invalid_explanation": "属咨询，已向客户解释"},
    "assess": {"severity": "general", "category": "engineering_quality"},
    "assign": {"assigned_post": "维修主管", "assigned_person": "赵工"},  # + department_id
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
# Who takes each step of a general complaint (the first-responsible person is cs_staff).
BY = {"acknowledge": "cs_staff", "confirm": "cs_staff", "close_invalid": "cs_manager", "assess": "cs_staff", "assign": "cs_manager",
      "start_handling": "eng_staff", "add_progress": "eng_staff", "reply": "cs_staff", "close": "cs_manager",
      "return_visit": "cs_staff", "feed_back": "cs_manager"}
PATH = ["confirm", "assess", "assign", "start_handling", "add_progress", "reply", "close", "return_visit",
        "feed_back"]
STATE_AFTER = {"acknowledge": "received", "confirm": "confirmed", "close_invalid": "closed_invalid", "assess": "assessed", "assign": "investigating",
               "start_handling": "handling", "add_progress": "handling", "reply": "replied", "close": "closed",
               "return_visit": "return_visited", "feed_back": "fed_back"}


# --- helpers ------------------------------------------------------------------------------------

def _message(response) -> str:
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), body
    return message


@pytest.fixture(scope="module")
def departments(dbr):
    from app.models import Department

    with dbr.session() as s:
        return {d.code: d.id for d in s.scalars(select(Department))}


@pytest.fixture(scope="module")
def customer_id(dbr):
    return dbr.demo_customer()["id"]


class Walker:
    """Opens complaints and moves them through the API; reads what is stored."""

    def __init__(self, api_as, dbr, departments, customer_id):
        self.api_as, self.dbr, self.departments, self.customer_id = api_as, dbr, departments, customer_id

    def open(self, user="cs_staff", acknowledge=True, **fields):
        """A complaint received by `user`; acknowledged to the customer at once (受理回执) unless told not."""
        payload = {"channel": "hotline", "customer_id": self.customer_id, "content": "卫生间渗水，楼下天花板发霉",
                   **fields}
        response = self.api_as(user).post("/api/v1/complaint/", json=payload)
        assert response.status_code == 201, response.get_data(as_text=True)
        created = response.get_json()
        if acknowledge:
            acknowledged = self.step(created["id"], "acknowledge", user=user)
            assert acknowledged.status_code == 200, acknowledged.get_data(as_text=True)
        return created

    def fields(self, action, department="ENG"):
        values = dict(GOOD.get(action, {}))
        if action == "assign":
            values["department_id"] = self.departments[department]
        return values

    def step(self, cid, action, user=None, version=None, department="ENG", **overrides):
        body = {"action": action, "version": self.version(cid) if version is None else version,
                **self.fields(action, department), **overrides}
        return self.api_as(user or BY[action]).post(f"/api/v1/complaint/{cid}/transition", json=body)

    def walk(self, cid, actions, department="ENG"):
        for action in actions:
            user = "pm_staff" if action in ("start_handling", "add_progress") and department == "PM" else None
            response = self.step(cid, action, user=user, department=department)
            assert response.status_code == 200, (action, response.get_data(as_text=True))
        return response.get_json()

    def user_id(self, username) -> int:
        from flask_appbuilder.security.sqla.models import User

        with self.dbr.session() as s:
            return s.scalar(select(User.id).where(User.username == username))

    def version(self, cid) -> int:
        from app.models import Complaint

        with self.dbr.session() as s:
            return s.get(Complaint, cid).version

    def stored(self, cid) -> dict:
        from app.models import Complaint

        with self.dbr.session() as s:
            c = s.get(Complaint, cid)
            return {col.key: getattr(c, col.key) for col in Complaint.__table__.columns}

    def snapshot(self, cid) -> tuple:
        """What a refusal must leave unchanged: the complaint row, its steps, approvals, the audit trail."""
        from app.models import Approval, ComplaintAttachment, ComplaintStep

        return (self.stored(cid), self.dbr.count(ComplaintStep, ComplaintStep.complaint_id == cid),
                self.dbr.count(Approval), self.dbr.count(ComplaintAttachment), self.dbr.audit_count())


@pytest.fixture
def walker(api_as, dbr, departments, customer_id):
    return Walker(api_as, dbr, departments, customer_id)


def _png(width=2, height=2) -> bytes:
    """A real, valid PNG (RGB, a red square)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# --- the nine steps ------------------------------------------------------------------------------

def test_a_general_complaint_walks_all_nine_steps_through_the_api(walker, api_as, dbr, app):
    created = walker.open(received_at="2026-11-02T10:00:00", acknowledge=False)
    cid, version = created["id"], created["version"]
    assert created["result"]["state"] == "received"
    assert created["result"]["first_responsible_id"] == walker.user_id("cs_staff")
    assert created["result"]["number"].startswith("TS2026-")
    assert set(created["result"]["allowed_actions"]) == {"acknowledge", "confirm", "close_invalid"}
    for action in ["acknowledge", *PATH]:
        response = walker.step(cid, action, version=version)
        assert response.status_code == 200, (action, response.get_data(as_text=True))
        body = response.get_json()
        assert body["state"] == body["result"]["state"] == STATE_AFTER[action], action
        # (add_progress in the same second as the step before changes no column of the complaint)
        assert body["version"] >= version if action == "add_progress" else body["version"] > version
        assert body["result"]["version"] == body["version"]
        assert body["allowed_actions"] == body["result"]["allowed_actions"]
        version = body["version"]
        if action == "assign":
            assert body["result"]["department_id"] == walker.departments["ENG"]
            assert body["allowed_actions"] == ["start_handling"]  # a CS Manager may report for the department
    stored = walker.stored(cid)
    assert stored["state"] == "fed_back" and stored["closed_at"] is not None and stored["satisfaction"] == 4
    steps = api_as("cs_staff").get(f"/api/v1/complaint/{cid}/steps")
    assert steps.status_code == 200
    timeline = steps.get_json()["result"]
    assert [e["action"] for e in timeline] == ["receive", "acknowledge", *PATH]
    assert [e["actor_name"] for e in timeline] == ["cs_staff", "cs_staff", *(BY[a] for a in PATH)]
    assert timeline[2]["from"] == "received" and timeline[2]["to"] == "confirmed"
    assert timeline[2]["data"] == GOOD["confirm"]
    assert all(e["at"] for e in timeline)
    # The department saw it while it was theirs, and still does.
    assert api_as("eng_staff").get(f"/api/v1/complaint/{cid}").status_code == 200


def test_allowed_actions_follow_the_caller(walker, api_as):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm", "assess", "assign"])
    as_manager = api_as("cs_manager").get(f"/api/v1/complaint/{cid}").get_json()["result"]["allowed_actions"]
    as_department = api_as("eng_staff").get(f"/api/v1/complaint/{cid}").get_json()["result"]["allowed_actions"]
    as_staff = api_as("cs_staff").get(f"/api/v1/complaint/{cid}").get_json()["result"]["allowed_actions"]
    assert as_department == ["start_handling"] and as_manager == ["start_handling"] and as_staff == []


def test_list_and_detail_carry_number_customer_deadlines_and_overdue(walker, api_as):
    cid = walker.open(received_at="2026-01-05T10:00:00")["id"]  # long past its deadlines
    listing = api_as("cs_staff").get("/api/v1/complaint/", query_string={
        "q": prison.dumps({"filters": [{"col": "customer_id", "opr": "eq", "value": walker.customer_id}],
                           "page_size": 100})})
    assert listing.status_code == 200, listing.get_data(as_text=True)
    rows = {row["id"]: row for row in listing.get_json()["result"]}
    row = rows[cid]
    assert row["number"] and row["customer"]["name"] and row["state"] == "received"
    assert row["assign_due_at"] and row["close_due_at"] and row["version"]
    assert set(row["overdue"]) >= {"assign", "investigate", "close"}
    overdue_only = api_as("cs_staff").get("/api/v1/complaint/", query_string={
        "q": prison.dumps({"filters": [{"col": "state", "opr": "overdue", "value": True},
                                       {"col": "customer_id", "opr": "eq", "value": walker.customer_id}],
                           "page_size": 100})})
    assert overdue_only.status_code == 200
    assert cid in overdue_only.get_json()["ids"]
    assert all(r["overdue"] for r in overdue_only.get_json()["result"])
    in_time = api_as("cs_staff").get("/api/v1/complaint/", query_string={
        "q": prison.dumps({"filters": [{"col": "state", "opr": "overdue", "value": False},
                                       {"col": "customer_id", "opr": "eq", "value": walker.customer_id}],
                           "page_size": 100})})
    assert cid not in in_time.get_json()["ids"]
    assert not any(r["overdue"] for r in in_time.get_json()["result"])
    detail = api_as("cs_staff").get(f"/api/v1/complaint/{cid}").get_json()["result"]
    assert detail["overdue"] and detail["content"]


def test_create_refusals_write_nothing(walker, api_as, dbr):
    from app.models import Complaint

    before = (dbr.count(Complaint), dbr.audit_count())
    for payload, field, status in (
        ({"channel": "pigeon", "customer_id": walker.customer_id, "content": "x"}, "channel", 422),
        ({"channel": "hotline", "customer_id": 10 ** 9, "content": "x"}, "customer_id", 422),
        ({"channel": "hotline", "customer_id": walker.customer_id, "content": "  "}, "content", 422),
        ({"channel": "hotline", "customer_id": walker.customer_id, "content": "x", "received_at": "yesterday"},
         "received_at", 422),
        ({"channel": "hotline", "customer_id": walker.customer_id, "content": "x", "received_at": "2099-01-01T00:00"},
         "received_at", 422),
        ({"channel": "hotline", "customer_id": walker.customer_id, "content": "x", "unit_id": 10 ** 9}, "unit_id", 422),
        ({"channel": "hotline", "customer_id": walker.customer_id, "content": "x", "state": "closed"}, "state", 422),
    ):
        response = api_as("cs_staff").post("/api/v1/complaint/", json=payload)
        assert response.status_code == status, (payload, response.get_data(as_text=True))
        _message(response)
        assert field in response.get_json()["errors"], response.get_json()
    # Only customer service receives complaints: the department has no permission, the GM neither.
    for user in ("eng_staff", "gm", "auditor"):
        response = api_as(user).post("/api/v1/complaint/", json={"channel": "hotline", "content": "x",
                                                                 "customer_id": walker.customer_id})
        assert response.status_code == 403, user
    assert (dbr.count(Complaint), dbr.audit_count()) == before


def test_an_offset_time_is_stored_in_china_local_time(walker):
    created = walker.open(received_at="2026-11-02T02:00:00Z")
    assert created["result"]["received_at"] == "2026-11-02T10:00:00"


def test_put_and_delete_never_change_a_complaint(walker, api_as):
    created = walker.open()
    cid = created["id"]
    before = walker.snapshot(cid)
    for user in ("cs_manager", "admin"):
        client = api_as(user)
        assert client.put(f"/api/v1/complaint/{cid}", json={"state": "closed", "version": created["version"]}
                          ).status_code == 405
        assert client.delete(f"/api/v1/complaint/{cid}", query_string={"version": created["version"]}
                             ).status_code == 405
    assert walker.snapshot(cid) == before


# --- refusals --------------------------------------------------------------------------------------

def test_refusals_answer_their_status_with_a_message_and_write_nothing(walker, api_as, app):
    from app.domain.errors import VersionRequiredError

    cid = walker.open()["id"]
    version = walker.version(cid)
    cases = [
        # wrong state: assess before confirm
        ("cs_staff", {"action": "assess", "version": version, **GOOD["assess"]}, 409, None),
        # stale version
        ("cs_staff", {"action": "confirm", "version": version - 1, **GOOD["confirm"]}, 409,
         StaleRecordError.default_message),
        ("cs_staff", {"action": "confirm", "version": version + 5, **GOOD["confirm"]}, 409,
         StaleRecordError.default_message),
        # missing and bad fields
        ("cs_staff", {"action": "confirm", "version": version}, 422, None),
        ("cs_staff", {"action": "confirm", "version": version, "confirmed_how": "x", "severity": "major"}, 422, None),
        ("cs_staff", {"action": "fly", "version": version}, 422, None),
        ("cs_staff", {"action": "confirm", **GOOD["confirm"]}, 422, VersionRequiredError.default_message),
        # role: no permission to transition at all
        ("gm", {"action": "confirm", "version": version, **GOOD["confirm"]}, 403, None),
        ("auditor", {"action": "confirm", "version": version, **GOOD["confirm"]}, 403, None),
        ("archivist", {"action": "confirm", "version": version, **GOOD["confirm"]}, 403, None),
        # the department does not see a complaint that is not assigned to it
        ("eng_staff", {"action": "confirm", "version": version, **GOOD["confirm"]}, 404, None),
    ]
    before = walker.snapshot(cid)
    for user, body, status, message in cases:
        response = api_as(user).post(f"/api/v1/complaint/{cid}/transition", json=body)
        assert response.status_code == status, (user, body, response.get_data(as_text=True))
        text = _message(response)
        if message is not None:
            assert text in wordings(app, message), text
        if status == 422 and body.get("action") == "confirm" and "version" in body:
            errors = response.get_json()["errors"]
            assert "confirmed_how" in errors or "severity" in errors
        assert walker.snapshot(cid) == before, (user, body)
    # A body that is not a JSON object
    response = api_as("cs_staff").post(f"/api/v1/complaint/{cid}/transition", data="confirm",
                                       content_type="text/plain")
    assert response.status_code == 422
    assert walker.snapshot(cid) == before


def test_a_role_the_step_does_not_allow_is_refused_with_403(walker, api_as, app):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm", "assess", "assign", "start_handling", "reply"])
    before = walker.snapshot(cid)
    # Only a CS Manager closes a general complaint.
    for user in ("cs_staff", "eng_staff"):
        response = walker.step(cid, "close", user=user)
        assert response.status_code == 403, (user, response.get_data(as_text=True))
        _message(response)
        assert walker.snapshot(cid) == before
    # A step of another state is refused for its state first (409), whoever asks.
    response = walker.step(cid, "feed_back", user="cs_staff")
    assert response.status_code == 409
    assert walker.snapshot(cid) == before
    assert "close" not in api_as("cs_staff").get(f"/api/v1/complaint/{cid}").get_json()["result"]["allowed_actions"]


def test_a_rejected_reply_returns_to_handling_and_counts(walker, api_as):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm", "assess", "assign", "start_handling"])
    response = walker.step(cid, "reply", reply_result="已处理", customer_accepted=False, satisfaction=2)
    assert response.status_code == 200
    assert response.get_json()["state"] == "handling"
    assert response.get_json()["result"]["rehandling_count"] == 1
    assert "add_progress" in response.get_json()["allowed_actions"]


# --- a major complaint and the general manager -------------------------------------------------

def _pending_approval(api_as, cid, kind):
    listing = api_as("gm").get("/api/v1/approval/", query_string={
        "q": prison.dumps({"filters": [{"col": "state", "opr": "eq", "value": "pending"},
                                       {"col": "kind", "opr": "eq", "value": kind},
                                       {"col": "subject_id", "opr": "eq", "value": cid}]})})
    assert listing.status_code == 200, listing.get_data(as_text=True)
    rows = listing.get_json()["result"]
    assert len(rows) == 1, rows
    return rows[0]


def test_a_major_complaint_is_held_until_the_general_manager_approves(walker, api_as, app):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm"])
    # Major needs a legal opinion and a plan.
    response = walker.step(cid, "assess", user="cs_manager", severity="major")
    assert response.status_code == 422
    assert {"legal_opinion", "handling_plan"} <= set(response.get_json()["errors"])
    response = walker.step(cid, "assess", user="cs_manager", severity="major", legal_opinion="法务：先鉴定",
                           handling_plan="第三方鉴定后维修")
    assert response.status_code == 200 and response.get_json()["state"] == "assessed"
    assert "assign" not in response.get_json()["allowed_actions"]
    # Held: assigning is refused until the plan is approved, and nothing is written.
    before = walker.snapshot(cid)
    response = walker.step(cid, "assign")
    assert response.status_code == 409
    _message(response)
    assert walker.snapshot(cid) == before

    plan = _pending_approval(api_as, cid, "complaint_plan")
    assert plan["subject_table"] == "complaint" and plan["requested_by_name"] == "cs_manager"
    assert plan["waiting_hours"] is not None and plan["waiting_hours"] >= 0
    # The queue lists pending requests first.
    queue = api_as("gm").get("/api/v1/approval/").get_json()["result"]
    states = [row["state"] for row in queue]
    assert states == sorted(states, key=lambda s: s != "pending")
    # The requester (a CS Manager) may not decide; nor may anyone but the general manager.
    for user in ("cs_manager", "cs_staff", "eng_staff", "auditor"):
        response = api_as(user).post(f"/api/v1/approval/{plan['id']}/decide",
                                     json={"decision": "approve", "comment": "ok"})
        assert response.status_code == 403, user
    response = api_as("admin").post(f"/api/v1/approval/{plan['id']}/decide", json={"decision": "approve"})
    assert response.status_code == 403  # Admin holds every permission but is not the general manager
    _message(response)
    assert walker.snapshot(cid) == before
    # A rejection needs a comment; a bad decision is refused.
    assert api_as("gm").post(f"/api/v1/approval/{plan['id']}/decide",
                             json={"decision": "reject"}).status_code == 422
    assert api_as("gm").post(f"/api/v1/approval/{plan['id']}/decide",
                             json={"decision": "maybe"}).status_code == 422
    assert walker.snapshot(cid) == before

    response = api_as("gm").post(f"/api/v1/approval/{plan['id']}/decide",
                                 json={"decision": "approve", "comment": "同意方案"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"]["state"] == "approved" and body["result"]["decided_by_name"] == "gm"
    assert body["subject"] == {"table": "complaint", "id": cid, "state": "assessed",
                               "version": walker.version(cid)}
    assert walker.stored(cid)["plan_approved"] is True
    # Deciding again is a conflict and changes nothing.
    after = walker.snapshot(cid)
    again = api_as("gm").post(f"/api/v1/approval/{plan['id']}/decide", json={"decision": "reject",
                                                                             "comment": "改主意"})
    assert again.status_code == 409
    _message(again)
    assert walker.snapshot(cid) == after

    walker.walk(cid, ["assign", "start_handling", "reply"])
    # Closing a major complaint asks the general manager; the complaint stays replied meanwhile.
    response = walker.step(cid, "close")
    assert response.status_code == 200
    assert response.get_json()["state"] == "replied" and "close" not in response.get_json()["allowed_actions"]
    before = walker.snapshot(cid)
    response = walker.step(cid, "close")
    assert response.status_code == 409  # already waiting for the general manager
    assert walker.snapshot(cid) == before
    closing = _pending_approval(api_as, cid, "complaint_close")
    response = api_as("gm").post(f"/api/v1/approval/{closing['id']}/decide",
                                 json={"decision": "approve", "comment": "同意关闭"})
    assert response.status_code == 200
    assert response.get_json()["subject"]["state"] == "closed"
    walker.walk(cid, ["return_visit", "feed_back"])
    timeline = [e["action"] for e in api_as("cs_manager").get(f"/api/v1/complaint/{cid}/steps").get_json()["result"]]
    assert timeline == ["receive", "acknowledge", "confirm", "assess", "approve_plan", "assign", "start_handling", "reply",
                        "close", "approve_close", "return_visit", "feed_back"]


def test_the_requester_can_never_decide_their_own_request(walker, api_as, dbr, app):
    """The general manager asking for something (a future kind) cannot approve it either."""
    from flask_babel import lazy_gettext

    from app import audit
    from app.domain import approvals, records
    from app.models import Approval, Complaint

    cid = walker.open()["id"]
    with dbr.session() as s:
        gm = app.appbuilder.sm.find_user(username="gm")
        with audit.acting_as(s, gm), records.unit_of_work(s):
            approval_id = approvals.request(s, "complaint_plan", s.get(Complaint, cid), gm, summary="总经理自己的申请").id
    before = (dbr.count(Approval, Approval.state == "pending"), dbr.audit_count(), walker.stored(cid))
    response = api_as("gm").post(f"/api/v1/approval/{approval_id}/decide", json={"decision": "approve"})
    assert response.status_code == 403
    assert _message(response) in wordings(app, lazy_gettext("You cannot decide your own request."))
    assert (dbr.count(Approval, Approval.state == "pending"), dbr.audit_count(), walker.stored(cid)) == before
    assert api_as("gm").get(f"/api/v1/approval/{approval_id}").get_json()["result"]["state"] == "pending"


def test_a_rejected_plan_sends_the_complaint_back(walker, api_as):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm"])
    assert walker.step(cid, "assess", user="cs_manager", severity="crisis", legal_opinion="x",
                       handling_plan="y").status_code == 200
    plan = _pending_approval(api_as, cid, "complaint_plan")
    response = api_as("gm").post(f"/api/v1/approval/{plan['id']}/decide",
                                 json={"decision": "reject", "comment": "方案不充分"})
    assert response.status_code == 200
    assert response.get_json()["subject"]["state"] == "confirmed"
    detail = api_as("gm").get(f"/api/v1/approval/{plan['id']}").get_json()["result"]
    assert detail["state"] == "rejected" and detail["comment"] == "方案不充分" and detail["waiting_hours"] >= 0


# --- department isolation --------------------------------------------------------------------------

def test_department_staff_see_only_their_departments_complaints(walker, api_as, departments):
    cid = walker.open()["id"]
    walker.walk(cid, ["confirm", "assess", "assign"])  # to 工程部
    pm, eng = api_as("pm_staff"), api_as("eng_staff")
    version = walker.version(cid)
    before = walker.snapshot(cid)
    for response in (pm.get(f"/api/v1/complaint/{cid}"), pm.get(f"/api/v1/complaint/{cid}/steps"),
                     pm.get(f"/api/v1/complaint/{cid}/attachment"),
                     pm.post(f"/api/v1/complaint/{cid}/transition",
                             json={"action": "start_handling", "version": version, **GOOD["start_handling"]}),
                     pm.post(f"/api/v1/complaint/{cid}/attachment",
                             data={"file": (io.BytesIO(_png()), "a.png")},
                             content_type="multipart/form-data")):
        assert response.status_code == 404, response.get_data(as_text=True)
        _message(response)
    assert walker.snapshot(cid) == before
    listing = pm.get("/api/v1/complaint/", query_string={"q": prison.dumps({"page_size": 100})})
    assert listing.status_code == 200
    assert cid not in listing.get_json()["ids"]
    assert all(row["department_id"] == departments["PM"] for row in listing.get_json()["result"])
    filtered = pm.get("/api/v1/complaint/", query_string={
        "q": prison.dumps({"filters": [{"col": "department_id", "opr": "eq", "value": departments["ENG"]}]})})
    assert filtered.get_json()["count"] == 0
    # The engineering department sees it and may work on it.
    assert eng.get(f"/api/v1/complaint/{cid}").status_code == 200
    assert cid in eng.get("/api/v1/complaint/", query_string={
        "q": prison.dumps({"filters": [{"col": "department_id", "opr": "eq", "value": departments["ENG"]}],
                           "page_size": 100})}).get_json()["ids"]
    # An unassigned complaint is invisible to every department.
    other = walker.open()["id"]
    assert eng.get(f"/api/v1/complaint/{other}").status_code == 404
    # Once PM gets one, PM sees that one only.
    mine = walker.open()["id"]
    walker.walk(mine, ["confirm", "assess", "assign"], department="PM")
    assert pm.get(f"/api/v1/complaint/{mine}").status_code == 200
    assert eng.get(f"/api/v1/complaint/{mine}").status_code == 404
    assert mine in pm.get("/api/v1/complaint/", query_string={"q": prison.dumps({"page_size": 100})}).get_json()["ids"]


# --- statistics ------------------------------------------------------------------------------------

def test_monthly_statistics_as_json(walker, api_as, dbr, app):
    from app import audit
    from app.domain import records
    from app.models import Complaint

    month = "2025-07"  # no demo complaint is that old, no public holiday in it
    a = walker.open(received_at="2025-07-07T10:00:00")["id"]  # Monday
    b = walker.open(received_at="2025-07-08T10:00:00", channel="online")["id"]
    c = walker.open(received_at="2025-07-09T10:00:00", channel="forum")["id"]
    walker.walk(a, ["confirm", "assess", "assign", "start_handling", "reply", "close"])
    walker.walk(c, ["close_invalid"])
    with dbr.session() as s:  # closed two working days after receipt (the domain stamps "now")
        with audit.acting_as(s, app.appbuilder.sm.find_user(username="cs_manager")), records.unit_of_work(s):
            complaint = s.get(Complaint, a)
            complaint.closed_at = complaint.received_at.replace(day=9)
            complaint.return_visit_due_at = complaint.received_at.replace(day=16)

    assert api_as("cs_staff").get("/api/v1/complaint/stats", query_string={"month": month}).status_code == 403
    assert api_as("eng_staff").get("/api/v1/complaint/stats", query_string={"month": month}).status_code == 403
    bad = api_as("cs_manager").get("/api/v1/complaint/stats", query_string={"month": "2025-13"})
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]
    _message(bad)

    for user in ("cs_manager", "gm", "auditor"):
        response = api_as(user).get("/api/v1/complaint/stats", query_string={"month": month})
        assert response.status_code == 200, (user, response.get_data(as_text=True))
    stats = response.get_json()
    assert stats["month"] == month and stats["total"] == 3 and stats["ledger_total"] == 3
    assert stats["by_channel"] == {"hotline": 1, "online": 1, "forum": 1, "front_desk": 0, "mail": 0}
    assert stats["by_state"]["closed"] == 1 and stats["by_state"]["closed_invalid"] == 1
    assert stats["by_state"]["received"] == 1
    assert stats["by_severity"]["general"] == 1 and stats["by_severity"]["unset"] == 2
    assert stats["by_category"]["engineering_quality"] == 1
    assert stats["by_department"]["工程部"] == 1 and stats["by_department"]["unset"] == 2
    assert stats["time_to_close"] == {"closed": 1, "median_days": 2.0, "p90_days": 2.0}
    assert stats["satisfaction"] == {"answers": 1, "average": 4.0}
    # b is still received, long after its deadlines; a is closed and its return visit is late.
    assert stats["overdue"]["total"] == 2
    assert stats["overdue"]["by_state"]["received"] == 1 and stats["overdue"]["by_state"]["closed"] == 1
    assert stats["rehandling"] == {"rehandled": 0, "replied": 1, "rate": 0.0}
    assert stats["labels"]["channel"]["hotline"]
    ledger = stats["ledger"]
    assert [row["id"] for row in ledger] == [a, b, c]
    first = ledger[0]
    assert first["number"] == f"TS2025-{a:06d}" and first["received_at"] == "2025-07-07T10:00:00"
    assert first["closed_at"] == "2025-07-09T10:00:00" and first["working_days"] == 2.0
    with app.app_context():  # the first-responsible person by name, as the user record has it
        user = app.appbuilder.sm.find_user(username="cs_staff")
        name = f"{user.first_name}{user.last_name}"
    assert first["department"] == "工程部" and first["first_responsible"] == name and name != "cs_staff"
    assert first["summary"] == "卫生间渗水，楼下天花板发霉" and first["overdue"] is True
    assert first["customer"] and first["satisfaction"] == 4
    assert [row["overdue"] for row in ledger] == [True, True, False]
    page = api_as("gm").get("/api/v1/complaint/stats",
                            query_string={"month": month, "ledger_offset": 1, "ledger_limit": 1}).get_json()
    assert [row["id"] for row in page["ledger"]] == [b] and page["total"] == 3


# --- evidence attachments --------------------------------------------------------------------------

def _upload(client, cid, data, name="photo.png"):
    return client.post(f"/api/v1/complaint/{cid}/attachment", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_evidence_upload_checks_content_and_size_and_downloads(walker, api_as, app, dbr):
    from pathlib import Path

    from app.domain.attachments import MAX_BYTES
    from app.models import ComplaintAttachment

    cid = walker.open()["id"]
    walker.walk(cid, ["confirm", "assess", "assign"])
    eng = api_as("eng_staff")
    png = _png()
    response = _upload(eng, cid, png)
    assert response.status_code == 201, response.get_data(as_text=True)
    item = response.get_json()["result"]
    digest = hashlib.sha256(png).hexdigest()
    assert item["content_type"] == "image/png" and item["size"] == len(png) and item["sha256"] == digest
    assert item["filename"] == "photo.png"
    stored = Path(app.config["UPLOAD_FOLDER"]) / "evidence" / digest[:2] / f"{digest}.png"
    assert stored.read_bytes() == png

    before = walker.snapshot(cid)
    refused = [
        _upload(eng, cid, b"just some text, not an image\n", "fake.png"),
        _upload(eng, cid, b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES, "huge.png"),
        _upload(eng, cid, b"", "empty.png"),
    ]
    for response in refused:
        assert response.status_code == 422, response.get_data(as_text=True)
        _message(response)
        assert "file" in response.get_json()["errors"]
    missing = eng.post(f"/api/v1/complaint/{cid}/attachment", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    for user in ("gm", "auditor"):  # may read the complaint, may not add evidence
        assert _upload(api_as(user), cid, png).status_code == 403
    assert walker.snapshot(cid) == before
    assert not any(p.name.startswith(".upload-") for p in stored.parent.iterdir())

    # Customer service may add evidence too; the same content is stored once.
    again = _upload(api_as("cs_staff"), cid, png, "同一张照片.png")
    assert again.status_code == 201
    assert dbr.count(ComplaintAttachment, ComplaintAttachment.sha256 == digest) >= 2
    listing = api_as("cs_manager").get(f"/api/v1/complaint/{cid}/attachment").get_json()
    assert [a["filename"] for a in listing["result"]] == ["photo.png", "同一张照片.png"]

    download = api_as("cs_manager").get(f"/api/v1/complaint/{cid}/attachment/{item['id']}")
    assert download.status_code == 200
    assert download.data == png and download.mimetype == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert api_as("pm_staff").get(f"/api/v1/complaint/{cid}/attachment/{item['id']}").status_code == 404
    other = walker.open()["id"]
    assert api_as("cs_staff").get(f"/api/v1/complaint/{other}/attachment/{item['id']}").status_code == 404


def test_a_pdf_is_accepted(walker, api_as):
    cid = walker.open()["id"]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = _upload(api_as("cs_staff"), cid, pdf, "report.pdf")
    assert response.status_code == 201
    assert response.get_json()["result"]["content_type"] == "application/pdf"


# --- the case library -------------------------------------------------------------------------------

def test_case_library_read_write_and_search(api_as, dbr):
    from app.models import Project

    with dbr.session() as s:
        project_id = s.scalar(select(Project.id).order_by(Project.id))
    entry = {"title": "卫生间渗水", "project_id": project_id, "stage": "delivery", "category": "quality",
             "description": "交房后多户卫生间渗水到楼下", "cause": "防水层施工不规范", "lesson": "交房前逐户做闭水试验"}
    manager = api_as("cs_manager")
    response = manager.post("/api/v1/case_entry/", json=entry)
    assert response.status_code == 201, response.get_data(as_text=True)
    case_id, version = response.get_json()["id"], response.get_json()["result"]["version"]
    for bad, field in (({"stage": "somewhen"}, "stage"), ({"category": "misc"}, "category"),
                       ({"title": "  "}, "title"), ({"project_id": 10 ** 9}, "project_id")):
        refused = manager.post("/api/v1/case_entry/", json={**entry, **bad})
        assert refused.status_code == 422, (bad, refused.get_data(as_text=True))
        assert field in refused.get_json()["errors"]
    assert api_as("cs_staff").post("/api/v1/case_entry/", json=entry).status_code == 403
    assert api_as("eng_staff").post("/api/v1/case_entry/", json=entry).status_code == 403

    def search(user, *filters):
        response = api_as(user).get("/api/v1/case_entry/", query_string={"q": prison.dumps({
            "filters": [{"col": c, "opr": o, "value": v} for c, o, v in filters], "page_size": 100})})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["ids"]

    assert case_id in search("eng_staff", ("stage", "eq", "delivery"), ("category", "eq", "quality"))
    assert case_id in search("cs_staff", ("project_id", "eq", project_id))
    assert case_id in search("pm_staff", ("title", "case_text", "闭水试验"))  # found in the lesson
    assert case_id not in search("cs_staff", ("stage", "eq", "design"))
    assert case_id not in search("cs_staff", ("title", "case_text", "电梯"))
    detail = api_as("eng_staff").get(f"/api/v1/case_entry/{case_id}").get_json()["result"]
    assert detail["lesson"] == entry["lesson"] and detail["project"]["name"]
    changed = manager.put(f"/api/v1/case_entry/{case_id}", json={"lesson": "闭水试验 48 小时", "version": version})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    stale = manager.put(f"/api/v1/case_entry/{case_id}", json={"lesson": "旧版本", "version": version})
    assert stale.status_code == 409


# --- two users at the same moment --------------------------------------------------------------------

def _login(app, username) -> ApiClient:
    client = app.test_client()
    response = client.post("/api/v1/security/login",
                           json={"username": username, "password": PASSWORD, "provider": "db"})
    assert response.status_code == 200
    return ApiClient(client, response.get_json()["access_token"])


@pytest.mark.parametrize("round_", range(3))
def test_two_users_acting_on_one_complaint_at_the_same_moment(round_, walker, app, dbr):
    """confirm (cs_staff) and close_invalid (cs_manager) on the same received complaint, same version:
    exactly one wins; the other is told the record changed; the audit chain still verifies."""
    from app import audit
    from app.extensions import db
    from app.models import AuditLog, ComplaintStep

    created = walker.open()
    cid, version = created["id"], walker.version(created["id"])  # after the acknowledgement
    clients = {"confirm": _login(app, "cs_staff"), "close_invalid": _login(app, "cs_manager")}
    barrier = threading.Barrier(len(clients))
    results: dict[str, object] = {}

    def act(action):
        try:
            barrier.wait(timeout=30)
            response = clients[action].post(f"/api/v1/complaint/{cid}/transition",
                                            json={"action": action, "version": version, **GOOD[action]})
            results[action] = (response.status_code, response.get_json())
        except Exception as exc:  # reported below
            results[action] = exc

    threads = [threading.Thread(target=act, args=(action,)) for action in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, tuple) for r in results.values()), results
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(action for action, (status, _) in results.items() if status == 200)
    loser_body = next(body for status, body in results.values() if status == 409)
    assert loser_body["message"] in wordings(app, StaleRecordError.default_message), loser_body
    stored = walker.stored(cid)
    assert stored["state"] == STATE_AFTER[winner]
    assert stored["version"] == results[winner][1]["version"]
    assert dbr.count(ComplaintStep, ComplaintStep.complaint_id == cid) == 3  # receive, acknowledge, the winner
    with app.app_context():
        with db.engine.connect() as conn:
            result = audit.verify(conn)
        db.session.remove()
    assert result.ok, result.problem
    with dbr.session() as s:  # the complaint's audit rows: its receipt (cs_staff) and the winner's step only
        actors = set(s.scalars(select(AuditLog.actor_name).where(AuditLog.table_name == "complaint",
                                                                 AuditLog.record_id == str(cid))))
    assert actors == {"cs_staff", BY[winner]}


def test_the_endpoints_are_documented_in_the_openapi_spec(api_as):
    response = api_as("admin").get("/api/v1/_openapi")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path, method in (("/api/v1/complaint/", "post"), ("/api/v1/complaint/", "get"),
                         ("/api/v1/complaint/{pk}", "get"), ("/api/v1/complaint/{pk}/transition", "post"),
                         ("/api/v1/complaint/{pk}/steps", "get"), ("/api/v1/complaint/stats", "get"),
                         ("/api/v1/complaint/{pk}/attachment", "post"),
                         ("/api/v1/complaint/{pk}/attachment/{attachment_id}", "get"),
                         ("/api/v1/approval/", "get"), ("/api/v1/approval/{pk}/decide", "post"),
                         ("/api/v1/case_entry/", "get"), ("/api/v1/case_entry/", "post")):
        assert method in paths.get(path, {}), (path, method)
    assert "put" not in paths["/api/v1/complaint/{pk}"] and "delete" not in paths["/api/v1/complaint/{pk}"]
    assert paths["/api/v1/complaint/{pk}/transition"]["post"]["summary"]
