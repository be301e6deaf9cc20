"""The visit-planning rules hold on every path (app.domain.visit_planning): the visiting person must be an
active member of customer service (CS Staff or CS Manager, account active) and the unit, when given, one
the customer holds. Through the REST API a plan breaking either is refused with 422 and the reason in
Chinese beside the field, and writes nothing (visits, visit steps, audit rows counted before and after);
the HTML form relies on the same rule (a posted visitor it would not offer is refused by the domain)."""

from __future__ import annotations

import itertools
import os
import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD

from .conftest import form_values, text_of

_names = itertools.count()
NOT_CUSTOMER_SERVICE = "只有客服专员或客服经理可以走访客户：请选择客户服务部人员。"
DEACTIVATED = "该用户的账户已停用：请选择在职的客户服务部人员。"
NOT_HELD = "该客户没有这个房号。"
NO_SUCH_UNIT = "该房号不存在。"
INVALID = "输入有误，未保存。"


@pytest.fixture(scope="module")
def holder(dbr):
    """A demo customer holding a unit, and a unit of the demo data it does not hold."""
    from app.models import CustomerUnit

    with dbr.session() as s:
        customer_id, unit_id = s.execute(select(CustomerUnit.customer_id, func.min(CustomerUnit.unit_id))
                                         .group_by(CustomerUnit.customer_id)
                                         .order_by(CustomerUnit.customer_id).limit(1)).one()
        other = s.scalar(select(CustomerUnit.unit_id).where(CustomerUnit.unit_id.not_in(
            select(CustomerUnit.unit_id).where(CustomerUnit.customer_id == customer_id))).limit(1))
    assert other is not None
    return {"customer_id": customer_id, "unit_id": unit_id, "other_unit_id": other}


@pytest.fixture(scope="module")
def user_ids(app):
    """Ids of the demo users, and of a CS Staff user whose account is deactivated."""
    from app.domain.roles import CS_STAFF
    from app.extensions import db

    name = f"away{os.getpid() % 10000}_{next(_names)}"
    with app.app_context():
        sm = app.appbuilder.sm
        away = sm.add_user(name, "离职", "客服", f"{name}@example.com", sm.find_role(CS_STAFF), PASSWORD)
        away.active = False
        sm.update_user(away)
        ids = {u.username: u.id for u in sm.get_all_users()}
        db.session.remove()
    ids["away"] = ids[name]
    return ids


def written(dbr) -> tuple[int, int, int]:
    from app.models import Visit, VisitStep

    return dbr.count(Visit), dbr.count(VisitStep), dbr.audit_count()


def plan(api_as, holder, user="cs_staff", **fields):
    body = {"customer_id": holder["customer_id"], "planned_at": "2031-03-04 10:00", **fields}
    return api_as(user).post("/api/v1/visit/", json=body)


def refused_beside(response, field, message):
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["errors"] == {field: message}, body
    assert body["message"] == f"{INVALID} {message}", body


@pytest.mark.parametrize(("visitor", "message"), [
    ("away", DEACTIVATED),  # customer service, but the account is deactivated
    ("eng_staff", NOT_CUSTOMER_SERVICE), ("gm", NOT_CUSTOMER_SERVICE), ("admin", NOT_CUSTOMER_SERVICE),
])
def test_the_api_refuses_a_visitor_who_is_not_active_customer_service(visitor, message, api_as, dbr, holder,
                                                                      user_ids):
    before = written(dbr)
    refused_beside(plan(api_as, holder, staff_id=user_ids[visitor], unit_id=holder["unit_id"]), "staff_id", message)
    assert written(dbr) == before


def test_the_api_refuses_a_unit_the_customer_does_not_hold(api_as, dbr, holder):
    before = written(dbr)
    refused_beside(plan(api_as, holder, unit_id=holder["other_unit_id"]), "unit_id", NOT_HELD)
    refused_beside(plan(api_as, holder, unit_id=2**31 - 1), "unit_id", NO_SUCH_UNIT)
    assert written(dbr) == before


def test_the_api_names_every_broken_rule_at_once(api_as, dbr, holder, user_ids):
    before = written(dbr)
    response = plan(api_as, holder, staff_id=user_ids["away"], unit_id=holder["other_unit_id"])
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"] == {"staff_id": DEACTIVATED, "unit_id": NOT_HELD}
    assert written(dbr) == before


def test_the_api_plans_for_another_active_member_of_customer_service(api_as, dbr, holder, user_ids):
    from app.models import Visit, VisitStep

    before = written(dbr)
    response = plan(api_as, holder, staff_id=user_ids["cs_manager"], unit_id=holder["unit_id"])
    assert response.status_code == 201, response.get_data(as_text=True)
    vid = response.get_json()["id"]
    with dbr.session() as s:
        visit = s.get(Visit, vid)
        assert (visit.staff_id, visit.unit_id, visit.state) == (user_ids["cs_manager"], holder["unit_id"], "planned")
        assert s.scalars(select(VisitStep.action).where(VisitStep.visit_id == vid)).all() == ["plan"]
    visits, steps, audit = written(dbr)
    assert (visits, steps) == (before[0] + 1, before[1] + 1) and audit > before[2]
    # No visitor named: the planner visits.
    response = plan(api_as, holder, "cs_manager")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["result"]["staff_id"] == user_ids["cs_manager"]


def offered_visitors(page: str) -> set[str]:
    select_ = re.search(r'<select[^>]*name="staff_id".*?</select>', page, re.S)
    assert select_, "no visiting-staff choice on the form"
    return set(re.findall(r'<option[^>]*value="(\d+)"', select_.group(0)))


@pytest.mark.parametrize(("visitor", "message"), [("away", DEACTIVATED), ("pm_staff", NOT_CUSTOMER_SERVICE)])
def test_the_form_relies_on_the_domain_for_the_visitor(visitor, message, html_as, dbr, created, user_ids):
    _cid, customer, _body = created()
    client = html_as("cs_staff")
    page = text_of(client.get("/visit/add"))
    offered = offered_visitors(page)
    assert str(user_ids["cs_manager"]) in offered and str(user_ids[visitor]) not in offered  # not offered ...
    data = form_values(page, 'name="customer"')
    data.update(customer=customer["mobile"], staff_id=str(user_ids[visitor]))
    before = written(dbr)
    response = client.post("/visit/add", data=data)  # ... and, posted all the same, refused by the domain
    assert response.status_code == 200
    assert message in text_of(response)
    assert written(dbr) == before
