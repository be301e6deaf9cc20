"""Flask-AppBuilder's security pages (users, roles, groups, permissions, views and menus, user
statistics) in Chinese: the same views under the same names (so endpoints and permission names stay
what `roles sync` declares), with Chinese labels and every permission, view and menu named in words
rather than by its code (`can_list on CustomerView` → «列表：客户列表»).

Imported by app.security (the security manager names these classes); imports nothing of app.views.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context
from flask_appbuilder.api import BaseApi
from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu
from flask_appbuilder.security.views import PermissionModelView as FabPermissionModelView
from flask_appbuilder.security.views import PermissionViewModelView as FabPermissionViewModelView
from flask_appbuilder.security.views import RoleModelView as FabRoleModelView
from flask_appbuilder.security.views import UserGroupModelView as FabUserGroupModelView
from flask_appbuilder.security.views import UserStatsChartView as FabUserStatsChartView
from flask_appbuilder.security.views import ViewMenuModelView as FabViewMenuModelView
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.domain.roles import ROLE_LABELS

PERMISSIONS = {
    "can_list": _l("List"), "can_show": _l("View"), "can_add": _l("Add"), "can_edit": _l("Edit"),
    "can_delete": _l("Delete"), "can_download": _l("Download"), "can_export": _l("Export"),
    "can_get": _l("Read (API)"), "can_post": _l("Create (API)"), "can_put": _l("Change (API)"),
    "can_info": _l("Describe (API)"), "can_this_form_get": _l("Open the form"),
    "can_this_form_post": _l("Send the form"), "can_userinfo": _l("Own user information"),
    "resetmypassword": _l("Reset own password"), "resetpasswords": _l("Reset passwords"),
    "unlock_login": _l("Unlock login"), "userinfoedit": _l("Edit own user information"),
    "copyrole": _l("Copy role"), "can_chart": _l("Chart"), "can_update_role_users": _l("Change a role's users"),
    "can_add_role_permissions": _l("Add a role's permissions"), "can_update_role_groups": _l("Change a role's groups"),
    "can_list_role_permissions": _l("List a role's permissions"), "can_transition": _l("Take a step"),
    "can_index": _l("Open"), "can_decide": _l("Decide"), "can_stats": _l("Statistics"), "can_print": _l("Print forms"),
    "can_lend": _l("Lend out"), "can_return": _l("Register the return"), "can_complaint": _l("Print a complaint"),
    "can_ledger": _l("Print the ledger"), "can_blank": _l("Print a blank form"), "can_register": _l("Register"),
    "can_file": _l("Open the file"), "can_record": _l("Record"), "can_schedule": _l("Schedule"),
    "can_submit": _l("Submit"), "can_case": _l("Make a case"), "menu_access": _l("Menu"),
    "can_reveal": _l("Reveal"), "can_attend": _l("Take attendance"), "can_points": _l("Points"),
    "can_card": _l("Print a member card"), "can_figures": _l("Monthly figures"),
}

# Views that have no page title of their own (FAB's and ours), by their permission name.
VIEWS = {
    "KefuIndexView": _l("Home page"), "UtilView": _l("Navigation"), "LocaleView": _l("Language"),
    "SecurityApi": _l("Login (API)"), "KefuAuthDBView": _l("Login"), "UserInfoEditView": _l("Own user information"),
    "ResetPasswordView": _l("Reset passwords"), "ResetMyPasswordView": _l("Reset own password"),
    "Permission": _l("Permissions (API)"), "Role": _l("Roles (API)"), "User": _l("Users (API)"),
    "ViewMenu": _l("Views and menus (API)"), "PermissionViewMenu": _l("Permissions on views (API)"),
    "Group": _l("Groups (API)"), "OpenApi": _l("API description"), "SwaggerView": _l("API description page"),
    "MenuApi": _l("Menu (API)"), "PersonalData": _l("Personal data"), "PrintView": _l("Printing"),
    "VerifyView": _l("Verify a printed form"), "MyWorkView": _l("My work"),
    "ComplaintStatsView": _l("Complaint statistics"), "CustomerImportView": _l("Import customers"),
}


def permission_label(name: str) -> str:
    return str(PERMISSIONS.get(name, name))


def view_label(name: str) -> str:
    """A view by its page title (an API by its resource), a menu by its translated name (looked up once
    per request: a role's form names some 400 permissions)."""
    if not has_request_context():
        return _view_label(name)
    known = g.setdefault("kefu_view_labels", {})
    if name not in known:
        known[name] = _view_label(name)
    return known[name]


def _view_label(name: str) -> str:
    if name in VIEWS:
        return str(VIEWS[name])
    for view in current_app.appbuilder.baseviews:
        if getattr(view, "class_permission_name", None) == name:
            if isinstance(view, BaseApi):  # FAB makes up an English list title for an API
                return gettext("%(resource)s (API)", resource=_resource_label(view.resource_name))
            title = getattr(view, "list_title", None) or getattr(view, "chart_title", None)
            if title:
                return str(title)
    return _menu_label(name) or gettext(name)


def _menu_label(name: str) -> str | None:
    """A menu entry or category by the label the menu shows."""
    stack = list(current_app.appbuilder.menu.get_list()) if current_app.appbuilder.menu else []
    while stack:
        item = stack.pop()
        if item.name == name:
            return str(item.label or name)
        stack.extend(item.childs or ())
    return None


def _resource_label(resource: str) -> str:
    from app.labels import TABLES

    return str(TABLES.get(resource) or TABLES.get(f"{resource}_record", resource))


def role_label(name: str) -> str:
    return str(ROLE_LABELS.get(name, name))


# Wherever FAB prints one of its records (a role's permissions, a permission's choices), in words.
Permission.__str__ = lambda self: permission_label(self.name)
ViewMenu.__str__ = lambda self: view_label(self.name)
PermissionView.__str__ = lambda self: f"{permission_label(self.permission.name)}：{view_label(self.view_menu.name)}"


class RoleModelView(FabRoleModelView):
    label_columns = {"name": _l("Name"), "permissions": _l("Permissions"), "user": _l("Users"), "groups": _l("Groups")}
    formatters_columns = {"name": role_label}


class UserGroupModelView(FabUserGroupModelView):
    label_columns = {"name": _l("Name"), "label": _l("Display name"), "description": _l("Description"),
                     "users": _l("Users"), "roles": _l("Roles")}


class PermissionModelView(FabPermissionModelView):
    formatters_columns = {"name": permission_label}


class ViewMenuModelView(FabViewMenuModelView):
    formatters_columns = {"name": view_label}


class PermissionViewModelView(FabPermissionViewModelView):
    label_columns = {"permission": _l("Permission"), "view_menu": _l("View or menu"), "role": _l("Roles")}


class UserStatsChartView(FabUserStatsChartView):
    label_columns = {"username": _l("Login name"), "first_name": _l("Family name"), "last_name": _l("Given name"),
                     "email": _l("E-mail"), "active": _l("Active"), "created_on": _l("Created at"),
                     "changed_on": _l("Updated at"), "last_login": _l("Last login"),
                     "login_count": _l("Logins"), "fail_login_count": _l("Failed logins"),
                     "roles": _l("Roles"), "groups": _l("Groups")}
    definitions = [{"label": _l("Logins"), "group": "username", "series": ["login_count"]},
                   {"label": _l("Failed logins"), "group": "username", "series": ["fail_login_count"]}]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # FAB's chart sets a series' label to its prettified column name and the group's to the last
        # chart's label ("Login Count", «登录失败次数» over the login names): back to the words above.
        for column in ("username", "login_count", "fail_login_count"):
            self.label_columns[column] = USER_LABELS[column]


# The user pages' descriptions without FAB's LDAP and OpenID notes (Kefu logs in against its database).
USER_DESCRIPTIONS = {
    "first_name": _l("The family name (a Chinese name reads family name first)"),
    "last_name": _l("The given name"),
    "username": _l("The name to log in with"),
    "email": _l("The user's e-mail address"),
    "roles": _l("The user's role decides what the user may do"),
    "groups": _l("Groups give the user the roles of the group"),
}
USER_LABELS = {"first_name": _l("Family name"), "last_name": _l("Given name"), "username": _l("Login name"),
               "email": _l("E-mail"), "active": _l("Active"), "roles": _l("Roles"), "groups": _l("Groups"),
               "created_on": _l("Created at"), "changed_on": _l("Updated at"), "last_login": _l("Last login"),
               "login_count": _l("Logins"), "fail_login_count": _l("Failed logins")}
