"""The archive over HTTP: printing a complaint through the REST API twice (versions, hashes, the PDF
itself), the archive resource read-only, the verification page a QR code opens, the print buttons of
the pages, and the lending register with a loan outside held until the general manager approves."""

import hashlib
import re
from datetime import date, timedelta

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app.models import ArchiveLoan, ArchiveRecord, Complaint
from tests.printing import pdf as read

from .conftest import Db


def a_complaint_id(dbr: Db, state="fed_back") -> int:
    with dbr.session() as s:
        return s.scalar(select(Complaint.id).where(Complaint.state == state).order_by(Complaint.id))


def test_printing_a_complaint_twice_through_the_api_keeps_both_versions(api_as, dbr):
    cs = api_as("cs_staff")
    complaint_id = a_complaint_id(dbr)
    first = cs.post(f"/api/v1/complaint/{complaint_id}/print")
    assert first.status_code == 201, first.get_data(as_text=True)
    second = cs.post(f"/api/v1/complaint/{complaint_id}/print", json={"form": "complaint_record"})
    assert second.status_code == 201
    a, b = first.get_json()["result"], second.get_json()["result"]
    assert a["number"] != b["number"] and b["previous_id"] == a["id"] and b["revision"] == a["revision"] + 1
    assert a["source_table"] == "complaint" and a["source_id"] == complaint_id and a["form_code"] == "KF/QR-03"
    assert a["retention"] == "永久" and a["file_state"] == "ok"
    for record in (a, b):
        pdf = cs.get(f"/api/v1/archive/{record['id']}/file")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert hashlib.sha256(pdf.data).hexdigest() == record["sha256"] == pdf.headers["X-Kefu-SHA256"]
    listed = cs.get(f"/api/v1/archive/{a['id']}").get_json()["result"]
    assert listed["sha256"] == a["sha256"] and listed["number"] == a["number"]


def test_the_archive_resource_is_read_only(api_as, dbr):
    cs = api_as("cs_staff")
    record = cs.post(f"/api/v1/complaint/{a_complaint_id(dbr)}/print").get_json()["result"]
    assert cs.put(f"/api/v1/archive/{record['id']}", json={"title": "x"}).status_code in (404, 405)
    assert cs.delete(f"/api/v1/archive/{record['id']}").status_code in (404, 405)
    assert cs.post("/api/v1/archive/", json={"number": "KF-2026-999999"}).status_code in (404, 405)
    with dbr.session() as s:
        assert s.get(ArchiveRecord, record["id"]).title == record["title"]


def test_printing_is_refused_to_roles_without_it_and_answers_404_for_no_complaint(api_as, dbr):
    complaint_id = a_complaint_id(dbr)
    assert api_as("eng_staff").post(f"/api/v1/complaint/{complaint_id}/print").status_code in (403, 404)
    assert api_as("auditor").post(f"/api/v1/complaint/{complaint_id}/print").status_code == 403
    assert api_as("cs_staff").post("/api/v1/complaint/999999999/print").status_code == 404
    bad = api_as("cs_staff").post(f"/api/v1/complaint/{complaint_id}/print", json={"form": "novel"})
    assert bad.status_code == 422 and bad.get_json()["message"]


def verify_page(client, number, code) -> str:
    response = client.get(f"/verify/{number}?c={code}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def secrets_of(record: dict, dbr: Db) -> list[str]:
    """What the verification page may never show: codes, hashes, who printed, the source record and
    the person in it."""
    with dbr.session() as s:
        complaint = s.get(Complaint, record["source_id"])
        customer = complaint.customer.name
    return [record["verify_code"], record["verify_code"].replace("-", ""), record["sha256"],
            record["content_sha256"], record["printed_by_name"], record["source_label"], customer,
            f"/archiverecordview/show/{record['id']}", f"/archiverecordview/file/{record['id']}"]


def test_a_wrong_code_tells_nothing_of_the_record(api_as, html_as, dbr):
    record = api_as("cs_staff").post(f"/api/v1/complaint/{a_complaint_id(dbr)}/print").get_json()["result"]
    number, code = record["number"], record["verify_code"]
    wrong_codes = ["0000-0000-0000-0000", code[:-1] + ("0" if code[-1] != "0" else "1"), "", "ABCD",
                   code + "0", code.lower()[:-2], "' OR 1=1 --", "%00" + code]
    for viewer in ("archivist", "eng_staff", "auditor", "admin"):
        client = html_as(viewer)
        answers = [verify_page(client, number, wrong) for wrong in wrong_codes]
        answers.append(verify_page(client, "KF-1999-000001", code))  # a made-up number: the same answer
        for body in answers:
            assert 'data-verdict="code"' in body and "验证码不符" in body
            assert 'data-verdict="ok"' not in body and "kefu-archive-record" not in body
            for secret in secrets_of(record, dbr):
                assert secret not in body, (viewer, secret)
            assert record["title"] not in body and "永久" not in body


def test_the_right_code_shows_exactly_the_facts_the_paper_holder_needs(api_as, html_as, dbr):
    record = api_as("cs_staff").post(f"/api/v1/complaint/{a_complaint_id(dbr)}/print").get_json()["result"]
    number, code = record["number"], record["verify_code"]
    for viewer, typed in (("eng_staff", code), ("auditor", code.replace("-", "").lower()), ("archivist", f" {code} ")):
        body = verify_page(html_as(viewer), number, typed)
        assert 'data-verdict="ok"' in body
        facts = re.findall(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>", body.split("kefu-archive-record")[1])
        assert facts == [("表单", "客户投诉处理记录表（KF/QR-03）"), ("档案号", number),
                         ("打印时间", record["printed_at"][:10]), ("保管期限", "永久"), ("存档文件", "完好")]
        for secret in secrets_of(record, dbr):
            assert secret not in body, (viewer, secret)


def test_guessing_codes_is_limited(app, api_as, html_as, dbr, monkeypatch):
    record = api_as("cs_staff").post(f"/api/v1/complaint/{a_complaint_id(dbr)}/print").get_json()["result"]
    monkeypatch.setitem(app.config, "KEFU_VERIFY_RATE_LIMIT", "5 per 10 minutes")
    client = html_as("auditor")
    assert verify_page(client, record["number"], record["verify_code"])  # right codes do not count
    statuses = [client.get(f"/verify/{record['number']}?c={i:016X}").status_code for i in range(8)]
    assert statuses == [200] * 5 + [429] * 3


def test_the_verification_page_needs_a_login(app):
    response = app.test_client().get("/verify/KF-2026-000001?c=X")
    assert response.status_code in (302, 401)


def test_the_print_buttons_print_and_file(html_as, dbr):
    client = html_as("cs_manager")
    complaint_id = a_complaint_id(dbr)
    page = client.get(f"/complaint/show/{complaint_id}").get_data(as_text=True)
    assert f"/print/complaint/{complaint_id}/complaint_record" in page and "kefu-print" in page
    response = client.post(f"/print/complaint/{complaint_id}/return_visit")
    assert response.status_code == 302 and "/archive/show/" in response.headers["Location"]
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "回访记录表" in shown and 'data-state="ok"' in shown
    month = f"{date.today():%Y-%m}"
    stats = client.get(f"/complaintstats/?month={month}").get_data(as_text=True)
    assert "/print/ledger" in stats
    ledger = client.post("/print/ledger", data={"month": month})
    assert ledger.status_code == 302 and "/archive/show/" in ledger.headers["Location"]
    bad = client.post("/print/ledger", data={"month": "2026-13"}, headers={"Referer": "/complaintstats/"})
    assert bad.status_code == 302 and "/archive/show/" not in bad.headers["Location"]


def test_a_department_user_cannot_print_another_departments_complaint(html_as, dbr):
    client = html_as("cs_staff")
    assert client.post(f"/print/complaint/{a_complaint_id(dbr)}/complaint_record").status_code == 302
    # Department staff hold no print permission at all.
    assert html_as("eng_staff").post(f"/print/complaint/{a_complaint_id(dbr)}/complaint_record").status_code in (302, 403)
    with dbr.session() as s:  # copies name their printer by name (张伟), not by login
        user = s.scalars(select(User).where(User.username == "eng_staff")).one()
        name = f"{user.first_name or ''}{user.last_name or ''}"
        assert name and s.scalar(select(ArchiveRecord.id).where(ArchiveRecord.printed_by_name.in_([name, "eng_staff"]))) is None
        cs = s.scalars(select(User).where(User.username == "cs_staff")).one()
        assert s.scalar(select(ArchiveRecord.id).where(ArchiveRecord.printed_by_name == f"{cs.first_name}{cs.last_name}"))


def _a_record(api_as, dbr) -> dict:
    return api_as("cs_staff").post(f"/api/v1/complaint/{a_complaint_id(dbr)}/print").get_json()["result"]


def test_a_loan_outside_waits_for_the_general_manager(api_as, dbr):
    record = _a_record(api_as, dbr)
    archivist, gm = api_as("archivist"), api_as("gm")
    due = (date.today() + timedelta(days=14)).isoformat()
    asked = archivist.post("/api/v1/archive_loan/", json={
        "archive_record_id": record["id"], "kind": "loan", "borrower": "李律师", "borrower_department": "法务部",
        "purpose": "诉讼取证", "due_on": due})
    assert asked.status_code == 201, asked.get_data(as_text=True)
    loan = asked.get_json()["result"]
    assert loan["state"] == "requested"
    refused = archivist.post(f"/api/v1/archive_loan/{loan['id']}/lend", json={})
    assert refused.status_code == 409 and "总经理" in refused.get_json()["message"]
    with dbr.session() as s:
        assert s.get(ArchiveLoan, loan["id"]).out_at is None
    queue = gm.get("/api/v1/approval/?q=(filters:!((col:state,opr:eq,value:pending),(col:kind,opr:eq,value:archive_loan)))")
    approval = next(a for a in queue.get_json()["result"] if a["subject_id"] == loan["id"])
    assert archivist.post(f"/api/v1/approval/{approval['id']}/decide", json={"decision": "approve"}).status_code == 403
    decided = gm.post(f"/api/v1/approval/{approval['id']}/decide", json={"decision": "approve", "comment": "同意"})
    assert decided.status_code == 200 and decided.get_json()["subject"]["state"] == "approved"
    out = archivist.post(f"/api/v1/archive_loan/{loan['id']}/lend", json={})
    assert out.status_code == 200 and out.get_json()["result"]["state"] == "out"
    back = archivist.post(f"/api/v1/archive_loan/{loan['id']}/return", json={})
    assert back.status_code == 200 and back.get_json()["result"]["state"] == "returned"
    again = archivist.post(f"/api/v1/archive_loan/{loan['id']}/return", json={})
    assert again.status_code == 409


def test_a_rejected_loan_never_goes_out(api_as, dbr):
    record = _a_record(api_as, dbr)
    archivist, gm = api_as("archivist"), api_as("gm")
    loan = archivist.post("/api/v1/archive_loan/", json={
        "archive_record_id": record["id"], "kind": "loan", "borrower": "王五", "borrower_department": "外部审计",
        "purpose": "审计", "due_on": (date.today() + timedelta(days=3)).isoformat()}).get_json()["result"]
    queue = gm.get("/api/v1/approval/?q=(filters:!((col:kind,opr:eq,value:archive_loan)))").get_json()["result"]
    approval = next(a for a in queue if a["subject_id"] == loan["id"])
    assert gm.post(f"/api/v1/approval/{approval['id']}/decide",
                   json={"decision": "reject", "comment": "不宜外借"}).status_code == 200
    assert archivist.post(f"/api/v1/archive_loan/{loan['id']}/lend", json={}).status_code == 409


def test_a_consultation_is_out_at_once_and_only_the_archivist_registers(api_as, dbr):
    record = _a_record(api_as, dbr)
    payload = {"archive_record_id": record["id"], "kind": "consultation", "borrower": "赵工",
               "borrower_department": "设计部", "purpose": "查阅投诉案例"}
    assert api_as("cs_staff").post("/api/v1/archive_loan/", json=payload).status_code == 403
    made = api_as("archivist").post("/api/v1/archive_loan/", json=payload)
    assert made.status_code == 201 and made.get_json()["result"]["state"] == "out"
    missing = api_as("archivist").post("/api/v1/archive_loan/", json={**payload, "kind": "loan"})
    assert missing.status_code == 422 and "due_on" in missing.get_json()["errors"]
    unknown = api_as("archivist").post("/api/v1/archive_loan/", json={**payload, "archive_record_id": 999999999})
    assert unknown.status_code == 422 and "archive_record_id" in unknown.get_json()["errors"]


def test_the_register_prints_its_entries(html_as, api_as, dbr, artifacts, tmp_path):
    record = _a_record(api_as, dbr)
    api_as("archivist").post("/api/v1/archive_loan/", json={
        "archive_record_id": record["id"], "kind": "consultation", "borrower": "孙登记",
        "borrower_department": "工程部", "purpose": "核对整改记录"})
    client = html_as("archivist")
    assert "/print/register" in client.get("/archiveloan/list/").get_data(as_text=True)
    response = client.post("/print/register")
    assert response.status_code == 302
    archive_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    pdf = client.get(f"/archive/file/{archive_id}")
    assert pdf.status_code == 200
    text = read.text(pdf.data).replace(" ", "")
    assert "档案借阅登记表" in text and "孙登记" in text and record["number"] in text
    (tmp_path / "register.pdf").write_bytes(pdf.data)
    read.first_page_png(tmp_path / "register.pdf", artifacts / "lending_register")
