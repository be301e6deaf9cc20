"""Flask-AppBuilder's and Werkzeug's own refusals answer in the user's language: a hunt over the URL map.

Every rule of `app.url_map` (tests/http/crawl.py fills its arguments) is asked as nobody; with a
missing, malformed, foreign-signed or expired JWT; as a demo role FAB's permission check refuses (the
role is read from the database, not guessed); as the admin with ids that name nothing (missing, beyond
any column, not a number) and as a department's staff with another department's records; and with a
method it does not take. Every refusal (status 4xx or 5xx) must be:

- under /api/: JSON whose `message` is Chinese; no English refusal (Werkzeug's reason phrases, FAB's
  «Forbidden», «Not found», «Not authorized», «Access is Denied», flask_jwt_extended's sentences)
  anywhere in the body;
- elsewhere: the error page inside the app's layout (the navbar; the logout form of a logged-in
  person, the login link for nobody), Chinese, with the way home, and none of those words.

A 405 keeps its Allow header; the hunt writes nothing. Server errors (and the page drawn when the
layout itself fails), FAB's flashes on its way to the login page or after a refused action, and
English for a person who chose it are checked apart. One app and one database (the session's demo
database) for the whole module; every probe is one request.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

import pytest
from werkzeug.http import HTTP_STATUS_CODES

from tests.http.crawl import MISSING_ID, USERS, Route, Targets, routes, row_counts

CJK = re.compile(r"[\u4e00-\u9fff]")
HUGE = 2**70
# The English a refusal must never show: every reason phrase of Werkzeug's error pages, and the
# sentences Flask-AppBuilder (api/__init__.py, const.py, security/decorators.py) and
# flask_jwt_extended (default_callbacks.py, PyJWT) answer with.
ENGLISH_REFUSALS = sorted({phrase for code, phrase in HTTP_STATUS_CODES.items() if code >= 400} | {
    "Forbidden", "Not found", "Not authorized", "Unauthorized", "Access is Denied", "Internal error",
    "Arguments are not correct", "Could not process entity", "Method Not Allowed", "Internal Server Error",
    "was not found on the server", "Missing Authorization Header", "Signature verification failed",
    "Not enough segments", "Token has expired", "Invalid header", "Bad Authorization header",
})
ENGLISH = re.compile(r"\b(" + "|".join(re.escape(p) for p in ENGLISH_REFUSALS) + r")\b", re.I)
# The layout: FAB's navbar, and the error block of templates/kefu/error.html with its way home.
NAVBAR = 'class="navbar'
LOGOUT_FORM = 'class="kefu-logout-form"'
LOGIN_LINK = 'href="/login/"'
ERROR_BLOCK = re.compile(r'<div class="[^"]*(?<![\w-])kefu-error(?![\w-]).*?(?=<footer|</body>|$)', re.S)
HOME_LINK = 'href="/"'
# Routes a logged-in probe leaves alone: they end the shared clients' session or token, or change
# their language; the anonymous probes still ask them.
KEEP_SESSION = frozenset({"KefuAuthDBView.logout", "KefuAuthDBView.login", "SecurityApi.logout",
                          "SecurityApi.login", "SecurityApi.refresh", "LocaleView.index"})
ID_ARGS = frozenset({"pk", "role_id", "attachment_id"})
WRONG_METHOD = "PATCH"  # no rule of the app takes it (checked below)


@dataclass
class Probe:
    kind: str
    who: str | None
    method: str
    url: str
    is_api: bool
    status: int
    mimetype: str
    headers: dict
    body: str


# --- the hunt -------------------------------------------------------------------------------------

class Hunt:
    def __init__(self, app, html_as, api_as):
        self.app, self.html_as, self.api_as = app, html_as, api_as
        self.targets = Targets(app)
        self.routes = routes(app)
        self.probes: list[Probe] = []
        self.anonymous = app.test_client(use_cookies=False)  # no session: FAB's flashes would pile up in it

    def ask(self, kind, who, client, method, url, headers=None):
        is_api = url.startswith("/api/")
        kwargs = {"headers": headers} if headers else {}
        if method in ("POST", "PUT"):
            kwargs["json" if is_api else "data"] = {}
        response = getattr(client, method.lower())(url, **kwargs)
        body = response.get_data().decode("utf-8", "replace") if response.status_code >= 400 else ""
        self.probes.append(Probe(kind, who, method, url, is_api, response.status_code, response.mimetype,
                                 dict(response.headers), body))
        response.close()

    def client(self, who, route: Route):
        if who is None:
            return self.anonymous
        return self.api_as(who) if route.is_api else self.html_as(who)

    def url(self, route, who, pk=None):
        return self.targets.url(route, who, MISSING_ID if pk is None else pk)

    def run(self):
        self.as_nobody()
        self.with_bad_tokens()
        self.as_roles_refused()
        self.with_ids_naming_nothing()
        self.with_foreign_records()
        self.with_wrong_methods()
        self.at_addresses_that_do_not_exist()
        return self.probes

    def as_nobody(self):
        for route in self.routes:
            for method in route.methods:
                self.ask("nobody", None, self.anonymous, method, self.url(route, None))

    def with_bad_tokens(self):
        from flask_jwt_extended import create_access_token

        with self.app.app_context():
            admin_id = str(self.app.appbuilder.sm.find_user(username="admin").id)
            expired = create_access_token(identity=admin_id, expires_delta=timedelta(seconds=-60))
        header, payload, _signature = expired.split(".")
        credentials = itertools.cycle([
            "Bearer a.b.c", f"Bearer {expired}", f"Bearer {header}.{payload}.c2lnbmVkLWVsc2V3aGVyZQ",
            "Bearer", "Basic YWRtaW46a2VmdQ==", f"Bearer {expired}x",
        ])
        for route in self.routes:
            if route.is_api:
                method = "GET" if "GET" in route.methods else route.methods[0]
                self.ask("bad token", None, self.anonymous, method, self.url(route, "admin"),
                         headers={"Authorization": next(credentials)})

    @cached_property
    def granted(self) -> dict[str, set[tuple[str, str]]]:
        """Each demo user's (permission, view) pairs, as FAB's permission check reads them."""
        from tests.http.conftest import Db

        with Db(self.app).session(), self.app.test_request_context():
            sm = self.app.appbuilder.sm
            return {name: set(sm.get_user_permissions(sm.find_user(username=name))) for name in USERS}

    def users(self, route: Route, granted: bool) -> list[str]:
        """The demo users FAB's check lets through the route (granted) or refuses."""
        if route.permission is None:
            return ["admin"] if granted else []
        return [u for u in USERS if (route.offered and route.permission in self.granted[u]) == granted]

    def as_roles_refused(self):
        """Each guarded route as a role FAB refuses it (by the roles' permissions in the database),
        taking the refused roles in turn."""
        turn = itertools.count()
        for route in self.routes:
            refused = self.users(route, granted=False)
            if not refused or route.endpoint in KEEP_SESSION:
                continue
            who = refused[next(turn) % len(refused)]
            for method in route.methods:
                self.ask("role refused", who, self.client(who, route), method, self.url(route, who))

    def with_ids_naming_nothing(self):
        """Each route naming a record, as a role FAB lets through (in turn): every method with an id no
        table holds, and one method with an id beyond any column, not a number, or negative."""
        turn, bad_ids = itertools.count(), itertools.cycle((HUGE, "x1", -1))
        for route in self.routes:
            allowed = self.users(route, granted=True)
            if not ID_ARGS & set(route.arguments) or route.endpoint in KEEP_SESSION or not allowed:
                continue
            who = allowed[next(turn) % len(allowed)]
            client = self.client(who, route)
            for method in route.methods:
                self.ask("missing id", who, client, method, self.url(route, who))
            self.ask("bad id", who, client, route.methods[0], self.url(route, who, next(bad_ids)))

    def with_foreign_records(self):
        """Another department's record, as a department's staff (its scope hides it)."""
        who = "eng_staff"
        for route in self.routes:
            if "pk" not in route.arguments or route.model is None or "GET" not in route.methods:
                continue
            foreign = self.targets.visible_id(who, route.model, outside=True)
            if foreign is not None:
                self.ask("foreign id", who, self.client(who, route), "GET", self.url(route, who, foreign))

    def with_wrong_methods(self):
        everyone = itertools.cycle((None, *USERS))
        for route in self.routes:
            if route.endpoint in KEEP_SESSION:
                continue
            who = next(everyone)
            self.ask("wrong method", who, self.client(who, route), WRONG_METHOD, self.url(route, who))

    def at_addresses_that_do_not_exist(self):
        urls = ("/nosuch", "/nosuch/page/", "/customer/nosuch/", "/customer/show/", "/api/v1/nosuch/",
                "/api/v1/customer/nosuch", "/api/v2/customer/", "/api/v1/customer/1/nosuch",
                "/static/nosuch.css", "/static/appbuilder/nosuch.js")
        for who in (None, "cs_staff"):
            for url in urls:
                client = self.anonymous if who is None else (
                    self.api_as(who) if url.startswith("/api/") else self.html_as(who))
                self.ask("no such address", who, client, "GET", url)
        # A script (an XHR, or JSON preferred) gets the refusal as JSON, also off /api/.
        for headers in ({"X-Requested-With": "XMLHttpRequest"}, {"Accept": "application/json"}):
            self.ask("no such address", "cs_staff", self.html_as("cs_staff"), "GET", "/nosuch", headers=headers)
        # A range of a file that the file does not have: Werkzeug's 416.
        self.ask("range", None, self.anonymous, "GET", "/static/appbuilder/js/ab_actions.js",
                 headers={"Range": "bytes=99999999-"})


@pytest.fixture(scope="module")
def hunt(app, html_as, api_as):
    for name in USERS:  # logged in first: a login writes its session rows
        html_as(name), api_as(name)
    before = row_counts(app)
    probes = Hunt(app, html_as, api_as).run()
    return probes, before, row_counts(app)


# --- what a refusal must be -----------------------------------------------------------------------

def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def problems_of(probe: Probe) -> list[str]:
    found = []
    if probe.is_api or probe.mimetype == "application/json":
        if probe.mimetype != "application/json":
            return [f"not JSON but {probe.mimetype}: {probe.body[:120]!r}"]
        data = json.loads(probe.body)
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str) or not CJK.search(message):
            found.append(f"message not Chinese: {probe.body[:200]}")
        english = ENGLISH.search(json.dumps(data, ensure_ascii=False))
        if english:
            found.append(f"English {english.group(0)!r} in {probe.body[:200]}")
        return found
    page = probe.body
    english = ENGLISH.search(visible_text(page))
    if english:
        found.append(f"English {english.group(0)!r} in the page")
    if NAVBAR not in page:
        found.append("no navbar: not inside the layout")
    if (LOGIN_LINK if probe.who is None else LOGOUT_FORM) not in page:
        found.append("the navbar lacks the " + ("login link" if probe.who is None else "user's logout form"))
    block = ERROR_BLOCK.search(page)
    if block is None:
        found.append("no error block")
    else:
        if not CJK.search(visible_text(block.group(0))):
            found.append("error block not Chinese")
        if HOME_LINK not in block.group(0):
            found.append("no way home")
    return found


def refusals(probes):
    return [p for p in probes if p.status >= 400]


def test_every_refusal_of_the_hunt_is_chinese_and_every_page_is_inside_the_layout(hunt):
    probes, _before, _after = hunt
    bad = [(p.kind, p.who, p.method, p.url, p.status, problem) for p in refusals(probes) for problem in problems_of(p)]
    assert not bad, f"{len(bad)} refusals in English or outside the layout, e.g.:\n" + "\n".join(map(str, bad[:25]))


def test_the_hunt_meets_every_kind_of_refusal(hunt):
    """Control: the hunt reaches FAB's and Werkzeug's refusals, each in numbers (the URL map has
    about 380 rules, 136 of them under /api/)."""
    probes, _before, _after = hunt
    seen = {}
    for p in refusals(probes):
        key = (p.status, "json" if p.is_api else "html")
        seen[key] = seen.get(key, 0) + 1
    minimum = {(401, "json"): 200, (403, "json"): 30, (403, "html"): 50, (404, "json"): 100,
               (404, "html"): 150, (405, "json"): 100, (405, "html"): 200, (416, "html"): 1}
    short = {k: (seen.get(k, 0), n) for k, n in minimum.items() if seen.get(k, 0) < n}
    assert not short, f"too few refusals of a kind (seen, wanted): {short}; all: {seen}"
    assert len(probes) > 1500
    scripts = [p for p in probes if p.url == "/nosuch" and p.who == "cs_staff" and p.mimetype == "application/json"]
    assert len(scripts) == 2 and {p.status for p in scripts} == {404}
    kinds = {p.kind for p in refusals(probes)}
    assert kinds == {"nobody", "bad token", "role refused", "missing id", "bad id", "foreign id", "wrong method",
                     "no such address", "range"}, kinds


def test_a_refused_role_gets_403_and_nobody_is_sent_to_log_in(hunt):
    probes, _before, _after = hunt
    refused = [p for p in probes if p.kind == "role refused"]
    assert len(refused) > 150
    # 405: FAB's delete and action routes take no GET (app.web_security), whoever asks.
    assert {p.status for p in refused} == {403, 405}, {(p.url, p.method, p.status) for p in refused
                                                       if p.status not in (403, 405)}
    assert all(p.status == 403 for p in refused if p.method != "GET" or "/delete/" not in p.url and "/action/" not in p.url)
    for p in (p for p in probes if p.kind == "nobody" and p.is_api and p.url not in (
            "/api/v1/security/login", "/api/v1/_openapi")):
        assert p.status in (401, 400), (p.method, p.url, p.status)


def test_a_method_a_rule_does_not_take_is_405_with_allow(app, hunt):
    probes, _before, _after = hunt
    assert not any(WRONG_METHOD in rule.methods for rule in app.url_map.iter_rules())
    wrong = [p for p in probes if p.kind == "wrong method"]
    assert len(wrong) > 300 and {p.status for p in wrong} == {405}
    for p in wrong:
        allowed = {m.strip() for m in p.headers.get("Allow", "").split(",")}
        assert allowed and WRONG_METHOD not in allowed and allowed & {"GET", "POST", "PUT", "DELETE"}, (p.url, allowed)


def test_a_range_the_file_does_not_have_is_416_with_content_range(hunt):
    probes, _before, _after = hunt
    (probe,) = [p for p in probes if p.kind == "range"]
    assert probe.status == 416 and re.fullmatch(r"bytes \*/\d+", probe.headers.get("Content-Range", "")), probe.headers


def test_the_hunt_wrote_nothing(hunt):
    _probes, before, after = hunt
    assert after == before, {t: (before.get(t), after[t]) for t in after if after[t] != before.get(t)}


# --- server errors ---------------------------------------------------------------------------------

@pytest.fixture
def raising(app, monkeypatch):
    """raising(endpoint, exc): the view of `endpoint` raises `exc`; the app answers a 500 as deployed."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def _raise(endpoint, exc):
        def boom(*_args, **_kwargs):
            raise exc

        monkeypatch.setitem(app.view_functions, endpoint, boom)

    return _raise


def test_a_server_error_is_a_chinese_page_in_the_layout_and_chinese_json(app, html_as, api_as, raising):
    from sqlalchemy.exc import OperationalError

    raising("CustomerView.list", OperationalError("SELECT 1", {}, Exception("the database went away")))
    raising("CustomerApi.get_list", RuntimeError("boom"))
    for who, client in (("cs_staff", html_as("cs_staff")), (None, app.test_client())):
        response = client.get("/customer/list/")
        assert response.status_code == 500
        probe = Probe("500", who, "GET", "/customer/list/", False, 500, response.mimetype, {},
                      response.get_data(as_text=True))
        assert not problems_of(probe), problems_of(probe)
        assert "系统出错" in probe.body and "boom" not in probe.body and "went away" not in probe.body
    response = api_as("cs_staff").get("/api/v1/customer/")
    assert response.status_code == 500 and response.is_json
    assert CJK.search(response.get_json()["message"]) and "boom" not in response.get_data(as_text=True)


def test_when_the_layout_cannot_be_drawn_the_error_page_is_plain_chinese(app, html_as, raising, monkeypatch):
    def broken():
        raise RuntimeError("the menu could not be read")

    monkeypatch.setattr(app.appbuilder.menu, "get_list", broken)
    raising("CustomerView.list", RuntimeError("boom"))
    for url, status in (("/customer/list/", 500), ("/nosuch", 404), ("/auditlog/list/", 403)):
        response = html_as("cs_staff").get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == status, url
        assert "kefu-error" in page and CJK.search(visible_text(page)) and 'href="/"' in page, page[:300]
        assert not ENGLISH.search(visible_text(page)), ENGLISH.search(visible_text(page))


# --- FAB's flashes ---------------------------------------------------------------------------------

def test_nobody_is_told_to_log_in_not_access_is_denied(app):
    client = app.test_client()
    response = client.get("/customer/list/")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]
    page = visible_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "请先登录" in page
    assert "访问被拒绝" not in page and "Access is Denied" not in page


def _action_refused(app):
    """(view, action name, a demo user who may list the view but not take the action)."""
    from flask_appbuilder import ModelView

    from tests.http.conftest import Db

    with Db(app).session(), app.test_request_context():
        sm = app.appbuilder.sm
        granted = {name: set(sm.get_user_permissions(sm.find_user(username=name))) for name in USERS}
        for view in app.appbuilder.baseviews:
            if not isinstance(view, ModelView):
                continue
            for name in view.actions or {}:
                permission = view.get_action_permission_name(name)
                for user in USERS:
                    mine = granted[user]
                    if ("can_list", view.class_permission_name) in mine and \
                            (permission, view.class_permission_name) not in mine:
                        return view, name, user
    return None


def test_an_action_the_role_may_not_take_is_refused_in_chinese(app, login):
    found = _action_refused(app)
    assert found, "no demo role lists a view whose action it may not take: pick another check"
    view, name, user = found
    client = login(user)
    base = "/" + view.route_base.strip("/")
    response = client.post(f"{base}/action_post", data={"action": name, "rowid": str(MISSING_ID)})
    assert response.status_code == 302
    page = visible_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "您的角色无权打开此页面或执行此操作" in page, page[-600:]
    assert "访问被拒绝" not in page and "Access is Denied" not in page


def test_has_access_api_refuses_in_chinese(app):
    """No route of the app uses FAB's `has_access_api` today; a view that does refuses in Chinese."""
    from flask import make_response
    from flask_appbuilder.security import decorators

    with app.test_request_context():
        for status in (401, 403):
            response = make_response(decorators.response_unauthorized_mvc(status))
            assert response.status_code == status and response.is_json
            message = response.get_json()["message"]
            assert CJK.search(message) and not ENGLISH.search(message), message


# --- English for a person who chose it ---------------------------------------------------------------

def test_a_person_who_chose_english_gets_english(app, login):
    client = login("cs_staff")
    client.get("/lang/en")
    page = client.get("/auditlog/list/")
    assert page.status_code == 403
    text = visible_text(ERROR_BLOCK.search(page.get_data(as_text=True)).group(0))
    assert "Your role may not open this page or take this action." in text and not CJK.search(text), text
    assert "No access" in text
    missing = client.get(f"/api/v1/customer/{MISSING_ID}?_l_=en", headers={"Accept": "application/json"})
    assert missing.status_code == 401  # the session does not authorise the API: its refusal, in English
    assert missing.get_json()["message"] and not CJK.search(missing.get_json()["message"])
    zh = login("cs_staff").get("/auditlog/list/")
    assert "您的角色无权" in zh.get_data(as_text=True)
