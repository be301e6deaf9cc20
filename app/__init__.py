"""Kefu application factory."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_appbuilder import AppBuilder, IndexView, expose
from flask_login import user_logged_in, user_logged_out
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

BASE_DIR = Path(__file__).resolve().parent.parent
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class KefuSessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)


class KefuIndexView(IndexView):
    """The landing page: a greeting, then my-work (what waits for the user, overdue first)."""

    index_template = "kefu/index.html"

    @expose("/")
    def index(self):
        from app.views.work import landing_context

        self.update_redirect()
        return self.render_template(self.index_template, appbuilder=self.appbuilder, **landing_context())


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: safe against crashes, fewer fsyncs
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    """SQLite: a transaction that may write starts with BEGIN IMMEDIATE, so it holds the write lock
    from its first read and the audit chain head it reads cannot move under it. Reads of a safe HTTP
    request, or of a connection marked `execution_options(read_only=True)`, start deferred, so readers
    do not queue behind each other."""
    if conn.dialect.name == "sqlite":
        read_only = conn.get_execution_options().get("read_only") or (
            has_request_context() and request.method in SAFE_METHODS)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_app(config_object="config.Config") -> Flask:
    # FAB warns about its own user/role views' relation columns on every start: noise, not news.
    logging.getLogger("flask_appbuilder.models.filters").setLevel(logging.ERROR)
    app = Flask(__name__, template_folder=str(BASE_DIR / "templates"), static_folder=str(BASE_DIR / "app" / "static"))
    app.config.from_object(config_object)
    app.session_interface = KefuSessionInterface()
    app.json.ensure_ascii = False  # JSON answers carry Chinese as UTF-8, readable where they are shown raw

    from app import audit, errors, models, web_security  # noqa: F401  (models before AppBuilder: STACK.md)
    from app.domain import archive, archive_loans, cases, club, complaints, logins, records, visits, workflow  # noqa: F401 (the workflows declare themselves on import)
    from app.extensions import db, migrate

    web_security.install_csrf(app)  # before AppBuilder: FAB exempts its APIs as it registers them
    errors.install_fab_routes()  # before AppBuilder registers them: FAB routes that crashed check their address
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    records.install(Session)  # field rules and permanent records, on every session
    cases.install(Session)  # case-library entries carry no customer's name, phone or unit
    workflow.install(Session)  # a workflow record's state changes only through its steps (every workflow)
    audit.install(Session)  # the audit trail, on every session
    archive.install(Session)  # a printed file whose record does not commit is removed again
    logins.install(Session)  # a password change or deactivation ends the user's API tokens

    with app.app_context():
        appbuilder = AppBuilder(indexview=KefuIndexView, base_template="kefu/base.html")
        appbuilder.init_app(app, db.session)
        app.appbuilder = appbuilder
        from app.api import base as api_base
        from app.api import openapi, rison_schemas

        rison_schemas.install()
        api_base.install()  # no catalogue header as an empty `_info` description
        openapi.install()  # the OpenAPI document says what the API answers (schemathesis checks it)
        _register_views(appbuilder)
        _limit_api_login(app, appbuilder)

    audit.request_actor_resolver = _request_actor
    web_security.install(app)  # API writes need the JWT; security headers on every answer
    errors.install(app)  # bad input answers a 4xx in Chinese (JSON under /api/), never a 500
    _register_request_hooks(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _request_actor():
    if not has_request_context():
        return None
    user = current_app.appbuilder.sm.current_user
    return user if user is not None and getattr(user, "is_authenticated", True) and user.id else None


def _register_views(appbuilder: AppBuilder) -> None:
    from flask_babel import lazy_gettext as _l

    from app.api.resources import ALL_APIS
    from app.domain.roles import ROLE_LABELS
    from app.labels import AUDIT_ACTIONS
    from app.security import CATEGORY_OF_MENU, MENU_OF_VIEW
    from app.views.audit import AuditLogView
    from app.views.customers import CustomerUnitView, CustomerView
    from app.views.org import DepartmentView, UserDepartmentView
    from app.views.properties import BuildingView, ProjectView, UnitView

    menu = [
        (CustomerView, "Customers", _l("Customers"), "fa-address-book", "Customer service", _l("Customer service")),
        (ProjectView, "Projects", _l("Projects"), "fa-building", "Properties", _l("Properties")),
        (BuildingView, "Buildings", _l("Buildings"), "fa-building-o", "Properties", _l("Properties")),
        (UnitView, "Units", _l("Units"), "fa-home", "Properties", _l("Properties")),
        (DepartmentView, "Departments", _l("Departments"), "fa-sitemap", "Organisation", _l("Organisation")),
        (UserDepartmentView, "Staff", _l("Staff and departments"), "fa-users", "Organisation", _l("Organisation")),
        (AuditLogView, "Audit log", _l("Audit log"), "fa-shield", "Audit", _l("Audit")),
    ]
    for view, name, label, icon, category, category_label in menu:
        appbuilder.add_view(view, name, label=label, icon=icon, category=category, category_label=category_label)
        MENU_OF_VIEW[view.__name__] = name
        CATEGORY_OF_MENU[name] = (category,)
    appbuilder.add_view_no_menu(CustomerUnitView)
    for api in ALL_APIS:
        appbuilder.add_api(api)

    # Complaints, approvals, case library, calendar (issue 4): each module registers its own views.
    from app.api import archive as archive_apis
    from app.api import club as club_apis
    from app.api import complaints as complaint_apis
    from app.api import visits as visit_apis
    from app.views import archive as archive_views
    from app.views import calendar as calendar_views
    from app.views import complaints as complaint_views
    from app.views import imports as import_views
    from app.views import visits as visit_views
    from app.views import work as work_views

    for module in (complaint_views, work_views, calendar_views, complaint_apis, archive_views, archive_apis,
                   visit_views, visit_apis, import_views, club_apis):
        for view, name, category in module.register(appbuilder):
            MENU_OF_VIEW[view.__name__] = name
            CATEGORY_OF_MENU[name] = (category,) if category else ()

    app = current_app
    app.jinja_env.globals["audit_action_label"] = lambda code: AUDIT_ACTIONS.get(code, code)
    app.jinja_env.globals["role_label"] = lambda name: ROLE_LABELS.get(name, name)
    from app.views.base import shown

    app.jinja_env.finalize = shown  # no «None», «True», «False» on a page


def _limit_api_login(app: Flask, appbuilder: AppBuilder) -> None:
    """FAB limits only the HTML login form; failed API logins are limited here too (per address)."""
    limit = app.config.get("KEFU_API_LOGIN_RATE_LIMIT")
    endpoint = "SecurityApi.login"
    if limit and endpoint in app.view_functions:
        limiter = appbuilder.sm.limiter
        app.view_functions[endpoint] = limiter.limit(
            limit, deduct_when=lambda response: response.status_code != 200
        )(app.view_functions[endpoint])


def _register_request_hooks(app: Flask) -> None:
    from app.security import end_dead_sessions, on_login, on_logout

    user_logged_in.connect(on_login, app)
    user_logged_out.connect(on_logout, app)
    app.before_request(end_dead_sessions)
    app.register_error_handler(429, _too_many_requests)


def _too_many_requests(error):
    """The rate limit's refusal: JSON with a message under /api/, the error page (app.errors) elsewhere."""
    from flask_babel import gettext

    from app import errors

    message = gettext("Too many attempts. Please wait a moment and try again.")
    headers = {"Retry-After": str(error.retry_after)} if getattr(error, "retry_after", None) else {}
    return errors.answer(429, message, headers)
