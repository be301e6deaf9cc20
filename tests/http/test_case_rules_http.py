"""The case library's rules hold on every path (issue 12, item 4): bad input through `POST` and `PUT
/api/v1/case_entry/` (drawn by Hypothesis) and through the HTML form is refused with 4xx, a Chinese message
and every broken field named, and writes nothing; the choices the form and the OpenAPI document offer are
the SPEC's; who may write is the domain's rule, also for a role Flask-AppBuilder would let through."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from tests.unit.test_case_rules import CATEGORIES, GOOD, STAGES, bad_entries

from .conftest import form_values, text_of

CJK = re.compile(r"[\u4e00-\u9fff]")


def _written(dbr):
    from app.models import CaseEntry

    return dbr.count(CaseEntry), dbr.audit_count()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=bad_entries())
def test_bad_input_through_the_api_is_refused_and_writes_nothing(api_as, dbr, bad):
    values, broken = bad
    before = _written(dbr)
    response = api_as("cs_manager").post("/api/v1/case_entry/", json=values)
    _assert_refused(response, values, broken)
    assert _written(dbr) == before


def _assert_refused(response, values, broken):
    """422 naming every broken field (the domain answers them all at once) — or, from the app's guards
    before any view runs, 400 for a number too large for any column, 422 naming only the fields given a
    list or an object where one value belongs."""
    assert response.status_code in (400, 422), (values, response.get_data(as_text=True))
    body = response.get_json()
    assert CJK.search(body["message"]), body
    if response.status_code == 400:
        assert any(_huge(v) for v in values.values()), (values, body)
    elif any(isinstance(v, (list, dict)) for v in values.values()):
        assert set(body["errors"]) == {k for k, v in values.items() if isinstance(v, (list, dict))}, (values, body)
    else:
        assert set(body["errors"]) >= broken, (values, body)


def _huge(value) -> bool:
    if isinstance(value, dict):
        return any(_huge(v) for v in value.values())
    if isinstance(value, list):
        return any(_huge(v) for v in value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**31


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=bad_entries())
def test_a_bad_change_through_the_api_is_refused_and_changes_nothing(api_as, dbr, entry, bad):
    values, broken = bad
    before = _written(dbr), _row(dbr, entry["id"])
    response = api_as("cs_manager").put(f"/api/v1/case_entry/{entry['id']}", json={**values,
                                                                                  "version": entry["version"]})
    _assert_refused(response, values, broken)
    assert (_written(dbr), _row(dbr, entry["id"])) == before


def _row(dbr, entry_id) -> dict:
    from app.models import CaseEntry

    with dbr.session() as s:
        item = s.get(CaseEntry, entry_id)
        return {c.key: getattr(item, c.key) for c in CaseEntry.__table__.columns}



@pytest.fixture(scope="module")
def entry(api_as):
    response = api_as("cs_manager").post("/api/v1/case_entry/", json={**GOOD, "title": "规则测试案例"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return {"id": response.get_json()["id"], "version": response.get_json()["result"]["version"]}


@pytest.mark.parametrize("username", ["admin", "cs_staff", "gm"])
def test_who_may_add_is_the_domains_rule_on_the_api(username, api_as, dbr):
    """The administrator holds every permission of Flask-AppBuilder; the case library is still the
    customer-service manager's (SPEC §1), so the domain refuses."""
    before = _written(dbr)
    response = api_as(username).post("/api/v1/case_entry/", json=GOOD)
    assert response.status_code == 403
    assert CJK.search(response.get_json()["message"])
    assert _written(dbr) == before


def test_the_administrator_may_not_change_or_delete_an_entry_either(api_as, dbr, entry):
    before = _written(dbr), _row(dbr, entry["id"])
    admin = api_as("admin")
    assert admin.put(f"/api/v1/case_entry/{entry['id']}", json={"lesson": "改", "version": entry["version"]}
                     ).status_code == 403
    assert admin.delete(f"/api/v1/case_entry/{entry['id']}", query_string={"version": entry["version"]}
                        ).status_code == 403
    assert (_written(dbr), _row(dbr, entry["id"])) == before


def test_a_bad_entry_through_the_html_form_is_refused_and_writes_nothing(html_as, dbr):
    from app.models import CaseEntry

    client = html_as("cs_manager")
    data = form_values(text_of(client.get("/caseentry/add")), 'name="title"')
    data.pop("project", None)
    data.pop("department", None)
    before = _written(dbr)
    for bad, field_message in (({"stage": "someday"}, "someday"), ({"category": ""}, "此项为必填项"),
                               ({"description": "  "}, "此项为必填项")):
        response = client.post("/caseentry/add", data={**data, "title": "表单规则测试", "stage": "delivery",
                                                       "category": "quality", "description": "渗水", **bad},
                               follow_redirects=True)
        assert field_message in text_of(response), bad  # flashed on the page it comes back to
        assert _written(dbr) == before
    assert dbr.count(CaseEntry, CaseEntry.title == "表单规则测试") == 0
    response = html_as("admin").post("/caseentry/add", data={**data, "title": "表单规则测试", "stage": "delivery",
                                                             "category": "quality", "description": "渗水"},
                                     follow_redirects=True)
    assert "只有客服经理可以添加案例" in text_of(response)
    assert _written(dbr) == before


def test_the_form_and_the_openapi_document_offer_the_spec_choices(html_as, api_as):
    page = text_of(html_as("cs_manager").get("/caseentry/add"))
    for name, codes in (("stage", STAGES), ("category", CATEGORIES)):
        select_html = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S).group(0)
        assert re.findall(r'<option[^>]*value="([^"]*)"', select_html) == ["", *codes]
    spec = api_as("admin").get("/api/v1/_openapi").get_json()
    schema = spec["components"]["schemas"]["CaseEntryApi.post"]["properties"]
    assert (schema["stage"]["enum"], schema["category"]["enum"]) == (list(STAGES), list(CATEGORIES))
    assert set(spec["components"]["schemas"]["CaseEntryApi.post"]["required"]) == \
        {"title", "stage", "category", "description"}


def test_a_good_entry_through_the_html_form_is_written(html_as, dbr):
    from app.models import CaseEntry

    client = html_as("cs_manager")
    data = form_values(text_of(client.get("/caseentry/add")), 'name="title"')
    data.pop("project", None)
    data.pop("department", None)
    response = client.post("/caseentry/add", data={**data, "title": " 表单正常案例 ", "stage": "move_in",
                                                   "category": "living", "description": "电梯噪声"})
    assert response.status_code == 302, text_of(response)
    with dbr.session() as s:
        item = s.scalars(select(CaseEntry).where(CaseEntry.title == "表单正常案例")).one()
        assert (item.stage, item.category, item.description) == ("move_in", "living", "电梯噪声")


def test_an_entry_changed_through_the_html_form_obeys_the_same_rules(html_as, dbr, entry):
    client = html_as("cs_manager")
    data = form_values(text_of(client.get(f"/caseentry/edit/{entry['id']}")), 'name="title"')
    before = _written(dbr), _row(dbr, entry["id"])
    refused = client.post(f"/caseentry/edit/{entry['id']}", data={**data, "stage": "someday", "title": " "},
                          follow_redirects=True)
    assert "someday" in text_of(refused) and "此项为必填项" in text_of(refused)
    assert (_written(dbr), _row(dbr, entry["id"])) == before
    changed = client.post(f"/caseentry/edit/{entry['id']}", data={**data, "lesson": "  表单修改的教训  "})
    assert changed.status_code == 302, text_of(changed)
    assert _row(dbr, entry["id"])["lesson"] == "表单修改的教训"
