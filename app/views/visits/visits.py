"""Visits (SPEC §4): the list (overdue, open rectification items), planning, the detail page with a
button for each step the domain allows the current user now, a step's form, and printing both filled
forms. Every change goes through app.domain (visit_planning.plan_visit, visits.transition) in one unit
of work; a refusal re-renders the form with the domain's message and everything typed kept."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField

from app import printing
from app.domain import calendar, print_rules, search, visit_planning, visits, workflow, worklist
from app.domain.errors import NotFoundError
from app.domain.privacy import mask
from app.extensions import db
from app.models import (
    ArchiveRecord,
    Department,
    Rectification,
    ReturnVisit,
    Unit,
    Visit,
    VisitItem,
    VisitStep,
    VisitSummary,
)
from app.models.choices import (
    ContactRole,
    ItemResult,
    RectificationState,
    Satisfaction,
    ServiceItem,
    VisitMethod,
    VisitState,
)
from app.outcome import attempt

from ..archive import full_data_asked, refused_print
from ..base import DomainModelView, OverdueListWidget, RelatedTextFilter, may_reveal
from ..complaints import ComputedColumnsInterface, customer_condition, flash_form_errors, user_names
from ..quick_search import QuickSearchMixin, quick_filter, quick_search_field
from ..workflow import open_step_form, step_buttons
from .common import (
    CONFIRM_PRINT_VISIT,
    CONFIRM_VISIT,
    ITEM,
    OVERDUE_LABELS,
    RECTIFICATION,
    RETURN_VISIT_STATES,
    VISIT,
    OverdueFilter,
    R,
    S,
    current_actor,
    customer_service_staff,
    day_text,
    fill_errors,
    find_customer,
    find_unit,
    item_label,
    may,
    minute_text,
    overdue_flag,
    yes_no_text,
)
from .timeline import visit_timeline
from .visit_forms import (
    PLAN_FIELDS,
    SIMPLE_FIELDS,
    PlanForm,
    visit_step_form,
    visit_step_values,
)


def visit_overdue_clause(now: datetime):
    """SQL: a visit not made by its planned time, or with an overdue rectification or return visit."""
    today = now.date()
    return or_(and_(Visit.state == S.PLANNED, Visit.planned_at < now),
               exists().where(Rectification.visit_id == Visit.id, visits.rectification_overdue_clause(today)),
               exists().where(ReturnVisit.visit_id == Visit.id, visits.return_visit_overdue_clause(today)))


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


VISIT_SEARCH = search.Target(
    Visit, "ZF", by_customers=lambda ids: Visit.customer_id.in_(ids), by_units=lambda ids: Visit.unit_id.in_(ids),
    text_columns=(Visit.opinions, Visit.contact_name))


class VisitView(QuickSearchMixin, DomainModelView):
    datamodel = VisitInterface(
        Visit,
        custom_filters={"quick": [quick_filter(VISIT_SEARCH)], "state": [FilterEqual, FilterNotEqual], "customer": [FilterVisitCustomer],
                        "staff": [FilterVisitStaff], "overdue": [FilterVisitOverdue]},
        eager=[joinedload(Visit.customer)],
        virtual_columns=["staff", "open_rectifications", "overdue", "quick"],
    )
    route_base = "/visit"
    base_permissions = ["can_list", "can_show", "can_add", "can_transition", "can_print"]
    list_widget = OverdueListWidget
    list_title = _l("Visits")
    show_title = _l("Visit")
    add_title = _l("Plan a visit")
    label_columns = {**VISIT, "quick": _l("Search")}
    list_columns = ["number", "customer", "planned_at", "staff", "state", "open_rectifications", "overdue"]
    order_columns = ["planned_at", "state"]
    base_order = ("planned_at", "desc")
    search_columns = ["quick", "state", "overdue", "customer", "staff", "planned_at", "contact_name"]
    quick_search_placeholder = _l("Visit number, customer's name or full phone, unit, or words of the opinions")
    search_form_extra_fields = {
        "quick": quick_search_field(),
        "state": SelectField(_l("State"), choices=VisitState.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "customer": StringField(_l("Customer")),
        "staff": StringField(_l("Visiting staff")),
    }
    formatters_columns = {
        "planned_at": minute_text, "state": VisitState.label_of, "customer": lambda c: c.name if c else "",
        "open_rectifications": _open_count, "overdue": overdue_flag,
    }
    add_columns = ["contact_name", "planned_at"]  # the real form is PlanForm (add below)
    edit_columns = ["contact_name"]  # never offered (no can_edit); FAB builds an edit form all the same
    show_columns = ["contact_name"]

    # --- plan ---------------------------------------------------------------------------------
    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        session, actor = db.session, current_actor()
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
            if not errors:  # who may visit, and which unit, the domain decides (whatever was posted)
                def plan():
                    visit = visit_planning.plan_visit(
                        session, actor, customer_id=customer_id, unit_id=unit_id,
                        planned_at=(form.planned_at.data or "").strip() or None,
                        contact_role=form.contact_role.data or None, contact_name=form.contact_name.data,
                        contact_post=form.contact_post.data, contact_phone=form.contact_phone.data,
                        staff_id=form.staff_id.data or None, companions=form.companions.data)
                    return visit.id, visit.number

                planned, refusal = attempt(session, plan)
                if refusal is None:
                    flash(str(_l("Visit %(number)s planned.", number=planned[1])), "success")
                    return redirect(url_for(".show", pk=planned[0]))
                refusal.flash(form, rename={"customer_id": "customer", "unit_id": "unit"})
            fill_errors(form, errors)
        else:
            flash_form_errors(form)
        return self.render_template("kefu/visit_add.html", title=self.add_title, form=form, fields=PLAN_FIELDS)

    # --- detail -------------------------------------------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        visit = self._visible(pk)
        session, actor = db.session, current_actor()
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
        actions = visits.allowed_steps(session, visit, actor) if may("can_transition", "VisitView") else []
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
                (VISIT["planned_at"], minute_text(visit.planned_at)), (VISIT["staff"], names.get(visit.staff_id, "")),
                (VISIT["companions"], visit.companions or "")]),
            (_l("Visit"), [(VISIT["visited_at"], minute_text(visit.visited_at)), (VISIT["opinions"], visit.opinions or "")]),
            (_l("Return visit"), [
                (VISIT["return_visited_at"], minute_text(visit.return_visited_at)),
                (VISIT["return_visit_method"], VisitMethod.label_of(visit.return_visit_method)
                 if visit.return_visit_method else ""),
                (VISIT["return_visit_record"], visit.return_visit_record or ""),
                (VISIT["satisfaction"], Satisfaction.label_of(visit.satisfaction)),
                (VISIT["effect_confirmed"], yes_no_text(visit.effect_confirmed))]),
            (_l("Summary and archive"), [(VISIT["archived_at"], minute_text(visit.archived_at))]),
        ]
        sections = [(str(title), [(str(label), text) for label, text in rows if text]) for title, rows in sections]
        return self.render_template(
            "kefu/visit_show.html", title=f"{self.show_title} {visit.number}", visit=visit,
            stepper=workflow.states_in_path(visits.VISIT_WORKFLOW, visit),
            status_text=worklist.status_text(session, visit),
            sections=[s for s in sections if s[1]],
            state_label=VisitState.label_of(visit.state),
            buttons=step_buttons(actions, "VisitView.transition", visit, CONFIRM_VISIT),
            overdue=[str(OVERDUE_LABELS[r]) for r in visit_overdue_reasons(visit, late_rectification,
                                                                            late_return_visit, now)],
            items=[{"seq": i.seq, "service_item": ServiceItem.label_of(i.service_item), "result": i.result,
                    "result_label": ItemResult.label_of(i.result), "opinion": i.opinion or "",
                    "explanation": i.explanation or ""} for i in items],
            rectifications=[{"id": r.id, "number": r.number, "item": item_label(items_by_id[r.item_id])
                             if r.item_id in items_by_id else "", "department": departments.get(r.department_id, ""),
                             "measure": r.measure, "responsible_person": r.responsible_person,
                             "deadline": day_text(r.deadline), "round": r.round, "state": r.state,
                             "state_label": RectificationState.label_of(r.state),
                             "overdue": visits.rectification_overdue(r, today)} for r in rectifications],
            return_visits=[{"id": rv.id, "number": rv.number, "due_on": day_text(rv.due_on),
                            "state": str(RETURN_VISIT_STATES.get(rv.state, rv.state)),
                            "overdue": visits.return_visit_overdue(rv, today)} for rv in return_visits],
            archived=archived, summary=summary,
            timeline_entries=visit_timeline(session, steps, departments, items_by_id, numbers, state_of),
            labels={**VISIT, **{f"item_{k}": v for k, v in ITEM.items()}, **{f"r_{k}": v for k, v in RECTIFICATION.items()}},
            may_show_rectification=may("can_show", "RectificationView"),
            may_show_return_visit=may("can_show", "ReturnVisitView"),
            may_show_archive=may("can_show", "ArchiveRecordView"),
            may_show_summary=may("can_show", "VisitSummaryView"),
            may_see_customer=may("can_show", "CustomerView"),
            may_print=may("can_print", "VisitView") and print_rules.may_print("visit_record", visit),
            may_print_full=may_reveal(),
            print_first=visit.state == S.SUMMARISED and may("can_transition", "VisitView")
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
        session, actor = db.session, current_actor()
        nc_items, departments = self._step_context(visit, action)
        form, closed = open_step_form(
            visit_step_form(step, nc_items, departments), step, visit, lambda: visits.allowed_steps(session, visit, actor),
            _l("“%(action)s” is not open to you for this visit now.", action=step.label))
        status = 200
        if closed:
            return closed
        if request.method == "GET":
            if action == "visit":
                form.visited_at.data = f"{calendar.local_now():%Y-%m-%dT%H:%M}"
                form.companions.data = visit.companions or ""
        elif form.validate():
            values, rows = visit_step_values(step, form, nc_items)
            number = visit.number
            target, refusal = attempt(session, lambda: visits.transition(
                session, visit, action, actor, form.version.data, values, comment=form.comment.data).state)
            if refusal is None:
                flash(str(_l("%(number)s: “%(action)s” recorded; the visit is now “%(state)s”.", number=number,
                             action=step.label, state=VisitState.label_of(target))), "success")
                return redirect(url_for(".show", pk=pk))
            status = refusal.flash(form, name_rows={name: rows.name for name in ("items", "rectifications")}
                                   if rows else None)
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
        numbers, refusal = attempt(db.session, lambda: [record.number for record in printing.print_visit_forms(
            db.session, visit, current_actor(), full_data_asked())])
        if refusal is not None and refusal.status == 409:  # nothing to print yet: a page that says why
            return refused_print(refusal, url_for(".show", pk=pk))
        if refusal is None:
            flash(str(_l("Printed and filed as %(numbers)s.", numbers="、".join(numbers))), "success")
        else:
            refusal.flash()
        return redirect(url_for(".show", pk=pk))

    def _visible(self, pk) -> Visit:
        try:
            return visits.get_visit(db.session, int(pk), current_actor())
        except (NotFoundError, ValueError):
            abort(404)

