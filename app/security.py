"""Roles and permissions, declared once here and applied by `flask --app run roles sync`.

Each role maps view names to the FAB permissions it holds there. `*` stands for every view that
offers the permission. Admin holds everything. The sync makes each role's permissions exactly this
table: permissions added by hand in the UI are removed again.
"""

from __future__ import annotations

import secrets

from flask import current_app, flash, g, has_request_context, redirect, request, session
from flask_appbuilder.actions import action
from flask_appbuilder.api import safe
from flask_appbuilder.const import API_SECURITY_ACCESS_TOKEN_KEY, API_SECURITY_REFRESH_TOKEN_KEY
from flask_appbuilder.security.api import SecurityApi as FabSecurityApi
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.utils import is_null_password
from flask_appbuilder.security.views import AuthDBView, UserDBModelView
from flask_appbuilder.views import expose
from flask_babel import gettext, lazy_gettext
from flask_jwt_extended import create_access_token, create_refresh_token, get_jwt, jwt_required
from flask_login import current_user, logout_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.security import check_password_hash

from app.audit import utcnow
from app.domain.privacy import REVEAL_PERMISSION
from app.domain.roles import (
    ADMIN,
    ARCHIVIST,
    AUDITOR,
    CS_MANAGER,
    CS_STAFF,
    DEPARTMENT_STAFF,
    GENERAL_MANAGER,
)
from app.views import security_pages

READ_VIEW = ("can_list", "can_show")
WRITE_VIEW = READ_VIEW + ("can_add", "can_edit", "can_delete")
READ_API = ("can_get", "can_info")
WRITE_API = READ_API + ("can_post", "can_put", "can_delete")

# Every logged-in user: own profile, own password, the home page and the menu.
SELF_SERVICE = {
    "UserDBModelView": ("can_userinfo", "resetmypassword"),
    "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
    "MenuApi": ("can_get",),
    "LocaleView": ("can_index",),
    "VerifyView": ("can_index",),  # a QR code on a printed form opens it, for whoever holds the paper
}

PROPERTY_READ = {
    "ProjectView": READ_VIEW, "BuildingView": READ_VIEW, "UnitView": READ_VIEW,
    "ProjectApi": READ_API, "BuildingApi": READ_API, "UnitApi": READ_API,
}
PROPERTY_WRITE = {
    "ProjectView": WRITE_VIEW, "BuildingView": WRITE_VIEW, "UnitView": WRITE_VIEW,
    "ProjectApi": WRITE_API, "BuildingApi": WRITE_API, "UnitApi": WRITE_API,
}
CUSTOMER_READ = {
    "CustomerView": READ_VIEW + ("can_export",), "CustomerUnitView": READ_VIEW,
    "CustomerApi": READ_API, "CustomerUnitApi": READ_API,
}
CUSTOMER_WRITE = {
    "CustomerView": WRITE_VIEW + ("can_export",), "CustomerUnitView": WRITE_VIEW,
    "CustomerApi": WRITE_API, "CustomerUnitApi": WRITE_API,
    "CustomerImportView": ("can_index",),  # importing adds customers: only roles that may add them
}
COMPLAINT_WORK = {  # receive and move complaints (the domain decides which steps each role may take)
    "ComplaintView": READ_VIEW + ("can_add", "can_transition", "can_export"),
    "ComplaintApi": READ_API + ("can_post", "can_transition"),
    "MyWorkView": ("can_index",),
    "ApprovalView": READ_VIEW, "ApprovalApi": READ_API,
    "CaseEntryView": READ_VIEW, "CaseEntryApi": READ_API,
}
DEPARTMENT_WORK = {  # only complaints assigned to their department (scope), only the department's steps
    "ComplaintView": READ_VIEW + ("can_transition",),
    "ComplaintApi": READ_API + ("can_transition",),
    "MyWorkView": ("can_index",),
    "CaseEntryView": READ_VIEW, "CaseEntryApi": READ_API,
}
COMPLAINT_READ = {
    "ComplaintView": READ_VIEW, "ComplaintApi": READ_API, "CaseEntryView": READ_VIEW, "CaseEntryApi": READ_API,
}
STATISTICS = {"ComplaintStatsView": ("can_index",), "ComplaintApi": ("can_stats",)}
CASE_LIBRARY_WRITE = {"CaseEntryView": WRITE_VIEW, "CaseEntryApi": WRITE_API}
GM_APPROVALS = {"ApprovalView": READ_VIEW + ("can_decide",), "ApprovalApi": READ_API + ("can_decide",),
                "MyWorkView": ("can_index",)}
CALENDAR_READ = {"CalendarDayView": READ_VIEW}
MY_WORK = {"MyWorkView": ("can_index",)}  # what waits for them (loans to lend, files overdue back)
REVEAL = {REVEAL_PERMISSION[1]: (REVEAL_PERMISSION[0],)}
DEPARTMENT_READ = {"DepartmentView": READ_VIEW, "DepartmentApi": READ_API}
AUDIT_LOG = {"AuditLogView": READ_VIEW}
VISIT_READ = {
    "VisitView": READ_VIEW, "VisitApi": READ_API, "RectificationView": READ_VIEW, "RectificationApi": READ_API,
    "ReturnVisitView": READ_VIEW, "ReturnVisitApi": READ_API, "VisitSummaryView": READ_VIEW, "VisitSummaryApi": READ_API,
}
VISIT_WORK = {  # plan and record visits, rectifications and return visits (the domain decides each step)
    "VisitView": READ_VIEW + ("can_add", "can_transition", "can_print"),
    "VisitApi": READ_API + ("can_post", "can_transition", "can_print"),
    "RectificationView": READ_VIEW + ("can_transition",), "RectificationApi": READ_API + ("can_transition",),
    "ReturnVisitView": READ_VIEW + ("can_record", "can_print", "can_schedule"),
    "ReturnVisitApi": READ_API + ("can_record", "can_print", "can_schedule"),
    "VisitSummaryView": READ_VIEW, "VisitSummaryApi": READ_API,
}
VISIT_SUMMARY_WRITE = {  # the manager drafts, edits and submits the summary to the general manager
    "VisitSummaryView": READ_VIEW + ("can_add", "can_edit", "can_submit", "can_case"),
    "VisitSummaryApi": READ_API + ("can_post", "can_put", "can_submit", "can_case"),
}
RECTIFICATION_WORK = {  # department staff: only their department's items (scope), only their steps
    "RectificationView": READ_VIEW + ("can_transition",), "RectificationApi": READ_API + ("can_transition",),
}
ARCHIVE_READ = {"ArchiveRecordView": READ_VIEW + ("can_download",), "ArchiveApi": READ_API + ("can_file",)}
PRINT_COMPLAINT_FORMS = {"PrintView": ("can_complaint", "can_blank"), "ComplaintApi": ("can_print",)}
PRINT_LEDGER = {"PrintView": ("can_ledger",)}
LENDING_READ = {"ArchiveLoanView": READ_VIEW, "ArchiveLoanApi": READ_API}
LENDING_REGISTER = {  # the archivist registers; a loan outside also needs the general manager (approvals)
    "ArchiveLoanView": READ_VIEW + ("can_add", "can_lend", "can_return"),
    "ArchiveLoanApi": READ_API + ("can_post", "can_lend", "can_return"),
    "PrintView": ("can_register",),
}
EVERYTHING_READ = {"*": READ_VIEW + READ_API + ("can_export",)}
CLUB_WORK = {  # members, points, activities and attendance (the domain decides each step)
    "MemberApi": READ_API + ("can_post", "can_transition", "can_points", "can_print"),
    "ClubActivityApi": READ_API + ("can_post", "can_transition", "can_attend"),
    "ClubPlanApi": READ_API,
}
CLUB_PLAN_WRITE = {"ClubPlanApi": READ_API + ("can_post", "can_transition")}  # the manager drafts and submits

ROLE_PERMISSIONS: dict[str, list[dict[str, tuple[str, ...]]]] = {
    CS_STAFF: [SELF_SERVICE, PROPERTY_WRITE, CUSTOMER_WRITE, REVEAL, DEPARTMENT_READ, COMPLAINT_WORK,
               CALENDAR_READ, ARCHIVE_READ, PRINT_COMPLAINT_FORMS, VISIT_WORK, CLUB_WORK],
    CS_MANAGER: [SELF_SERVICE, PROPERTY_WRITE, CUSTOMER_WRITE, REVEAL, DEPARTMENT_READ, COMPLAINT_WORK,
                 STATISTICS, CASE_LIBRARY_WRITE, CALENDAR_READ, ARCHIVE_READ, PRINT_COMPLAINT_FORMS, PRINT_LEDGER,
                 LENDING_READ, VISIT_WORK, VISIT_SUMMARY_WRITE, CLUB_WORK, CLUB_PLAN_WRITE],
    DEPARTMENT_STAFF: [SELF_SERVICE, PROPERTY_READ, DEPARTMENT_READ, DEPARTMENT_WORK, CALENDAR_READ,
                       RECTIFICATION_WORK],
    ARCHIVIST: [SELF_SERVICE, PROPERTY_READ, CUSTOMER_READ, DEPARTMENT_READ, COMPLAINT_READ, ARCHIVE_READ,
                LENDING_REGISTER, MY_WORK],
    GENERAL_MANAGER: [SELF_SERVICE, PROPERTY_READ, CUSTOMER_READ, REVEAL, DEPARTMENT_READ, COMPLAINT_READ,
                      STATISTICS, GM_APPROVALS, CALENDAR_READ, ARCHIVE_READ, PRINT_LEDGER, LENDING_READ, VISIT_READ,
                      CLUB_WORK],
    AUDITOR: [SELF_SERVICE, EVERYTHING_READ, AUDIT_LOG, STATISTICS, ARCHIVE_READ],
}
ALL_ROLES = (ADMIN, CS_STAFF, CS_MANAGER, DEPARTMENT_STAFF, ARCHIVIST, GENERAL_MANAGER, AUDITOR)

# Menus each role sees: a role sees a menu entry when it may list that view (added by the sync).
MENU_OF_VIEW: dict[str, str] = {}  # view class name -> menu name, filled when views are registered


# --- logins and API tokens (app.domain.logins keeps the state in the database) -----------------

LOCKED_MESSAGE = lazy_gettext(
    "This account is locked after too many failed logins. Try again later or ask an administrator to unlock it.")
WRONG_LOGIN_MESSAGE = lazy_gettext("Wrong username or password.")
TOKEN_ENDED_MESSAGE = lazy_gettext("This login has ended (logged out, password changed or account deactivated). "
                                   "Please log in again.")
TOKEN_EXPIRED_MESSAGE = lazy_gettext("This login has expired. Please log in again.")
TOKEN_MISSING_MESSAGE = lazy_gettext("Please log in: send the access token in the Authorization header (Bearer …).")
TOKEN_INVALID_MESSAGE = lazy_gettext("The access token is not valid. Please log in again.")


def _refusal(status: int, message):
    from flask import jsonify

    return jsonify(message=str(message)), status


class KefuAuthDBView(AuthDBView):
    """FAB's login form; a locked account is told so (whatever password was typed)."""

    @property
    def invalid_login_message(self):
        return LOCKED_MESSAGE if g.get("kefu_login_locked") else super().invalid_login_message

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        """Logging out ends the session on the server, so it is a POST with the CSRF token (the navbar's
        form; CSRFProtect checks it): a GET — a bookmark, or another site's link — only asks."""
        if request.method == "POST" or not current_user.is_authenticated:
            return super().logout()
        return self.render_template("kefu/logout.html")


class KefuUserDBModelView(UserDBModelView):
    """FAB's user views for the Admin, with an action that ends a login lock."""

    label_columns = {**UserDBModelView.label_columns, **security_pages.USER_LABELS}
    description_columns = {**UserDBModelView.description_columns, **security_pages.USER_DESCRIPTIONS}

    @action("unlock_login", lazy_gettext("Unlock login"), lazy_gettext("Unlock the login of the selected users?"),
            "fa-unlock", multiple=True, single=True)
    def unlock_login(self, items):
        from app.domain import logins

        sm = self.appbuilder.sm
        for user in items if isinstance(items, list) else [items]:
            logins.unlock(sm.session, sm.current_user, user)
        sm.session.commit()
        flash(gettext("Login unlocked."), "info")
        return redirect(request.referrer or self.get_redirect())


class SecurityApi(FabSecurityApi):
    """FAB's security API (same name: endpoints `SecurityApi.*` and its permissions stay) with answers in the user's language, tokens that carry their generation and
    login family (so they can end), and a logout."""

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Log in and get a JWT access token (and a refresh token)
        ---
        post:
          description: >-
            Authenticate and get a JWT access and, with refresh, a refresh token
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    username:
                      type: string
                    password:
                      type: string
                    provider:
                      type: string
                      enum:
                      - db
                    refresh:
                      type: boolean
          responses:
            200:
              description: Authentication Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
                      refresh_token:
                        type: string
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many attempts from this address
        """
        try:
            payload = login_post.load(request.get_json(silent=True))
        except ValidationError:
            return _refusal(400, lazy_gettext("Send a JSON object with username and password."))
        user = self.appbuilder.sm.auth_user_db(payload["username"], payload["password"])
        if not user:
            return _refusal(401, LOCKED_MESSAGE if g.get("kefu_login_locked") else WRONG_LOGIN_MESSAGE)
        return self.response(200, **issue_tokens(user.id, refresh=bool(payload.get("refresh"))))

    @expose("/refresh", methods=["POST"])
    @jwt_required(refresh=True)
    @safe
    def refresh(self):
        """Get a new access token with the refresh token
        ---
        post:
          description: >-
            Use the refresh token to get a new JWT access token
          responses:
            200:
              description: Refresh Successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token:
                        type: string
            401:
              $ref: '#/components/responses/401'
          security:
            - jwt_refresh: []
        """
        claims = get_jwt()
        return self.response(200, **issue_tokens(int(claims["sub"]), refresh=False, family=claims.get("fam")))

    @expose("/logout", methods=["POST"])
    @jwt_required(verify_type=False)
    @safe
    def logout(self):
        """End this login: the token (and the refresh token of the same login) no longer work
        ---
        post:
          description: >-
            Revoke the access or refresh token sent, and every token of the same login
          responses:
            200:
              description: Logged out
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      message:
                        type: string
            401:
              $ref: '#/components/responses/401'
          security:
            - jwt: []
        """
        from app.domain import logins

        logins.revoke_token(self.appbuilder.sm.session, get_jwt())
        return self.response(200, message=gettext("Logged out."))


def issue_tokens(user_id: int, refresh: bool, family: str | None = None) -> dict:
    from app.domain import logins

    claims = {"gen": logins.token_generation(current_app.appbuilder.sm.session, user_id),
              "fam": family or secrets.token_hex(16)}
    # fresh: typed a password just now (FAB's login), not renewed by a refresh token
    tokens = {API_SECURITY_ACCESS_TOKEN_KEY: create_access_token(str(user_id), fresh=family is None,
                                                                 additional_claims=claims)}
    if refresh:
        tokens[API_SECURITY_REFRESH_TOKEN_KEY] = create_refresh_token(str(user_id), additional_claims=claims)
    return tokens


class KefuSecurityManager(SecurityManager):
    """FAB's security manager, with each user's permissions read once per request, logins that lock
    after repeated failures on every worker, and API tokens that end.

    FAB asks the database once per permission check, and a page checks a dozen (menu, buttons):
    measured, 23 statements per list page became 8 (docs/benchmarks.md)."""

    authdbview = KefuAuthDBView
    userdbmodelview = KefuUserDBModelView
    # FAB's other security pages in Chinese (same names: endpoints and permissions unchanged)
    rolemodelview = security_pages.RoleModelView
    groupmodelview = security_pages.UserGroupModelView
    permissionmodelview = security_pages.PermissionModelView
    viewmenumodelview = security_pages.ViewMenuModelView
    permissionviewmodelview = security_pages.PermissionViewModelView
    userstatschartview = security_pages.UserStatsChartView
    security_api = SecurityApi

    def auth_user_db(self, username, password):
        """FAB's check, with the account lock of app.domain.logins around it (FAB's own count of
        failures is a read-modify-write per process: it loses increments between workers)."""
        from app.domain import logins

        g.kefu_login_locked = False
        if not username or is_null_password(password):
            return None
        user = self.find_user(username=username) or self.find_user(email=username)
        if user is None or not user.is_active:
            check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], "password")  # same time
            return None
        via = "api" if request.path.startswith("/api/") else "form"
        if logins.locked_until(self.session, user.id):
            logins.login_refused(self.session, user, request.remote_addr, via)
            g.kefu_login_locked = True
            return None
        if not check_password_hash(user.password, password):
            g.kefu_login_locked = logins.login_failed(self.session, user, request.remote_addr, via)
            return None
        if not logins.login_succeeded(self.session, user):  # locked by a concurrent failure meanwhile
            self.session.rollback()
            logins.login_refused(self.session, user, request.remote_addr, via)
            g.kefu_login_locked = True
            return None
        self.update_user_auth_stat(user, True)  # FAB's bookkeeping; commits our reset too
        return user

    def create_jwt_manager(self, app):
        """FAB's JWT manager; every token is checked against its account's generation and the logouts,
        and an ended or expired token is refused in the user's language."""
        from app.domain import logins

        jwt_manager = super().create_jwt_manager(app)
        jwt_manager.token_in_blocklist_loader(lambda _header, payload: logins.token_revoked(self.session, payload))
        jwt_manager.revoked_token_loader(lambda _header, _payload: _refusal(401, TOKEN_ENDED_MESSAGE))
        jwt_manager.expired_token_loader(lambda _header, _payload: _refusal(401, TOKEN_EXPIRED_MESSAGE))
        jwt_manager.user_lookup_error_loader(lambda _header, _payload: _refusal(401, TOKEN_ENDED_MESSAGE))
        # flask_jwt_extended answers these in English ({"msg": "Missing Authorization Header"}, 401/422).
        jwt_manager.unauthorized_loader(lambda _reason: _refusal(401, TOKEN_MISSING_MESSAGE))
        jwt_manager.invalid_token_loader(lambda _reason: _refusal(401, TOKEN_INVALID_MESSAGE))
        jwt_manager.token_verification_failed_loader(lambda _header, _payload: _refusal(401, TOKEN_INVALID_MESSAGE))
        return jwt_manager

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        if not has_request_context():
            return super()._has_view_access(user, permission_name, view_name)
        cached = g.get("kefu_permissions")
        if cached is None or cached[0] != getattr(user, "id", None):
            cached = g.kefu_permissions = (getattr(user, "id", None), self.get_user_permissions(user))
        return (permission_name, view_name) in cached[1]

    def get_role_permissions(self, role) -> set[tuple[str, str]]:
        """The role's (permission, view) names in one query of plain rows: FAB loads every granted
        permission as three ORM objects, a few hundred per request (measured with `make bench`)."""
        if role.name in self.builtin_roles:
            return super().get_role_permissions(role)
        granted = (select(self.permission_model.name, self.viewmenu_model.name)
                   .select_from(self.permissionview_model)
                   .join(self.permissionview_model.permission).join(self.permissionview_model.view_menu)
                   .join(self.permissionview_model.role).where(self.role_model.id == role.id))
        return {(permission, view) for permission, view in self.session.execute(granted)}


# --- roles sync -----------------------------------------------------------------------------

def sync_roles(appbuilder) -> dict[str, int]:
    """Create the roles and give each exactly the permissions of ROLE_PERMISSIONS. Returns counts."""
    sm = appbuilder.sm
    for role_name in ALL_ROLES:  # first: FAB grants every new permission to Admin, which must exist
        if sm.find_role(role_name) is None:
            sm.add_role(role_name)
    appbuilder.add_permissions(update_perms=True)
    sm.add_permission_view_menu(*REVEAL_PERMISSION)
    all_pvms = sm.session.query(sm.permissionview_model).all()
    by_view: dict[str, dict[str, object]] = {}
    for pvm in all_pvms:
        if pvm.view_menu and pvm.permission:
            by_view.setdefault(pvm.view_menu.name, {})[pvm.permission.name] = pvm

    counts = {}
    for role_name in ALL_ROLES:
        role = sm.find_role(role_name)
        if role_name == ADMIN:
            wanted = set(all_pvms)
        else:
            wanted = set()
            for grant in ROLE_PERMISSIONS[role_name]:
                for view, perms in grant.items():
                    views = by_view if view == "*" else {view: by_view.get(view, {})}
                    for view_name, available in views.items():
                        for perm in perms:
                            if perm in available:
                                wanted.add(available[perm])
                                menu = MENU_OF_VIEW.get(view_name)
                                if perm in ("can_list", "can_get", "can_index") and menu:
                                    wanted.update(_menu_access(by_view, menu))
        role.permissions = sorted(wanted, key=lambda p: p.id)
        counts[role_name] = len(wanted)
    sm.session.commit()
    return counts


def _menu_access(by_view, menu_name):
    found = []
    for name in (menu_name, *CATEGORY_OF_MENU.get(menu_name, ())):
        pvm = by_view.get(name, {}).get("menu_access")
        if pvm is not None:
            found.append(pvm)
    return found


CATEGORY_OF_MENU: dict[str, tuple[str, ...]] = {}  # menu name -> (its category,)


# --- server-side sessions -------------------------------------------------------------------

SESSION_KEY = "_kefu_sid"


def on_login(_app, user) -> None:
    from app.extensions import db
    from app.models import LoginSession

    sid = secrets.token_hex(32)
    db.session.add(LoginSession(sid=sid, user_id=user.id, started_at=utcnow()))
    db.session.commit()
    session[SESSION_KEY] = sid
    session.permanent = True  # the idle timeout (PERMANENT_SESSION_LIFETIME) applies


def on_logout(_app, user) -> None:
    from app.extensions import db
    from app.models import LoginSession

    sid = session.pop(SESSION_KEY, None)
    if sid:
        db.session.query(LoginSession).filter_by(sid=sid, ended_at=None).update({"ended_at": utcnow()})
        db.session.commit()


def end_dead_sessions() -> None:
    """before_request: a cookie whose server-side session ended (logout) no longer logs anyone in."""
    if not current_user.is_authenticated:
        return
    from app.extensions import db
    from app.models import LoginSession

    sid = session.get(SESSION_KEY)
    alive = sid and db.session.query(LoginSession.id).filter_by(sid=sid, ended_at=None).first()
    if not alive:
        logout_user()
        session.clear()
    current_app.logger.debug("session checked")
