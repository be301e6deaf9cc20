"""The forms of a visit: planning, and the step forms (a table of the service items for the visit,
one row per non-conforming item for the rectification, the return visit's fields), with what each
step's form gives the domain to parse."""

from __future__ import annotations

from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField

from app.models.choices import ContactRole, ItemResult, ServiceItem

from ..workflow import FormSpec, NativeInput, step_form, step_values
from .common import (
    ITEM,
    RECTIFICATION,
    VISIT,
    RowList,
    choices_with_blank,
    is_filled,
    item_label,
    plain_select,
    text_area,
)


class PlanForm(DynamicForm):
    customer = StringField(_l("Customer"), widget=BS3TextFieldWidget(),
                           description=_l("The customer's name, full mobile number, full ID-card number or customer "
                                          "number."))
    unit = StringField(_l("Unit"), widget=BS3TextFieldWidget(),
                       description=_l("Part of “project building unit”, e.g. 2栋 101. Left blank: the customer's "
                                      "unit if the customer holds only one."))
    contact_role = SelectField(_l("Received by"), choices=choices_with_blank(ContactRole), validate_choice=False,
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


# The visit's plain step fields, typed as their parsers in the workflow table say (app.views.workflow).
VISIT_FORM = FormSpec(VISIT, long_text=frozenset({"opinions", "return_visit_record"}),
                      ticks=frozenset({"effect_confirmed"}),
                      descriptions={"effect_confirmed": _l("Required when the visit had rectification items.")})
SIMPLE_FIELDS = {"visit": ["visited_at", "opinions", "companions"],
                 "return_visit": ["return_visit_method", "return_visit_record", "satisfaction", "effect_confirmed"],
                 "archive": [], "rectify": []}


def visit_step_form(step, nc_items, departments) -> type:
    """The form of one visit step: its plain fields from the table, and what a visit takes as a table of its
    own (a result per service item for the visit, one row per non-conforming item for the rectification)."""
    form = step_form(step, VISIT_FORM, SIMPLE_FIELDS[step.action])

    class StepForm(form):
        pass

    if step.action == "visit":
        for code, _label in ServiceItem.choices():
            setattr(StepForm, f"result_{code}", plain_select(ITEM["result"], choices_with_blank(ItemResult)))
            setattr(StepForm, f"opinion_{code}", text_area(ITEM["opinion"]))
            setattr(StepForm, f"explanation_{code}", text_area(ITEM["explanation"]))
    elif step.action == "rectify":
        choices = [("", "—"), *((str(pk), name) for pk, name in departments)]
        for item in nc_items:
            setattr(StepForm, f"department_id_{item.id}", plain_select(RECTIFICATION["department_id"], choices))
            setattr(StepForm, f"measure_{item.id}", text_area(RECTIFICATION["measure"]))
            setattr(StepForm, f"responsible_person_{item.id}", StringField(
                RECTIFICATION["responsible_person"], render_kw={"class": "form-control"}))
            setattr(StepForm, f"deadline_{item.id}", StringField(RECTIFICATION["deadline"],
                                                                 widget=NativeInput("date")))
            setattr(StepForm, f"tenant_consulted_{item.id}", BooleanField(RECTIFICATION["tenant_consulted"]))
    return StepForm


def visit_step_values(step, form, nc_items) -> tuple[dict, RowList | None]:
    """What the domain parses, and how to name the rows of a refused table."""
    values = step_values(step, form, VISIT_FORM, SIMPLE_FIELDS[step.action])
    if step.action == "visit":
        items, labels = [], []
        for code, label in ServiceItem.choices():
            result = form[f"result_{code}"].data
            if not is_filled(result):
                continue
            item = {"service_item": code, "result": result}
            for name in ("opinion", "explanation"):
                if is_filled(form[f"{name}_{code}"].data):
                    item[name] = form[f"{name}_{code}"].data
            items.append(item)
            labels.append(str(label))
        return {"items": items, **values}, RowList(labels)
    if step.action == "rectify":
        rows = [{"item_id": item.id, "department_id": form[f"department_id_{item.id}"].data,
                 "measure": form[f"measure_{item.id}"].data,
                 "responsible_person": form[f"responsible_person_{item.id}"].data,
                 "deadline": form[f"deadline_{item.id}"].data,
                 "tenant_consulted": bool(form[f"tenant_consulted_{item.id}"].data)} for item in nc_items]
        return {"rectifications": rows}, RowList([item_label(item) for item in nc_items])
    return values, None
