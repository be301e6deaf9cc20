"""What the visit pages share: app.labels' tables under short names, small formatters, the overdue
filters' base, the messages of a refused form, and the lookups that turn what a person types (a customer, a
unit, a project) into a record. No rule lives here: the domain (app.domain.visits,
app.domain.visit_planning) decides."""

from __future__ import annotations

import re

from flask import current_app, flash
from flask_appbuilder.models.sqla.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import not_, select
from wtforms import SelectField, TextAreaField
from wtforms.widgets import Select, TextArea

from app import labels
from app.domain import visit_planning
from app.models import Building, Customer, CustomerUnit, Project, Unit, Visit
from app.models.choices import RectificationState, ServiceItem, SummaryState, VisitState

from ..complaints import resolve_customer

S, R = VisitState, RectificationState
RETURN_VISIT_STATES = {"due": _l("Due"), "done": _l("Done")}
EDITABLE_SUMMARY = (SummaryState.DRAFT, SummaryState.RETURNED)

# The labels are app.labels' tables (shared with the API and the printed forms).
VISIT, ITEM, RECTIFICATION, RETURN_VISIT = labels.VISIT, labels.VISIT_ITEM, labels.RECTIFICATION, labels.RETURN_VISIT
SUMMARY, FIGURES, OVERDUE_LABELS = labels.SUMMARY, labels.SUMMARY_FIGURES, labels.VISIT_OVERDUE
CONFIRM_VISIT = {
    "return_visit": _l("Record the return visit? The visit is then complete and waits for the summary."),
    "archive": _l("File this visit in the archive? This cannot be undone."),
}
CONFIRM_RECTIFICATION = {
    "complete": _l("Report this item as rectified? The customer's verdict comes next."),
    "accept": _l("Record that the customer is satisfied? The item is then closed."),
    "reject": _l("Record that the customer is not satisfied? The item goes back to the department for "
                 "another round."),
}
CONFIRM_PRINT_VISIT = _l("Print both filled forms and file them in the archive? An archived copy can never be "
                         "deleted.")


def minute_text(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def day_text(value) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def yes_no_text(value) -> str:
    if value is None:
        return ""
    return str(_l("Yes") if value else _l("No"))


def choices_with_blank(enum_class):
    return [("", "—"), *enum_class.choices()]


def current_actor():
    return current_app.appbuilder.sm.current_user


def may(permission, view) -> bool:
    return current_app.appbuilder.sm.has_access(permission, view)


def overdue_flag(reasons) -> Markup:
    if not reasons:
        return Markup("")
    if reasons is True:
        reasons = []
    return Markup('<span class="kefu-overdue-flag text-danger" style="color:#c9302c;font-weight:bold">'
                  '<i class="fa fa-exclamation-triangle"></i> {} <small>{}</small></span>').format(
        _l("Overdue"), overdue_text(reasons))


def overdue_text(reasons) -> str:
    return labels.joined(OVERDUE_LABELS, reasons)


def round_cell(value) -> Markup:
    if not value:
        return Markup("")
    css = "label-warning" if value > 1 else "label-default"
    return Markup('<span class="label {} kefu-round" data-round="{}">{}</span>').format(
        css, value, _l("Round %(n)s", n=value))


def fill_errors(form, errors: dict, rename=None) -> None:
    """Put each message of a refused input beside its field, or flash it when the page has no such field."""
    rename = rename or {}
    for name, message in errors.items():
        name = rename.get(name, name)
        if name in form and name != "csrf_token":
            form[name].errors = [*form[name].errors, str(message)]
        else:
            flash(str(message), "danger")


class RowList:
    """The rows a refused table-like input named by position ("2: …") are named by their label instead."""

    def __init__(self, labels: list[str]):
        self.labels = labels

    def name(self, message) -> str:
        def label(match):
            index = int(match.group(2)) - 1
            name = self.labels[index] if 0 <= index < len(self.labels) else match.group(2)
            return f"{match.group(1)}{name}："
        return re.sub(r"(^|；)(\d+): ", label, str(message))


def _yes(value) -> bool | None:
    if value in ("y", "yes", "1", "true", "on"):
        return True
    if value in ("n", "no", "0", "false", "off"):
        return False
    return None


class OverdueFilter(BaseFilter):
    """Overdue (y) or not (n); subclasses give the SQL clause."""

    name = _l("Is")

    def clause(self):
        raise NotImplementedError

    def apply(self, query, value):
        wanted = _yes(value)
        if wanted is None:
            return query
        return query.filter(self.clause() if wanted else not_(self.clause()))



def is_filled(value) -> bool:
    return value is not None and str(value).strip() != ""


def text_area(label, rows=2, **kwargs):
    return TextAreaField(label, widget=TextArea(), render_kw={"rows": rows, "class": "form-control"}, **kwargs)


def plain_select(label, choices, **kwargs):
    return SelectField(label, choices=choices, validate_choice=False, widget=Select(),
                       render_kw={"class": "form-control"}, **kwargs)


def item_label(item) -> str:
    return f"{item.seq}. {ServiceItem.label_of(item.service_item)}"


def visit_numbers(session, visit_ids, always=False) -> dict[int, tuple[str, str]]:
    """(visit number, customer name) of the given visits, in one query (`always`: also for none, so that a
    page issues the same statements whether or not its rows name a visit)."""
    ids = {i for i in visit_ids if i}
    if not ids and not always:
        return {}
    rows = session.execute(select(Visit.id, Visit.planned_at, Customer.name)
                           .join(Customer, Customer.id == Visit.customer_id).where(Visit.id.in_(ids))).all()
    return {r.id: (Visit.number.fget(r), r.name) for r in rows}



# --- lookups: what a person typed, as a record ------------------------------------------------------

def find_customer(session, text) -> tuple[dict, int | None]:
    """A customer from a full mobile, ID-card or customer number (as on the complaint form) or an exact name."""
    text = (text or "").strip()
    compact = text.replace(" ", "").replace("-", "").lstrip("#")
    if not text or re.fullmatch(r"[\dXx]+", compact):
        return resolve_customer(session, text)
    found = session.scalars(select(Customer.id).where(Customer.name == text).limit(2)).all()
    if not found:
        return {"customer": _l("No customer has this name: enter the full name, the mobile number or the "
                               "customer number.")}, None
    if len(found) > 1:
        return {"customer": _l("Several customers have this name; enter the mobile number or the customer "
                               "number.")}, None
    return {}, found[0]


def customer_units(session, customer_id) -> list[tuple[int, str]]:
    """(unit id, "project building number") of the customer's units, in one query."""
    rows = session.execute(select(Unit.id, Project.name, Building.name, Unit.number)
                           .join(CustomerUnit, CustomerUnit.unit_id == Unit.id)
                           .join(Building, Building.id == Unit.building_id)
                           .join(Project, Project.id == Building.project_id)
                           .where(CustomerUnit.customer_id == customer_id).order_by(Unit.id)).all()
    return [(r[0], f"{r[1]} {r[2]} {r[3]}") for r in rows]


def find_unit(session, customer_id, text) -> tuple[dict, int | None]:
    units = customer_units(session, customer_id)
    wanted = "".join((text or "").split())
    if not wanted:
        return {}, (units[0][0] if len(units) == 1 else None)
    found = [(pk, label) for pk, label in units if wanted in "".join(label.split())]
    if len(found) == 1:
        return {}, found[0][0]
    held = "、".join(label for _pk, label in units) or str(_l("none"))
    if not found:
        return {"unit": _l("The customer holds no such unit (holds: %(units)s).", units=held)}, None
    return {"unit": _l("Several of the customer's units match: %(units)s.",
                       units="、".join(label for _pk, label in found))}, None


def customer_service_staff(session) -> list[tuple[str, str]]:
    """(id, name) of the users a visit may be given to, to choose from: the domain decides
    (app.domain.visit_planning), this only offers its list."""
    return [(str(user.id), f"{user.first_name or ''}{user.last_name or ''}".strip() or user.username)
            for user in visit_planning.visiting_staff(session)]


def find_project(session, text) -> tuple[dict, Project | None]:
    text = (text or "").strip()
    if not text:
        return {"project": _l("This field is required.")}, None
    exact = session.scalars(select(Project).where(Project.name == text).limit(2)).all()
    found = exact or session.scalars(select(Project).where(Project.name.contains(text, autoescape=True))
                                     .order_by(Project.name).limit(6)).all()
    if not found:
        return {"project": _l("No project has this name.")}, None
    if len(found) > 1:
        return {"project": _l("Several projects match: %(names)s.", names="、".join(p.name for p in found))}, None
    return {}, found[0]

