"""Bad input is a 4xx with a Chinese message, never a 500: every HTML list × malformed list arguments,
every detail/edit route × ids that are not ids, every `action_post` × an unknown action — as every role
that may list — and the API's known crashes (rison nesting, 64-bit ids, non-object bodies, months past
9998, bodies over MAX_CONTENT_LENGTH, `_info` descriptions)."""

from __future__ import annotations

import json
import re

import pytest
from flask_appbuilder import ModelView

from tests.conftest import PASSWORD, USERNAMES

HUGE = 2**70
CJK = re.compile(r"[\u4e00-\u9fff]")


def _list_views(app):
    return [v for v in app.appbuilder.baseviews if isinstance(v, ModelView)]


def _base(view) -> str:
    return "/" + view.route_base.strip("/")


@pytest.fixture(scope="module")
def clients(app):
    out = {}
    for name in USERNAMES:
        client = app.test_client()
        assert client.post("/login/", data={"username": name, "password": PASSWORD}).status_code == 302
        out[name] = client
    return out


def _may_list(app, client, view) -> bool:
    return client.get(f"{_base(view)}/list/").status_code == 200


def _assert_refused(response, what):
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code}"
    assert CJK.search(response.get_data(as_text=True)), f"{what}: no Chinese message"


def _bad_list_args(view) -> list[str]:
    n = view.__class__.__name__
    return [f"psize_{n}=abc", f"page_{n}=abc", f"page_{n}=-1", f"_oc_{n}=nosuchcol&_od_{n}=asc",
            f"_oc_{n}=id&_od_{n}=sideways", "_flt_99_name=x", "_flt_0_nosuch=x"]


def test_every_list_refuses_malformed_arguments_as_every_role(app, clients):
    checked = 0
    for name, client in clients.items():
        for view in _list_views(app):
            if not _may_list(app, client, view):
                continue
            for query in _bad_list_args(view):
                _assert_refused(client.get(f"{_base(view)}/list/?{query}"), f"{name} {_base(view)}/list/?{query}")
                checked += 1
    assert checked > 100  # control: the roles do reach lists


def test_every_detail_and_edit_route_refuses_ids_that_are_not_ids(app, clients):
    client = clients["admin"]
    for view in _list_views(app):
        for route in ("show", "edit", "delete"):
            for pk in (HUGE, "abc", -1):
                response = client.get(f"{_base(view)}/{route}/{pk}")
                assert response.status_code in (302, 404) or 400 <= response.status_code < 500, \
                    f"{_base(view)}/{route}/{pk}: {response.status_code}"
                assert response.status_code != 302 or pk == -1


def test_every_action_post_refuses_an_unknown_action_as_every_role(app, clients):
    for name, client in clients.items():
        for view in _list_views(app):
            if not _may_list(app, client, view):
                continue
            response = client.post(f"{_base(view)}/action_post", data={"action": "nosuch", "rowid": "1"})
            _assert_refused(response, f"{name} {_base(view)}/action_post")


# --- the API ------------------------------------------------------------------------------

def _list_apis(app):
    from flask_appbuilder.api import ModelRestApi

    return [a for a in app.appbuilder.baseviews if isinstance(a, ModelRestApi)]


def _api_base(api) -> str:
    return f"/api/{api.version}/{api.resource_name}"


def _assert_api_refused(response, what, status=None):
    assert 400 <= response.status_code < 500 if status is None else response.status_code == status, \
        f"{what}: {response.status_code} {response.get_data(as_text=True)[:200]}"
    assert response.is_json, f"{what}: not JSON"
    assert CJK.search(str(response.get_json().get("message"))), f"{what}: {response.get_json()}"


def test_every_list_api_refuses_deep_rison_nesting(app, api):
    admin = api("admin")
    for resource in _list_apis(app):
        _assert_api_refused(admin.get(f"{_api_base(resource)}/?q=" + "(" * 2000), _api_base(resource), 400)


def test_every_pk_route_answers_ids_beyond_64_bits_with_404(app, api):
    admin = api("admin")
    routes = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and "pk>" in r.rule]
    assert len(routes) > 30
    for rule in routes:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = re.sub(r"<(?:int:)?pk>", str(HUGE), rule.rule)
            url = re.sub(r"<(?:int:)?\w+>", "1", url)
            response = getattr(admin, method.lower())(url, json={})
            _assert_api_refused(response, f"{method} {url}", 404)


def test_non_object_bodies_and_values_are_refused(app, api):
    admin = api("admin")
    for resource in _list_apis(app):
        base = _api_base(resource)
        for body in ([None, None], "text", 3):
            for method, url in (("post", f"{base}/"), ("put", f"{base}/1")):
                response = getattr(admin, method)(url, data=json.dumps(body), content_type="application/json")
                assert response.status_code < 500, f"{method} {url} {body}: {response.status_code}"
    for field in ("channel", "name", "building", "customer", "project", "department"):
        for value in ({}, [], [[]], {"a": 1}):
            for resource in ("complaint", "customer", "unit", "building"):
                response = admin.post(f"/api/v1/{resource}/", json={field: value})
                assert response.status_code < 500, f"{resource} {field}={value}: {response.status_code}"


def test_body_less_writes_to_fab_security_apis_are_refused(api):
    admin = api("admin")
    for method, url in (("post", "/api/v1/security/groups/"), ("post", "/api/v1/security/users/"),
                        ("put", "/api/v1/security/roles/1/groups"), ("put", "/api/v1/security/users/1")):
        _assert_api_refused(getattr(admin, method)(url), f"{method} {url}")


def test_a_month_past_the_calendar_is_refused(api):
    _assert_api_refused(api("cs_manager").get("/api/v1/complaint/stats?month=9999-12"), "9999-12", 422)


def test_a_body_over_the_limit_is_refused_with_a_chinese_413(app, api):
    size = app.config["MAX_CONTENT_LENGTH"] + 1
    _assert_api_refused(api("cs_staff").post("/api/v1/complaint/1/attachment", data=b"x" * size,
                                             content_type="application/octet-stream"), "upload", 413)
    client = app.test_client()
    client.post("/login/", data={"username": "cs_staff", "password": PASSWORD})
    response = client.post("/customer/add", data=b"x" * size, content_type="application/octet-stream")
    assert response.status_code == 413 and CJK.search(response.get_data(as_text=True))


def test_no_info_description_is_the_catalogue_header(app, api):
    admin = api("admin")
    for resource in _list_apis(app):
        response = admin.get(f"{_api_base(resource)}/_info")
        assert response.status_code == 200, _api_base(resource)
        assert "Project-Id-Version" not in response.get_data(as_text=True), _api_base(resource)


def test_every_fab_route_that_names_nothing_is_a_404(app, clients):
    """FAB's routes on every ModelView and chart, as the admin (who passes every permission check):
    `download/<filename>` of a file that is not there (no `_sep_`: IndexError; none on disk:
    FileNotFoundError), `action/<name>/<pk>` (POST) with an unknown action or a record that does not
    exist, `chart/<group_by>` with a chart that is not there (int("active"), definitions[9]) — each a
    404 with a Chinese message; the admin's chart of a real definition still opens."""
    from flask_appbuilder.charts.views import GroupByChartView

    client = clients["admin"]
    views = _list_views(app)
    assert len(views) > 20
    for view in views:
        base = _base(view)
        for name in ("no-separator.txt", "x_sep_no-such-file.txt", "..%2F..%2Fconfig.py"):
            _assert_refused(client.get(f"{base}/download/{name}"), f"{base}/download/{name}")
        _assert_refused(client.post(f"{base}/action/no-such-action/1"), f"{base}/action/no-such-action/1")
        for action in view.actions or {}:
            _assert_refused(client.post(f"{base}/action/{action}/{2**31 - 1}"), f"{base}/action/{action}/<missing>")
    charts = [v for v in app.appbuilder.baseviews if isinstance(v, GroupByChartView)]
    assert charts, "FAB's user statistics chart is registered"
    for view in charts:
        base = _base(view)
        for group_by in ("active", str(len(view.definitions)), "99999999999", "-1"):
            _assert_refused(client.get(f"{base}/chart/{group_by}"), f"{base}/chart/{group_by}")
        assert client.get(f"{base}/chart/0").status_code == 200
        assert client.get(f"{base}/chart/").status_code == 200
