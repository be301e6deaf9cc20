"""Every refusal a person or a client meets is in Chinese: the REST API without a token or with a
bad one (flask_jwt_extended answers in English unless told otherwise), a page the role may not open
(Werkzeug's English 403), and an HTML list sorted or filtered by a masked column (the reason, not a
bare «请求无效»). JSON answers carry Chinese as UTF-8, not as \\u escapes."""

from __future__ import annotations

import re

import pytest

CJK = re.compile(r"[\u4e00-\u9fff]")


def _api_reads(app):
    """Every API GET route without arguments (lists, _info, _openapi excluded: it is public)."""
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/api/v1/") and "GET" in rule.methods and not rule.arguments
                   and not rule.rule.endswith(("/_openapi", "/login", "/refresh"))})


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Bearer a.b.c", "Basic YWRtaW46eA=="])
def test_every_api_read_without_a_valid_token_is_refused_in_chinese(app, authorization):
    client = app.test_client()
    headers = {"Authorization": authorization} if authorization else {}
    routes = _api_reads(app)
    assert len(routes) > 20
    for route in routes:
        response = client.get(route, headers=headers)
        assert response.status_code == 401, (route, response.status_code)
        body = response.get_json()
        assert set(body) == {"message"}, (route, body)
        assert CJK.search(body["message"]), (route, body)
        raw = response.get_data(as_text=True)
        assert "\\u" not in raw and body["message"] in raw, raw


def test_a_page_the_role_may_not_open_is_a_chinese_page_with_the_menu(login):
    client = login("cs_staff")
    for url in ("/auditlog/list/", "/users/list/"):
        response = client.get(url)
        assert response.status_code == 403, url
        page = response.get_data(as_text=True)
        assert "Forbidden" not in page and "permission" not in page
        assert "无权" in page, page[:400]
        assert 'class="navbar' in page  # the menu: the clerk can go on from here


@pytest.mark.parametrize("args", [
    {"_oc_CustomerView": "mobile"}, {"_oc_CustomerView": "id_number"},
    {"_flt_1_mobile": "138"}, {"_flt_2_id_number": "1101"}, {"_flt_5_phone": "010"},
])
def test_a_masked_column_sorted_or_searched_by_a_part_says_why(login, args):
    response = login("auditor").get("/customer/list/", query_string=args)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "个人信息" in page, page[:600]
