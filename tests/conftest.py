"""Fixtures: one migrated database per run (SQLite or a throwaway PostgreSQL, by KEFU_TEST_DB), the
demo users (one per role), login helpers for forms and the REST API, and fresh databases for tests
that must tamper with one."""

from __future__ import annotations

import atexit
import hashlib
import itertools
import os
import shutil
import tempfile
from contextlib import closing
from dataclasses import dataclass

import pytest
from werkzeug.security import generate_password_hash

from tests.pg import scratch_root

TEST_DB = os.environ.get("KEFU_TEST_DB", "sqlite")
_TMP = tempfile.mkdtemp(prefix="kefu-test-", dir=scratch_root())
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)  # in memory (/dev/shm): it must not outlive the run
os.environ["KEFU_INSTANCE"] = os.path.join(_TMP, "instance")  # before config is imported
os.environ.pop("DATABASE_URL", None)

def pytest_addoption(parser):
    parser.addoption("--today", metavar="YYYY-MM-DD",
                     help="run as if today were this date (the domain's clock moves there; e.g. 2026-02-17, "
                          "Spring Festival week): a test that fails only then reads the real date somewhere")


def pytest_collection_modifyitems(config, items):
    """The PostgreSQL runs leave out the tests that use no database (no `databases` fixture, directly or
    through another): laying out a PDF or checking an ID number's digit gives the same answer whatever
    database the run is for, so the SQLite run's pass is the answer, and the second run only costs time."""
    if TEST_DB != "postgresql":
        return
    kept, left = [], []
    for item in items:
        (kept if "databases" in getattr(item, "fixturenames", ()) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def moved_clock(request):
    from datetime import date

    from app.domain import calendar

    today = request.config.getoption("--today")
    if not today:
        yield None
        return
    with calendar.clock_from(date.fromisoformat(today)):
        yield calendar.local_now()


PASSWORD = "test-pass-123"
USERNAMES = ("admin", "cs_staff", "cs_manager", "eng_staff", "pm_staff", "archivist", "gm", "auditor")


class _Databases:
    """Hands out empty databases of the kind under test."""

    def __init__(self):
        self.cluster = None
        self.count = 0
        if TEST_DB == "postgresql":
            from tests.pg import Cluster

            self.cluster = Cluster(root=scratch_root())
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


# Passwords are hashed with a cheap PBKDF2 in the tests (FAB's default, scrypt, costs ~0.1 s a login,
# and the suite logs in hundreds of times); the check is the same code path, hashes still differ per salt.
TEST_HASH_METHOD = "pbkdf2:sha256:1000"
_FAKE_HASH = generate_password_hash("password", method=TEST_HASH_METHOD)  # FAB's check of an unknown user


def make_config(url: str, **overrides):
    from config import Config

    settings = dict(
        SQLALCHEMY_DATABASE_URI=url, TESTING=True, WTF_CSRF_ENABLED=False,
        AUTH_RATE_LIMIT="100000 per second", KEFU_API_LOGIN_RATE_LIMIT="100000 per second",
        KEFU_VERIFY_RATE_LIMIT="100000 per second",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 20, "max_overflow": 20} if url.startswith("postgresql") else {},
        FAB_PASSWORD_HASH_METHOD=TEST_HASH_METHOD, AUTH_DB_FAKE_PASSWORD_HASH_CHECK=_FAKE_HASH,
    )
    # Each app files its printed forms in a folder of its own: `archive verify` sees only its records' files.
    settings["KEFU_ARCHIVE_DIR"] = tempfile.mkdtemp(prefix="archive-", dir=_TMP)
    # ... and anchors its audit chain in a log of its own (anchors of another database would not match).
    settings["KEFU_AUDIT_ANCHOR_LOG"] = os.path.join(tempfile.mkdtemp(prefix="anchors-", dir=_TMP), "anchors.jsonl")
    settings.update(overrides)
    return type("TestConfig", (Config,), settings)


# --- prepared databases, copied ----------------------------------------------------------------------
#
# Migrating and syncing the roles takes seconds (hundreds of commits), loading the demo data tens of
# seconds. Each is done for real once per run and kind; the result is kept as a template (the database,
# its archived files and its anchor log) and every later app of that kind gets a copy of all three:
# a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL. A copy is what a fresh load gives:
# the same rows, the same audit chain (the audit key is this process's), the same files.

# Settings read only while serving: a database prepared under one setting serves every other value.
_SERVING_ONLY = frozenset({
    "AUTH_RATE_LIMIT", "KEFU_API_LOGIN_RATE_LIMIT", "KEFU_VERIFY_RATE_LIMIT", "WTF_CSRF_ENABLED",
    "PROPAGATE_EXCEPTIONS", "KEFU_COUNT_CAP", "KEFU_ARCHIVE_DIR", "KEFU_AUDIT_ANCHOR_LOG",
    "KEFU_LOCKOUT_FAILURES", "SQLALCHEMY_ENGINE_OPTIONS",
})


@dataclass
class _Template:
    url: str
    archive: str
    anchors: str


_templates: dict[tuple, _Template] = {}
_template_count = itertools.count(1)


def _shape(app) -> str:
    """What the roles sync writes depends on: every view's permissions and the menu."""
    ab = app.appbuilder
    views = sorted((v.class_permission_name, tuple(sorted(v.base_permissions or ()))) for v in ab.baseviews)
    menu = [(c.name, tuple(i.name for i in c.childs)) for c in ab.menu.get_list()] if ab.menu else []
    return hashlib.sha256(repr((views, menu)).encode()).hexdigest()


def _template_key(app, kind, overrides) -> tuple:
    settings = tuple(sorted((k, repr(v)) for k, v in overrides.items() if k not in _SERVING_ONLY))
    return kind, _shape(app), settings


def _sqlite_file(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _is_empty(url: str) -> bool:
    if url.startswith("postgresql"):
        from tests.pg import is_empty

        return is_empty(url)
    import sqlite3

    path = _sqlite_file(url)
    if not os.path.exists(path):
        return True
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def _copy_database(source: str, target: str) -> None:
    if source.startswith("postgresql"):
        from tests.pg import copy_database

        copy_database(source, target)
        return
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(_sqlite_file(target) + suffix):
            os.remove(_sqlite_file(target) + suffix)
    src, dst = sqlite3.connect(_sqlite_file(source)), sqlite3.connect(_sqlite_file(target))
    try:
        src.backup(dst)  # a consistent copy, whatever the journal holds
    finally:
        src.close()
        dst.close()


def _copy_files(archive: str, anchors: str, to_archive: str, to_anchors: str) -> None:
    if os.path.isdir(archive):
        shutil.copytree(archive, to_archive, dirs_exist_ok=True)
    if os.path.exists(anchors):
        os.makedirs(os.path.dirname(to_anchors), exist_ok=True)
        shutil.copy2(anchors, to_anchors)


def _release(app) -> None:
    """No connection of the app stays open on its database (PostgreSQL copies need none)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _from_template(app, key) -> bool:
    """Fill the app's (empty) database and files from the template of `key`, if there is one."""
    template = _templates.get(key)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if template is None or not _is_empty(url):
        return False
    _release(app)
    _copy_database(template.url, url)
    _copy_files(template.archive, template.anchors, app.config["KEFU_ARCHIVE_DIR"],
                app.config["KEFU_AUDIT_ANCHOR_LOG"])
    return True


def _keep_template(app, key) -> None:
    """Keep a copy of the app's database and files as the template of `key`."""
    if key in _templates:
        return
    _release(app)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    n = next(_template_count)
    if url.startswith("postgresql"):
        copy = url.rsplit("/", 1)[0] + f"/kefu_template_{n}"
    else:
        copy = f"sqlite:///{os.path.join(_TMP, f'template-{n}.db')}"
    folder = tempfile.mkdtemp(prefix=f"template-{n}-", dir=_TMP)
    template = _Template(copy, os.path.join(folder, "archive"), os.path.join(folder, "anchors.jsonl"))
    _copy_database(url, copy)
    _copy_files(app.config["KEFU_ARCHIVE_DIR"], app.config["KEFU_AUDIT_ANCHOR_LOG"],
                template.archive, template.anchors)
    _templates[key] = template


def _migrate(app) -> None:
    from flask_migrate import upgrade

    from app.extensions import db
    from app.security import sync_roles

    with app.app_context():
        upgrade()
        sync_roles(app.appbuilder)
        db.session.remove()


def _prepared(app, kind: tuple, overrides: dict, build) -> None:
    """Fill the app's database from the template of its kind, or build it and keep it as the template."""
    key = _template_key(app, kind, overrides)
    if not _from_template(app, key):
        build(app)
        _keep_template(app, key)


def _prepare_migrated(app, overrides: dict) -> None:
    _prepared(app, ("migrated",), overrides, _migrate)


def migrated_app(url: str, **overrides):
    """A Kefu app on `url`, migrated from empty and with the roles synced (as `make run` does)."""
    from app import create_app

    app = create_app(make_config(url, **overrides))
    _prepare_migrated(app, overrides)
    return app


def demo_app(url: str, complaint_count: int | None = None, **overrides):
    """migrated_app with the demo data loaded (users with PASSWORD; complaint_count=0 skips complaints)."""
    from app import create_app
    from app.demo import load_demo
    from app.extensions import db

    def build(app):
        _prepare_migrated(app, overrides)
        with app.app_context():
            kwargs = {} if complaint_count is None else {"complaint_count": complaint_count}
            load_demo(db.session, app.appbuilder, PASSWORD, **kwargs)
            db.session.remove()

    app = create_app(make_config(url, **overrides))
    _prepared(app, ("demo", complaint_count), overrides, build)
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
def demo_copy(databases):
    """An app on its own copy of the session's demo data (for tests that tamper with it): a copy of
    the template, not a second load."""
    from app.extensions import db

    app = demo_app(databases.new())
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
