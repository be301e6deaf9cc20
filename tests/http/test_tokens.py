"""API tokens that end (issue 11, item 7): logout revokes the token and its login's refresh token; every
way of changing a password or deactivating a user ends all of that user's tokens; access tokens expire
after the configured time; the refresh token renews them. Each refusal is a 401 in JSON with a Chinese
message."""

from __future__ import annotations

import itertools
import os
import time
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD

_names = itertools.count(1)
PROBE = "/api/v1/menu/"  # every logged-in user may read the menu
ENDED = "本次登录已失效（已退出、密码已更改或账户已停用），请重新登录。"
EXPIRED = "登录已过期，请重新登录。"
NEW_PASSWORD = "new-pass-456"


@pytest.fixture
def user(app):
    """A CS Staff user of its own (tests here change passwords and deactivate users)."""
    from app.domain.roles import CS_STAFF
    from app.extensions import db

    name = f"tok{os.getpid() % 10000}_{next(_names)}"
    with app.app_context():
        sm = app.appbuilder.sm
        created = sm.add_user(name, "Token", "Test", f"{name}@example.com", sm.find_role(CS_STAFF), PASSWORD)
        assert created, "user not created"
        user_id = created.id
        db.session.remove()
    return dict(name=name, id=user_id)


def api_login(app, username, password=PASSWORD, refresh=False):
    response = app.test_client().post("/api/v1/security/login", json={
        "username": username, "password": password, "provider": "db", "refresh": refresh})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def call(app, token, url=PROBE, method="get", **kwargs):
    return getattr(app.test_client(), method)(url, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def assert_ended(response, message=ENDED):
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.is_json and response.get_json() == {"message": message}


def test_logout_revokes_the_token_and_its_refresh_token_but_not_other_logins(app, user):
    first = api_login(app, user["name"], refresh=True)
    second = api_login(app, user["name"])  # another device
    assert call(app, first["access_token"]).status_code == 200

    out = call(app, first["access_token"], "/api/v1/security/logout", method="post")
    assert out.status_code == 200 and out.get_json()["message"] == "已退出登录。"

    assert_ended(call(app, first["access_token"]))
    assert_ended(call(app, first["refresh_token"], "/api/v1/security/refresh", method="post"))
    assert call(app, second["access_token"]).status_code == 200


def test_an_access_token_renewed_by_refresh_ends_with_its_login(app, user):
    tokens = api_login(app, user["name"], refresh=True)
    renewed = call(app, tokens["refresh_token"], "/api/v1/security/refresh", method="post")
    assert renewed.status_code == 200
    access = renewed.get_json()["access_token"]
    assert call(app, access).status_code == 200
    assert call(app, access, "/api/v1/security/logout", method="post").status_code == 200
    assert_ended(call(app, access))
    assert_ended(call(app, tokens["access_token"]))  # the same login: its first access token too


def _own_form(app, user, login):
    client = login(user["name"])
    response = client.post("/resetmypassword/form", data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def _admin_form(app, user, login):
    client = login("admin")
    response = client.post(f"/resetpassword/form?pk={user['id']}",
                           data={"password": NEW_PASSWORD, "conf_password": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)


def _admin_api_password(app, user, login):
    admin = api_login(app, "admin")["access_token"]
    response = call(app, admin, f"/api/v1/security/users/{user['id']}", method="put", json={"password": NEW_PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)


def _admin_api_deactivate(app, user, login):
    admin = api_login(app, "admin")["access_token"]
    response = call(app, admin, f"/api/v1/security/users/{user['id']}", method="put", json={"active": False})
    assert response.status_code == 200, response.get_data(as_text=True)


def _domain_deactivate(app, user, login):
    from app.extensions import db

    with app.app_context():
        sm = app.appbuilder.sm
        found = sm.get_user_by_id(user["id"])
        found.active = False
        sm.update_user(found)
        db.session.remove()


@pytest.mark.parametrize("change", [_own_form, _admin_form, _admin_api_password, _admin_api_deactivate,
                                    _domain_deactivate])
def test_a_password_change_or_deactivation_ends_every_token_of_the_user(app, user, login, change):
    tokens = api_login(app, user["name"], refresh=True)
    other = api_login(app, user["name"])
    bystander = api_login(app, "cs_manager")
    for token in (tokens["access_token"], other["access_token"]):
        assert call(app, token).status_code == 200

    change(app, user, login)

    assert_ended(call(app, tokens["access_token"]))
    assert_ended(call(app, other["access_token"]))
    assert_ended(call(app, tokens["refresh_token"], "/api/v1/security/refresh", method="post"))
    assert call(app, bystander["access_token"]).status_code == 200
    if change not in (_admin_api_deactivate, _domain_deactivate):  # a new login with the new password works
        fresh = api_login(app, user["name"], NEW_PASSWORD)
        assert call(app, fresh["access_token"]).status_code == 200


def test_reactivating_does_not_bring_old_tokens_back(app, user, login):
    token = api_login(app, user["name"])["access_token"]
    _admin_api_deactivate(app, user, login)
    admin = api_login(app, "admin")["access_token"]
    assert call(app, admin, f"/api/v1/security/users/{user['id']}", method="put", json={"active": True}).status_code == 200
    assert_ended(call(app, token))


def test_access_tokens_expire_after_the_configured_time_and_refresh_renews_them(app, user):
    assert app.config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(minutes=30)  # the default of config.py
    saved = app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = timedelta(seconds=1)
    try:
        tokens = api_login(app, user["name"], refresh=True)
        assert call(app, tokens["access_token"]).status_code == 200
        time.sleep(2.1)
        assert_ended(call(app, tokens["access_token"]), EXPIRED)
        renewed = call(app, tokens["refresh_token"], "/api/v1/security/refresh", method="post")
        assert renewed.status_code == 200, renewed.get_data(as_text=True)
        assert call(app, renewed.get_json()["access_token"]).status_code == 200
    finally:
        app.config["JWT_ACCESS_TOKEN_EXPIRES"] = saved


def test_a_refresh_token_cannot_be_used_as_an_access_token(app, user):
    tokens = api_login(app, user["name"], refresh=True)
    response = call(app, tokens["refresh_token"])
    assert response.status_code in (401, 422)


@pytest.mark.parametrize("body", [None, [], {"username": "admin"}, {"username": ["admin"], "password": "x"},
                                  "not json"])
def test_a_malformed_api_login_is_a_400_with_a_chinese_message(app, body):
    client = app.test_client()
    if body == "not json":
        response = client.post("/api/v1/security/login", data="username=admin", content_type="text/plain")
    else:
        response = client.post("/api/v1/security/login", json=body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json() == {"message": "请以 JSON 对象提交用户名和密码。"}


def test_a_wrong_api_password_is_a_401_with_a_chinese_message(app, user):
    response = app.test_client().post("/api/v1/security/login", json={
        "username": user["name"], "password": "wrong", "provider": "db"})
    assert response.status_code == 401 and response.get_json() == {"message": "用户名或密码错误。"}
