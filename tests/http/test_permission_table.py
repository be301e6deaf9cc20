"""One permission table, tested whole (issue 11, item 13).

For every route of the URL map (pages and API, print, export, attachments, archive files,
verification), the (permission, view) FAB checks is derived from the route itself (FAB's
`_permission_name`, `method_permission_name`, `base_permissions`), and each demo role is expected to
pass that check exactly when the declared table (app.security.ROLE_PERMISSIONS) grants it:
- granted: the route runs (not 401/403, not sent to the login page);
- not granted: 403 or 401, or the login page; nobody logged in: the login page (pages) or 401 (API).
Reads come from the shared crawl; writes are sent with the CSRF token or the JWT but aimed at a
record that does not exist or an empty form, so a granted role passes the check and writes nothing.

Then the department scope of every record-level route: a department user asking for another
department's complaint or rectification item (detail, API, steps, attachments, print, transition)
gets 404 (or the permission refusal), and its own department's record opens.
"""

from __future__ import annotations

import pytest

from app.demo import USERS
from tests.conftest import PASSWORD

from .crawl import (
    MISSING_ID,
    Targets,
    api_login,
    browser_login,
    call,
    csrf_token_of,
    is_login_redirect,
    routes,
    row_counts,
)
from .crawl import (
    USERS as CRAWLED_USERS,
)
from .test_roles import may

ROLE_OF = {username: role for username, role, *_ in USERS}

# Routes FAB guards with no permission of the table: they are open (login, logout, the language, the
# API's own login, refresh and logout — each of those three checks what it is sent — and its
# description, static files) or check a permission inside (FAB's `action_post` and `action` check the
# action's permission). A new unguarded route fails the first test.
UNGUARDED = {
    "KefuAuthDBView.login", "KefuAuthDBView.logout", "LocaleView.index", "UtilView.back", "KefuIndexView.index",
    "SecurityApi.login", "SecurityApi.refresh", "SecurityApi.logout", "OpenApi.get", "SwaggerView.show", "static",
    "appbuilder.static",
}
UNGUARDED_SUFFIXES = (".action", ".action_post")


def unguarded(route) -> bool:
    return route.endpoint in UNGUARDED or route.endpoint.endswith(UNGUARDED_SUFFIXES)


def granted(username, route) -> bool:
    if route.permission is None:
        return False
    perm, view = route.permission
    return route.offered and may(ROLE_OF[username], view, perm)


def refused(answer: dict | object, route) -> bool:
    """Refused by FAB's permission check: it logged the refusal (or the view does not offer the
    permission at all) and answered 403, 401 or the login page. A 403 without that is the domain's
    (a step not open to the role now), not the table's."""
    status, denied = (answer["status"], answer["denied"]) if isinstance(answer, dict) else (answer.status,
                                                                                          answer.denied)
    return (denied or not route.offered) and (status in (401, 403) or is_login_redirect(answer))


def test_every_route_is_guarded_by_a_permission_or_declared_open(csrf_app):
    unknown = [r.endpoint for r in routes(csrf_app) if r.permission is None and not unguarded(r)]
    assert not unknown, unknown
    assert {r.endpoint for r in routes(csrf_app)} >= UNGUARDED


def test_every_read_obeys_the_table_for_every_role(crawled):
    wrong = []
    checked = 0
    for a in crawled:
        if a.route.permission is None or a.status == 405 and a.route.func.__name__ == "delete":
            continue  # FAB's delete takes POST only (405 on GET, before any check: test_csrf)
        checked += 1
        if a.username is None:
            ok = a.status == 401 if a.route.is_api else is_login_redirect(a)
        elif granted(a.username, a.route):
            ok = not refused(a, a.route)
        else:
            ok = refused(a, a.route)
        if not ok:
            wrong.append((a.username, a.url, a.route.permission, a.status, a.location))
    assert not wrong, wrong[:30]
    assert checked > 1500


def test_granted_reads_of_real_records_answer(crawled):
    """Granted, with real records in the address: the page or the data, or a redirect that is not the
    login page; 404 only where the address names nothing (no such file, no such record in the demo)."""
    wrong = [(a.username, a.url, a.status) for a in crawled
             if a.username and a.route.permission and granted(a.username, a.route)
             and not (a.status < 400 and not is_login_redirect(a))
             and not (a.status == 404 and (str(MISSING_ID) in a.url or "no-such" in a.url))
             and not (a.status == 405 and a.route.func.__name__ == "delete")]
    assert not wrong, wrong


def test_no_crawled_answer_is_a_server_error(crawled):
    """Every GET of the URL map, as every role and as nobody: never a 500 (issue 11, item 8)."""
    wrong = [(a.username, a.url, a.status, a.location) for a in crawled if a.status >= 500]
    assert not wrong, wrong


# --- writes -----------------------------------------------------------------------------------------

HARMLESS = {"name": "no-such-form", "form": "no-such-form", "action": "no-such-step", "field": "no-such-field",
            "attachment_id": str(MISSING_ID)}
# The one write that takes no input at all to aim at nothing: printing this year's lending register.
# Its granted case is tests/http/test_archive_http.py's; here only the refusals are sent.
NO_HARMLESS_FORM = {"PrintView.register"}


class HarmlessTargets(Targets):
    @property
    def fixed(self):
        return {**super().fixed, **HARMLESS}

    def action_of(self, route):
        return HARMLESS["action"]


def _token(client) -> str:
    return csrf_token_of(client.get("/resetmypassword/form").get_data(as_text=True))


@pytest.mark.parametrize("username", CRAWLED_USERS)
def test_every_write_obeys_the_table_for_every_role(username, csrf_app):
    page = browser_login(csrf_app, username, PASSWORD)
    token = _token(page)
    api = api_login(csrf_app, username, PASSWORD)
    harmless = HarmlessTargets(csrf_app)
    before = row_counts(csrf_app)
    wrong = []
    for route in routes(csrf_app):
        if route.permission is None:
            continue
        may_write = granted(username, route)
        if may_write and route.endpoint in NO_HARMLESS_FORM:
            continue
        for method in route.writes:
            url = harmless.url(route, username, pk=MISSING_ID)
            if route.is_api:
                answer = call(api, method.lower(), url, json={})
            else:
                answer = call(page, method.lower(), url, data={"csrf_token": token, "month": "no-such-month"})
            if refused(answer, route) == may_write or answer["status"] >= 500:
                wrong.append((method, url, route.permission, answer["status"], answer["location"]))
    assert not wrong, wrong
    assert row_counts(csrf_app) == before


# --- department scope ----------------------------------------------------------------------------------

DEPARTMENT_USERS = ("eng_staff", "pm_staff")


def record_routes(app):
    """Every route whose <pk> names a record kept per department (complaints, rectification items),
    FAB's `action/<name>/<pk>` included (an action or a record the user cannot see: 404)."""
    return [r for r in routes(app) if "pk" in r.arguments and r.model is not None
            and getattr(r.model, "__department_column__", None)]


def test_record_level_routes_are_found(csrf_app):
    found = {r.endpoint for r in record_routes(csrf_app)}
    for endpoint in ("ComplaintView.show", "ComplaintApi.get", "ComplaintApi.attachments", "ComplaintApi.attachment",
                     "ComplaintApi.print_record", "ComplaintApi.transition", "ComplaintView.transition",
                     "PrintView.complaint", "RectificationView.show", "RectificationApi.transition"):
        assert endpoint in found, endpoint


@pytest.mark.parametrize("username", DEPARTMENT_USERS)
def test_another_departments_records_are_not_found(username, csrf_app, targets):
    page = browser_login(csrf_app, username, PASSWORD)
    token = _token(page)
    api = api_login(csrf_app, username, PASSWORD)
    before = row_counts(csrf_app)
    wrong, own_opened = [], 0
    for route in record_routes(csrf_app):
        other = targets.visible_id(username, route.model, outside=True)
        own = targets.visible_id(username, route.model)
        assert other and own, (username, route.model)
        for method in route.methods:
            client = api if route.is_api else page
            kwargs = {} if method == "GET" else ({"json": {}} if route.is_api else {"data": {"csrf_token": token}})
            answer = call(client, method.lower(), targets.url(route, username, pk=other), **kwargs)
            if not (answer["status"] in (404, 405) or refused(answer, route)):  # 405: FAB's GET action
                wrong.append((method, route.rule, other, answer["status"], answer["location"]))
            if method == "GET" and granted(username, route):
                mine = call(client, "get", targets.url(route, username, pk=own))
                own_opened += mine["status"] == 200
    assert not wrong, wrong
    assert own_opened >= 4  # the same routes open the department's own records
    assert row_counts(csrf_app) == before
