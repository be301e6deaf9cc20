"""One crawler over the whole URL map, shared by the CSRF, header and permission tests.

`routes(app)` lists every rule of `app.url_map` with its view, the FAB permission that guards it
((permission, view) derived from FAB's `_permission_name`, `method_permission_name` and
`base_permissions`, as FAB's `has_access`/`protect` do) and the model its `<pk>` names. `Targets`
fills each rule's arguments with real demo records: per user, a record that user may see (or one of
another department, for the scope test). Nothing here knows a route by hand except the handful of
non-record arguments (a form's name, a step, a locale).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property

from flask_appbuilder.api import BaseApi
from flask_appbuilder.const import LOGMSG_ERR_SEC_ACCESS_DENIED, PERMISSION_PREFIX
from sqlalchemy import func, inspect, select, text

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
MISSING_ID = 2_147_483_000  # a record id no table holds (fits a 32-bit integer column)
LOGIN = "/login/"

# API writes that authenticate by what they are sent (a password, a refresh token), not by a session.
TOKENLESS_WRITES = frozenset({"SecurityApi.login", "SecurityApi.refresh"})


@dataclass(frozen=True)
class Route:
    rule: str
    endpoint: str
    methods: tuple[str, ...]
    arguments: tuple[str, ...]
    view: object
    func: object

    @property
    def is_api(self) -> bool:
        return isinstance(self.view, BaseApi)

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m not in SAFE)

    @property
    def permission(self) -> tuple[str, str] | None:
        """(permission, view) that FAB checks before the route runs; None when FAB checks none."""
        name = getattr(self.func, "_permission_name", None)
        if name is None or self.view is None:
            return None
        override = (getattr(self.view, "method_permission_name", None) or {}).get(self.func.__name__)
        name = override or name
        perm = name if name.startswith(PERMISSION_PREFIX) else PERMISSION_PREFIX + name
        return perm, self.view.class_permission_name

    @property
    def offered(self) -> bool:
        """Does the view offer its permission at all (else FAB refuses everyone but... no one: 403)?"""
        perm = self.permission
        return perm is not None and perm[0] in (getattr(self.view, "base_permissions", None) or ())

    @property
    def model(self):
        from app.models import Complaint

        if self.endpoint == "PrintView.complaint":
            return Complaint
        datamodel = getattr(self.view, "datamodel", None)
        return getattr(datamodel, "obj", None)


def routes(app) -> list[Route]:
    found = []
    for rule in app.url_map.iter_rules():
        func = app.view_functions[rule.endpoint]
        while not hasattr(func, "__self__") and hasattr(func, "__wrapped__"):  # a rate limit around the view
            func = func.__wrapped__
        methods = tuple(sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS")))
        found.append(Route(rule.rule, rule.endpoint, methods, tuple(sorted(rule.arguments)),
                           getattr(func, "__self__", None), func))
    return sorted(found, key=lambda r: (r.rule, r.endpoint))


# --- arguments from real records ------------------------------------------------------------------

class Targets:
    """Real ids for each route's arguments, per user (in that user's department scope)."""

    def __init__(self, app):
        self.app = app
        self._visible: dict[tuple, int | None] = {}

    def session(self):
        from tests.http.conftest import Db

        return Db(self.app).session()

    def visible_id(self, username: str, model, outside: bool = False) -> int | None:
        """The lowest id of `model` that `username` may see (outside=True: one it may not see)."""
        key = (username, model, outside)
        if key not in self._visible:
            from app.domain import scope

            with self.session() as s, self.app.test_request_context():
                user = self.app.appbuilder.sm.find_user(username=username)
                pk = inspect(model).primary_key[0]
                mine = scope.restrict(select(pk), model, user, s)
                query = select(pk).where(pk.not_in(mine)) if outside else mine
                self._visible[key] = s.scalar(query.order_by(pk).limit(1))
        return self._visible[key]

    def attachment(self, username: str) -> tuple[int, int] | None:
        """(attachment id, its complaint's id) of the lowest attachment `username` may see, if any."""
        key = (username, "attachment")
        if key not in self._visible:
            from app.domain import scope
            from app.models import Complaint, ComplaintAttachment

            with self.session() as s, self.app.test_request_context():
                user = self.app.appbuilder.sm.find_user(username=username)
                mine = scope.restrict(select(Complaint.id), Complaint, user, s)
                self._visible[key] = s.execute(
                    select(ComplaintAttachment.id, ComplaintAttachment.complaint_id)
                    .where(ComplaintAttachment.complaint_id.in_(mine)).order_by(ComplaintAttachment.id).limit(1)
                ).first()
        return self._visible[key]

    @cached_property
    def fixed(self) -> dict[str, str]:
        from app.domain.complaints import STEPS
        from app.models import ArchiveRecord

        with self.session() as s:
            number = s.scalar(select(ArchiveRecord.number).order_by(ArchiveRecord.id).limit(1))
        return {"field": "mobile", "form": "complaint_record", "name": "visit_record",
                "action": STEPS[0].action, "filename": "no-such_sep_file.txt", "number": number or "KF-2000-000001",
                "locale": "zh", "version": "v1", "group_by": "0", "attachment_id": str(MISSING_ID),
                "token": "0" * 32}  # an import upload no one made (app/views/imports.py)

    def action_of(self, route: Route) -> str:
        from app.domain.visits import RECTIFICATION_STEPS, VISIT_STEPS

        if route.endpoint.startswith("RectificationView"):
            return RECTIFICATION_STEPS[0].action
        if route.endpoint.startswith("VisitView"):
            return VISIT_STEPS[0].action
        return self.fixed["action"]

    def url(self, route: Route, username: str | None, pk: int | None = None) -> str | None:
        """The route's address with its arguments filled; None for a rule that cannot be filled."""
        values = {}
        if "attachment_id" in route.arguments and pk is None:
            # An attachment is addressed under its own complaint; without one visible: no such attachment.
            found = self.attachment(username or "admin")
            if found:
                values["attachment_id"], pk = found
        for arg in route.arguments:
            if arg in values:
                continue
            if arg in ("pk", "role_id"):
                model = route.model
                if pk is None and model is not None:
                    pk = self.visible_id(username or "admin", model)
                values[arg] = pk or MISSING_ID
            elif arg == "action":
                values[arg] = self.action_of(route)
            elif arg == "filename" and route.endpoint.endswith("static"):
                values[arg] = "js/ab_actions.js" if route.endpoint == "appbuilder.static" else "missing.js"
            elif arg in self.fixed:
                values[arg] = self.fixed[arg]
            else:
                raise AssertionError(f"{route.rule}: no value for <{arg}>; add one to Targets.fixed")
        out = route.rule
        for arg, value in values.items():
            out = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(value), out)
        return out


# --- the database's size ----------------------------------------------------------------------------

def row_counts(app) -> dict[str, int]:
    """Rows of every table, in one statement (the audit table included)."""
    from app.extensions import db

    with app.app_context():
        names = sorted(db.metadata.tables)
        query = " UNION ALL ".join(f"SELECT '{n}', COUNT(*) FROM \"{n}\"" for n in names)
        try:
            return dict(db.session.execute(text(query)).all())
        finally:
            db.session.rollback()
            db.session.remove()


class RowCounts:
    """row_counts(app), read again only when a write may have happened since the last reading.

    The mark: SQLite's `PRAGMA data_version` on a connection of our own (it changes with every commit
    of any other connection), PostgreSQL's WAL insert position (every inserted or deleted row of a
    logged table moves it). While the mark stands still no row was added or removed anywhere, so the
    last counts are still exact; when it moved, the tables are counted again. A crawl of thousands of
    requests then counts the tables only after the few that wrote something."""

    def __init__(self, app):
        self.app = app
        self._last = None
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        if url.startswith("sqlite"):
            import sqlite3

            self._conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None,
                                         check_same_thread=False)
            self._mark_sql = "PRAGMA data_version"
        else:
            import psycopg
            from sqlalchemy.engine import make_url

            parsed = make_url(url)
            self._conn = psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                         dbname=parsed.database, autocommit=True)
            self._mark_sql = "SELECT pg_current_wal_insert_lsn()"

    def _mark(self):
        return self._conn.execute(self._mark_sql).fetchone()[0]

    def __call__(self) -> dict[str, int]:
        mark = self._mark()  # before counting: a write after it moves the next mark
        if self._last is None or self._last[0] != mark:
            self._last = (mark, row_counts(self.app))
        return self._last[1]

    def close(self):
        self._conn.close()


def audit_rows(app) -> int:
    from app.extensions import db
    from app.models import AuditLog

    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(AuditLog))
        finally:
            db.session.rollback()
            db.session.remove()


# --- clients ------------------------------------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token_of(page: str) -> str:
    found = CSRF_INPUT.search(page)
    assert found, "no csrf_token field on the page"
    return found.group(1) or found.group(2)


def browser_login(app, username: str, password: str):
    """A test client logged in the way a browser does: read the login form, send it with its token."""
    client = app.test_client()
    page = client.get(LOGIN).get_data(as_text=True)
    response = client.post(LOGIN, data={"username": username, "password": password,
                                        "csrf_token": csrf_token_of(page)})
    assert response.status_code == 302 and LOGIN not in response.headers["Location"], f"login of {username}"
    return client


def is_login_redirect(answer) -> bool:
    """Is this answer (a crawl's Answer or call()'s dict) a redirect to the login page?"""
    status, location = (answer["status"], answer["location"]) if isinstance(answer, dict) else \
        (answer.status, answer.location)
    return status in (301, 302, 303, 307, 308) and LOGIN in location


# --- one crawl of every GET, as every demo user and as nobody ---------------------------------------

# One demo user of each role (pm_staff has eng_staff's role: the scope test uses both).
USERS = ("admin", "cs_staff", "cs_manager", "eng_staff", "archivist", "gm", "auditor")


@dataclass
class Answer:
    username: str | None  # None: not logged in
    route: Route
    method: str
    url: str
    status: int
    location: str
    headers: dict
    changed: dict  # table -> (rows before, rows after), for tables whose row count changed
    body: str = ""  # HTML pages only (their scripts are checked against the CSP)
    denied: bool = False  # FAB's permission check refused it


def api_login(app, username: str, password: str):
    from tests.conftest import ApiClient

    client = app.test_client()
    response = client.post("/api/v1/security/login",
                           json={"username": username, "password": password, "provider": "db"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return ApiClient(client, response.get_json()["access_token"])


class _Denials(logging.Handler):
    """FAB logs each refusal of its permission check (`has_access`, `protect`) as a warning: that log
    line tells a permission refusal from a refusal by the domain (a 403 for a step not open to a role)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = []

    def emit(self, record):
        if record.msg == LOGMSG_ERR_SEC_ACCESS_DENIED:
            self.seen.append(record.args)


_denials = _Denials()
_fab_security_log = logging.getLogger("flask_appbuilder.security.decorators")
_fab_security_log.addHandler(_denials)


def call(client, method: str, url: str, **kwargs) -> dict:
    """One request; an exception the app let through (TESTING propagates them) counts as a 500.
    `denied`: FAB's permission check refused it."""
    _denials.seen.clear()
    _fab_security_log.disabled = False  # Alembic's logging.config (each migration run) disables it
    try:
        response = getattr(client, method)(url, **kwargs)
    except Exception as err:  # noqa: BLE001 - reported by the tests as a server error
        return dict(status=500, location=repr(err), headers={}, body="", denied=bool(_denials.seen))
    body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
    response.close()
    return dict(status=response.status_code, location=response.headers.get("Location", ""),
                headers=dict(response.headers), body=body, denied=bool(_denials.seen))


def crawl_gets(app, targets: Targets, password: str) -> list[Answer]:
    """Every GET route as every demo user (the session cookie for pages, the JWT for the API) and as
    nobody, checking after each answer that no table gained or lost a row."""
    answers = []
    every = [r for r in routes(app) if "GET" in r.methods]  # /logout/ too: a GET only asks
    counts = RowCounts(app)
    try:
        for username in (*USERS, None):
            page_client = browser_login(app, username, password) if username else app.test_client()
            api_client = api_login(app, username, password) if username else app.test_client()
            before = counts()
            for route in every:
                url = targets.url(route, username)
                client = api_client if route.is_api else page_client
                answer = call(client, "get", url)
                after = counts()
                answer.update(changed={t: (before[t], after[t]) for t in after if after[t] != before.get(t)})
                answers.append(Answer(username, route, "GET", url, **answer))
                before = after
    finally:
        counts.close()
    return answers
