"""The searchable audit log (Auditors and Admins), and the words of a recorded change: every field by
its label and every value as the record's own pages show it (a code by its label, a person by name, a
UTC bookkeeping time in China time), never the stored JSON with field codes. Read-only."""

from __future__ import annotations

import json
from datetime import datetime

from flask import current_app
from flask_appbuilder import ModelView
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import SelectField

from app import labels
from app.domain import workflow
from app.labels import AUDIT, AUDIT_ACTIONS
from app.models import AuditLog
from app.models.choices import VisitMethod

from .base import CappedListMixin, KefuInterface, china_time, person_by_login, user_names_by_id

# The bookkeeping columns stored in UTC (everything else is stored in China time).
UTC_COLUMNS = frozenset({"created_at", "updated_at", "requested_at", "decided_at", "at", "locked_until",
                         "last_login", "changed_on", "created_on"})


# Coded fields whose view shows them through a form's choices rather than a formatter.
FIELD_CHOICES = {"method": VisitMethod, "return_visit_method": VisitMethod}


def _all_labels() -> dict:
    """Every field label of app.labels, a fallback for a field no view of its table labels."""
    merged = {}
    for value in vars(labels).values():
        if isinstance(value, labels.MappingProxyType):
            for key, text in value.items():
                merged.setdefault(key, text)
    return merged


def _views_by_table() -> dict:
    """table name -> the page view of its model (its labels, formatters and title)."""
    ab = current_app.appbuilder
    found = getattr(ab, "_kefu_views_by_table", None)
    if found is None:
        found = {}
        for view in ab.baseviews:
            model = getattr(getattr(view, "datamodel", None), "obj", None)
            table = getattr(model, "__tablename__", None)
            if table and table not in found and view.__class__.__name__ != "AuditLogView":
                found[table] = view
        ab._kefu_views_by_table = found
    return found


def table_label(table: str) -> str:
    view = _views_by_table().get(table)
    title = str(getattr(view, "list_title", "") or "") if view else ""
    return title or str(labels.TABLES.get(table, table))


def _field_label(view, field: str, fallback: dict) -> str:
    columns = getattr(view, "label_columns", None) or {}
    names = (field, field.removesuffix("_id"))
    if field.endswith("_by_id"):  # labelled like the name stored beside it: requested_by_id as requested_by_name
        names += (field.removesuffix("_id") + "_name",)
    for name in names:
        own = columns.get(name)
        if own is not None and str(own) != name.replace("_", " ").title():  # not a label FAB made up
            return str(own)
        if name in fallback:
            return str(fallback[name])
    return str(labels.TABLES.get(field, field))


def _person_name(user_id, login: str | None) -> str:
    """Who made a change, by name (the login name only for someone no longer a user)."""
    return user_names_by_id().get(user_id) or person_by_login(login)


def _value(view, field: str, value, names) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return str(labels.YES if value else labels.NO)
    if field.endswith("_by_id") or field in ("actor_id", "first_responsible_id", "responsible_id"):
        return names.get(value, str(value))
    if field.endswith("_by_name") or field == "actor_name":  # a login name, shown as the person's name
        return person_by_login(value)
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] in (" ", "T"):
        moment = datetime.fromisoformat(value)
        return china_time(moment) if field in UTC_COLUMNS else labels.minute(moment)
    if field in ("source_table", "subject_table", "table_name"):
        return str(labels.TABLES.get(value, value))
    if field == "form":  # a printed form by its title
        return str(labels.ARCHIVE_FORMS.get(value, value))
    if field in FIELD_CHOICES:
        return FIELD_CHOICES[field].label_of(value)
    if field == "code":  # a code (department, project) is written as it is: marked as not for translation
        return Markup('<span translate="no" class="kefu-code">{}</span>').format(value)
    formatter = (getattr(view, "formatters_columns", None) or {}).get(field)
    if formatter is not None:
        try:
            return str(formatter(value))
        except Exception:  # noqa: BLE001 - a formatter made for the model's own type: fall back to the value
            pass
    return labels.readable(field, value)


def department_names() -> dict[int, str]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Department

    return dict(db.session.execute(select(Department.id, Department.name)).all())


def _step_workflows(table: str) -> list:
    """For a table of step entries (complaint_step; visit_step, which the visit's and its rectification
    items' steps share), every workflow, the one of that record first: an entry's action and states are
    looked up in them. None for another table."""
    if not table.endswith("_step"):
        return []
    base = table.removesuffix("_step")
    return sorted(workflow.WORKFLOWS.values(), key=lambda w: w.model.__tablename__ != base)


def _describe_step(flows, changes: dict, names) -> list[tuple[str, str, str]]:
    """A step entry in words: the step and the states by their labels, the fields entered one by one."""
    def step_label(code):
        step = next((w.step(code) for w in flows if w.step(code)), None)
        if step:
            return str(step.label)
        named = next((w.actions[code] for w in flows if code in w.actions), None)  # e.g. receive: no step
        return str(named) if named is not None else labels.readable("action", code)

    def state_label(code):
        flow = next((w for w in flows if code in getattr(w.states, "LABELS", {})), None)
        return str(flow.label_of_state(code)) if flow else str(code)

    out = []
    for field, pair in changes.items():
        old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        if field == "data":
            entered = new
            if isinstance(entered, str):
                try:
                    entered = json.loads(entered or "{}")
                except ValueError:
                    entered = {}
            for name, value in (entered or {}).items():
                text = (department_names().get(value, str(value)) if name == "department_id"
                        else _value(None, name, value, names))
                out.append((_field_label(None, name, _all_labels()), "", text))
            continue
        if field == "action":
            old, new = (step_label(v) if v else "" for v in (old, new))
        elif field in ("from_state", "to_state"):
            old, new = (state_label(v) if v else "" for v in (old, new))
        else:
            old, new = _value(None, field, old, names), _value(None, field, new, names)
        out.append((str(labels.STEP_ENTRY.get(field) or _field_label(None, field, _all_labels())), old, new))
    return out


def describe(table: str, changes) -> list[tuple[str, str, str]]:
    """(field label, old value, new value) of a recorded change, in words."""
    if isinstance(changes, str):
        try:
            changes = json.loads(changes or "{}")
        except ValueError:
            return [("", "", changes)]
    if not isinstance(changes, dict):
        return [("", "", str(changes))]
    view, fallback, names = _views_by_table().get(table), _all_labels(), user_names_by_id()
    flows = _step_workflows(table)
    if flows:
        return _describe_step(flows, changes, names)
    out = []
    for field, pair in changes.items():
        old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
        out.append((_field_label(view, field, fallback), _value(view, field, old, names),
                    _value(view, field, new, names)))
    return out


def changes_html(table: str, changes) -> Markup:
    """A change as a short list: «字段：旧值 → 新值», one field a line."""
    lines = []
    for label, old, new in describe(table, changes):
        arrow = Markup("{} → {}").format(old, new) if old else escape(new)
        lines.append(f"<li><strong>{escape(label)}</strong>：{arrow}</li>" if label else f"<li>{arrow}</li>")
    return Markup('<ul class="list-unstyled kefu-changes">' + "".join(lines) + "</ul>")


class AuditInterface(KefuInterface):
    """The changes of a row in words (list and detail): FAB reads every shown value through here."""

    def _get_attr_value(self, item, col):
        if col == "changes":
            return changes_html(item.table_name, item.changes)
        return super()._get_attr_value(item, col)


class AuditLogView(CappedListMixin, ModelView):
    datamodel = AuditInterface(AuditLog)
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
    page_size = 50

    formatters_columns = {
        "action": lambda code: AUDIT_ACTIONS.get(code, code),
        "at": lambda value: china_time(value, seconds=True),  # stored in UTC
        "table_name": table_label,
        "actor_id": lambda value: user_names_by_id().get(value, value),
        "actor_name": lambda value: person_by_login(value),
    }
