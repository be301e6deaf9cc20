"""Printed only when there is something to print, and personal data on paper (issue 13, items 4 and 5).

A record's form printed too early would be filed for good with nothing filled in: the API and the pages
refuse it with a Chinese 409 and file nothing (the archive is counted). Blank forms stay available as
blanks. Personal data prints masked unless a role that may reveal asks for a full-data copy, which is
audited as a reveal; such a file opens only for roles that may reveal, and each opening is audited.
"""

import re

from sqlalchemy import select

from app.domain import privacy
from app.models import ArchiveRecord, Complaint, Customer, ReturnVisit, Visit
from tests.printing import pdf as read

from .conftest import Db

CJK = re.compile(r"[\u4e00-\u9fff]")


def _one(dbr: Db, model, *where) -> int:
    with dbr.session() as s:
        return s.scalar(select(model.id).where(*where).order_by(model.id).limit(1))


def _refused(response, archived_before: int, dbr: Db) -> None:
    assert response.status_code == 409, response.get_data(as_text=True)[:300]
    assert CJK.search(response.get_data(as_text=True)), "the refusal is not in Chinese"
    assert dbr.count(ArchiveRecord) == archived_before, "a refused print filed something"


def test_the_api_refuses_forms_with_nothing_to_print_and_files_nothing(api_as, dbr):
    cs = api_as("cs_staff")
    received = _one(dbr, Complaint, Complaint.state == "received")
    planned = _one(dbr, Visit, Visit.state == "planned")
    due = _one(dbr, ReturnVisit, ReturnVisit.state == "due")
    assert received and planned and due, "the demo holds a received complaint, a planned visit and a due return visit"
    before = dbr.count(ArchiveRecord)
    answer = cs.post(f"/api/v1/complaint/{received}/print", json={"form": "return_visit"})
    _refused(answer, before, dbr)
    assert "回访" in answer.get_json()["message"]
    _refused(cs.post(f"/api/v1/visit/{planned}/print"), before, dbr)
    _refused(cs.post(f"/api/v1/return_visit/{due}/print"), before, dbr)
    # what does hold something still prints: the received complaint's own record (its receipt)
    assert cs.post(f"/api/v1/complaint/{received}/print").status_code == 201
    assert dbr.count(ArchiveRecord) == before + 1


def test_the_pages_refuse_the_same_prints_and_show_no_button_for_them(html_as, dbr):
    client = html_as("cs_manager")
    received = _one(dbr, Complaint, Complaint.state == "received")
    planned = _one(dbr, Visit, Visit.state == "planned")
    due = _one(dbr, ReturnVisit, ReturnVisit.state == "due")
    before = dbr.count(ArchiveRecord)
    _refused(client.post(f"/print/complaint/{received}/return_visit"), before, dbr)
    _refused(client.post(f"/visit/print/{planned}"), before, dbr)
    _refused(client.post(f"/returnvisit/print/{due}"), before, dbr)
    page = client.get(f"/complaint/show/{received}").get_data(as_text=True)
    assert f"/print/complaint/{received}/complaint_record" in page
    assert f"/print/complaint/{received}/return_visit" not in page
    assert f"/visit/print/{planned}" not in client.get(f"/visit/show/{planned}").get_data(as_text=True)
    assert f"/returnvisit/print/{due}" not in client.get(f"/returnvisit/show/{due}").get_data(as_text=True)
    fed_back = _one(dbr, Complaint, Complaint.state == "fed_back")
    assert f"/print/complaint/{fed_back}/return_visit" in client.get(f"/complaint/show/{fed_back}").get_data(as_text=True)


def test_blank_forms_stay_available_as_blanks(html_as, dbr):
    before = dbr.count(ArchiveRecord)
    response = html_as("cs_staff").post("/print/blank/visit_record")
    assert response.status_code == 302 and "/archive/show/" in response.headers["Location"]
    with dbr.session() as s:
        record = s.scalars(select(ArchiveRecord).order_by(ArchiveRecord.id.desc()).limit(1)).one()
        assert (record.source_table, record.source_id, record.source_label) == (None, None, "空白表")
    assert dbr.count(ArchiveRecord) == before + 1


def _complaint_with_mobile(dbr: Db) -> tuple[int, str]:
    with dbr.session() as s:
        row = s.execute(select(Complaint.id, Customer.mobile).join(Customer, Customer.id == Complaint.customer_id)
                        .where(Customer.mobile.is_not(None), Complaint.state == "fed_back")
                        .order_by(Complaint.id).limit(1)).one()
        return row.id, row.mobile


def test_a_print_is_masked_unless_a_full_data_copy_is_asked_and_that_copy_opens_only_for_who_may_reveal(
        api_as, dbr):
    complaint_id, mobile = _complaint_with_mobile(dbr)
    masked = privacy.mask("mobile", mobile)
    cs = api_as("cs_staff")  # a role that may reveal
    seq = dbr.last_seq()
    plain = cs.post(f"/api/v1/complaint/{complaint_id}/print").get_json()["result"]
    assert not [r for r in dbr.audit_after(seq) if r["action"] == "reveal"]
    text = read.text(cs.get(f"/api/v1/archive/{plain['id']}/file").data).replace(" ", "")
    assert masked in text and mobile not in text
    # the archivist (no reveal) opens a masked copy, as before
    assert api_as("archivist").get(f"/api/v1/archive/{plain['id']}/file").status_code == 200

    seq = dbr.last_seq()
    full = cs.post(f"/api/v1/complaint/{complaint_id}/print", json={"full_data": True})
    assert full.status_code == 201, full.get_data(as_text=True)
    full = full.get_json()["result"]
    reveals = [r for r in dbr.audit_after(seq) if r["action"] == "reveal"]
    assert [(r["table"], r["record_id"], r["actor"]) for r in reveals] == [("customer", str(_customer_of(dbr, complaint_id)),
                                                                           "cs_staff")]
    with dbr.session() as s:
        assert s.get(ArchiveRecord, full["id"]).full_personal_data is True
        assert s.get(ArchiveRecord, plain["id"]).full_personal_data is False

    seq = dbr.last_seq()
    refused = api_as("archivist").get(f"/api/v1/archive/{full['id']}/file")
    assert refused.status_code == 403 and CJK.search(refused.get_json()["message"])
    assert dbr.audit_after(seq) == []
    opened = cs.get(f"/api/v1/archive/{full['id']}/file")
    assert opened.status_code == 200 and mobile in read.text(opened.data).replace(" ", "")
    assert [(r["action"], r["table"], r["record_id"], r["actor"]) for r in dbr.audit_after(seq)] == \
        [("reveal", "archive_record", str(full["id"]), "cs_staff")]


def test_the_pages_ask_for_a_full_data_copy_too_and_the_file_stays_closed_to_who_may_not_reveal(api_as, html_as, dbr):
    complaint_id, mobile = _complaint_with_mobile(dbr)
    manager = html_as("cs_manager")
    seq = dbr.last_seq()
    assert f"/print/complaint/{complaint_id}/complaint_record?full_data=1" in \
        manager.get(f"/complaint/show/{complaint_id}").get_data(as_text=True)
    response = manager.post(f"/print/complaint/{complaint_id}/complaint_record?full_data=1")
    assert response.status_code == 302 and "/archive/show/" in response.headers["Location"]
    record_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert any(r["action"] == "reveal" for r in dbr.audit_after(seq))  # cs_manager may reveal: a reveal
    page = html_as("archivist").get(f"/archive/file/{record_id}")
    assert page.status_code == 302, "the archivist may not open a copy with full personal data"
    assert f"/archive/file/{record_id}" not in html_as("archivist").get(f"/archive/show/{record_id}").get_data(as_text=True)
    assert f"/archive/file/{record_id}" in manager.get(f"/archive/show/{record_id}").get_data(as_text=True)
    bad = api_as("cs_staff").post(f"/api/v1/complaint/{complaint_id}/print", json={"full_data": "yes"})
    assert bad.status_code == 422


def _customer_of(dbr: Db, complaint_id: int) -> int:
    with dbr.session() as s:
        return s.get(Complaint, complaint_id).customer_id
