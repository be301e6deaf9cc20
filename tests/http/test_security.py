"""Security basics: logout ends the session on the server, login rate limits (HTML form and API),
session cookie flags and idle timeout, and no user exists on a fresh database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from tests.conftest import PASSWORD, migrated_app

PROTECTED = "/customer/list/"
LIMIT = "3 per minute"
LIMITED_USER, LIMITED_PASSWORD = "limited_cs", "limited-pass-123"


def _session_cookie(client, app):
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert cookie is not None, "no session cookie"
    return cookie


def _set_cookie_header(response, app) -> str:
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, response.headers
    return headers[-1]


def _attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "") for p in parts}


def _client_with_cookie(app, cookie):
    client = app.test_client()
    client.set_cookie(cookie.key, cookie.value, domain=cookie.domain or "localhost")
    return client


def test_logout_ends_the_session_server_side(app, login):
    client = login("cs_staff")
    assert client.get(PROTECTED).status_code == 200
    copied = _session_cookie(client, app)
    # Control: before the logout the copied cookie does log in (so the check below can fail).
    assert _client_with_cookie(app, copied).get(PROTECTED).status_code == 200

    logout = client.post("/logout/")
    assert logout.status_code == 302
    assert client.get(PROTECTED).status_code == 302

    replayed = _client_with_cookie(app, copied).get(PROTECTED)
    assert replayed.status_code == 302
    assert "/login/" in replayed.headers["Location"]


def test_logout_of_one_session_leaves_the_others(app, login):
    first, second = login("cs_manager"), login("cs_manager")
    first.post("/logout/")
    assert first.get(PROTECTED).status_code == 302
    assert second.get(PROTECTED).status_code == 200


def test_session_cookie_is_httponly_and_samesite_lax(app):
    client = app.test_client()
    response = client.post("/login/", data={"username": "cs_staff", "password": PASSWORD})
    assert response.status_code == 302
    attributes = _attributes(_set_cookie_header(response, app))
    assert "httponly" in attributes
    assert attributes.get("samesite", "").lower() == "lax"
    assert "secure" not in attributes  # plain HTTP in the test: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(app):
    client = app.test_client()
    response = client.post("/login/", data={"username": "cs_staff", "password": PASSWORD},
                           base_url="https://localhost")
    assert response.status_code == 302
    attributes = _attributes(_set_cookie_header(response, app))
    assert "secure" in attributes and "httponly" in attributes


def test_session_expires_after_the_idle_timeout(app):
    idle = app.config["PERMANENT_SESSION_LIFETIME"]
    assert timedelta(minutes=1) <= idle <= timedelta(hours=12)
    client = app.test_client()
    response = client.post("/login/", data={"username": "cs_staff", "password": PASSWORD})
    expires = parsedate_to_datetime(_attributes(_set_cookie_header(response, app))["expires"])
    remaining = expires - datetime.now(UTC)
    assert idle - timedelta(minutes=1) <= remaining <= idle + timedelta(minutes=1)


def test_wrong_password_does_not_log_in(app):
    client = app.test_client()
    response = client.post("/login/", data={"username": "cs_staff", "password": "not-the-password"})
    assert client.get(PROTECTED).status_code == 302
    assert response.status_code in (200, 302)
    api = client.post("/api/v1/security/login",
                      json={"username": "cs_staff", "password": "not-the-password", "provider": "db"})
    assert api.status_code == 401
    assert "access_token" not in (api.get_json() or {})


@pytest.fixture(scope="module")
def limited_app(databases):
    """An app whose HTML and API logins allow 3 attempts a minute, with one CS user."""
    from app.domain.roles import CS_STAFF
    from app.extensions import db

    app = migrated_app(databases.new(), KEFU_API_LOGIN_RATE_LIMIT=LIMIT, AUTH_RATE_LIMIT=LIMIT)
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.add_user(LIMITED_USER, "限", "流", "limited@kefu.example", sm.find_role(CS_STAFF), LIMITED_PASSWORD)
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _api_login(client, password):
    return client.post("/api/v1/security/login",
                       json={"username": LIMITED_USER, "password": password, "provider": "db"})


def test_api_login_is_rate_limited_for_failures_only(limited_app):
    client = limited_app.test_client()
    for _ in range(5):  # more successes than the limit: they are not counted
        response = _api_login(client, LIMITED_PASSWORD)
        assert response.status_code == 200
        assert response.get_json()["access_token"]
    for _ in range(3):
        assert _api_login(client, "wrong-password").status_code == 401
    blocked = _api_login(client, "wrong-password")
    assert blocked.status_code == 429
    # Once blocked, the address is blocked for the right password as well (no guessing in parallel).
    assert _api_login(client, LIMITED_PASSWORD).status_code == 429


def test_html_login_form_is_rate_limited(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        response = client.post("/login/", data={"username": LIMITED_USER, "password": "wrong-password"})
        assert response.status_code in (200, 302)
    blocked = client.post("/login/", data={"username": LIMITED_USER, "password": "wrong-password"})
    assert blocked.status_code == 429
    blocked = client.post("/login/", data={"username": LIMITED_USER, "password": LIMITED_PASSWORD})
    assert blocked.status_code == 429
    assert client.get(PROTECTED).status_code == 302  # not logged in


def test_fresh_database_has_no_user(fresh_app):
    from sqlalchemy import func, select

    from app.extensions import db

    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        for username in ("admin", "cs_staff", "auditor"):
            assert sm.find_user(username=username) is None
        assert db.session.scalar(select(func.count()).select_from(sm.user_model)) == 0
        db.session.rollback()
    client = fresh_app.test_client()
    for password in (PASSWORD, "admin", "kefu-demo-2026"):
        response = client.post("/api/v1/security/login",
                               json={"username": "admin", "password": password, "provider": "db"})
        assert response.status_code == 401
        form = client.post("/login/", data={"username": "admin", "password": password})
        assert client.get(PROTECTED).status_code == 302, form.status_code
