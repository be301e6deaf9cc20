"""Fixtures: one migrated database per run (SQLite or a throwaway PostgreSQL, by KEFU_TEST_DB), the
demo users (one per role), login helpers for forms and the REST API, and fresh databases for tests
that must tamper with one."""

from __future__ import annotations

import os
import tempfile

import pytest

TEST_DB = os.environ.get("KEFU_TEST_DB", "sqlite")
_TMP = tempfile.mkdtemp(prefix="kefu-test-")
os.environ["KEFU_INSTANCE"] = os.path.join(_TMP, "instance")  # before config is imported
os.environ.pop("DATABASE_URL", None)

PASSWORD = "test-pass-123"
USERNAMES = ("admin", "cs_staff", "cs_manager", "eng_staff", "pm_staff", "archivist", "gm", "auditor")


class _Databases:
    """Hands out empty databases of the kind under test."""

    def __init__(self):
        self.cluster = None
        self.count = 0
        if TEST_DB == "postgresql":
            from tests.pg import Cluster

            self.cluster = Cluster()
        elif TEST_DB != "sqlite":
            raise RuntimeError(f"KEFU_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")

    def new(self) -> str:
        if self.cluster:
            return self.cluster.create_database()
        self.count += 1
        return f"sqlite:///{os.path.join(_TMP, f'kefu-{self.count}.db')}"

    def close(self):
        if self.cluster:
            self.cluster.stop()


def make_config(url: str, **overrides):
    from config import Config

    settings = dict(
        SQLALCHEMY_DATABASE_URI=url, TESTING=True, WTF_CSRF_ENABLED=False,
        AUTH_RATE_LIMIT="100000 per second", KEFU_API_LOGIN_RATE_LIMIT="100000 per second",
        KEFU_VERIFY_RATE_LIMIT="100000 per second",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 20} if url.startswith("postgresql") else {},
    )
    # Each app files its printed forms in a folder of its own: `archive verify` sees only its records' files.
    settings["KEFU_ARCHIVE_DIR"] = tempfile.mkdtemp(prefix="archive-", dir=_TMP)
    # ... and anchors its audit chain in a log of its own (anchors of another database would not match).
    settings["KEFU_AUDIT_ANCHOR_LOG"] = os.path.join(tempfile.mkdtemp(prefix="anchors-", dir=_TMP), "anchors.jsonl")
    settings.update(overrides)
    return type("TestConfig", (Config,), settings)


def migrated_app(url: str, **overrides):
    """A Kefu app on `url`, migrated from empty and with the roles synced (as `make run` does)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.security import sync_roles

    app = create_app(make_config(url, **overrides))
    with app.app_context():
        upgrade()
        sync_roles(app.appbuilder)
        db.session.remove()
    return app


def demo_app(url: str, complaint_count: int | None = None, **overrides):
    """migrated_app with the demo data loaded (users with PASSWORD; complaint_count=0 skips complaints)."""
    from app.demo import load_demo
    from app.extensions import db

    app = migrated_app(url, **overrides)
    with app.app_context():
        kwargs = {} if complaint_count is None else {"complaint_count": complaint_count}
        load_demo(db.session, app.appbuilder, PASSWORD, **kwargs)
        db.session.remove()
    return app


@pytest.fixture(scope="session")
def databases():
    dbs = _Databases()
    yield dbs
    dbs.close()


@pytest.fixture(scope="session")
def app(databases):
    from app.extensions import db

    app = demo_app(databases.new())
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def fresh_app(databases):
    """An app on its own new, migrated database (for tests that tamper with the database)."""
    from app.extensions import db

    app = migrated_app(databases.new())
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    """An app context with a clean session; the session is removed afterwards."""
    from app.extensions import db

    with app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()


@pytest.fixture
def users(ctx, app):
    sm = app.appbuilder.sm
    return {name: sm.find_user(username=name) for name in USERNAMES}


@pytest.fixture
def login(app):
    """login('cs_staff') -> a test client with that user's session (HTML form login)."""

    def _login(username: str, password: str = PASSWORD):
        client = app.test_client()
        response = client.post("/login/", data={"username": username, "password": password})
        assert response.status_code == 302, f"login of {username} failed"
        return client

    return _login


class ApiClient:
    def __init__(self, client, token):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        def call(url, **kwargs):
            headers = {**self.headers, **kwargs.pop("headers", {})}
            return getattr(self.client, method)(url, headers=headers, **kwargs)

        return call


@pytest.fixture
def api(app):
    """api('cs_staff') -> a client that sends that user's JWT."""

    def _api(username: str, password: str = PASSWORD):
        client = app.test_client()
        response = client.post("/api/v1/security/login",
                               json={"username": username, "password": password, "provider": "db"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return ApiClient(client, response.get_json()["access_token"])

    return _api


def audit_count(session) -> int:
    from sqlalchemy import func, select

    from app.models import AuditLog

    return session.scalar(select(func.count(AuditLog.id)))


@pytest.fixture
def artifacts(request):
    """Where a person can look at what the tests printed: <--output>/forms/ (make test: test-artifacts/<db>/)."""
    from pathlib import Path

    try:
        base = Path(request.config.getoption("--output"))
    except ValueError:
        base = Path("test-artifacts")
    folder = base / "forms"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
