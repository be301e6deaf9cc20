"""The pages show China time (issue 13 item 3): approvals, customers' bookkeeping times and the audit log
are stored in UTC and shown, like every other time, in China time (UTC+8, no summer time)."""

from datetime import timedelta

from sqlalchemy import select

from app.models import Approval, AuditLog, Customer

from .conftest import Db


def _china(value, fmt="%Y-%m-%d %H:%M") -> str:
    return (value + timedelta(hours=8)).strftime(fmt)


def _utc(value, fmt="%Y-%m-%d %H:%M") -> str:
    return value.strftime(fmt)


def test_an_approval_shows_its_times_in_china_time(html_as, dbr: Db):
    with dbr.session() as s:
        approval = s.scalars(select(Approval).where(Approval.decided_at.is_not(None)).order_by(Approval.id)).first()
        pk, requested, decided = approval.id, approval.requested_at, approval.decided_at
    response = html_as("gm").get(f"/approval/show/{pk}")
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    assert _china(requested) in page and _china(decided) in page
    assert _utc(requested) not in page and "UTC" not in page
    listed = html_as("gm").get("/approval/list/").get_data(as_text=True)
    assert "UTC" not in listed


def test_a_customer_and_the_audit_log_show_china_time(html_as, dbr: Db):
    with dbr.session() as s:
        customer = s.scalars(select(Customer).where(Customer.created_at.is_not(None)).order_by(Customer.id)).first()
        pk, created = customer.id, customer.created_at
        row = s.scalars(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).one()
        row_id, at = row.id, row.at
    page = html_as("cs_staff").get(f"/customer/show/{pk}").get_data(as_text=True)
    assert _china(created) in page and "UTC" not in page
    response = html_as("auditor").get(f"/auditlog/show/{row_id}")
    assert response.status_code == 200, response.status_code
    log = response.get_data(as_text=True)
    # (the row's changes may quote stored UTC values verbatim: only the time of the row is checked)
    assert _china(at, "%Y-%m-%d %H:%M:%S") in log and "UTC" not in log
