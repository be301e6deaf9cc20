"""Rectification items (SPEC §4 整改): a department's items with their round and overdue flag, the
item's page with a button for each step the domain allows now, and a step's form. Department staff
see and work only their own department's items (app.domain.scope); every step goes through
app.domain.visits.rectification_transition in one unit of work."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.filters import BaseFilter, FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField

from app.domain import calendar, search, visits, workflow, worklist
from app.domain.errors import NotFoundError
from app.extensions import db
from app.models import Department, Rectification, Visit, VisitItem, VisitStep
from app.models.choices import RectificationState, ServiceItem, VisitState
from app.outcome import attempt

from ..base import DomainModelView, OverdueListWidget, RelatedTextFilter
from ..complaints import ComputedColumnsInterface, customer_condition, flash_form_errors
from ..quick_search import QuickSearchMixin, quick_filter, quick_search_field
from ..workflow import FormSpec, open_step_form, step_buttons, step_form, step_values
from .common import (
    CONFIRM_RECTIFICATION,
    RECTIFICATION,
    OverdueFilter,
    current_actor,
    day_text,
    item_label,
    may,
    minute_text,
    overdue_flag,
    round_cell,
    visit_numbers,
    yes_no_text,
)
from .timeline import visit_timeline


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


def rectification_form_spec(departments) -> FormSpec:
    """The item's step fields as its workflow table declares them; a new round names its new measure."""
    return FormSpec({**RECTIFICATION, "measure": _l("New rectification measure"), "deadline": _l("New deadline")},
                    long_text=frozenset({"note", "measure"}), records={"department_id": departments},
                    descriptions={"department_id": _l("Left blank: the same department.")}, comment=False)


RECTIFICATION_SEARCH = search.Target(
    Rectification, "ZG",
    by_customers=lambda ids: Rectification.visit_id.in_(select(Visit.id).where(Visit.customer_id.in_(ids))),
    by_units=lambda ids: Rectification.visit_id.in_(select(Visit.id).where(Visit.unit_id.in_(ids))),
    text_columns=(Rectification.measure, Rectification.responsible_person))


class RectificationView(QuickSearchMixin, DomainModelView):
    datamodel = RectificationInterface(
        Rectification,
        custom_filters={"quick": [quick_filter(RECTIFICATION_SEARCH)], "state": [FilterEqual, FilterNotEqual], "overdue": [FilterRectificationOverdue],
                        "department": [FilterRectificationDepartment], "customer": [FilterRectificationCustomer],
                        "service_item": [FilterRectificationServiceItem]},
        eager=[joinedload(Rectification.department), joinedload(Rectification.item)],
        virtual_columns=["visit", "customer", "service_item", "overdue", "quick"],
    )
    route_base = "/rectification"
    base_permissions = ["can_list", "can_show", "can_transition"]
    list_widget = OverdueListWidget
    list_title = _l("Rectification items")
    show_title = _l("Rectification item")
    label_columns = {**RECTIFICATION, "quick": _l("Search")}
    list_columns = ["number", "visit", "customer", "service_item", "department", "measure", "responsible_person",
                    "deadline", "round", "state", "overdue"]
    order_columns = ["deadline", "round", "state"]
    base_order = ("deadline", "asc")
    search_columns = ["quick", "state", "overdue", "department", "customer", "service_item", "round", "deadline",
                      "responsible_person"]
    quick_search_placeholder = _l("Item number, customer's name or full phone, unit, or words of the measure")
    search_form_extra_fields = {
        "quick": quick_search_field(),
        "state": SelectField(_l("State"), choices=RectificationState.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "department": StringField(_l("Department")),
        "customer": StringField(_l("Customer")),
        "service_item": SelectField(_l("Service item"), choices=ServiceItem.choices()),
    }
    formatters_columns = {
        "state": RectificationState.label_of, "department": lambda d: d.name if d else "",
        "service_item": ServiceItem.label_of, "deadline": day_text, "round": round_cell, "overdue": overdue_flag,
    }
    add_columns = edit_columns = show_columns = ["measure"]  # never offered; FAB builds the forms all the same

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self._visible(pk)
        session, actor = db.session, current_actor()
        today = calendar.local_now().date()
        visit = session.get(Visit, item.visit_id)
        steps = session.scalars(select(VisitStep).where(VisitStep.rectification_id == item.id)
                                .order_by(VisitStep.id)).all()
        departments = dict(session.execute(select(Department.id, Department.name)).all())
        actions = visits.allowed_rectification_steps(session, item, actor) \
            if may("can_transition", "RectificationView") else []
        rows = [(RECTIFICATION["visit"], visit.number), (RECTIFICATION["customer"], visit.customer.name),
                (RECTIFICATION["service_item"], item_label(item.item)),
                (RECTIFICATION["opinion"], item.item.opinion or ""), (RECTIFICATION["department"], item.department.name),
                (RECTIFICATION["measure"], item.measure), (RECTIFICATION["responsible_person"], item.responsible_person),
                (RECTIFICATION["deadline"], day_text(item.deadline)),
                (RECTIFICATION["tenant_consulted"], yes_no_text(item.tenant_consulted)),
                (RECTIFICATION["completed_at"], minute_text(item.completed_at)),
                (RECTIFICATION["satisfied_at"], minute_text(item.satisfied_at))]
        return self.render_template(
            "kefu/rectification_show.html", title=f"{self.show_title} {item.number}", item=item, visit=visit,
            stepper=workflow.states_in_path(visits.RECTIFICATION_WORKFLOW, item),
            status_text=worklist.status_text(session, item),
            rows=[(str(label), text) for label, text in rows if text], state_label=RectificationState.label_of(item.state),
            overdue=visits.rectification_overdue(item, today),
            buttons=step_buttons(actions, "RectificationView.transition", item, CONFIRM_RECTIFICATION),
            timeline_entries=visit_timeline(session, steps, departments, {item.item_id: item.item},
                                            {item.id: item.number}, RectificationState.label_of),
            may_show_visit=may("can_show", "VisitView"), visit_state_label=VisitState.label_of(visit.state))

    @expose("/transition/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, action):
        item = self._visible(pk)
        step = visits.RECTIFICATION_STEP_BY_ACTION.get(action)
        if step is None:
            abort(404)
        session, actor = db.session, current_actor()
        departments = session.execute(select(Department.id, Department.name).order_by(Department.name)).all()
        spec = rectification_form_spec(departments)
        form, closed = open_step_form(
            step_form(step, spec), step, item, lambda: visits.allowed_rectification_steps(session, item, actor),
            _l("“%(action)s” is not open to you for this item now.", action=step.label))
        status = 200
        if closed:
            return closed
        if request.method == "GET":
            if action == "reject":
                form.measure.data = item.measure
                form.responsible_person.data = item.responsible_person
        elif form.validate():
            number = item.number
            moved, refusal = attempt(session, lambda: (lambda r: (r.state, r.round))(visits.rectification_transition(
                session, item, action, actor, form.version.data, step_values(step, form, spec))))
            if refusal is None:
                flash(str(_l("%(number)s: “%(action)s” recorded; the item is now “%(state)s” (round %(round)s).",
                             number=number, action=step.label, state=RectificationState.label_of(moved[0]),
                             round=moved[1])), "success")
                return redirect(url_for(".show", pk=pk))
            status = refusal.flash(form)
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
            return visits.get_rectification(db.session, int(pk), current_actor())
        except (NotFoundError, ValueError):
            abort(404)

