"""The searchable audit log (Auditors and Admins). Read-only: there is no add, edit or delete."""

from flask_appbuilder import ModelView
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from app.labels import AUDIT, AUDIT_ACTIONS
from app.models import AuditLog

from .base import CappedListMixin, KefuInterface, china_time


class AuditLogView(CappedListMixin, ModelView):
    datamodel = KefuInterface(AuditLog)
    route_base = "/auditlog"
    list_template = "kefu/list.html"
    list_title = _l("Audit log")
    show_title = _l("Audit row")
    label_columns = AUDIT
    base_permissions = ["can_list", "can_show"]
    list_columns = ["seq", "at", "actor_name", "table_name", "record_id", "action", "changes"]
    show_columns = ["seq", "at", "actor_id", "actor_name", "table_name", "record_id", "action", "changes",
                    "prev_hash", "hash"]
    search_columns = ["actor_name", "table_name", "record_id", "action", "at", "changes"]
    search_form_extra_fields = {"action": SelectField(_l("Action"), choices=list(AUDIT_ACTIONS.items()))}
    order_columns = ["seq", "at"]
    base_order = ("seq", "desc")
    formatters_columns = {"action": lambda code: AUDIT_ACTIONS.get(code, code),
                          "at": lambda value: china_time(value, seconds=True)}  # stored in UTC
    page_size = 50
