"""What each of the seven roles may and may not see and do, on the HTML pages and the REST API.

The expectations are derived from the permission table (app.security.ROLE_PERMISSIONS) and the demo
users' roles (app.demo.USERS), so a page or endpoint that does not obey the table fails here; a
separate test pins the table itself to SPEC §1.
"""

from __future__ import annotations

import re

import prison
import pytest
from sqlalchemy import select

from app.demo import USERS
from app.domain.privacy import REVEAL_PERMISSION
from app.domain.roles import (
    ADMIN,
    ARCHIVIST,
    AUDITOR,
    CS_MANAGER,
    CS_STAFF,
    DEPARTMENT_STAFF,
    GENERAL_MANAGER,
)
from app.security import ALL_ROLES, ROLE_PERMISSIONS, SELF_SERVICE
from tests.conftest import USERNAMES

from .conftest import customer_payload, form_values, mask_mobile, text_of, unique_mobile

ROLE_OF = {username: role for username, role, *_ in USERS}
REVEAL_VIEW, REVEAL_PERM = REVEAL_PERMISSION[1], REVEAL_PERMISSION[0]


def may(role: str, view: str, perm: str) -> bool:
    """Does the permission table give `role` the permission `perm` on `view`? (Admin holds all.)"""
    if role == ADMIN:
        return True
    return any(perm in perms for grant in ROLE_PERMISSIONS[role] for name, perms in grant.items()
               if name in (view, "*"))


def may_user(username: str, view: str, perm: str) -> bool:
    return may(ROLE_OF[username], view, perm)


@pytest.fixture(scope="module")
def ids(dbr):
    """A demo customer and an audit row to open."""
    from app.models import AuditLog

    with dbr.session() as s:
        audit_id = s.scalar(select(AuditLog.id).order_by(AuditLog.id).limit(1))
    return {"customer": dbr.demo_customer(), "audit": audit_id}


def _url(template: str, ids) -> str:
    return template.format(customer=ids["customer"]["id"], audit=ids["audit"])


def _assert_refused_page(response, url, secret: str) -> None:
    """An HTML refusal: 403, or a redirect elsewhere (the login page); never the content."""
    assert response.status_code in (302, 403), f"{url}: {response.status_code}"
    if response.status_code == 302:
        assert url not in response.headers["Location"]
    assert secret not in response.get_data(as_text=True)


# --- the fixtures match the table ---------------------------------------------------------------

def test_every_role_has_a_demo_user_with_exactly_that_role(dbr, app):
    assert set(ROLE_OF.values()) == set(ALL_ROLES)
    assert set(ROLE_OF) == set(USERNAMES)
    with dbr.session():
        for username, role in ROLE_OF.items():
            user = app.appbuilder.sm.find_user(username=username)
            assert [r.name for r in user.roles] == [role], username


def test_synced_roles_hold_exactly_the_permission_table(dbr):
    """`roles sync` gives each role exactly the table (besides menu entries); Admin holds everything."""
    from flask_appbuilder.security.sqla.models import PermissionView, Role

    with dbr.session() as s:
        every = {(pv.view_menu.name, pv.permission.name) for pv in s.scalars(select(PermissionView))}
        held = {role.name: {(pv.view_menu.name, pv.permission.name) for pv in role.permissions}
                for role in s.scalars(select(Role))}
    assert held[ADMIN] == every
    for role in ALL_ROLES:
        if role == ADMIN:
            continue
        expected = {(view, perm) for view, perm in every if perm != "menu_access" and may(role, view, perm)}
        actual = {(view, perm) for view, perm in held[role] if perm != "menu_access"}
        assert actual == expected, role


def test_permissions_read_for_a_request_are_the_roles_grants(dbr, app):
    """KefuSecurityManager reads a role's grants as plain rows; they are exactly what the role holds."""
    from flask_appbuilder.security.sqla.models import Role

    with dbr.session() as s:
        for role in s.scalars(select(Role)):
            held = {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}
            assert held, role.name
            assert app.appbuilder.sm.get_role_permissions(role) == held, role.name


def test_permission_table_follows_spec_section_1():
    """SPEC §1 read against the table: who works on customers, who reads the audit log, who manages users."""
    writers = {CS_STAFF, CS_MANAGER}
    for role in ALL_ROLES:
        customer_perms = {(v, p) for v in ("CustomerView", "CustomerApi", "CustomerUnitView", "CustomerUnitApi")
                          for p in ("can_list", "can_show", "can_get", "can_add", "can_post") if may(role, v, p)}
        if role == DEPARTMENT_STAFF:  # until complaints are assigned: no customer data at all
            assert not customer_perms
        else:
            assert may(role, "CustomerView", "can_list") and may(role, "CustomerApi", "can_get"), role
        writes_customers = may(role, "CustomerView", "can_add") or may(role, "CustomerApi", "can_post")
        assert writes_customers == (role in writers | {ADMIN}), role
        writes_properties = may(role, "ProjectView", "can_add") or may(role, "UnitApi", "can_post")
        assert writes_properties == (role in writers | {ADMIN}), role
        assert may(role, "ProjectApi", "can_get") and may(role, "UnitApi", "can_get"), role
        assert may(role, "AuditLogView", "can_list") == (role in {ADMIN, AUDITOR}), role
        for view, perms in (("UserDBModelView", ("can_add", "can_edit", "can_delete")),
                            ("RoleModelView", ("can_add", "can_edit", "can_delete")),
                            ("UserDepartmentView", ("can_add", "can_edit", "can_delete")),
                            ("User", ("can_post", "can_put", "can_delete"))):
            for perm in perms:
                assert may(role, view, perm) == (role == ADMIN), (role, view, perm)
    # The auditor is read-only: outside its own profile and password it holds no write permission.
    for grant in ROLE_PERMISSIONS[AUDITOR]:
        if grant is SELF_SERVICE:
            continue
        for perms in grant.values():
            assert not set(perms) & {"can_add", "can_edit", "can_delete", "can_post", "can_put", REVEAL_PERM}
    assert not may(ARCHIVIST, REVEAL_VIEW, REVEAL_PERM)
    assert may(GENERAL_MANAGER, "CustomerView", "can_list") and not may(GENERAL_MANAGER, "CustomerView", "can_edit")


# --- HTML pages ---------------------------------------------------------------------------------

PAGES = [
    ("/customer/list/", "CustomerView", "can_list"),
    ("/customer/show/{customer}", "CustomerView", "can_show"),
    ("/customer/add", "CustomerView", "can_add"),
    ("/customer/edit/{customer}", "CustomerView", "can_edit"),
    ("/customer/export/", "CustomerView", "can_export"),
    ("/project/list/", "ProjectView", "can_list"),
    ("/project/add", "ProjectView", "can_add"),
    ("/unit/list/", "UnitView", "can_list"),
    ("/department/list/", "DepartmentView", "can_list"),
    ("/department/add", "DepartmentView", "can_add"),
    ("/userdepartment/list/", "UserDepartmentView", "can_list"),
    ("/auditlog/list/", "AuditLogView", "can_list"),
    ("/auditlog/show/{audit}", "AuditLogView", "can_show"),
    ("/users/list/", "UserDBModelView", "can_list"),
    ("/users/add", "UserDBModelView", "can_add"),
    ("/roles/list/", "RoleModelView", "can_list"),
]


@pytest.mark.parametrize("username", USERNAMES)
@pytest.mark.parametrize(("template", "view", "perm"), PAGES, ids=[p[0] for p in PAGES])
def test_html_page(username, template, view, perm, html_as, ids):
    url = _url(template, ids)
    response = html_as(username).get(url)
    if may_user(username, view, perm):
        assert response.status_code == 200, f"{username} {url}"
        if template == "/customer/show/{customer}":
            assert ids["customer"]["name"] in text_of(response)
    else:
        _assert_refused_page(response, url, ids["customer"]["name"])


@pytest.mark.parametrize("template", [p[0] for p in PAGES])
def test_html_page_needs_login(template, app, ids):
    url = _url(template, ids)
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert "/login/" in response.headers["Location"]


@pytest.mark.parametrize("username", USERNAMES)
def test_menu_shows_what_the_role_may_list(username, api_as):
    response = api_as(username).get("/api/v1/menu/")
    assert response.status_code == 200
    names = {child["name"] for entry in response.get_json()["result"] for child in entry.get("childs", [])
             if isinstance(child, dict)}  # separators are plain strings
    for menu, view in (("Customers", "CustomerView"), ("Projects", "ProjectView"), ("Units", "UnitView"),
                       ("Departments", "DepartmentView"), ("Staff", "UserDepartmentView"),
                       ("Audit log", "AuditLogView")):
        assert (menu in names) == may_user(username, view, "can_list"), (username, menu)


@pytest.mark.parametrize("username", USERNAMES)
def test_html_customer_list_masks_personal_data_for_every_reader(username, html_as, created, app):
    cid, payload, _ = created()
    response = html_as(username).get("/customer/list/", query_string={"_flt_3_name": payload["name"]})
    if not may_user(username, "CustomerView", "can_list"):
        _assert_refused_page(response, "/customer/list/", payload["name"])
        return
    page = text_of(response)
    assert payload["name"] in page
    assert mask_mobile(payload["mobile"]) in page
    assert payload["mobile"] not in page and payload["id_number"] not in page


@pytest.mark.parametrize("username", USERNAMES)
def test_html_add_customer(username, html_as, dbr):
    data = {**customer_payload(), "phone": "", "email": ""}
    before = dbr.audit_count()
    response = html_as(username).post("/customer/add", data=data)
    found = dbr.customer_by_mobile(data["mobile"])
    if may_user(username, "CustomerView", "can_add"):
        assert response.status_code == 302, text_of(response)[:2000]
        assert len(found) == 1 and found[0]["name"] == data["name"]
        assert dbr.audit_count() == before + 1
    else:
        _assert_refused_page(response, "/customer/add", data["name"])
        assert found == []
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_html_edit_customer(username, html_as, created, dbr):
    cid, payload, _ = created()
    form = form_values(text_of(html_as("cs_staff").get(f"/customer/edit/{cid}")))
    form["address"] = f"{username} 改的地址"
    before = dbr.audit_count()
    response = html_as(username).post(f"/customer/edit/{cid}", data=form)
    stored = dbr.customer(cid)
    if may_user(username, "CustomerView", "can_edit"):
        assert response.status_code == 302
        assert stored["address"] == form["address"] and stored["version"] == 2
        assert stored["mobile"] == payload["mobile"]
        assert dbr.audit_count() == before + 1
    else:
        _assert_refused_page(response, f"/customer/edit/{cid}", payload["name"])
        assert stored["address"] == payload["address"] and stored["version"] == 1
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_html_delete_customer(username, html_as, created, dbr):
    cid, payload, _ = created()
    seq = dbr.last_seq()
    response = html_as(username).post(f"/customer/delete/{cid}")
    rows = dbr.audit_after(seq)
    if may_user(username, "CustomerView", "can_delete"):
        assert response.status_code == 302
        assert dbr.customer(cid) is None
        assert [(r["action"], r["record_id"], r["actor"]) for r in rows] == [("delete", str(cid), username)]
    else:
        _assert_refused_page(response, f"/customer/delete/{cid}", payload["name"])
        assert dbr.customer(cid) is not None and rows == []


@pytest.mark.parametrize("username", USERNAMES)
def test_html_reveal(username, html_as, created, dbr):
    cid, payload, _ = created()
    before = dbr.audit_count()
    response = html_as(username).post(f"/customer/reveal/{cid}/mobile")
    if may_user(username, "CustomerView", "can_show") and may_user(username, REVEAL_VIEW, REVEAL_PERM):
        assert response.status_code == 200
        assert response.get_json()["value"] == payload["mobile"]
        assert dbr.audit_count() == before + 1
    else:
        assert response.status_code in (302, 403)
        assert payload["mobile"] not in response.get_data(as_text=True)
        assert dbr.audit_count() == before


# --- REST API -----------------------------------------------------------------------------------

API_READS = [
    ("/api/v1/customer/", "CustomerApi"),
    ("/api/v1/customer/{customer}", "CustomerApi"),
    ("/api/v1/customer_unit/", "CustomerUnitApi"),
    ("/api/v1/project/", "ProjectApi"),
    ("/api/v1/building/", "BuildingApi"),
    ("/api/v1/unit/", "UnitApi"),
    ("/api/v1/department/", "DepartmentApi"),
    ("/api/v1/security/users/", "User"),
]


@pytest.mark.parametrize("username", USERNAMES)
@pytest.mark.parametrize(("template", "view"), API_READS, ids=[a[0] for a in API_READS])
def test_api_read(username, template, view, api_as, ids):
    url = _url(template, ids)
    response = api_as(username).get(url)
    body = response.get_json()
    if may_user(username, view, "can_get"):
        assert response.status_code == 200, f"{username} {url}"
        assert "result" in body
        if template == "/api/v1/customer/{customer}":
            assert body["result"]["name"] == ids["customer"]["name"]
            assert body["result"]["mobile"] == mask_mobile(ids["customer"]["mobile"])
            assert body["result"]["version"] >= 1 and body["id"] == ids["customer"]["id"]
    else:
        assert response.status_code == 403, f"{username} {url}: {response.status_code}"
        assert isinstance(body.get("message"), str) and body["message"]
        assert ids["customer"]["name"] not in response.get_data(as_text=True)


@pytest.mark.parametrize("template", [a[0] for a in API_READS])
def test_api_needs_a_token(template, app, ids):
    response = app.test_client().get(_url(template, ids))
    assert response.status_code == 401


@pytest.mark.parametrize("username", USERNAMES)
def test_api_create_customer(username, api_as, dbr):
    payload = customer_payload()
    before = dbr.audit_count()
    response = api_as(username).post("/api/v1/customer/", json=payload)
    found = dbr.customer_by_mobile(payload["mobile"])
    if may_user(username, "CustomerApi", "can_post"):
        assert response.status_code == 201, response.get_data(as_text=True)
        assert [c["id"] for c in found] == [response.get_json()["id"]]
        assert dbr.audit_count() == before + 1
    else:
        assert response.status_code == 403
        assert found == []
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_api_update_customer(username, api_as, created, dbr):
    cid, payload, result = created()
    before = dbr.audit_count()
    response = api_as(username).put(f"/api/v1/customer/{cid}",
                                    json={"version": result["version"], "address": f"{username} 的新地址"})
    stored = dbr.customer(cid)
    if may_user(username, "CustomerApi", "can_put"):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert stored["address"] == f"{username} 的新地址" and stored["version"] == result["version"] + 1
        assert dbr.audit_count() == before + 1
    else:
        assert response.status_code == 403
        assert stored["address"] == payload["address"] and stored["version"] == result["version"]
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_api_delete_customer(username, api_as, created, dbr):
    cid, payload, result = created()
    before = dbr.audit_count()
    response = api_as(username).delete(f"/api/v1/customer/{cid}?version={result['version']}")
    if may_user(username, "CustomerApi", "can_delete"):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert dbr.customer(cid) is None
        assert dbr.audit_count() == before + 1
    else:
        assert response.status_code == 403
        assert dbr.customer(cid) is not None
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_api_reveal(username, api_as, created, dbr):
    cid, payload, _ = created()
    before = dbr.audit_count()
    response = api_as(username).post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"})
    if may_user(username, "CustomerApi", "can_get") and may_user(username, REVEAL_VIEW, REVEAL_PERM):
        assert response.status_code == 200
        assert response.get_json()["value"] == payload["mobile"]
        assert dbr.audit_count() == before + 1
    else:
        assert response.status_code == 403
        assert isinstance(response.get_json().get("message"), str) and response.get_json()["message"]
        assert payload["mobile"] not in response.get_data(as_text=True)
        assert dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_api_create_project(username, api_as, dbr):
    from app.models import Project

    code = f"T{unique_mobile()[-8:]}"
    before = dbr.audit_count()
    response = api_as(username).post("/api/v1/project/", json={"code": code, "name": f"测试项目 {code}",
                                                               "city": "杭州"})
    stored = dbr.count(Project, Project.code == code)
    if may_user(username, "ProjectApi", "can_post"):
        assert response.status_code == 201, response.get_data(as_text=True)
        assert stored == 1 and dbr.audit_count() == before + 1
    else:
        assert response.status_code == 403
        assert stored == 0 and dbr.audit_count() == before


@pytest.mark.parametrize("username", USERNAMES)
def test_api_customer_list_is_masked_for_every_reader(username, api_as, created):
    cid, payload, _ = created()
    query = prison.dumps({"filters": [{"col": "name", "opr": "eq", "value": payload["name"]}]})
    response = api_as(username).get("/api/v1/customer/", query_string={"q": query})
    if not may_user(username, "CustomerApi", "can_get"):
        assert response.status_code == 403
        assert payload["name"] not in response.get_data(as_text=True)
        return
    assert response.status_code == 200
    assert [row["id"] for row in response.get_json()["result"]] == [cid]
    result = response.get_json()["result"][0]
    assert result["mobile"] == mask_mobile(payload["mobile"])
    assert result["id_number"] != payload["id_number"] and "*" in result["id_number"]
    assert payload["mobile"] not in response.get_data(as_text=True)


# --- the audit log ------------------------------------------------------------------------------

AUDIT_READERS = [u for u in USERNAMES if may_user(u, "AuditLogView", "can_list")]


@pytest.mark.parametrize("username", AUDIT_READERS)
def test_audit_log_search_finds_a_records_rows_masked(username, html_as, api_as, created):
    cid, payload, _ = created()
    assert api_as("cs_staff").post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"}).status_code == 200
    response = html_as(username).get("/auditlog/list/", query_string={
        "_flt_3_table_name": "customer", "_flt_3_record_id": str(cid)})
    assert response.status_code == 200
    page = text_of(response)
    assert len(set(re.findall(r"/auditlog/show/(\d+)", page))) == 2  # the insert and the reveal
    assert mask_mobile(payload["mobile"]) in page
    assert payload["mobile"] not in page and payload["id_number"] not in page


@pytest.mark.parametrize("username", USERNAMES)
def test_nobody_changes_the_audit_log_through_the_ui(username, html_as, ids, dbr):
    client = html_as(username)
    from app.models import AuditLog

    audit_rows = dbr.audit_count()
    with dbr.session() as s:
        row = s.get(AuditLog, ids["audit"])
        original = (row.action, row.changes, row.hash)
    responses = [
        client.get("/auditlog/add"),
        client.post("/auditlog/add", data={"action": "insert", "table_name": "x", "record_id": "1"}),
        client.get(f"/auditlog/edit/{ids['audit']}"),
        client.post(f"/auditlog/edit/{ids['audit']}", data={"action": "delete", "changes": "{}"}),
        client.post(f"/auditlog/delete/{ids['audit']}"),
    ]
    for response in responses:
        assert response.status_code in (302, 403, 404, 405), (username, response.request.path)
        if response.status_code == 302:
            assert "/auditlog/" not in response.headers["Location"]
    assert dbr.audit_count() == audit_rows
    with dbr.session() as s:
        row = s.get(AuditLog, ids["audit"])
        assert (row.action, row.changes, row.hash) == original
