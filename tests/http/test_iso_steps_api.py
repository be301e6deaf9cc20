"""The ISO 10002 / GB/T 19012-2019 steps through the REST API, each by its role (issue 12 item 6):
the remedy asked for and the acknowledgement with the number; closing unresolved with the routes
explained (the manager's; refused to others with nothing written); satisfaction with the handling
asked apart from the result; the one-line status fit to read out on the phone."""

from datetime import datetime

import pytest
from sqlalchemy import select

from tests.http.test_complaints_api import Walker

TO_HANDLING = ["confirm", "assess", "assign", "start_handling"]
UNRESOLVED = {"unresolved_position": "已按合同完成维修，额外赔偿要求超出合同约定", "customer_told_how": "电话告知",
              "unresolved_routes": ["hotline_12345", "consumer_association", "court"]}


@pytest.fixture
def walker(api_as, dbr):
    from app.models import Department

    with dbr.session() as s:
        departments = {d.code: d.id for d in s.scalars(select(Department))}
    return Walker(api_as, dbr, departments, dbr.demo_customer()["id"])


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_the_remedy_and_the_acknowledgement_are_recorded(walker):
    opened = walker.open(remedy_requested="要求赔偿天花板修复费用", acknowledge=False)
    cid = opened["id"]
    stored = walker.stored(cid)
    assert stored["remedy_requested"] == "要求赔偿天花板修复费用"
    assert stored["acknowledge_due_at"] is not None and stored["acknowledged_at"] is None
    shown = walker.api_as("cs_staff").get(f"/api/v1/complaint/{cid}").get_json()
    assert "acknowledge" in shown["result"]["allowed_actions"]
    response = walker.step(cid, "acknowledge", user="cs_staff", acknowledged_how="phone")
    assert response.status_code == 200, response.get_data(as_text=True)
    stored = walker.stored(cid)
    assert stored["acknowledged_at"] is not None and stored["acknowledged_how"] == "phone"
    assert stored["state"] == "received"  # the receipt does not move the complaint on
    again = walker.step(cid, "acknowledge", user="cs_staff", acknowledged_how="phone")
    assert again.status_code == 409 and has_chinese(again.get_json()["message"])


def test_an_unacknowledged_complaint_is_overdue_after_one_working_hour(app):
    from app.domain import complaints
    from app.models import Complaint

    complaint = Complaint(state="received", received_at=datetime(2026, 11, 2, 10, 0),  # a Monday, a workday
                          acknowledge_due_at=datetime(2026, 11, 2, 11, 0))
    assert "acknowledge" not in complaints.overdue_reasons(complaint, datetime(2026, 11, 2, 10, 59))
    assert "acknowledge" in complaints.overdue_reasons(complaint, datetime(2026, 11, 2, 11, 1))
    complaint.acknowledged_at = datetime(2026, 11, 2, 10, 30)
    assert "acknowledge" not in complaints.overdue_reasons(complaint, datetime(2026, 11, 2, 11, 1))


def test_closing_unresolved_is_the_managers_and_explains_the_routes(walker, dbr):
    from app.models import ArchiveRecord

    cid = walker.open()["id"]
    walker.walk(cid, TO_HANDLING)
    for username in ("cs_staff", "eng_staff", "gm"):
        before = walker.snapshot(cid)
        refused = walker.step(cid, "close_unresolved", user=username, **UNRESOLVED)
        assert refused.status_code in (403, 404), (username, refused.status_code)
        assert has_chinese(refused.get_json()["message"]), refused.get_json()
        assert walker.snapshot(cid) == before, username
    missing = walker.step(cid, "close_unresolved", user="cs_manager", unresolved_position="无法满足")
    assert missing.status_code == 422 and set(missing.get_json()["errors"]) >= {"unresolved_routes",
                                                                                 "customer_told_how"}
    closed = walker.step(cid, "close_unresolved", user="cs_manager", **UNRESOLVED)
    assert closed.status_code == 200, closed.get_data(as_text=True)
    stored = walker.stored(cid)
    assert stored["state"] == "closed_unresolved"
    assert stored["unresolved_routes"] == "hotline_12345,consumer_association,court"
    with dbr.session() as s:  # the close filed the complaint record form itself (SPEC §3)
        filed = s.scalars(select(ArchiveRecord.form).where(ArchiveRecord.source_table == "complaint",
                                                           ArchiveRecord.source_id == cid)).all()
    assert filed == ["complaint_record"]


def test_closing_files_the_record_form_in_the_same_step(walker, dbr):
    from app.models import ArchiveRecord

    cid = walker.open()["id"]
    walker.walk(cid, [*TO_HANDLING, "reply", "close"])
    with dbr.session() as s:
        forms = s.scalars(select(ArchiveRecord.form).where(ArchiveRecord.source_table == "complaint",
                                                           ArchiveRecord.source_id == cid)).all()
    assert forms == ["complaint_record"]


def test_the_return_visit_asks_both_satisfactions(walker):
    cid = walker.open()["id"]
    walker.walk(cid, [*TO_HANDLING, "reply", "close"])
    response = walker.step(cid, "return_visit", return_visit_process_satisfaction=2)
    assert response.status_code == 200, response.get_data(as_text=True)
    stored = walker.stored(cid)
    assert (stored["return_visit_satisfaction"], stored["return_visit_process_satisfaction"]) == (5, 2)


def test_the_status_can_be_read_out_on_the_phone(walker):
    opened = walker.open()
    cid = opened["id"]
    walker.walk(cid, ["confirm", "assess"])
    shown = walker.api_as("cs_staff").get(f"/api/v1/complaint/{cid}").get_json()
    status = shown["result"]["status_text"]
    assert "评估" in status and "客服经理" in status and "期限" in status, status
    assert shown["result"]["number"] in status, status
