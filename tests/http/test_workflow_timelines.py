"""The timeline of every workflow's page (the one partial templates/kefu/workflow/_timeline.html) names
people by their full names — never by their login — and shows every step field labelled and readable:
no field code, no state code, no JSON. Read from the demo data (and one loan registered here)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from tests.conftest import USERNAMES
from tests.http.conftest import text_of

# The demo users' names (app/demo.py USERS), written out: the expectation is not read from the code.
FULL_NAMES = {"cs_staff": "李晓梅", "cs_manager": "王建国", "eng_staff": "赵工", "pm_staff": "孙丽", "gm": "陈总",
              "archivist": "周档案"}


def timeline_text(page: str) -> str:
    """The visible text of the page's timeline panel."""
    start = page.index(">", page.index('class="panel panel-default kefu-timeline"')) + 1
    panel = page[start:page.index("</ul>", start)]
    return " ".join(re.sub(r"<[^>]+>", " ", panel).split())


def assert_readable(text: str, *names: str) -> None:
    for name in names:
        assert name in text, (name, text)
    for login in USERNAMES:
        assert login not in text, (login, text)
    # A code (confirmed_how, fed_back, on_site, phone, ...) or JSON shows as lower-case Latin letters or braces.
    assert not re.findall(r"[a-z]{2,}|[{}\[\]]", text), text


def first(dbr, query):
    with dbr.session() as s:
        return s.scalar(query)


def test_the_complaint_timeline(html_as, dbr):
    from app.models import Complaint

    pk = first(dbr, select(Complaint.id).where(Complaint.state == "fed_back").order_by(Complaint.id).limit(1))
    text = timeline_text(text_of(html_as("cs_manager").get(f"/complaint/show/{pk}")))
    assert_readable(text, FULL_NAMES["cs_staff"], "确认有效")


def test_the_visit_and_rectification_timelines(html_as, dbr):
    from app.models import Rectification, Visit, VisitStep

    pk = first(dbr, select(Visit.id).where(Visit.id.in_(select(VisitStep.visit_id).where(
        VisitStep.rectification_id.is_not(None)))).order_by(Visit.id).limit(1))
    text = timeline_text(text_of(html_as("cs_manager").get(f"/visit/show/{pk}")))
    assert_readable(text, FULL_NAMES["cs_staff"])
    assert FULL_NAMES["eng_staff"] in text or FULL_NAMES["pm_staff"] in text, text
    item = first(dbr, select(Rectification.id).where(Rectification.visit_id == pk).order_by(Rectification.id).limit(1))
    text = timeline_text(text_of(html_as("cs_manager").get(f"/rectification/show/{item}")))
    assert_readable(text)
    assert FULL_NAMES["eng_staff"] in text or FULL_NAMES["pm_staff"] in text, text


def test_the_return_visit_timeline(html_as, dbr):
    from app.models import ReturnVisit

    pk = first(dbr, select(ReturnVisit.id).where(ReturnVisit.state == "done", ReturnVisit.kind != "visit")
               .order_by(ReturnVisit.id).limit(1))
    text = timeline_text(text_of(html_as("cs_manager").get(f"/returnvisit/show/{pk}")))
    assert_readable(text, FULL_NAMES["cs_staff"], "记录回访")


def test_the_summary_timeline(html_as, dbr):
    from app.models import VisitSummary

    pk = first(dbr, select(VisitSummary.id).where(VisitSummary.state == "acknowledged").limit(1))
    text = timeline_text(text_of(html_as("cs_manager").get(f"/visitsummary/show/{pk}")))
    assert_readable(text, FULL_NAMES["cs_manager"], FULL_NAMES["gm"])


def test_the_loan_timeline(api_as, html_as, dbr):
    from app.models import Complaint

    complaint = first(dbr, select(Complaint.id).order_by(Complaint.id).limit(1))
    record = api_as("cs_staff").post(f"/api/v1/complaint/{complaint}/print").get_json()["result"]
    archivist, gm = api_as("archivist"), api_as("gm")
    loan = archivist.post("/api/v1/archive_loan/", json={
        "archive_record_id": record["id"], "kind": "loan", "borrower": "李律师", "borrower_department": "法务部",
        "purpose": "诉讼取证", "due_on": (date.today() + timedelta(days=14)).isoformat()}).get_json()["result"]
    queue = gm.get("/api/v1/approval/?q=(filters:!((col:state,opr:eq,value:pending),(col:kind,opr:eq,value:archive_loan)))")
    approval = next(a for a in queue.get_json()["result"] if a["subject_id"] == loan["id"])
    assert gm.post(f"/api/v1/approval/{approval['id']}/decide", json={"decision": "approve"}).status_code == 200
    text = timeline_text(text_of(html_as("archivist").get(f"/archiveloan/show/{loan['id']}")))
    assert_readable(text, FULL_NAMES["archivist"], FULL_NAMES["gm"], "已登记")
