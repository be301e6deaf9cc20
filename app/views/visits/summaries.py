"""The summary of visits to the general manager's office (SPEC §4 汇总上报): drafted from a period's
figures by the customer-service manager, edited, submitted for the general manager's acknowledgement
(app.domain.approvals), and a recurring problem turned into a case-library entry."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.widgets import TextArea

from app.domain import calendar, visits
from app.domain.errors import DomainError, ValidationError
from app.domain.records import unit_of_work
from app.extensions import db
from app.models import Approval, Department, VisitSummary
from app.models.choices import ApprovalState, CaseCategory, CaseStage, ItemResult, ServiceItem, SummaryState

from ..base import DomainModelView, OverdueListWidget, china_time
from ..complaints import ComputedColumnsInterface, NativeInput, flash_form_errors
from .common import (
    EDITABLE_SUMMARY,
    FIGURES,
    ITEM,
    SUMMARY,
    choices_with_blank,
    current_actor,
    day_text,
    fill_errors,
    find_project,
    is_filled,
    may,
    visit_numbers,
)


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
    stage = SelectField(_l("Stage"), choices=choices_with_blank(CaseStage), validate_choice=False,
                        widget=Select2Widget())
    category = SelectField(_l("Category"), choices=choices_with_blank(CaseCategory), validate_choice=False,
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
    formatters_columns = {"state": SummaryState.label_of, "period_from": day_text, "period_to": day_text}
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
                    summary = visits.draft_summary(db.session, current_actor(), form.period_from.data, form.period_to.data,
                                                   form.title.data)
                    pk = summary.id
            except ValidationError as err:
                status = err.status
                fill_errors(form, err.errors)
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
            state_label=SummaryState.label_of(summary.state), period=f"{day_text(summary.period_from)} — "
                                                                     f"{day_text(summary.period_to)}",
            figures=figure_rows(figures), recurring=recurring_text(figures),
            visits=[(pk_, found.get(pk_, (f"#{pk_}", ""))) for pk_ in ids], approvals=found_approvals,
            approval_state_label=ApprovalState.label_of, labels=SUMMARY,
            may_edit=editable and may("can_edit", "VisitSummaryView"),
            may_submit=editable and may("can_submit", "VisitSummaryView"),
            may_case=may("can_case", "VisitSummaryView"), may_show_visit=may("can_show", "VisitView"),
            may_show_approvals=may("can_show", "ApprovalView"), china_time=china_time,
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
                        visits.edit_summary(db.session, summary, current_actor(), form.version.data, form.content.data,
                                            form.title.data)
                except ValidationError as err:
                    status = err.status
                    fill_errors(form, err.errors)
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
                visits.submit_summary(db.session, summary, current_actor(), request.form.get("version"))
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
            if is_filled(form.project.data):
                errors, project = find_project(session, form.project.data)
            if not errors:
                try:
                    with unit_of_work(session):
                        entry = visits.case_from_summary(
                            session, summary, current_actor(), title=form.title.data, stage=form.stage.data or None,
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
                    if may("can_show", "CaseEntryView"):
                        return redirect(url_for("CaseEntryView.show", pk=entry_id))
                    return redirect(url_for(".show", pk=pk))
            status = status if status != 200 else 422
            fill_errors(form, errors, rename={"project_id": "project"})
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

