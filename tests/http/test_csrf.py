"""No state change without CSRF protection (issue 11, item 2), over the whole URL map.

- every GET route, as one demo user of each role and as nobody, leaves every table's row count (the
  audit trail's included) as it was; FAB's GET `delete` and `action` routes answer 405;
- every POST/PUT/PATCH/DELETE route, as every demo user and as nobody, is refused when a page's form
  comes without its CSRF token (400), and every API write that brings only the session cookie is
  refused (401); nothing is written;
- with the token, the same forms work (the delete button of a list posts its form).

The app under test is a second app on the session database with CSRF checks on (`csrf_app`).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD, USERNAMES

from .conftest import customer_payload
from .crawl import (
    TOKENLESS_WRITES,
    RowCounts,
    api_login,
    browser_login,
    call,
    csrf_token_of,
    routes,
    row_counts,
)


def test_the_crawl_reached_every_get_route(crawled, csrf_app):
    """The crawl is whole: each GET rule was requested by each user (and nobody), none skipped."""
    from .crawl import USERS

    expected = {r.endpoint for r in routes(csrf_app) if "GET" in r.methods}
    assert "KefuAuthDBView.logout" in expected
    for username in (*USERS, None):
        assert {a.route.endpoint for a in crawled if a.username == username} == expected, username


def test_no_get_changes_any_table(crawled):
    changed = [(a.username, a.url, a.status, a.changed) for a in crawled if a.changed]
    assert not changed, changed


def test_fab_get_delete_and_action_routes_answer_405(crawled):
    writing = [a for a in crawled if a.route.func.__name__ in ("delete", "action") and not a.route.is_api]
    assert len({a.route.endpoint for a in writing}) >= 20  # every ModelView has both
    wrong = [(a.username, a.url, a.status) for a in writing if a.status != 405]
    assert not wrong, wrong


@pytest.fixture(scope="module")
def write_routes(csrf_app):
    return [(r, method) for r in routes(csrf_app) for method in r.writes]


def _post_kwargs(route):
    # A body each kind of route would accept if it were let through: a form for pages, JSON for the API.
    return {"json": {}} if route.is_api else {"data": {"name": "x"}}


@pytest.mark.parametrize("username", [*USERNAMES, None])
def test_writes_without_the_token_are_refused_and_write_nothing(username, csrf_app, targets, write_routes):
    """A page's form without the CSRF token: 400. An API write with the session cookie and no JWT: 401
    (the API's own login and refresh answer 4xx too). No table gains or loses a row."""
    client = browser_login(csrf_app, username, PASSWORD) if username else csrf_app.test_client()
    counts = RowCounts(csrf_app)  # row_counts, read again whenever anything may have been written
    before = counts()
    wrong = []
    for route, method in write_routes:
        url = targets.url(route, username)
        answer = call(client, method.lower(), url, **_post_kwargs(route))
        if route.endpoint in TOKENLESS_WRITES:
            expected_ok = 400 <= answer["status"] < 500
        else:
            expected_ok = answer["status"] == (401 if route.is_api else 400)
        after = counts()
        changed = {t: (before[t], after[t]) for t in after if after[t] != before[t]}
        if not expected_ok or changed:
            wrong.append((method, url, answer["status"], changed))
        before = after
    counts.close()
    assert not wrong, wrong
    assert len(write_routes) > 150


def test_an_api_write_with_its_jwt_still_works(csrf_app):
    client = api_login(csrf_app, "cs_staff", PASSWORD)
    response = client.post("/api/v1/customer/", json=customer_payload())
    assert response.status_code == 201, response.get_data(as_text=True)


def test_an_api_write_with_a_forged_bearer_token_is_refused(csrf_app):
    """A session cookie plus any `Authorization: Bearer …` is not enough: the JWT itself must verify
    (FAB's security APIs would otherwise let the cookie through `allow_browser_login`)."""
    client = browser_login(csrf_app, "admin", PASSWORD)
    before = row_counts(csrf_app)
    response = client.post("/api/v1/security/roles/", json={"name": "forged"},
                           headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert row_counts(csrf_app) == before


def test_the_list_delete_button_posts_its_form_with_the_token(csrf_app, dbr):
    """The delete button of a list sends a POST form carrying the token (FAB's `#delete_form`, after
    the confirmation in Chinese): it deletes; the same address by GET or without the token does not."""
    payload = customer_payload()
    cid = api_login(csrf_app, "cs_staff", PASSWORD).post("/api/v1/customer/", json=payload).get_json()["id"]
    client = browser_login(csrf_app, "cs_staff", PASSWORD)
    page = client.get("/customer/list/", query_string={"q": payload["name"]},
                      follow_redirects=True).get_data(as_text=True)
    form = re.search(r'<form id="delete_form"[^>]*method="POST".*?</form>', page, re.S)
    assert form, "the list has no delete form"
    assert f"/customer/delete/{cid}" in page
    assert "确定要删除这条记录吗" in page  # the confirmation, in Chinese
    token = csrf_token_of(form.group(0))

    assert client.get(f"/customer/delete/{cid}").status_code == 405
    assert client.post(f"/customer/delete/{cid}").status_code == 400
    assert dbr.customer(cid) is not None
    response = client.post(f"/customer/delete/{cid}", data={"csrf_token": token})
    assert response.status_code == 302
    assert dbr.customer(cid) is None


def test_a_form_without_its_token_is_refused_in_chinese(csrf_app):
    client = browser_login(csrf_app, "cs_staff", PASSWORD)
    response = client.post("/customer/add", data={"name": "x"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    api = client.post("/customer/reveal/1/mobile", headers={"X-Requested-With": "XMLHttpRequest"})
    assert api.status_code == 400 and "页面已过期" in api.get_json()["message"]


def test_the_login_form_needs_its_token(csrf_app):
    response = csrf_app.test_client().post("/login/", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400


def test_logout_is_a_post_with_the_token(csrf_app):
    """A GET never changes anything: GET /logout/ (another site's link, a bookmark) only asks, and the
    session stays alive; the navbar's logout is a form posting the CSRF token; without the token the
    POST is refused; with it the session ends (its server-side record too)."""
    client = browser_login(csrf_app, "cs_staff", PASSWORD)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    navbar = re.search(r'<form class="kefu-logout-form" method="post" action="/logout/">.*?</form>', home, re.S)
    assert navbar, "the navbar has no logout form"
    assert 'href="/logout/"' not in home

    before = row_counts(csrf_app)
    asked = client.get("/logout/")
    assert asked.status_code == 200 and "确定要退出登录吗" in asked.get_data(as_text=True)
    assert row_counts(csrf_app) == before
    assert client.get("/customer/list/").status_code == 200  # still logged in

    assert client.post("/logout/").status_code == 400
    assert client.get("/customer/list/").status_code == 200

    out = client.post("/logout/", data={"csrf_token": csrf_token_of(navbar.group(0))})
    assert out.status_code == 302
    assert client.get("/customer/list/").status_code == 302
