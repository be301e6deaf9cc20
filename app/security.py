"""Roles and permissions, declared once here and applied by `flask --app run roles sync`.

Each role maps view names to the FAB permissions it holds there. `*` stands for every view that
offers the permission. Admin holds everything. The sync makes each role's permissions exactly this
table: permissions added by hand in the UI are removed again.
"""

from __future__ import annotations

import secrets

from flask import current_app, g, has_request_context, session
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_login import current_user, logout_user
from sqlalchemy import select

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

ROLE_PERMISSIONS: dict[str, list[dict[str, tuple[str, ...]]]] = {
    CS_STAFF: [SELF_SERVICE, PROPERTY_WRITE, CUSTOMER_WRITE, REVEAL, DEPARTMENT_READ, COMPLAINT_WORK,
               CALENDAR_READ, ARCHIVE_READ, PRINT_COMPLAINT_FORMS, VISIT_WORK],
    CS_MANAGER: [SELF_SERVICE, PROPERTY_WRITE, CUSTOMER_WRITE, REVEAL, DEPARTMENT_READ, COMPLAINT_WORK,
                 STATISTICS, CASE_LIBRARY_WRITE, CALENDAR_READ, ARCHIVE_READ, PRINT_COMPLAINT_FORMS, PRINT_LEDGER,
                 LENDING_READ, VISIT_WORK, VISIT_SUMMARY_WRITE],
    DEPARTMENT_STAFF: [SELF_SERVICE, PROPERTY_READ, DEPARTMENT_READ, DEPARTMENT_WORK, CALENDAR_READ,
                       RECTIFICATION_WORK],
    ARCHIVIST: [SELF_SERVICE, PROPERTY_READ, CUSTOMER_READ, DEPARTMENT_READ, COMPLAINT_READ, ARCHIVE_READ,
                LENDING_REGISTER],
    GENERAL_MANAGER: [SELF_SERVICE, PROPERTY_READ, CUSTOMER_READ, REVEAL, DEPARTMENT_READ, COMPLAINT_READ,
                      STATISTICS, GM_APPROVALS, CALENDAR_READ, ARCHIVE_READ, PRINT_LEDGER, LENDING_READ, VISIT_READ],
    AUDITOR: [SELF_SERVICE, EVERYTHING_READ, AUDIT_LOG, STATISTICS, ARCHIVE_READ],
}
ALL_ROLES = (ADMIN, CS_STAFF, CS_MANAGER, DEPARTMENT_STAFF, ARCHIVIST, GENERAL_MANAGER, AUDITOR)

# Menus each role sees: a role sees a menu entry when it may list that view (added by the sync).
MENU_OF_VIEW: dict[str, str] = {}  # view class name -> menu name, filled when views are registered


class KefuSecurityManager(SecurityManager):
    """FAB's security manager, with each user's permissions read once per request.

    FAB asks the database once per permission check, and a page checks a dozen (menu, buttons):
    measured, 23 statements per list page became 8 (docs/benchmarks.md)."""

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
