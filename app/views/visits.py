"""Visit pages (issue 6): visits (plan, record, rectify, return visit, archive), rectification items per
department, return visits of visits, deliveries and move-ins, and the summary to the general manager.

Every change goes through app.domain.visits in one unit of work; the forms only collect what a step
needs, and a refusal re-renders the form with the domain's message and everything typed kept. The detail
pages offer a button for each step the domain allows the current user now (visits.allowed_steps,
visits.allowed_rectification_steps). Lists compute their extra columns for a whole page at once.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import date, datetime, timedelta

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import BaseFilter, FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import joinedload
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.widgets import Select, TextArea

from app import printing
from app.domain import calendar, scope, visits
from app.domain.errors import DomainError, NotFoundError, ValidationError
from app.domain.privacy import mask
from app.domain.records import unit_of_work
from app.domain.roles import CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, role_names
from app.extensions import db
from app.models import (
    Approval,
    ArchiveRecord,
    Building,
    Customer,
    CustomerUnit,
    Department,
    Project,
    Rectification,
    ReturnVisit,
    Unit,
    Visit,
    VisitItem,
    VisitStep,
    VisitSummary,
)
from app.models.choices import (
    ApprovalState,
    CaseCategory,
    CaseStage,
    ContactRole,
    ItemResult,
    RectificationState,
    ReturnVisitKind,
    ServiceItem,
    SummaryState,
    VisitMethod,
    VisitState,
)

from .base import DomainModelView, OverdueListWidget, RelatedTextFilter, may_reveal
from .complaints import (
    ComputedColumnsInterface,
    NativeInput,
    customer_condition,
    flash_form_errors,
    resolve_customer,
    user_names,
)
from .labels import COMMON
from .work import MY_WORK_LIMIT, Row, Section

S, R = VisitState, RectificationState
CATEGORY, CATEGORY_LABEL = "Visits", _l("Visits")
YES_NO = [("", "—"), ("yes", _l("Yes")), ("no", _l("No"))]
SCORES = [("", "—"), *((str(n), str(n)) for n in range(5, 0, -1))]
RETURN_VISIT_STATES = {"due": _l("Due"), "done": _l("Done")}
EDITABLE_SUMMARY = (SummaryState.DRAFT, SummaryState.RETURNED)

# --- labels -------------------------------------------------------------------------------------

VISIT = {
    **COMMON,
    "number": _l("Visit number"), "customer": _l("Customer"), "unit": _l("Unit"),
    "contact_role": _l("Received by"), "contact_name": _l("Contact"), "contact_post": _l("Contact's post"),
    "contact_phone": _l("Contact's phone"), "planned_at": _l("Planned for"), "staff": _l("Visiting staff"),
    "staff_id": _l("Visiting staff"), "companions": _l("Companions"), "state": _l("State"),
    "open_rectifications": _l("Open rectification items"), "overdue": _l("Overdue"),
    "visited_at": _l("Visited at"), "opinions": _l("The customer's opinions and suggestions"),
    "return_visited_at": _l("Return-visited at"), "return_visit_method": _l("Return-visit method"),
    "return_visit_record": _l("Return-visit record"), "satisfaction": _l("Satisfaction (1–5)"),
    "effect_confirmed": _l("The customer confirmed that the rectification worked"),
    "summary": _l("Summary"), "archived_at": _l("Archived at"), "items": _l("Inspected items"),
    "rectifications": _l("Rectification items"), "comment": _l("Comment"),
}
ITEM = {"seq": _l("No."), "service_item": _l("Service item"), "result": _l("Result"),
        "opinion": _l("The customer's opinion"), "explanation": _l("Explanation given to the customer")}
RECTIFICATION = {
    **COMMON,
    "number": _l("Rectification number"), "visit": _l("Visit"), "customer": _l("Customer"),
    "service_item": _l("Service item"), "opinion": _l("The customer's opinion"), "department": _l("Department"),
    "department_id": _l("Department"), "measure": _l("Rectification measure"),
    "responsible_person": _l("Responsible person"), "deadline": _l("Deadline"),
    "tenant_consulted": _l("The tenant was consulted"), "round": _l("Round"), "state": _l("State"),
    "overdue": _l("Overdue"), "completed_at": _l("Completed at"), "satisfied_at": _l("Customer satisfied at"),
    "note": _l("Note"), "customer_told": _l("The customer was told"), "told_how": _l("How the customer was told"),
    "comment": _l("Comment"),
}
RETURN_VISIT = {
    **COMMON,
    "number": _l("Return-visit number"), "kind": _l("Kind"), "customer": _l("Customer"), "unit": _l("Unit"),
    "source": _l("Source"), "project": _l("Project"), "due_on": _l("Due on"), "state": _l("State"),
    "method": _l("Method"), "record": _l("Record"), "satisfaction": _l("Satisfaction (1–5)"),
    "effect_confirmed": _l("Effect confirmed"), "follow_up": _l("Follow-up"), "done_by_name": _l("Done by"),
    "done_at": _l("Done at"), "overdue": _l("Overdue"),
}
SUMMARY = {
    **COMMON,
    "title": _l("Title"), "period_from": _l("Period from"), "period_to": _l("Period to"),
    "content": _l("Content"), "figures": _l("Figures"), "state": _l("State"),
    "comment": _l("The general manager's comment"), "visits": _l("Visits reported"),
}
FIGURES = {
    "visits": _l("Visits made"), "return_visited": _l("Return visits completed"),
    "rectifications": _l("Rectification items"), "open_rectifications": _l("Still being rectified"),
    "second_rounds": _l("Rectified in a second round or later"), "satisfaction": _l("Average satisfaction"),
}
OVERDUE_LABELS = {"visit": _l("visit not made in time"), "rectification": _l("rectification deadline passed"),
                  "return_visit": _l("return visit overdue")}
# Timeline entries that are not steps of the tables.
EXTRA_ACTIONS = {"plan": _l("Planned"), "summarise": _l("Summary acknowledged by the general manager")}
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


def _minute(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _day(value) -> str:
    return f"{value:%Y-%m-%d}" if value else ""


def _yes_no(value) -> str:
    if value is None:
        return ""
    return str(_l("Yes") if value else _l("No"))


def _choices_with_blank(enum_class):
    return [("", "—"), *enum_class.choices()]


def _actor():
    return current_app.appbuilder.sm.current_user


def _may(permission, view) -> bool:
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
    return "、".join(str(OVERDUE_LABELS.get(r, r)) for r in reasons or ())


def _round_cell(value) -> Markup:
    if not value:
        return Markup("")
    css = "label-warning" if value > 1 else "label-default"
    return Markup('<span class="label {} kefu-round" data-round="{}">{}</span>').format(
        css, value, _l("Round %(n)s", n=value))


def _fill_errors(form, errors: dict, rename=None) -> None:
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


# --- visits: the list -------------------------------------------------------------------------

def visit_overdue_clause(now: datetime):
    """SQL: a visit not made by its planned time, or with an overdue rectification or return visit."""
    today = now.date()
    return or_(and_(Visit.state == S.PLANNED, Visit.planned_at < now),
               exists().where(Rectification.visit_id == Visit.id, visits.rectification_overdue_clause(today)),
               exists().where(ReturnVisit.visit_id == Visit.id, visits.return_visit_overdue_clause(today)))


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


class FilterVisitOverdue(OverdueFilter):
    arg_name = "kefu_visit_overdue"

    def clause(self):
        return visit_overdue_clause(calendar.local_now())


class FilterVisitCustomer(RelatedTextFilter):
    """A customer by name (contains), or by full mobile or ID-card number (exact, indexed)."""

    name = _l("Name, full mobile or ID-card number")
    arg_name = "kefu_visit_customer"

    def condition(self, value):
        return Visit.customer.has(customer_condition(value))


def staff_condition(column, value):
    """Users whose username or name contains the text."""
    return column.in_(select(User.id).where(or_(
        User.username.contains(value, autoescape=True), User.first_name.contains(value, autoescape=True),
        User.last_name.contains(value, autoescape=True),
        (User.first_name + User.last_name).contains(value, autoescape=True))))


class FilterVisitStaff(RelatedTextFilter):
    name = _l("Name contains")
    arg_name = "kefu_visit_staff"

    def condition(self, value):
        return staff_condition(Visit.staff_id, value)


def visit_overdue_reasons(visit, late_rectification: bool, late_return_visit: bool, now) -> list[str]:
    reasons = []
    if visit.state == S.PLANNED and visit.planned_at and visit.planned_at < now:
        reasons.append("visit")
    if late_rectification:
        reasons.append("rectification")
    if late_return_visit:
        reasons.append("return_visit")
    return reasons


class VisitInterface(ComputedColumnsInterface):
    def computed(self, items):
        now = calendar.local_now()
        today = now.date()
        ids = [v.id for v in items]
        counts, late_rectifications, late_return_visits = {}, set(), set()
        if ids:
            overdue = visits.rectification_overdue_clause(today)
            for visit_id, n, late in self.session.execute(
                    select(Rectification.visit_id, func.count(), func.max(case((overdue, 1), else_=0)))
                    .where(Rectification.visit_id.in_(ids), Rectification.state != R.SATISFIED)
                    .group_by(Rectification.visit_id)):
                counts[visit_id] = n
                if late:
                    late_rectifications.add(visit_id)
            late_return_visits = set(self.session.scalars(select(ReturnVisit.visit_id).where(
                ReturnVisit.visit_id.in_(ids), visits.return_visit_overdue_clause(today))))
        names = user_names(self.session, {v.staff_id for v in items})
        return {
            "staff": [names.get(v.staff_id, "") for v in items],
            "open_rectifications": [counts.get(v.id, 0) for v in items],
            "overdue": [visit_overdue_reasons(v, v.id in late_rectifications, v.id in late_return_visits, now)
                        for v in items],
        }


def _open_count(n) -> Markup:
    if not n:
        return Markup("")
    return Markup('<span class="badge kefu-open-rectifications">{}</span>').format(n)


class PlanForm(DynamicForm):
    customer = StringField(_l("Customer"), widget=BS3TextFieldWidget(),
                           description=_l("The customer's name, full mobile number, full ID-card number or customer "
                                          "number."))
    unit = StringField(_l("Unit"), widget=BS3TextFieldWidget(),
                       description=_l("Part of “project building unit”, e.g. 2栋 101. Left blank: the customer's "
                                      "unit if the customer holds only one."))
    contact_role = SelectField(_l("Received by"), choices=_choices_with_blank(ContactRole), validate_choice=False,
                               widget=Select2Widget(),
                               description=_l("Left blank: the household for a person, the main contact for a "
                                              "company."))
    contact_name = StringField(_l("Contact"), widget=BS3TextFieldWidget(),
                               description=_l("Left blank: the customer's contact of that role, or the customer."))
    contact_post = StringField(_l("Contact's post"), widget=BS3TextFieldWidget())
    contact_phone = StringField(_l("Contact's phone"), widget=BS3TextFieldWidget())
    planned_at = StringField(_l("Planned for"), widget=NativeInput("datetime-local"), description=_l("China time"))
    staff_id = SelectField(_l("Visiting staff"), choices=[], validate_choice=False, widget=Select2Widget(),
                           description=_l("Who visits and is responsible for the visit."))
    companions = StringField(_l("Companions"), widget=BS3TextFieldWidget(),
                             description=_l("Other staff visiting, by name."))


PLAN_FIELDS = ["customer", "unit", "contact_role", "contact_name", "contact_post", "contact_phone", "planned_at",
               "staff_id", "companions"]


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
    """(id, name) of the active customer-service staff and managers: who may visit."""
    rows = session.execute(select(User.id, User.first_name, User.last_name, User.username)
                           .join(User.roles).where(Role.name.in_((CS_STAFF, CS_MANAGER)), User.active.is_(True))
                           .distinct().order_by(User.username)).all()
    return [(str(r.id), f"{r.first_name or ''}{r.last_name or ''}".strip() or r.username) for r in rows]


# --- visits: the step forms ------------------------------------------------------------------------

def _text_area(label, rows=2, **kwargs):
    return TextAreaField(label, widget=TextArea(), render_kw={"rows": rows, "class": "form-control"}, **kwargs)


def _plain_select(label, choices, **kwargs):
    return SelectField(label, choices=choices, validate_choice=False, widget=Select(),
                       render_kw={"class": "form-control"}, **kwargs)


def visit_step_form(action, nc_items, departments) -> type:
    """The form of one visit step: a table of the service items (visit), one row per non-conforming item
    (rectify) or the return visit's fields; a hidden version and a comment (all a step to the archive needs:
    the domain offers it once both filled forms are filed, by the print button of the detail page)."""

    class StepForm(DynamicForm):
        version = HiddenField()
        comment = TextAreaField(_l("Comment"), widget=BS3TextAreaFieldWidget())

    if action == "visit":
        for code, _label in ServiceItem.choices():
            setattr(StepForm, f"result_{code}", _plain_select(ITEM["result"], _choices_with_blank(ItemResult)))
            setattr(StepForm, f"opinion_{code}", _text_area(ITEM["opinion"]))
            setattr(StepForm, f"explanation_{code}", _text_area(ITEM["explanation"]))
        StepForm.visited_at = StringField(VISIT["visited_at"], widget=NativeInput("datetime-local"),
                                          description=_l("China time"))
        StepForm.opinions = TextAreaField(VISIT["opinions"], widget=BS3TextAreaFieldWidget())
        StepForm.companions = StringField(VISIT["companions"], widget=BS3TextFieldWidget())
    elif action == "rectify":
        choices = [("", "—"), *((str(pk), name) for pk, name in departments)]
        for item in nc_items:
            setattr(StepForm, f"department_id_{item.id}", _plain_select(RECTIFICATION["department_id"], choices))
            setattr(StepForm, f"measure_{item.id}", _text_area(RECTIFICATION["measure"]))
            setattr(StepForm, f"responsible_person_{item.id}", StringField(
                RECTIFICATION["responsible_person"], render_kw={"class": "form-control"}))
            setattr(StepForm, f"deadline_{item.id}", StringField(RECTIFICATION["deadline"],
                                                                 widget=NativeInput("date")))
            setattr(StepForm, f"tenant_consulted_{item.id}", BooleanField(RECTIFICATION["tenant_consulted"]))
    elif action == "return_visit":
        StepForm.return_visit_method = SelectField(VISIT["return_visit_method"], choices=_choices_with_blank(VisitMethod),
                                                   validate_choice=False, widget=Select2Widget())
        StepForm.return_visit_record = TextAreaField(VISIT["return_visit_record"], widget=BS3TextAreaFieldWidget())
        StepForm.satisfaction = SelectField(VISIT["satisfaction"], choices=SCORES, validate_choice=False,
                                            widget=Select2Widget())
        StepForm.effect_confirmed = BooleanField(VISIT["effect_confirmed"],
                                                 description=_l("Required when the visit had rectification items."))
    return StepForm


SIMPLE_FIELDS = {"visit": ["visited_at", "opinions", "companions"],
                 "return_visit": ["return_visit_method", "return_visit_record", "satisfaction", "effect_confirmed"],
                 "archive": [], "rectify": []}
REQUIRED_FIELDS = {"return_visit": ("return_visit_method", "return_visit_record", "satisfaction")}


def _filled(value) -> bool:
    return value is not None and str(value).strip() != ""


def visit_step_values(action, form, nc_items) -> tuple[dict, RowList | None]:
    """What the domain parses, and how to name the rows of a refused table."""
    if action == "visit":
        items, labels = [], []
        for code, label in ServiceItem.choices():
            result = form[f"result_{code}"].data
            if not _filled(result):
                continue
            item = {"service_item": code, "result": result}
            for name in ("opinion", "explanation"):
                if _filled(form[f"{name}_{code}"].data):
                    item[name] = form[f"{name}_{code}"].data
            items.append(item)
            labels.append(str(label))
        values = {"items": items}
        for name in ("visited_at", "opinions", "companions"):
            if _filled(form[name].data):
                values[name] = form[name].data
        return values, RowList(labels)
    if action == "rectify":
        rows = [{"item_id": item.id, "department_id": form[f"department_id_{item.id}"].data,
                 "measure": form[f"measure_{item.id}"].data,
                 "responsible_person": form[f"responsible_person_{item.id}"].data,
                 "deadline": form[f"deadline_{item.id}"].data,
                 "tenant_consulted": bool(form[f"tenant_consulted_{item.id}"].data)} for item in nc_items]
        return {"rectifications": rows}, RowList([item_label(item) for item in nc_items])
    if action == "return_visit":
        values = {name: form[name].data for name in ("return_visit_method", "return_visit_record", "satisfaction")
                  if _filled(form[name].data)}
        values["effect_confirmed"] = bool(form.effect_confirmed.data)
        return values, None
    return {}, None


def item_label(item) -> str:
    return f"{item.seq}. {ServiceItem.label_of(item.service_item)}"


def visit_action_label(code: str) -> str:
    step = visits.VISIT_STEP_BY_ACTION.get(code) or visits.RECTIFICATION_STEP_BY_ACTION.get(code)
    return str(step.label if step else EXTRA_ACTIONS.get(code, code))


def _stored_rows(value):
    """The rows of a table-like step field as stored: a list, or (how the domain's step entry keeps a list
    today, through audit._jsonable) its Python text, dates included; None when unreadable."""
    if isinstance(value, list):
        return value
    text = re.sub(r"datetime\.date\((\d+), (\d+), (\d+)\)",
                  lambda m: f"'{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}'", str(value))
    try:
        rows = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return rows if isinstance(rows, list) and all(isinstance(r, dict) for r in rows) else None


def _step_field_text(name, value, departments, items_by_id) -> str:
    """One field a step stored, readable."""
    if value is None or value == "":
        return ""
    if name in ("items", "rectifications"):
        value = _stored_rows(value)
        if value is None:
            return ""
    if name == "items":
        return "\n".join(
            f"{ServiceItem.label_of(i.get('service_item'))}：{ItemResult.label_of(i.get('result'))}"
            + (f" — {i['opinion']}" if i.get("opinion") else "") + (f"（{i['explanation']}）" if i.get("explanation") else "")
            for i in value)
    if name == "rectifications":
        lines = []
        for row in value:
            item = items_by_id.get(row.get("item_id"))
            what = item_label(item) if item else f"#{row.get('item_id')}"
            lines.append(f"{what} → {departments.get(row.get('department_id'), row.get('department_id'))}："
                         f"{row.get('measure')}（{row.get('responsible_person')}，{row.get('deadline')}）")
        return "\n".join(lines)
    if name == "department_id":
        return departments.get(value, str(value))
    if name == "return_visit_method":
        return VisitMethod.label_of(value)
    if isinstance(value, bool):
        return _yes_no(value)
    if name in ("visited_at",) and isinstance(value, str):
        return value.replace("T", " ")[:16]
    return str(value)


STEP_FIELD_LABELS = {**VISIT, **RECTIFICATION, "items": VISIT["items"], "rectifications": VISIT["rectifications"],
                     "satisfaction": VISIT["satisfaction"], "department_id": RECTIFICATION["department_id"]}


def timeline_entry(step, departments, items_by_id, rectification_numbers, state_label) -> dict:
    try:
        data = json.loads(step.data) if step.data else {}
    except ValueError:
        data = {}
    table = visits.VISIT_STEP_BY_ACTION.get(step.action) if step.rectification_id is None \
        else visits.RECTIFICATION_STEP_BY_ACTION.get(step.action)
    order = [*table.required, *table.optional] if table else []
    names = sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {
        "at": _minute(step.at), "actor": step.actor_name, "action": visit_action_label(step.action),
        "code": step.action, "rectification": rectification_numbers.get(step.rectification_id, ""),
        "rectification_id": step.rectification_id, "round": step.round,
        "from": state_label(step.from_state) if step.from_state else "", "to": state_label(step.to_state),
        "comment": step.comment or "", "customer_told": step.customer_told,
        "data": [(str(STEP_FIELD_LABELS.get(k, k)), _step_field_text(k, data[k], departments, items_by_id))
                 for k in names if k != "customer_told"],
    }


# --- visits: the view --------------------------------------------------------------------------------

class VisitView(DomainModelView):
    datamodel = VisitInterface(
        Visit,
        custom_filters={"state": [FilterEqual, FilterNotEqual], "customer": [FilterVisitCustomer],
                        "staff": [FilterVisitStaff], "overdue": [FilterVisitOverdue]},
        eager=[joinedload(Visit.customer)],
        virtual_columns=["staff", "open_rectifications", "overdue"],
    )
    route_base = "/visit"
    base_permissions = ["can_list", "can_show", "can_add", "can_transition", "can_print"]
    list_widget = OverdueListWidget
    list_title = _l("Visits")
    show_title = _l("Visit")
    add_title = _l("Plan a visit")
    label_columns = VISIT
    list_columns = ["number", "customer", "planned_at", "staff", "state", "open_rectifications", "overdue"]
    order_columns = ["planned_at", "state"]
    base_order = ("planned_at", "desc")
    search_columns = ["state", "overdue", "customer", "staff", "planned_at", "contact_name"]
    search_form_extra_fields = {
        "state": SelectField(_l("State"), choices=VisitState.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "customer": StringField(_l("Customer")),
        "staff": StringField(_l("Visiting staff")),
    }
    formatters_columns = {
        "planned_at": _minute, "state": VisitState.label_of, "customer": lambda c: c.name if c else "",
        "open_rectifications": _open_count, "overdue": overdue_flag,
    }
    add_columns = ["contact_name", "planned_at"]  # the real form is PlanForm (add below)
    edit_columns = ["contact_name"]  # never offered (no can_edit); FAB builds an edit form all the same
    show_columns = ["contact_name"]

    # --- plan ---------------------------------------------------------------------------------
    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        session, actor = db.session, _actor()
        form = PlanForm()
        form.staff_id.choices = [("", "—"), *customer_service_staff(session)]
        for field in form:
            field.flags.required = field.name in ("customer", "planned_at")
        if request.method == "GET":
            form.planned_at.data = f"{calendar.local_now() + timedelta(days=1):%Y-%m-%dT09:00}"
            form.staff_id.data = str(actor.id)
            form.customer.data = request.args.get("customer", "")
        elif form.validate():
            errors, customer_id = find_customer(session, form.customer.data)
            unit_id = None
            if customer_id is not None:
                unit_errors, unit_id = find_unit(session, customer_id, form.unit.data)
                errors.update(unit_errors)
            staff_id = form.staff_id.data or str(actor.id)
            if staff_id not in {pk for pk, _name in form.staff_id.choices if pk}:
                errors["staff_id"] = _l("Choose a member of customer service.")
            if not errors:
                try:
                    with unit_of_work(session):
                        visit = visits.plan_visit(
                            session, actor, customer_id=customer_id, unit_id=unit_id,
                            planned_at=(form.planned_at.data or "").strip() or None,
                            contact_role=form.contact_role.data or None, contact_name=form.contact_name.data,
                            contact_post=form.contact_post.data, contact_phone=form.contact_phone.data,
                            staff_id=int(staff_id), companions=form.companions.data)
                        pk, number = visit.id, visit.number
                except ValidationError as err:
                    errors = {("customer" if k == "customer_id" else "unit" if k == "unit_id" else k): v
                              for k, v in err.errors.items()}
                except DomainError as err:
                    flash(str(err), "danger")
                else:
                    flash(str(_l("Visit %(number)s planned.", number=number)), "success")
                    return redirect(url_for(".show", pk=pk))
            _fill_errors(form, errors)
        else:
            flash_form_errors(form)
        return self.render_template("kefu/visit_add.html", title=self.add_title, form=form, fields=PLAN_FIELDS)

    # --- detail -------------------------------------------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        visit = self._visible(pk)
        session, actor = db.session, _actor()
        now = calendar.local_now()
        today = now.date()
        items = session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id).order_by(VisitItem.seq)).all()
        rectifications = session.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                         .order_by(Rectification.id)).all()
        steps = session.scalars(select(VisitStep).where(VisitStep.visit_id == visit.id).order_by(VisitStep.id)).all()
        return_visits = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id)
                                        .order_by(ReturnVisit.id)).all()
        archived = session.scalars(select(ArchiveRecord).where(ArchiveRecord.source_table == Visit.__table__.name,
                                                               ArchiveRecord.source_id == visit.id)
                                   .order_by(ArchiveRecord.id)).all()
        departments = dict(session.execute(select(Department.id, Department.name)).all())
        names = user_names(session, {visit.staff_id})
        unit = session.get(Unit, visit.unit_id) if visit.unit_id else None
        summary = session.get(VisitSummary, visit.summary_id) if visit.summary_id else None
        actions = visits.allowed_steps(session, visit, actor) if _may("can_transition", "VisitView") else []
        items_by_id = {item.id: item for item in items}
        numbers = {r.id: r.number for r in rectifications}

        def state_of(code):
            return VisitState.label_of(code) if code in VisitState.LABELS else RectificationState.label_of(code)

        late_rectification = any(visits.rectification_overdue(r, today) for r in rectifications)
        late_return_visit = any(visits.return_visit_overdue(rv, today) for rv in return_visits)
        sections = [
            (_l("Plan"), [
                (VISIT["customer"], visit.customer.name), (VISIT["unit"], unit.label if unit else ""),
                (VISIT["contact_role"], ContactRole.label_of(visit.contact_role)),
                (VISIT["contact_name"], visit.contact_name), (VISIT["contact_post"], visit.contact_post or ""),
                (VISIT["contact_phone"], mask("contact_phone", visit.contact_phone) or ""),
                (VISIT["planned_at"], _minute(visit.planned_at)), (VISIT["staff"], names.get(visit.staff_id, "")),
                (VISIT["companions"], visit.companions or "")]),
            (_l("Visit"), [(VISIT["visited_at"], _minute(visit.visited_at)), (VISIT["opinions"], visit.opinions or "")]),
            (_l("Return visit"), [
                (VISIT["return_visited_at"], _minute(visit.return_visited_at)),
                (VISIT["return_visit_method"], VisitMethod.label_of(visit.return_visit_method)
                 if visit.return_visit_method else ""),
                (VISIT["return_visit_record"], visit.return_visit_record or ""),
                (VISIT["satisfaction"], str(visit.satisfaction or "")),
                (VISIT["effect_confirmed"], _yes_no(visit.effect_confirmed))]),
            (_l("Summary and archive"), [(VISIT["archived_at"], _minute(visit.archived_at))]),
        ]
        sections = [(str(title), [(str(label), text) for label, text in rows if text]) for title, rows in sections]
        return self.render_template(
            "kefu/visit_show.html", title=f"{self.show_title} {visit.number}", visit=visit,
            sections=[s for s in sections if s[1]],
            state_label=VisitState.label_of(visit.state), actions=actions, confirm_actions=CONFIRM_VISIT,
            overdue=[str(OVERDUE_LABELS[r]) for r in visit_overdue_reasons(visit, late_rectification,
                                                                            late_return_visit, now)],
            items=[{"seq": i.seq, "service_item": ServiceItem.label_of(i.service_item), "result": i.result,
                    "result_label": ItemResult.label_of(i.result), "opinion": i.opinion or "",
                    "explanation": i.explanation or ""} for i in items],
            rectifications=[{"id": r.id, "number": r.number, "item": item_label(items_by_id[r.item_id])
                             if r.item_id in items_by_id else "", "department": departments.get(r.department_id, ""),
                             "measure": r.measure, "responsible_person": r.responsible_person,
                             "deadline": _day(r.deadline), "round": r.round, "state": r.state,
                             "state_label": RectificationState.label_of(r.state),
                             "overdue": visits.rectification_overdue(r, today)} for r in rectifications],
            return_visits=[{"id": rv.id, "number": rv.number, "due_on": _day(rv.due_on),
                            "state": str(RETURN_VISIT_STATES.get(rv.state, rv.state)),
                            "overdue": visits.return_visit_overdue(rv, today)} for rv in return_visits],
            archived=archived, summary=summary,
            timeline=[timeline_entry(s, departments, items_by_id, numbers, state_of) for s in steps],
            labels={**VISIT, **{f"item_{k}": v for k, v in ITEM.items()}, **{f"r_{k}": v for k, v in RECTIFICATION.items()}},
            may_show_rectification=_may("can_show", "RectificationView"),
            may_show_return_visit=_may("can_show", "ReturnVisitView"),
            may_show_archive=_may("can_show", "ArchiveRecordView"),
            may_show_summary=_may("can_show", "VisitSummaryView"),
            may_see_customer=_may("can_show", "CustomerView"),
            may_print=_may("can_print", "VisitView") and visit.state != S.PLANNED,
            print_first=visit.state == S.SUMMARISED and _may("can_transition", "VisitView")
            and not any(step.action == "archive" for step in actions),
            confirm_print=CONFIRM_PRINT_VISIT,
        )

    # --- a step -------------------------------------------------------------------------------
    @expose("/transition/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, action):
        visit = self._visible(pk)
        step = visits.VISIT_STEP_BY_ACTION.get(action)
        if step is None:
            abort(404)
        session, actor = db.session, _actor()
        nc_items, departments = self._step_context(visit, action)
        form = visit_step_form(action, nc_items, departments)(
            formdata=request.form if request.method == "POST" else None)
        for name in REQUIRED_FIELDS.get(action, ()):
            form[name].flags.required = True
        status, rows = 200, None
        if request.method == "GET":
            if step not in visits.allowed_steps(session, visit, actor):
                flash(str(_l("“%(action)s” is not open to you for this visit now.", action=step.label)), "warning")
                return redirect(url_for(".show", pk=pk))
            form.version.data = visit.version
            if action == "visit":
                form.visited_at.data = f"{calendar.local_now():%Y-%m-%dT%H:%M}"
                form.companions.data = visit.companions or ""
        elif form.validate():
            values, rows = visit_step_values(action, form, nc_items)
            number = visit.number
            try:
                with unit_of_work(session):
                    visits.transition(session, visit, action, actor, form.version.data, values,
                                      comment=form.comment.data)
                    target = visit.state
            except ValidationError as err:
                status = err.status
                for name, message in err.errors.items():
                    if name in ("items", "rectifications"):
                        flash(rows.name(message) if rows else str(message), "danger")
                    elif name in form and name != "csrf_token":
                        form[name].errors = [*form[name].errors, str(message)]
                    else:
                        flash(str(message), "danger")
                flash(str(err.message), "danger")
            except DomainError as err:
                status = err.status
                flash(str(err), "danger")
            else:
                flash(str(_l("%(number)s: “%(action)s” recorded; the visit is now “%(state)s”.", number=number,
                             action=step.label, state=VisitState.label_of(target))), "success")
                return redirect(url_for(".show", pk=pk))
            session.rollback()
            visit = self._visible(pk)
            nc_items, departments = self._step_context(visit, action)
        else:
            status = 400
            flash_form_errors(form)
        return self.render_template(
            "kefu/visit_transition.html", title=f"{step.label} · {visit.number}", form=form, step=step, visit=visit,
            state_label=VisitState.label_of(visit.state), fields=SIMPLE_FIELDS[action],
            service_items=ServiceItem.choices(), nc_items=[(item, item_label(item)) for item in nc_items],
            item_labels=ITEM, labels=RECTIFICATION, confirm_message=CONFIRM_VISIT.get(action),
        ), status

    def _step_context(self, visit, action):
        if action != "rectify":
            return [], []
        session = db.session
        nc_items = session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id,
                                                           VisitItem.result == ItemResult.NON_CONFORMING)
                                   .order_by(VisitItem.seq)).all()
        departments = session.execute(select(Department.id, Department.name).order_by(Department.name)).all()
        return nc_items, departments

    # --- print the two filled forms ---------------------------------------------------------------
    @expose("/print/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("print")
    def print_forms(self, pk):
        visit = self._visible(pk)
        try:
            with unit_of_work(db.session):
                records = printing.print_visit_forms(db.session, visit, _actor(), may_reveal())
                numbers = [record.number for record in records]
        except DomainError as err:
            flash(str(err), "danger")
        else:
            flash(str(_l("Printed and filed as %(numbers)s.", numbers="、".join(numbers))), "success")
        return redirect(url_for(".show", pk=pk))

    def _visible(self, pk) -> Visit:
        try:
            return visits.get_visit(db.session, int(pk), _actor())
        except (NotFoundError, ValueError):
            abort(404)


# --- rectification items ---------------------------------------------------------------------------

class FilterRectificationOverdue(OverdueFilter):
    arg_name = "kefu_rectification_overdue"

    def clause(self):
        return visits.rectification_overdue_clause()


class FilterRectificationDepartment(RelatedTextFilter):
    name = _l("Name contains")
    arg_name = "kefu_rectification_department"

    def condition(self, value):
        return Rectification.department.has(Department.name.contains(value, autoescape=True))


class FilterRectificationCustomer(RelatedTextFilter):
    name = _l("Name, full mobile or ID-card number")
    arg_name = "kefu_rectification_customer"

    def condition(self, value):
        return Rectification.visit.has(Visit.customer.has(customer_condition(value)))


class FilterRectificationServiceItem(BaseFilter):
    name = _l("Is")
    arg_name = "kefu_rectification_service_item"

    def apply(self, query, value):
        if value not in {code for code, _label in ServiceItem.choices()}:
            return query
        return query.filter(Rectification.item.has(VisitItem.service_item == value))


def visit_numbers(session, visit_ids, always=False) -> dict[int, tuple[str, str]]:
    """(visit number, customer name) of the given visits, in one query (`always`: also for none, so that a
    page issues the same statements whether or not its rows name a visit)."""
    ids = {i for i in visit_ids if i}
    if not ids and not always:
        return {}
    rows = session.execute(select(Visit.id, Visit.planned_at, Customer.name)
                           .join(Customer, Customer.id == Visit.customer_id).where(Visit.id.in_(ids))).all()
    return {r.id: (Visit.number.fget(r), r.name) for r in rows}


class RectificationInterface(ComputedColumnsInterface):
    def computed(self, items):
        today = calendar.local_now().date()
        found = visit_numbers(self.session, {r.visit_id for r in items})
        return {
            "visit": [found.get(r.visit_id, ("", ""))[0] for r in items],
            "customer": [found.get(r.visit_id, ("", ""))[1] for r in items],
            "service_item": [r.item.service_item for r in items],
            "overdue": [["rectification"] if visits.rectification_overdue(r, today) else [] for r in items],
        }


class RectificationStepForm(DynamicForm):
    version = HiddenField()


def rectification_step_form(step, departments) -> type:
    """The form of one rectification step: its required and optional fields, a hidden version."""

    class StepForm(RectificationStepForm):
        pass

    kinds = {
        "note": lambda: TextAreaField(RECTIFICATION["note"], widget=BS3TextAreaFieldWidget()),
        "customer_told": lambda: SelectField(RECTIFICATION["customer_told"], choices=YES_NO, validate_choice=False,
                                             widget=Select2Widget()),
        "told_how": lambda: StringField(RECTIFICATION["told_how"], widget=BS3TextFieldWidget()),
        "measure": lambda: TextAreaField(_l("New rectification measure"), widget=BS3TextAreaFieldWidget()),
        "deadline": lambda: StringField(_l("New deadline"), widget=NativeInput("date")),
        "responsible_person": lambda: StringField(RECTIFICATION["responsible_person"], widget=BS3TextFieldWidget()),
        "department_id": lambda: SelectField(
            RECTIFICATION["department_id"], choices=[("", "—"), *((str(pk), name) for pk, name in departments)],
            validate_choice=False, widget=Select2Widget(), description=_l("Left blank: the same department.")),
        "tenant_consulted": lambda: SelectField(RECTIFICATION["tenant_consulted"], choices=YES_NO,
                                                validate_choice=False, widget=Select2Widget()),
    }
    for name in (*step.required, *step.optional):
        setattr(StepForm, name, kinds[name]())
    return StepForm


class RectificationView(DomainModelView):
    datamodel = RectificationInterface(
        Rectification,
        custom_filters={"state": [FilterEqual, FilterNotEqual], "overdue": [FilterRectificationOverdue],
                        "department": [FilterRectificationDepartment], "customer": [FilterRectificationCustomer],
                        "service_item": [FilterRectificationServiceItem]},
        eager=[joinedload(Rectification.department), joinedload(Rectification.item)],
        virtual_columns=["visit", "customer", "service_item", "overdue"],
    )
    route_base = "/rectification"
    base_permissions = ["can_list", "can_show", "can_transition"]
    list_widget = OverdueListWidget
    list_title = _l("Rectification items")
    show_title = _l("Rectification item")
    label_columns = RECTIFICATION
    list_columns = ["number", "visit", "customer", "service_item", "department", "measure", "responsible_person",
                    "deadline", "round", "state", "overdue"]
    order_columns = ["deadline", "round", "state"]
    base_order = ("deadline", "asc")
    search_columns = ["state", "overdue", "department", "customer", "service_item", "round", "deadline",
                      "responsible_person"]
    search_form_extra_fields = {
        "state": SelectField(_l("State"), choices=RectificationState.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "department": StringField(_l("Department")),
        "customer": StringField(_l("Customer")),
        "service_item": SelectField(_l("Service item"), choices=ServiceItem.choices()),
    }
    formatters_columns = {
        "state": RectificationState.label_of, "department": lambda d: d.name if d else "",
        "service_item": ServiceItem.label_of, "deadline": _day, "round": _round_cell, "overdue": overdue_flag,
    }
    add_columns = edit_columns = show_columns = ["measure"]  # never offered; FAB builds the forms all the same

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self._visible(pk)
        session, actor = db.session, _actor()
        today = calendar.local_now().date()
        visit = session.get(Visit, item.visit_id)
        steps = session.scalars(select(VisitStep).where(VisitStep.rectification_id == item.id)
                                .order_by(VisitStep.id)).all()
        departments = dict(session.execute(select(Department.id, Department.name)).all())
        actions = visits.allowed_rectification_steps(session, item, actor) \
            if _may("can_transition", "RectificationView") else []
        rows = [(RECTIFICATION["visit"], visit.number), (RECTIFICATION["customer"], visit.customer.name),
                (RECTIFICATION["service_item"], item_label(item.item)),
                (RECTIFICATION["opinion"], item.item.opinion or ""), (RECTIFICATION["department"], item.department.name),
                (RECTIFICATION["measure"], item.measure), (RECTIFICATION["responsible_person"], item.responsible_person),
                (RECTIFICATION["deadline"], _day(item.deadline)),
                (RECTIFICATION["tenant_consulted"], _yes_no(item.tenant_consulted)),
                (RECTIFICATION["completed_at"], _minute(item.completed_at)),
                (RECTIFICATION["satisfied_at"], _minute(item.satisfied_at))]
        return self.render_template(
            "kefu/rectification_show.html", title=f"{self.show_title} {item.number}", item=item, visit=visit,
            rows=[(str(label), text) for label, text in rows if text], state_label=RectificationState.label_of(item.state),
            overdue=visits.rectification_overdue(item, today), actions=actions, confirm_actions=CONFIRM_RECTIFICATION,
            timeline=[timeline_entry(s, departments, {item.item_id: item.item}, {item.id: item.number},
                                     RectificationState.label_of) for s in steps],
            may_show_visit=_may("can_show", "VisitView"), visit_state_label=VisitState.label_of(visit.state))

    @expose("/transition/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, action):
        item = self._visible(pk)
        step = visits.RECTIFICATION_STEP_BY_ACTION.get(action)
        if step is None:
            abort(404)
        session, actor = db.session, _actor()
        departments = session.execute(select(Department.id, Department.name).order_by(Department.name)).all()
        form = rectification_step_form(step, departments)(formdata=request.form if request.method == "POST" else None)
        for name in step.required:
            form[name].flags.required = True
        status = 200
        if request.method == "GET":
            if step not in visits.allowed_rectification_steps(session, item, actor):
                flash(str(_l("“%(action)s” is not open to you for this item now.", action=step.label)), "warning")
                return redirect(url_for(".show", pk=pk))
            form.version.data = item.version
            if action == "reject":
                form.measure.data = item.measure
                form.responsible_person.data = item.responsible_person
        elif form.validate():
            values = {name: form[name].data for name in (*step.required, *step.optional) if _filled(form[name].data)}
            number = item.number
            try:
                with unit_of_work(session):
                    visits.rectification_transition(session, item, action, actor, form.version.data, values)
                    target, round_ = item.state, item.round
            except ValidationError as err:
                status = err.status
                _fill_errors(form, err.errors)
                flash(str(err.message), "danger")
            except DomainError as err:
                status = err.status
                flash(str(err), "danger")
            else:
                flash(str(_l("%(number)s: “%(action)s” recorded; the item is now “%(state)s” (round %(round)s).",
                             number=number, action=step.label, state=RectificationState.label_of(target),
                             round=round_)), "success")
                return redirect(url_for(".show", pk=pk))
            session.rollback()
            item = self._visible(pk)
        else:
            status = 400
            flash_form_errors(form)
        return self.render_template(
            "kefu/rectification_transition.html", title=f"{step.label} · {item.number}", form=form, step=step,
            item=item, state_label=RectificationState.label_of(item.state), fields=[*step.required, *step.optional],
            confirm_message=CONFIRM_RECTIFICATION.get(action), service_item=item_label(item.item),
        ), status

    def _visible(self, pk) -> Rectification:
        try:
            return visits.get_rectification(db.session, int(pk), _actor())
        except (NotFoundError, ValueError):
            abort(404)


# --- return visits ------------------------------------------------------------------------------------

class FilterReturnVisitOverdue(OverdueFilter):
    arg_name = "kefu_return_visit_overdue"

    def clause(self):
        return visits.return_visit_overdue_clause()


class FilterReturnVisitCustomer(RelatedTextFilter):
    name = _l("Name, full mobile or ID-card number")
    arg_name = "kefu_return_visit_customer"

    def condition(self, value):
        return ReturnVisit.customer.has(customer_condition(value))


class FilterReturnVisitProject(RelatedTextFilter):
    name = _l("Name contains")
    arg_name = "kefu_return_visit_project"

    def condition(self, value):
        return ReturnVisit.project_id.in_(select(Project.id).where(Project.name.contains(value, autoescape=True)))


class ReturnVisitInterface(ComputedColumnsInterface):
    def computed(self, items):
        today = calendar.local_now().date()
        found = visit_numbers(self.session, {r.visit_id for r in items}, always=bool(items))
        project_ids = {r.project_id for r in items if r.project_id}
        projects = dict(self.session.execute(select(Project.id, Project.name).where(Project.id.in_(project_ids)))
                        .all()) if items else {}
        return {
            "source": [found.get(r.visit_id, ("",))[0] if r.visit_id else projects.get(r.project_id, "") for r in items],
            "overdue": [["return_visit"] if visits.return_visit_overdue(r, today) else [] for r in items],
        }


class RecordForm(DynamicForm):
    version = HiddenField()
    method = SelectField(RETURN_VISIT["method"], choices=_choices_with_blank(VisitMethod), validate_choice=False,
                         widget=Select2Widget())
    record = TextAreaField(RETURN_VISIT["record"], widget=BS3TextAreaFieldWidget())
    satisfaction = SelectField(RETURN_VISIT["satisfaction"], choices=SCORES, validate_choice=False,
                               widget=Select2Widget())
    effect_confirmed = SelectField(RETURN_VISIT["effect_confirmed"], choices=YES_NO, validate_choice=False,
                                   widget=Select2Widget())
    follow_up = TextAreaField(RETURN_VISIT["follow_up"], widget=BS3TextAreaFieldWidget())


RECORD_FIELDS = ["method", "record", "satisfaction", "effect_confirmed", "follow_up"]


class ScheduleForm(DynamicForm):
    project = StringField(_l("Project"), widget=BS3TextFieldWidget(),
                          description=_l("The project's name (or a part of it that only this project has)."))


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


class ReturnVisitView(DomainModelView):
    datamodel = ReturnVisitInterface(
        ReturnVisit,
        custom_filters={"state": [FilterEqual, FilterNotEqual], "kind": [FilterEqual, FilterNotEqual],
                        "overdue": [FilterReturnVisitOverdue], "customer": [FilterReturnVisitCustomer],
                        "project": [FilterReturnVisitProject]},
        eager=[joinedload(ReturnVisit.customer)],
        virtual_columns=["source", "project", "overdue"],
    )
    route_base = "/returnvisit"
    base_permissions = ["can_list", "can_show", "can_record", "can_print", "can_schedule"]
    list_widget = OverdueListWidget
    list_template = "kefu/return_visit_list.html"
    list_title = _l("Return visits")
    show_title = _l("Return visit")
    label_columns = RETURN_VISIT
    list_columns = ["number", "kind", "customer", "source", "due_on", "state", "satisfaction", "done_at", "overdue"]
    order_columns = ["due_on", "kind", "state", "done_at"]
    base_order = ("due_on", "asc")
    search_columns = ["state", "kind", "overdue", "customer", "project", "due_on"]
    search_form_extra_fields = {
        "state": SelectField(_l("State"), choices=list(RETURN_VISIT_STATES.items())),
        "kind": SelectField(_l("Kind"), choices=ReturnVisitKind.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "customer": StringField(_l("Customer")),
        "project": StringField(_l("Project")),
    }
    formatters_columns = {
        "kind": ReturnVisitKind.label_of, "customer": lambda c: c.name if c else "", "due_on": _day,
        "state": lambda s: str(RETURN_VISIT_STATES.get(s, s or "")), "done_at": _minute,
        "satisfaction": lambda v: v or "", "overdue": overdue_flag,
    }
    add_columns = edit_columns = show_columns = ["record"]  # never offered; FAB builds the forms all the same

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        record = self._record(pk)
        return self._render_show(record)

    def _render_show(self, record, form=None, status=200):
        session = db.session
        today = calendar.local_now().date()
        unit = session.get(Unit, record.unit_id) if record.unit_id else None
        visit = session.get(Visit, record.visit_id) if record.visit_id else None
        project = session.get(Project, record.project_id) if record.project_id else None
        archived = session.scalars(select(ArchiveRecord).where(ArchiveRecord.source_table == ReturnVisit.__table__.name,
                                                               ArchiveRecord.source_id == record.id)
                                   .order_by(ArchiveRecord.id)).all()
        rows = [(RETURN_VISIT["kind"], ReturnVisitKind.label_of(record.kind)),
                (RETURN_VISIT["customer"], record.customer.name), (RETURN_VISIT["unit"], unit.label if unit else ""),
                (RETURN_VISIT["project"], project.name if project else ""),
                (RETURN_VISIT["due_on"], _day(record.due_on)),
                (RETURN_VISIT["state"], str(RETURN_VISIT_STATES.get(record.state, record.state))),
                (RETURN_VISIT["method"], VisitMethod.label_of(record.method) if record.method else ""),
                (RETURN_VISIT["record"], record.record or ""), (RETURN_VISIT["satisfaction"], str(record.satisfaction or "")),
                (RETURN_VISIT["effect_confirmed"], _yes_no(record.effect_confirmed)),
                (RETURN_VISIT["follow_up"], record.follow_up or ""),
                (RETURN_VISIT["done_by_name"], record.done_by_name or ""), (RETURN_VISIT["done_at"], _minute(record.done_at))]
        may_record = record.state == "due" and record.kind != ReturnVisitKind.VISIT and _may("can_record",
                                                                                             "ReturnVisitView")
        return self.render_template(
            "kefu/return_visit_show.html", title=f"{self.show_title} {record.number}", record=record, visit=visit,
            rows=[(str(label), text) for label, text in rows if text], overdue=visits.return_visit_overdue(record, today),
            state_label=str(RETURN_VISIT_STATES.get(record.state, record.state)), may_record=may_record, form=form, fields=RECORD_FIELDS, archived=archived,
            may_print=record.state == "done" and _may("can_print", "ReturnVisitView"),
            may_show_visit=_may("can_show", "VisitView"), may_show_archive=_may("can_show", "ArchiveRecordView"),
        ), status

    @expose("/record/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("record")
    def record(self, pk):
        item = self._record(pk)
        if request.method == "GET":
            if item.state != "due" or item.kind == ReturnVisitKind.VISIT:
                flash(str(_l("This return visit is not open to be recorded here.")), "warning")
                return redirect(url_for(".show", pk=pk))
            form = RecordForm()
            form.version.data = item.version
            return self.render_template("kefu/return_visit_record.html", title=f"{_l('Record the return visit')} · "
                                        f"{item.number}", form=form, record=item, fields=RECORD_FIELDS,
                                        kind_label=ReturnVisitKind.label_of(item.kind))
        form = RecordForm()
        for name in ("method", "record", "satisfaction"):
            form[name].flags.required = True
        values = {name: form[name].data for name in RECORD_FIELDS if _filled(form[name].data)}
        try:
            with unit_of_work(db.session):
                visits.record_return_visit(db.session, item, _actor(), form.version.data, values)
        except ValidationError as err:
            status = err.status
            _fill_errors(form, err.errors)
            flash(str(err.message), "danger")
        except DomainError as err:
            status = err.status
            flash(str(err), "danger")
        else:
            flash(str(_l("%(number)s: the return visit is recorded.", number=item.number)), "success")
            return redirect(url_for(".show", pk=pk))
        db.session.rollback()
        item = self._record(pk)
        return self.render_template("kefu/return_visit_record.html", title=f"{_l('Record the return visit')} · "
                                    f"{item.number}", form=form, record=item, fields=RECORD_FIELDS,
                                    kind_label=ReturnVisitKind.label_of(item.kind)), status

    @expose("/print/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("print")
    def print_record(self, pk):
        item = self._record(pk)
        try:
            with unit_of_work(db.session):
                record_id = printing.print_return_visit(db.session, item, _actor(), may_reveal()).id
        except DomainError as err:
            flash(str(err), "danger")
            return redirect(url_for(".show", pk=pk))
        archived = db.session.get(ArchiveRecord, record_id)
        flash(str(_l("Printed and filed as %(numbers)s.", numbers=archived.number)), "success")
        if _may("can_show", "ArchiveRecordView"):
            return redirect(url_for("ArchiveRecordView.show", pk=record_id))
        return redirect(url_for(".show", pk=pk))

    @expose("/schedule", methods=["GET", "POST"])
    @has_access
    @permission_name("schedule")
    def schedule(self):
        form = ScheduleForm()
        status = 200
        if request.method == "GET":
            form.project.data = request.args.get("project", "")
        elif form.validate():
            errors, project = find_project(db.session, form.project.data)
            if project is not None:
                name = project.name
                try:
                    with unit_of_work(db.session):
                        added = visits.schedule_project_return_visits(db.session, project, _actor())
                except ValidationError as err:
                    status, errors = err.status, err.errors
                except DomainError as err:
                    status = err.status
                    flash(str(err), "danger")
                else:
                    flash(str(_l("%(n)s return visit(s) scheduled for %(project)s.", n=added, project=name)),
                          "success")
                    return redirect(url_for(".list", _flt_0_project=name))
            if errors:
                status = 422
            _fill_errors(form, errors)
        else:
            status = 400
            flash_form_errors(form)
        return self.render_template("kefu/return_visit_schedule.html", title=_l("Schedule the return visits of a "
                                                                                "project"), form=form), status

    def _record(self, pk) -> ReturnVisit:
        try:
            record = self.datamodel.get(int(pk), self._base_filters)
        except ValueError:
            record = None
        if record is None:
            abort(404)
        return record


# --- the summary to the general manager ------------------------------------------------------------------

class SummaryForm(DynamicForm):
    period_from = StringField(SUMMARY["period_from"], widget=NativeInput("date"))
    period_to = StringField(SUMMARY["period_to"], widget=NativeInput("date"))
    title = StringField(SUMMARY["title"], widget=BS3TextFieldWidget(),
                        description=_l("Left blank: “客户走访情况汇总” with the period."))


class SummaryEditForm(DynamicForm):
    version = HiddenField()
    title = StringField(SUMMARY["title"], widget=BS3TextFieldWidget())
    content = TextAreaField(SUMMARY["content"], widget=TextArea(), render_kw={"rows": 14, "class": "form-control"})


class CaseForm(DynamicForm):
    title = StringField(_l("Title"), widget=BS3TextFieldWidget())
    stage = SelectField(_l("Stage"), choices=_choices_with_blank(CaseStage), validate_choice=False,
                        widget=Select2Widget())
    category = SelectField(_l("Category"), choices=_choices_with_blank(CaseCategory), validate_choice=False,
                           widget=Select2Widget())
    description = TextAreaField(_l("Description"), widget=BS3TextAreaFieldWidget())
    cause = TextAreaField(_l("Cause"), widget=BS3TextAreaFieldWidget())
    lesson = TextAreaField(_l("Lesson and work standard"), widget=BS3TextAreaFieldWidget())
    project = StringField(_l("Project"), widget=BS3TextFieldWidget(), description=_l("Optional: the project's name."))
    department_id = SelectField(_l("Responsible department"), choices=[], validate_choice=False, widget=Select2Widget())


CASE_FIELDS = ["title", "stage", "category", "description", "cause", "lesson", "project", "department_id"]


def _figures(summary) -> dict:
    try:
        return json.loads(summary.figures or "{}")
    except ValueError:
        return {}


def figure_rows(figures: dict) -> list[tuple[str, str]]:
    rows = [(str(FIGURES[k]), "—" if figures.get(k) is None else str(figures[k])) for k in FIGURES if k in figures]
    for code, n in (figures.get("items") or {}).items():
        rows.append((f"{ITEM['result']}：{ItemResult.label_of(code)}", str(n)))
    return rows


def recurring_text(figures: dict) -> str:
    return "；".join(str(_l("%(item)s: %(n)s times", item=ServiceItem.label_of(code), n=n))
                    for code, n in figures.get("recurring") or [])


class VisitSummaryView(DomainModelView):
    datamodel = ComputedColumnsInterface(VisitSummary, custom_filters={"state": [FilterEqual, FilterNotEqual]})
    route_base = "/visitsummary"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_submit", "can_case"]
    list_widget = OverdueListWidget
    list_title = _l("Visit summaries")
    show_title = _l("Visit summary")
    add_title = _l("Draft a visit summary")
    edit_title = _l("Edit the visit summary")
    label_columns = SUMMARY
    list_columns = ["title", "period_from", "period_to", "state", "updated_at"]
    order_columns = ["period_from", "period_to", "state", "updated_at"]
    base_order = ("id", "desc")
    search_columns = ["state", "title", "period_from", "period_to"]
    search_form_extra_fields = {"state": SelectField(_l("State"), choices=SummaryState.choices())}
    formatters_columns = {"state": SummaryState.label_of, "period_from": _day, "period_to": _day}
    add_columns = ["title"]  # the real forms are SummaryForm and SummaryEditForm
    edit_columns = ["title"]
    show_columns = ["title"]

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form = SummaryForm()
        status = 200
        for name in ("period_from", "period_to"):
            form[name].flags.required = True
        if request.method == "GET":
            today = calendar.local_now().date()
            form.period_from.data = f"{today.replace(day=1):%Y-%m-%d}"
            form.period_to.data = f"{today:%Y-%m-%d}"
        elif form.validate():
            try:
                with unit_of_work(db.session):
                    summary = visits.draft_summary(db.session, _actor(), form.period_from.data, form.period_to.data,
                                                   form.title.data)
                    pk = summary.id
            except ValidationError as err:
                status = err.status
                _fill_errors(form, err.errors)
                flash(str(err.message), "danger")
            except DomainError as err:
                status = err.status
                flash(str(err), "danger")
            else:
                flash(str(_l("The summary is drafted from the period's figures: read and edit it, then submit it.")),
                      "success")
                return redirect(url_for(".show", pk=pk))
        else:
            status = 400
            flash_form_errors(form)
        return self.render_template("kefu/visit_summary_form.html", title=self.add_title, form=form,
                                    fields=["period_from", "period_to", "title"], summary=None), status

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        summary = self._summary(pk)
        session = db.session
        figures = _figures(summary)
        ids = json.loads(summary.visit_ids or "[]")
        found = visit_numbers(session, ids)
        found_approvals = session.scalars(select(Approval).where(
            Approval.subject_table == VisitSummary.__table__.name, Approval.subject_id == summary.id)
            .order_by(Approval.id.desc())).all()
        editable = summary.state in EDITABLE_SUMMARY
        return self.render_template(
            "kefu/visit_summary_show.html", title=f"{self.show_title} · {summary.title}", summary=summary,
            state_label=SummaryState.label_of(summary.state), period=f"{_day(summary.period_from)} — "
                                                                     f"{_day(summary.period_to)}",
            figures=figure_rows(figures), recurring=recurring_text(figures),
            visits=[(pk_, found.get(pk_, (f"#{pk_}", ""))) for pk_ in ids], approvals=found_approvals,
            approval_state_label=ApprovalState.label_of, labels=SUMMARY,
            may_edit=editable and _may("can_edit", "VisitSummaryView"),
            may_submit=editable and _may("can_submit", "VisitSummaryView"),
            may_case=_may("can_case", "VisitSummaryView"), may_show_visit=_may("can_show", "VisitView"),
            may_show_approvals=_may("can_show", "ApprovalView"),
            confirm_submit=_l("Submit this summary to the general manager? It can no longer be edited unless "
                              "the general manager returns it."))

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        summary = self._summary(pk)
        status = 200
        if request.method == "GET":
            if summary.state not in EDITABLE_SUMMARY:
                flash(str(_l("A submitted summary can no longer be edited.")), "warning")
                return redirect(url_for(".show", pk=summary.id))
            form = SummaryEditForm()
            form.version.data, form.title.data, form.content.data = summary.version, summary.title, summary.content
        else:
            form = SummaryEditForm()
            if form.validate():
                try:
                    with unit_of_work(db.session):
                        visits.edit_summary(db.session, summary, _actor(), form.version.data, form.content.data,
                                            form.title.data)
                except ValidationError as err:
                    status = err.status
                    _fill_errors(form, err.errors)
                    flash(str(err.message), "danger")
                except DomainError as err:
                    status = err.status
                    flash(str(err), "danger")
                else:
                    flash(str(_l("The summary is saved.")), "success")
                    return redirect(url_for(".show", pk=summary.id))
                db.session.rollback()
                summary = self._summary(pk)
            else:
                status = 400
                flash_form_errors(form)
        return self.render_template("kefu/visit_summary_form.html", title=self.edit_title, form=form,
                                    fields=["title", "content"], summary=summary), status

    @expose("/submit/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("submit")
    def submit(self, pk):
        summary = self._summary(pk)
        try:
            with unit_of_work(db.session):
                visits.submit_summary(db.session, summary, _actor(), request.form.get("version"))
        except ValidationError as err:
            flash(" ".join(str(m) for m in err.errors.values()) or str(err), "danger")
        except DomainError as err:
            flash(str(err), "danger")
        else:
            flash(str(_l("The summary is submitted; it now waits for the general manager.")), "success")
        return redirect(url_for(".show", pk=pk))

    @expose("/case/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("case")
    def case(self, pk):
        summary = self._summary(pk)
        session = db.session
        form = CaseForm()
        form.department_id.choices = [("", "—"), *((str(d.id), d.name) for d in session.scalars(
            select(Department).order_by(Department.name)))]
        for name in ("title", "stage", "category", "description"):
            form[name].flags.required = True
        status = 200
        if request.method == "GET":
            recurring = recurring_text(_figures(summary))
            form.title.data = f"{summary.title}：{recurring}" if recurring else summary.title
            form.description.data = recurring or summary.content
        elif form.validate():
            errors, project = {}, None
            if _filled(form.project.data):
                errors, project = find_project(session, form.project.data)
            if not errors:
                try:
                    with unit_of_work(session):
                        entry = visits.case_from_summary(
                            session, summary, _actor(), title=form.title.data, stage=form.stage.data or None,
                            category=form.category.data or None, description=form.description.data,
                            lesson=form.lesson.data, cause=form.cause.data,
                            project_id=project.id if project else None,
                            department_id=int(form.department_id.data) if form.department_id.data else None)
                        entry_id = entry.id
                except ValidationError as err:
                    status, errors = err.status, err.errors
                    flash(str(err.message), "danger")
                except DomainError as err:
                    status = err.status
                    flash(str(err), "danger")
                else:
                    flash(str(_l("Added to the case library.")), "success")
                    if _may("can_show", "CaseEntryView"):
                        return redirect(url_for("CaseEntryView.show", pk=entry_id))
                    return redirect(url_for(".show", pk=pk))
            status = status if status != 200 else 422
            _fill_errors(form, errors, rename={"project_id": "project"})
        else:
            status = 400
            flash_form_errors(form)
        return self.render_template("kefu/visit_summary_case.html", title=_l("Turn a recurring problem into a case"),
                                    form=form, fields=CASE_FIELDS, summary=summary), status

    def _summary(self, pk) -> VisitSummary:
        try:
            summary = self.datamodel.get(int(pk), self._base_filters)
        except ValueError:
            summary = None
        if summary is None:
            abort(404)
        return summary


# --- my work ----------------------------------------------------------------------------------------------

def my_visit_work(session, actor, now: datetime) -> list[Section]:
    """The visit work waiting for this actor, overdue first, one query per section whatever the rows:
    the visits they are the visiting staff of, their department's open rectification items, and the
    due delivery and move-in return visits for customer service."""
    roles = role_names(actor)
    sections = []
    if roles & visits.CS:
        sections.append(_my_visits(session, actor, now))
        sections.append(_due_return_visits(session, now.date()))
    if DEPARTMENT_STAFF in roles:
        department_id = scope.department_id_of(session, actor)
        if department_id is not None:
            sections.append(_department_rectifications(session, department_id, now.date()))
    return sections


def _my_visits(session, actor, now) -> Section:
    today = now.date()

    def count(*where):
        return select(func.count()).select_from(Rectification).where(
            Rectification.visit_id == Visit.id, *where).correlate(Visit).scalar_subquery()

    done = count(Rectification.state == R.DONE)
    unsatisfied = count(Rectification.state != R.SATISFIED)
    non_conforming = select(func.count()).select_from(VisitItem).where(
        VisitItem.visit_id == Visit.id, VisitItem.result == ItemResult.NON_CONFORMING).correlate(Visit).scalar_subquery()
    due = and_(ReturnVisit.visit_id == Visit.id, ReturnVisit.state == "due", ReturnVisit.kind == ReturnVisitKind.VISIT)
    overdue = or_(and_(Visit.state == S.PLANNED, Visit.planned_at < now),
                  and_(ReturnVisit.due_on.is_not(None), ReturnVisit.due_on < today))
    query = (select(Visit, ReturnVisit.due_on, done.label("done"), unsatisfied.label("unsatisfied"),
                    non_conforming.label("non_conforming"))
             .outerjoin(ReturnVisit, due)
             .where(Visit.staff_id == actor.id,
                    or_(Visit.state.in_((S.PLANNED, S.VISITED)),
                        and_(Visit.state == S.RECTIFYING, or_(done > 0, unsatisfied == 0))))
             .order_by(case((overdue, 0), else_=1), case((ReturnVisit.due_on.is_(None), 1), else_=0),
                       ReturnVisit.due_on, Visit.planned_at, Visit.id)
             .limit(MY_WORK_LIMIT + 1))
    found = session.execute(query).unique().all()
    label = {a: str(s.label) for a, s in visits.VISIT_STEP_BY_ACTION.items()}
    rows = []
    for visit, due_on, n_done, _unsatisfied, n_nc in found[:MY_WORK_LIMIT]:
        if visit.state == S.PLANNED:
            next_step, detail = label["visit"], visit.contact_name
        elif visit.state == S.VISITED:
            next_step = label["rectify"] if n_nc else label["return_visit"]
            detail = str(_l("%(n)s non-conforming item(s)", n=n_nc)) if n_nc else ""
        elif n_done:
            next_step = str(_l("Ask whether the customer is satisfied"))
            detail = str(_l("%(n)s item(s) rectified", n=n_done))
        else:
            next_step, detail = label["return_visit"], str(_l("Every item is satisfied"))
        late = []
        if visit.state == S.PLANNED and visit.planned_at < now:
            late.append("visit")
        elif due_on is not None and due_on < today:
            late.append("return_visit")
        rows.append(Row(url=url_for("VisitView.show", pk=visit.id), number=visit.number, title=visit.customer.name,
                        detail=detail, next_step=f"{VisitState.label_of(visit.state)} → {next_step}",
                        due=_minute(visit.planned_at) if visit.state == S.PLANNED else _day(due_on),
                        overdue=overdue_text(late)))
    return Section("visits", str(_l("Visits I am the visiting staff of")), rows, more=len(found) > MY_WORK_LIMIT,
                   more_url=url_for("VisitView.list"))


def _department_rectifications(session, department_id, today) -> Section:
    overdue = visits.rectification_overdue_clause(today)
    found = session.execute(
        select(Rectification, Visit.id, Visit.planned_at, Customer.name)
        .join(Visit, Visit.id == Rectification.visit_id).join(Customer, Customer.id == Visit.customer_id)
        .where(Rectification.department_id == department_id, Rectification.state == R.OPEN)
        .order_by(case((overdue, 0), else_=1), Rectification.deadline, Rectification.id)
        .limit(MY_WORK_LIMIT + 1)).unique().all()
    steps = "、".join(str(visits.RECTIFICATION_STEP_BY_ACTION[a].label) for a in ("report_progress", "complete"))
    rows = []
    for item, _visit_id, _planned_at, customer in found[:MY_WORK_LIMIT]:
        round_text = f"（{_l('Round %(n)s', n=item.round)}）" if item.round > 1 else ""
        measure = item.measure if len(item.measure) <= 60 else item.measure[:60] + "…"
        rows.append(Row(url=url_for("RectificationView.show", pk=item.id), number=item.number, title=customer,
                        detail=f"{ServiceItem.label_of(item.item.service_item)}：{measure}{round_text}",
                        next_step=f"{RectificationState.label_of(item.state)} → {steps}", due=_day(item.deadline),
                        overdue=overdue_text(["rectification"] if visits.rectification_overdue(item, today) else [])))
    return Section("rectifications", str(_l("Rectification items of my department")), rows,
                   more=len(found) > MY_WORK_LIMIT, more_url=url_for("RectificationView.list"))


RETURN_VISIT_LOOKAHEAD = timedelta(days=7)  # as the reminders: due within a week, or overdue


def _due_return_visits(session, today: date) -> Section:
    found = session.scalars(select(ReturnVisit).where(
        ReturnVisit.state == "due", ReturnVisit.kind != ReturnVisitKind.VISIT,
        ReturnVisit.due_on <= today + RETURN_VISIT_LOOKAHEAD)
        .order_by(ReturnVisit.due_on, ReturnVisit.id).limit(MY_WORK_LIMIT + 1)).unique().all()
    rows = [Row(url=url_for("ReturnVisitView.show", pk=r.id), number=r.number, title=r.customer.name,
                detail=ReturnVisitKind.label_of(r.kind), next_step=str(_l("Record the return visit")), due=_day(r.due_on),
                overdue=overdue_text(["return_visit"] if visits.return_visit_overdue(r, today) else []))
            for r in found[:MY_WORK_LIMIT]]
    return Section("return_visits", str(_l("Delivery and move-in return visits due")), rows,
                   more=len(found) > MY_WORK_LIMIT, more_url=url_for("ReturnVisitView.list", _flt_0_state="due"))


# --- registration ---------------------------------------------------------------------------------------

def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category) for each one
    added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    # The visits' own entry is not named like the category: a role granted the category (department staff,
    # for their rectification items) would otherwise be granted the entry of the visits too.
    menus = [(VisitView, "Visit list", _l("Visits"), "fa-handshake-o"),
             (RectificationView, "Rectification items", _l("Rectification items"), "fa-wrench"),
             (ReturnVisitView, "Return visits", _l("Return visits"), "fa-phone"),
             (VisitSummaryView, "Visit summaries", _l("Visit summaries"), "fa-file-text-o")]
    for view, name, label, icon in menus:
        appbuilder.add_view(view, name, label=label, icon=icon, category=CATEGORY, category_label=CATEGORY_LABEL,
                            category_icon="fa-handshake-o")
    return [(view, name, CATEGORY) for view, name, _label, _icon in menus]
