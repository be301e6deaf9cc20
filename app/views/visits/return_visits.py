"""Return visits (SPEC §2 回访): a visit's own (recorded as the visit's `return_visit` step), and the
delivery and move-in return visits of a project — scheduled for every customer holding a unit,
recorded, printed and filed. Writes go through app.domain.visits in one unit of work."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField

from app import printing
from app.domain import calendar, print_rules, search, visits, worklist
from app.domain import workflow as visits_workflow
from app.extensions import db
from app.models import ArchiveRecord, Project, ReturnVisit, Unit, Visit
from app.models.choices import ReturnVisitKind, Satisfaction, VisitMethod
from app.outcome import attempt

from ..archive import full_data_asked, refused_print
from ..base import DomainModelView, OverdueListWidget, RelatedTextFilter, may_reveal
from ..complaints import ComputedColumnsInterface, customer_condition, flash_form_errors
from ..quick_search import QuickSearchMixin, quick_filter, quick_search_field
from ..workflow import (
    Entry,
    FormSpec,
    field_names,
    minute,
    open_step_form,
    people,
    person,
    step_buttons,
    step_form,
    step_values,
)
from .common import (
    RETURN_VISIT,
    RETURN_VISIT_STATES,
    OverdueFilter,
    current_actor,
    day_text,
    fill_errors,
    find_project,
    may,
    minute_text,
    overdue_flag,
    visit_numbers,
    yes_no_text,
)


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


RECORD_STEP = visits.RETURN_VISIT_WORKFLOW.step("record")
RECORD_FORM = FormSpec(RETURN_VISIT, long_text=frozenset({"record", "follow_up"}), comment=False)
RECORD_FIELDS = field_names(RECORD_STEP)


def done_by(session, record) -> str:
    """Who made the return visit, by name (the record keeps the login)."""
    if not record.done_by_name:
        return ""
    by_id, by_login = people(session, logins={record.done_by_name})
    return person(by_id, by_login, None, record.done_by_name)


class ScheduleForm(DynamicForm):
    project = StringField(_l("Project"), widget=BS3TextFieldWidget(),
                          description=_l("The project's name (or a part of it that only this project has)."))


RETURN_VISIT_SEARCH = search.Target(
    ReturnVisit, "HF", by_customers=lambda ids: ReturnVisit.customer_id.in_(ids),
    by_units=lambda ids: ReturnVisit.unit_id.in_(ids), text_columns=(ReturnVisit.record, ReturnVisit.follow_up))


class ReturnVisitView(QuickSearchMixin, DomainModelView):
    datamodel = ReturnVisitInterface(
        ReturnVisit,
        custom_filters={"quick": [quick_filter(RETURN_VISIT_SEARCH)], "state": [FilterEqual, FilterNotEqual], "kind": [FilterEqual, FilterNotEqual],
                        "overdue": [FilterReturnVisitOverdue], "customer": [FilterReturnVisitCustomer],
                        "project": [FilterReturnVisitProject]},
        eager=[joinedload(ReturnVisit.customer)],
        virtual_columns=["source", "project", "overdue", "quick"],
    )
    route_base = "/returnvisit"
    base_permissions = ["can_list", "can_show", "can_record", "can_print", "can_schedule"]
    list_widget = OverdueListWidget
    list_template = "kefu/return_visit_list.html"
    list_title = _l("Return visits")
    show_title = _l("Return visit")
    label_columns = {**RETURN_VISIT, "quick": _l("Search")}
    list_columns = ["number", "kind", "customer", "source", "due_on", "state", "satisfaction", "done_at", "overdue"]
    order_columns = ["due_on", "kind", "state", "done_at"]
    base_order = ("due_on", "asc")
    search_columns = ["quick", "state", "kind", "overdue", "customer", "project", "due_on"]
    quick_search_placeholder = _l("Return visit number, customer's name or full phone, unit, or words of the record")
    search_form_extra_fields = {
        "quick": quick_search_field(),
        "state": SelectField(_l("State"), choices=list(RETURN_VISIT_STATES.items())),
        "kind": SelectField(_l("Kind"), choices=ReturnVisitKind.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "customer": StringField(_l("Customer")),
        "project": StringField(_l("Project")),
    }
    formatters_columns = {
        "kind": ReturnVisitKind.label_of, "customer": lambda c: c.name if c else "", "due_on": day_text,
        "state": lambda s: str(RETURN_VISIT_STATES.get(s, s or "")), "done_at": minute_text,
        "satisfaction": Satisfaction.label_of, "overdue": overdue_flag,
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
                (RETURN_VISIT["due_on"], day_text(record.due_on)),
                (RETURN_VISIT["state"], str(RETURN_VISIT_STATES.get(record.state, record.state))),
                (RETURN_VISIT["method"], VisitMethod.label_of(record.method) if record.method else ""),
                (RETURN_VISIT["record"], record.record or ""), (RETURN_VISIT["satisfaction"], Satisfaction.label_of(record.satisfaction)),
                (RETURN_VISIT["effect_confirmed"], yes_no_text(record.effect_confirmed)),
                (RETURN_VISIT["follow_up"], record.follow_up or ""),
                (RETURN_VISIT["done_by_name"], done_by(session, record)),
                (RETURN_VISIT["done_at"], minute_text(record.done_at))]
        allowed = visits_workflow.allowed_steps(session, visits.RETURN_VISIT_WORKFLOW, record, current_actor()) \
            if may("can_record", "ReturnVisitView") else []
        return self.render_template(
            "kefu/return_visit_show.html", title=f"{self.show_title} {record.number}", record=record, visit=visit,
            stepper=visits_workflow.states_in_path(visits.RETURN_VISIT_WORKFLOW, record),
            status_text=worklist.status_text(session, record),
            rows=[(str(label), text) for label, text in rows if text], overdue=visits.return_visit_overdue(record, today),
            state_label=str(RETURN_VISIT_STATES.get(record.state, record.state)),
            buttons=step_buttons(allowed, {"record": "ReturnVisitView.record"}, record),
            timeline_entries=self._timeline(session, record), form=form, fields=RECORD_FIELDS, archived=archived,
            may_print=print_rules.may_print("return_visit", record) and may("can_print", "ReturnVisitView"),
            may_print_full=may_reveal(),
            may_show_visit=may("can_show", "VisitView"), may_show_archive=may("can_show", "ArchiveRecordView"),
        ), status

    @staticmethod
    def _timeline(session, record) -> list[Entry]:
        """A return visit keeps no step entries: its one step is read from the record (who, when, what)."""
        if not record.done_at:
            return []
        data = [(str(RETURN_VISIT[name]), text) for name, text in (
            ("method", VisitMethod.label_of(record.method) if record.method else ""), ("record", record.record or ""),
            ("satisfaction", Satisfaction.label_of(record.satisfaction)), ("effect_confirmed", yes_no_text(record.effect_confirmed)),
            ("follow_up", record.follow_up or "")) if text]
        return [Entry(minute(record.done_at), done_by(session, record),
                      str(RECORD_STEP.label), RECORD_STEP.action, data=data)]

    @expose("/record/<int:pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("record")
    def record(self, pk):
        item = self._record(pk)
        form, closed = open_step_form(
            step_form(RECORD_STEP, RECORD_FORM), RECORD_STEP, item,
            lambda: visits_workflow.allowed_steps(db.session, visits.RETURN_VISIT_WORKFLOW, item, current_actor()),
            _l("This return visit is not open to be recorded here."))
        status = 200
        if closed:
            return closed
        if request.method == "POST":
            _done, refusal = attempt(db.session, lambda: visits.record_return_visit(
                db.session, item, current_actor(), form.version.data, step_values(RECORD_STEP, form, RECORD_FORM)))
            if refusal is None:
                flash(str(_l("%(number)s: the return visit is recorded.", number=item.number)), "success")
                return redirect(url_for(".show", pk=pk))
            status = refusal.flash(form)
            item = self._record(pk)
        return self.render_template("kefu/return_visit_record.html", title=f"{_l('Record the return visit')} · "
                                    f"{item.number}", form=form, record=item, fields=RECORD_FIELDS, step=RECORD_STEP,
                                    kind_label=ReturnVisitKind.label_of(item.kind)), status

    @expose("/print/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("print")
    def print_record(self, pk):
        item = self._record(pk)
        record_id, refusal = attempt(db.session, lambda: printing.print_return_visit(
            db.session, item, current_actor(), full_data_asked()).id)
        if refusal is not None:
            if refusal.status == 409:  # nothing to print yet: a page that says why, nothing filed
                return refused_print(refusal, url_for(".show", pk=pk))
            refusal.flash()
            return redirect(url_for(".show", pk=pk))
        archived = db.session.get(ArchiveRecord, record_id)
        flash(str(_l("Printed and filed as %(numbers)s.", numbers=archived.number)), "success")
        if may("can_show", "ArchiveRecordView"):
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
                added, refusal = attempt(db.session, lambda: visits.schedule_project_return_visits(
                    db.session, project, current_actor()))
                if refusal is None:
                    flash(str(_l("%(n)s return visit(s) scheduled for %(project)s.", n=added, project=name)),
                          "success")
                    return redirect(url_for(".list", _flt_0_project=name))
                status, errors = refusal.status, refusal.errors
                if not errors:
                    flash(refusal.message, "danger")
            if errors:
                status = 422
            fill_errors(form, errors)
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

