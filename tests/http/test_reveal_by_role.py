"""Revealing personal data is the domain's decision by role (issue 12, item 4): app.domain.privacy decides
from the actor's roles — a role may when it holds `can_reveal` on `PersonalData` — and `reveal` checks it
itself, so no page, API endpoint or print can grant it. A role without the permission is refused with
403 and a Chinese message through the domain function, the HTML route and the API, and nothing is
written (the audit rows are counted)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.domain import privacy
from app.domain.errors import ForbiddenError

from .conftest import text_of

REFUSED_ZH = "您的角色无权查看完整个人信息。"
# SPEC §1/§2: customer service (staff and manager), the general manager and the administrator may
# reveal; department staff, the archivist and the auditor see personal data masked.
MAY_REVEAL = {"admin": True, "cs_staff": True, "cs_manager": True, "gm": True,
              "eng_staff": False, "pm_staff": False, "archivist": False, "auditor": False}


@pytest.fixture
def customer(created):
    cid, payload, _ = created()
    return {"id": cid, "mobile": payload["mobile"]}


def _user(session, username):
    from flask_appbuilder.security.sqla.models import User

    return session.scalars(select(User).where(User.username == username)).one()


def test_who_may_reveal_is_decided_by_role(app, dbr):
    with dbr.session() as s:
        assert {name: privacy.may_reveal(s, _user(s, name)) for name in MAY_REVEAL} == MAY_REVEAL
        assert privacy.may_reveal(s, None) is False


@pytest.mark.parametrize("username", ["auditor", "archivist", "eng_staff"])
def test_the_domain_refuses_a_role_without_the_permission_and_writes_nothing(username, app, dbr, customer):
    from app.models import AuditLog, Customer

    before = dbr.audit_count()
    with dbr.session() as s, app.test_request_context(), force_locale("zh"):
        record = s.get(Customer, customer["id"])
        with pytest.raises(ForbiddenError) as refused:
            privacy.reveal(s, record, "mobile", _user(s, username))
        assert refused.value.status == 403 and str(refused.value) == REFUSED_ZH
        assert s.scalar(select(func.count(AuditLog.id))) == before  # not even in the open transaction
    assert dbr.audit_count() == before


@pytest.fixture
def cs_staff_without_reveal(app):
    """The CS Staff role without `can_reveal` on `PersonalData` (put back afterwards)."""
    from app.extensions import db

    def grant(on: bool):
        with app.app_context():
            sm = app.appbuilder.sm
            pvm = sm.find_permission_view_menu(*privacy.REVEAL_PERMISSION)
            role = sm.find_role("CS Staff")
            if on and pvm not in role.permissions:
                role.permissions.append(pvm)
            elif not on and pvm in role.permissions:
                role.permissions.remove(pvm)
            db.session.commit()
            db.session.remove()

    grant(False)
    try:
        yield
    finally:
        grant(True)


def test_taking_the_permission_from_a_role_refuses_it_on_every_path(
        cs_staff_without_reveal, app, dbr, customer, html_as, api_as):
    cid, mobile = customer["id"], customer["mobile"]
    before = dbr.audit_count()
    with dbr.session() as s:
        assert privacy.may_reveal(s, _user(s, "cs_staff")) is False

    page = html_as("cs_staff").post(f"/customer/reveal/{cid}/mobile")
    assert page.status_code == 403
    assert page.get_json()["message"] == REFUSED_ZH and mobile not in text_of(page)
    assert "kefu-reveal-btn" not in text_of(html_as("cs_staff").get(f"/customer/show/{cid}"))

    answer = api_as("cs_staff").post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"})
    assert answer.status_code == 403
    assert answer.get_json()["message"] == REFUSED_ZH and mobile not in answer.get_data(as_text=True)
    assert dbr.audit_count() == before


def test_with_the_permission_the_same_role_reveals_once_audited(app, dbr, customer, html_as, api_as):
    cid, mobile = customer["id"], customer["mobile"]
    assert "kefu-reveal-btn" in text_of(html_as("cs_staff").get(f"/customer/show/{cid}"))
    seq = dbr.last_seq()
    page = html_as("cs_staff").post(f"/customer/reveal/{cid}/mobile")
    assert page.status_code == 200 and page.get_json()["value"] == mobile
    answer = api_as("cs_staff").post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"})
    assert answer.status_code == 200 and answer.get_json()["value"] == mobile
    rows = dbr.audit_after(seq)
    assert [(r["action"], r["record_id"], r["actor"], r["changes"]) for r in rows] == \
        [("reveal", str(cid), "cs_staff", {"field": "mobile"})] * 2


def test_printing_cannot_grant_what_the_role_lacks(app, dbr):
    """A print asked for full personal data (full_data=True) by a role that may not reveal prints the
    number masked and writes no reveal row; a role that may prints it masked unless it asks for a
    full-data copy, which prints it in full, audited."""
    from app import printing
    from app.models import AuditLog, Complaint, Customer

    with dbr.session() as s, app.test_request_context():
        complaint = s.scalars(select(Complaint).join(Customer).where(Customer.mobile.is_not(None))
                              .order_by(Complaint.id).limit(1)).one()
        mobile = complaint.customer.mobile
        rows = s.scalar(select(func.count(AuditLog.id)))
        data = printing.complaint_record_data(s, complaint, _user(s, "archivist"), True)
        phone = dict(data["receipt"])["联系电话"]
        assert phone == privacy.mask("mobile", mobile) and phone != mobile
        assert s.scalar(select(func.count(AuditLog.id))) == rows
        data = printing.complaint_record_data(s, complaint, _user(s, "cs_manager"), None)  # not asked: masked
        assert dict(data["receipt"])["联系电话"] == privacy.mask("mobile", mobile)
        assert s.scalar(select(func.count(AuditLog.id))) == rows
        data = printing.complaint_record_data(s, complaint, _user(s, "cs_manager"), True)  # a full-data copy
        assert dict(data["receipt"])["联系电话"] == mobile
        last = s.scalars(select(AuditLog).order_by(AuditLog.seq.desc()).limit(1)).one()
        assert s.scalar(select(func.count(AuditLog.id))) == rows + 1
        assert (last.action, last.table_name, last.record_id, last.actor_name) == \
            ("reveal", "customer", str(complaint.customer_id), "cs_manager")
