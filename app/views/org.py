"""Departments and each user's department (Admin)."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField

from app.labels import ORG
from app.models import Department, UserDepartment

from .base import DomainModelView, KefuInterface


class UserDepartmentView(DomainModelView):
    datamodel = KefuInterface(UserDepartment)
    route_base = "/userdepartment"
    list_title = _l("Staff and departments")
    show_title = _l("Staff member's department")
    add_title = _l("Assign a user to a department")
    edit_title = _l("Change the user's department")
    label_columns = ORG
    list_columns = ["user", "department", "post"]
    add_columns = ["user", "department", "post"]
    edit_columns = ["department", "post"]
    show_columns = ["user", "department", "post", "updated_at", "version"]
    search_columns = ["post"]


class DepartmentView(DomainModelView):
    datamodel = KefuInterface(Department)
    route_base = "/department"
    list_title = _l("Departments")
    show_title = _l("Department")
    add_title = _l("New department")
    edit_title = _l("Edit department")
    label_columns = ORG
    list_columns = ["code", "name", "is_customer_service"]
    add_columns = edit_columns = ["code", "name", "is_customer_service"]
    # FAB makes a NOT NULL boolean a required checkbox, which would refuse every unticked box.
    add_form_extra_fields = edit_form_extra_fields = {
        "is_customer_service": BooleanField(_l("Customer-service department"), default=False)}
    show_columns = ["code", "name", "is_customer_service", "updated_at", "version"]
    search_columns = ["code", "name"]
    related_views = [UserDepartmentView]
