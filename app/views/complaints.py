"""Complaint pages: the list (overdue in red), receiving a complaint, the detail page with the timeline of
its steps and one button per action the current user may take now, and the form of each step.

Every change goes through app.domain.complaints (open_complaint, transition) in one unit of work; the
forms only collect what the step needs, and a refusal re-renders the form with the domain's message and
everything typed kept. Edit and delete are not offered: the workflow is the only way to change one.
"""

from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, request, send_file, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import BaseFilter, FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import not_, or_, select
from sqlalchemy.orm import joinedload
from wtforms import SelectField, StringField, TextAreaField

from app import labels
from app.domain import (
    approvals,
    attachments,
    calendar,
    complaints,
    lookup,
    print_rules,
    search,
    workflow,
    worklist,
)
from app.domain.errors import DomainError, NotFoundError, ValidationError
from app.domain.people import user_names
from app.domain.privacy import mask
from app.extensions import db
from app.models import Approval, Building, Complaint, ComplaintStep, Customer, Department, Project, Unit
from app.models.choices import Channel, ComplaintCategory, ComplaintState, Severity
from app.outcome import attempt

from .base import (
    CsvExportMixin,
    DomainModelView,
    KefuInterface,
    OverdueListWidget,
    RelatedTextFilter,
    china_time,
    may_reveal,
)
from .quick_search import QuickSearchMixin, quick_filter, quick_search_field
from .workflow import (
    FormSpec,
    NativeInput,
    approval_rows,
    labelled,
    open_step_form,
    step_buttons,
    step_entries,
    step_form,
    step_values,
)

# Consequential actions ask the user to confirm before the form is sent.
CONFIRM_ACTIONS = {
    "close": _l("Close this complaint? This cannot be undone."),
    "close_invalid": _l("Close this complaint as invalid or a consultation? This cannot be undone."),
    "close_unresolved": _l("Close this complaint as unresolved? This cannot be undone."),
}

# The text fields of the steps typed as a paragraph (the others are one line); what each field is on the
# form otherwise follows its parser in the workflow table (app.views.workflow.field_kind).
LONG_TEXT = frozenset({
    "invalid_explanation", "legal_opinion", "handling_plan", "cause_analysis", "report", "measures",
    "progress_note", "reply_result", "return_visit_record", "root_cause", "improvement", "case_lesson",
    "unresolved_position", "customer_told_how",
})


def form_spec(session, step=None) -> FormSpec:
    """How the complaint's step fields look on a form (a department chosen from the list)."""
    departments = session.execute(select(Department.id, Department.name).order_by(Department.name)).all() \
        if step is None or "department_id" in step.fields else []
    conditional = {name: _l("Required for major and crisis complaints.")
                   for name, spec in (step.fields.items() if step else ()) if spec.when is not None}
    return FormSpec(labels.COMPLAINT_STEP_FIELDS, long_text=LONG_TEXT, records={"department_id": departments},
                    descriptions=conditional)


def action_label(code: str) -> str:
    return labels.label(labels.COMPLAINT_ACTIONS, code)


def overdue_text(reasons) -> str:
    return labels.joined(labels.COMPLAINT_OVERDUE, reasons)


def overdue_flag(reasons) -> Markup:
    if not reasons:
        return Markup("")
    return Markup('<span class="kefu-overdue-flag text-danger" style="color:#c9302c;font-weight:bold">'
                  '<i class="fa fa-exclamation-triangle"></i> {} <small>{}</small></span>').format(
        _l("Overdue"), overdue_text(reasons))


def unit_labels(session, ids) -> dict[int, str]:
    """"Project building number" of the given units, in one query (also when none is given, so that a page
    issues the same statements whether or not its complaints name a unit)."""
    ids = {i for i in ids if i}
    rows = session.execute(select(Unit.id, Project.name.label("project"), Building.name.label("building"), Unit.number)
                           .join(Building, Building.id == Unit.building_id)
                           .join(Project, Project.id == Building.project_id)
                           .where(Unit.id.in_(ids))).all()
    return {r.id: f"{r.project} {r.building} {r.number}" for r in rows}


def _minute(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


# --- list ---------------------------------------------------------------------------------------

class FilterOverdue(BaseFilter):
    """Complaints a deadline has passed for (app.domain.complaints.overdue_clause), or the others."""

    name = _l("Is")
    arg_name = "kefu_overdue"

    def apply(self, query, value):
        clause = complaints.overdue_clause(calendar.local_now())
        if value in ("y", "yes", "1", "true", "on"):
            return query.filter(clause)
        if value in ("n", "no", "0", "false", "off"):
            return query.filter(not_(clause))
        return query


class FilterCustomer(RelatedTextFilter):
    """A customer by name (contains), or by full mobile or ID-card number (exact, indexed)."""

    name = _l("Name, full mobile or ID-card number")
    arg_name = "kefu_customer"

    def condition(self, value):
        return Complaint.customer.has(customer_condition(value))


def customer_condition(value: str):
    compact = value.replace(" ", "").replace("-", "")
    if re.fullmatch(r"\d{17}[\dXx]", compact):
        return Customer.id_number == compact.upper()
    if re.fullmatch(r"1\d{10}", compact):
        return Customer.mobile == compact
    return Customer.name.contains(value, autoescape=True)


class FilterFirstResponsible(RelatedTextFilter):
    """The first-responsible person by login or full name (exact)."""

    name = _l("Is")
    arg_name = "kefu_first_responsible"

    def condition(self, value):
        people = select(User.id).where(or_(User.username == value, User.first_name == value,
                                           (User.first_name + User.last_name) == value))
        return Complaint.first_responsible_id.in_(people)


COMPLAINT_SEARCH = search.Target(
    Complaint, "TS", by_customers=lambda ids: Complaint.customer_id.in_(ids),
    by_units=lambda ids: Complaint.unit_id.in_(ids), text_columns=(Complaint.content,))


class FilterDepartmentName(RelatedTextFilter):
    name = _l("Name contains")
    arg_name = "kefu_department"

    def condition(self, value):
        return Complaint.department.has(Department.name.contains(value, autoescape=True))


class ComputedColumnsInterface(KefuInterface):
    """KefuInterface whose list rows can carry columns computed for the whole page at once
    (`computed(items) -> {column: [value per item]}`), so no column costs a query per row, and whose
    `virtual_columns` (no column of the table, e.g. "overdue") can be searched with their custom filters
    (FAB only accepts filters on the model's own columns)."""

    def __init__(self, obj, session=None, custom_filters=None, eager=(), virtual_columns=()):
        self.virtual_columns = tuple(virtual_columns)
        super().__init__(obj, session, custom_filters=custom_filters, eager=eager)

    def get_columns_list(self):
        return [*super().get_columns_list(), *getattr(self, "virtual_columns", ())]

    def get_search_columns_list(self):
        """FAB's default search columns (read once, when the view is set up) are real columns only."""
        virtual, self.virtual_columns = self.virtual_columns, ()
        try:
            return super().get_search_columns_list()
        finally:
            self.virtual_columns = virtual

    def computed(self, items) -> dict[str, list]:
        return {}

    def get_values(self, lst, list_columns):
        items = list(lst)
        extra = self.computed(items)
        for index, item in enumerate(items):
            row = {}
            for col in list_columns:
                row[col] = extra[col][index] if col in extra else self._get_attr_value(item, col)
            yield row


class ComplaintInterface(ComputedColumnsInterface):
    def computed(self, items):
        now = calendar.local_now()
        names = user_names(self.session, {c.first_responsible_id for c in items})
        units = unit_labels(self.session, {c.unit_id for c in items}) if items else {}
        return {
            "overdue": [complaints.overdue_reasons(c, now) for c in items],
            "first_responsible": [names.get(c.first_responsible_id, "") for c in items],
            "unit": [units.get(c.unit_id, "") for c in items],
        }


def _choices_with_blank(enum_class):
    return [("", "—"), *enum_class.choices()]


class ComplaintView(QuickSearchMixin, CsvExportMixin, DomainModelView):
    datamodel = ComplaintInterface(
        Complaint,
        custom_filters={
            "quick": [quick_filter(COMPLAINT_SEARCH)],
            "first_responsible": [FilterFirstResponsible],
            "overdue": [FilterOverdue],
            "customer": [FilterCustomer],
            "department": [FilterDepartmentName],
            **{col: [FilterEqual, FilterNotEqual] for col in ("state", "severity", "channel", "category")},
        },
        eager=[joinedload(Complaint.customer), joinedload(Complaint.department)],
        virtual_columns=["overdue", "quick", "first_responsible"],
    )
    route_base = "/complaint"
    base_permissions = ["can_list", "can_show", "can_add", "can_transition", "can_export"]
    list_widget = OverdueListWidget
    list_title = _l("Complaints")
    show_title = _l("Complaint")
    add_title = _l("Receive a complaint")
    label_columns = {**labels.COMPLAINT, "quick": _l("Search")}
    list_columns = ["number", "received_at", "channel", "customer", "unit", "category", "severity", "department",
                    "state", "first_responsible", "overdue"]
    order_columns = ["received_at", "channel", "category", "severity", "state"]
    base_order = ("received_at", "desc")
    search_columns = ["quick", "first_responsible", "state", "overdue", "severity", "channel", "category",
                      "customer", "department", "received_at"]
    quick_search_placeholder = _l("Complaint number, customer's name or full phone, unit «翠湖花园 2栋 701», "
                                  "or words of the content")
    search_form_extra_fields = {
        "quick": quick_search_field(),
        "first_responsible": StringField(_l("First-responsible person")),
        "state": SelectField(_l("State"), choices=ComplaintState.choices()),
        "severity": SelectField(_l("Severity"), choices=Severity.choices()),
        "channel": SelectField(_l("Channel"), choices=Channel.choices()),
        "category": SelectField(_l("Category"), choices=ComplaintCategory.choices()),
        "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
        "customer": StringField(_l("Customer")),
        "department": StringField(_l("Department")),
    }
    formatters_columns = {
        "received_at": _minute,
        "channel": Channel.label_of,
        "category": ComplaintCategory.label_of,
        "severity": Severity.label_of,
        "state": ComplaintState.label_of,
        "customer": lambda c: c.name if c else "",
        "department": lambda d: d.name if d else "",
        "overdue": overdue_flag,
    }
    add_columns = ["channel", "content", "received_at"]  # the real form is ReceiveForm (add below)
    show_columns = ["number"]
    edit_columns = ["content"]  # never offered (no can_edit); FAB builds an edit form all the same

    # --- list (QuickSearchMixin) and export -----------------------------------------------------
    export_filename = "complaints.csv"
    export_order = ("received_at", "desc")

    def export_table(self, items):
        """The list's columns as the list shows them (no personal data)."""
        columns = self.list_columns
        rows = []
        for row in self.datamodel.get_values(items, columns):
            row["overdue"] = overdue_text(row["overdue"])
            rows.append([self._plain(c, row[c]) for c in columns])
        return [labels.label(labels.COMPLAINT, c) for c in columns], rows

    def _plain(self, column, value):
        formatter = self.formatters_columns.get(column)
        if column == "overdue" or formatter is None:
            return "" if value is None else str(value)
        return str(formatter(value))

    # --- receive ------------------------------------------------------------------------------
    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        """Receive a complaint: the customer found by name, phone or ID-card number (suggestions while
        typing; without JavaScript the candidates of a submit), the unit from the customer's units. Every
        refusal of a submit is shown at once beside its field, and what was typed is kept."""
        session, actor = db.session, self._actor()
        form = ReceiveForm()
        for field in form:
            field.flags.required = field.name in ("channel", "customer", "content")
        if request.method == "GET":
            form.received_at.data = f"{calendar.local_now():%Y-%m-%dT%H:%M}"
            form.channel.data = request.args.get("channel", "")
            form.customer.data = request.args.get("customer", "")
            pick_customer(session, actor, form)
        elif form.validate():
            customer_id, unit_id, errors = pick_customer(session, actor, form)

            def receive():
                try:
                    complaint = complaints.open_complaint(
                        session, actor, channel=form.channel.data, customer_id=customer_id,
                        content=form.content.data, received_at=(form.received_at.data or "").strip() or None,
                        unit_id=unit_id, remedy_requested=form.remedy_requested.data)
                except ValidationError as err:
                    raise ValidationError({**err.errors, **errors}) from None  # every refusal at once
                if errors:
                    raise ValidationError(errors)
                return complaint.id, complaint.number

            opened, refusal = attempt(session, receive)
            if refusal is None:
                flash(str(_l("Complaint %(number)s received; you are its first-responsible person.",
                             number=opened[1])), "success")
                return redirect(url_for(".show", pk=opened[0]))
            refusal.flash(form, rename={"customer_id": "customer"})
        else:
            flash_form_errors(form)
        return self.render_template("kefu/complaint_add.html", title=self.add_title, form=form,
                                    fields=["channel", "customer", "customer_id", "unit_id", "content",
                                            "remedy_requested", "received_at"],
                                    lookup_url=url_for("CustomerView.lookup"))

    # --- detail -------------------------------------------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        complaint = self._visible(pk)
        session = db.session
        actor = self._actor()
        steps = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                                .order_by(ComplaintStep.id)).all()
        found_approvals = session.scalars(
            select(Approval).where(Approval.subject_table == Complaint.__table__.name,
                                   Approval.subject_id == complaint.id).order_by(Approval.id.desc())).all()
        sm = current_app.appbuilder.sm
        actions = []
        if sm.has_access("can_transition", self.class_permission_name):
            actions = complaints.allowed_steps(session, complaint, actor)
        departments = {d.id: d.name for d in session.scalars(select(Department))}
        names = user_names(session, {complaint.first_responsible_id})
        unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
        now = calendar.local_now()
        return self.render_template(
            "kefu/complaint_show.html", title=f"{self.show_title} {complaint.number}", complaint=complaint,
            sections=labels.complaint_sections(complaint, departments, names, unit),
            timeline_entries=complaint_timeline(session, steps, departments),
            approvals=approval_rows(session, found_approvals),
            may_show_approvals=sm.has_access("can_show", "ApprovalView"),
            buttons=step_buttons(actions, "ComplaintView.transition", complaint, CONFIRM_ACTIONS),
            overdue=[labels.label(labels.COMPLAINT_OVERDUE, r) for r in complaints.overdue_reasons(complaint, now)],
            state_label=ComplaintState.label_of(complaint.state), labels=labels.COMPLAINT,
            may_see_customer=sm.has_access("can_show", "CustomerView"),
            customer_mobile=mask("mobile", complaint.customer.mobile),
            stepper=workflow.states_in_path(complaints.WORKFLOW, complaint),
            status_text=worklist.status_text(session, complaint, now),
            may_print_form=print_rules.may_print, may_print_full=may_reveal(), china_time=china_time,
            attachments=attachments.attachments_of(session, complaint),
            may_attach=sm.has_access("can_transition", self.class_permission_name)
            and attachments.may_add(session, complaint, actor),
        )

    # --- evidence -----------------------------------------------------------------------------
    @expose("/attach/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("transition")
    def attach(self, pk):
        """Several evidence files at once (a phone's camera too), each checked by app.domain.attachments:
        all are kept, or none (the refused file named with the reason)."""
        complaint, session, actor = self._visible(pk), db.session, self._actor()
        uploads = [u for u in request.files.getlist("files") if u and (u.filename or "").strip()]

        def attach_all():
            if not uploads:
                raise ValidationError({"files": _l("Please choose a file.")})
            for upload in uploads:
                data = upload.stream.read(attachments.MAX_BYTES + 1)  # enough to know it is too large
                try:
                    attachments.add_attachment(session, complaint, actor, upload.filename, data)
                except ValidationError as err:
                    raise ValidationError({"files": _l("%(file)s: %(reason)s", file=upload.filename,
                                                       reason=err.errors.get("file", ""))}) from None
            return len(uploads)

        count, refusal = attempt(session, attach_all)
        if refusal is None:
            flash(str(_l("%(count)s evidence files attached.", count=count)), "success")
        else:
            refusal.flash()
        return redirect(url_for(".show", pk=pk) + "#kefu-attachments")

    @expose("/attachment/<int:pk>/<int:attachment_id>", methods=["GET"])
    @has_access
    @permission_name("show")
    def attachment(self, pk, attachment_id):
        """Download one evidence file (checked against its SHA-256 first), never rendered as a page."""
        complaint = self._visible(pk)
        try:
            item, path = attachments.get_attachment(db.session, complaint, attachment_id)
        except NotFoundError:
            abort(404)
        except DomainError as err:
            flash(str(err), "danger")
            return redirect(url_for(".show", pk=pk))
        response = send_file(path, mimetype=item.content_type, as_attachment=True,
                             download_name=attachments.download_name(item), etag=item.sha256, conditional=True,
                             max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # As the API's download (app.api.complaints): no script, no frame, nothing it may load.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; sandbox; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'none'")
        return response

    # --- a step -------------------------------------------------------------------------------
    @expose("/transition/<int:pk>/<action>", methods=["GET", "POST"])
    @has_access
    @permission_name("transition")
    def transition(self, pk, action):
        complaint = self._visible(pk)
        step = complaints.STEP_BY_ACTION.get(action)
        if step is None:
            abort(404)
        session = db.session
        actor = self._actor()
        spec = form_spec(session, step)
        form, closed = open_step_form(
            step_form(step, spec), step, complaint, lambda: complaints.allowed_steps(session, complaint, actor),
            _l("“%(action)s” is not open to you for this complaint now.", action=step.label))
        status = 200
        if closed:
            return closed
        if request.method == "POST" and form.validate():
            source, number = complaint.state, complaint.number
            target, refusal = attempt(session, lambda: complaints.transition(
                session, complaint, action, actor, form.version.data, step_values(step, form, spec),
                comment=form.comment.data).state)
            if refusal is None:
                flash(str(transition_message(session, step, source, target, number, complaint)), "success")
                return redirect(url_for(".show", pk=pk))
            status = refusal.flash(form)
            complaint = self._visible(pk)
        elif request.method == "POST":
            status = 400
            flash_form_errors(form)
        return self.render_template(
            "kefu/complaint_transition.html", title=f"{step.label} · {complaint.number}", form=form, step=step,
            complaint=complaint, state_label=ComplaintState.label_of(complaint.state),
            fields=[*step.required, *step.optional], confirm_message=CONFIRM_ACTIONS.get(action),
            customer_name=complaint.customer.name,
        ), status

    def _visible(self, pk) -> Complaint:
        try:
            return complaints.get_visible(db.session, int(pk), self._actor())
        except (NotFoundError, ValueError):
            abort(404)


# --- receiving ------------------------------------------------------------------------------------

class ReceiveForm(DynamicForm):
    channel = SelectField(_l("Channel"), choices=_choices_with_blank(Channel), validate_choice=False,
                          widget=Select2Widget())
    customer = StringField(_l("Customer"), widget=BS3TextFieldWidget(),
                           render_kw={"autocomplete": "off", "class": "kefu-customer-search"},
                           description=_l("A name, or a full mobile or ID-card number (or the customer number)."))
    customer_id = SelectField(_l("Customers found"), choices=[], validate_choice=False,
                              render_kw={"class": "form-control kefu-customer-choice"})
    unit_id = SelectField(_l("Unit"), choices=[], validate_choice=False,
                          render_kw={"class": "form-control kefu-unit-choice"},
                          description=_l("One of the customer's units (chosen for you when there is one)."))
    content = TextAreaField(_l("Content"), widget=BS3TextAreaFieldWidget())
    remedy_requested = TextAreaField(_l("Remedy the customer asks for"), widget=BS3TextAreaFieldWidget())
    received_at = StringField(_l("Received at"), widget=NativeInput("datetime-local"),
                              description=_l("China time"))


def flash_form_errors(form) -> None:
    """Errors of fields the page does not show beside a field (the CSRF token: an expired page)."""
    for message in form.errors.get("csrf_token", ()):
        flash(str(message), "danger")


def pick_customer(session, actor, form) -> tuple[int | None, int | None, dict]:
    """The customer and unit a receipt form names, and what is wrong with them ({domain field: message}).

    The customer is the one chosen among the suggestions (`customer_id`), else the one the text finds (a
    full mobile or ID-card number, a customer number, or a name only one customer matches); several
    matches become the choices offered. The unit must be one of the customer's; with exactly one it is
    taken. The form's choices are filled on the way (what the page offers after a refusal)."""
    chosen, found, errors = _int(form.customer_id.data), [], {}
    text = (form.customer.data or "").strip()
    if chosen is not None:
        found = [f for f in lookup.find_by_ids(session, actor, [chosen])]
    elif re.fullmatch(r"#?\d{1,10}", text.replace(" ", "")):  # a customer number
        found = lookup.find_by_ids(session, actor, [int(text.replace(" ", "").lstrip("#"))])
    elif text:
        found = lookup.find_customers(session, actor, text)
    form.customer_id.choices = [("", "—")] * (len(found) > 1) + [(str(f.id), suggestion(f)) for f in found]
    form.candidate_units = {f.id: f.as_json()["units"] for f in found}  # for the page's script
    customer = found[0] if len(found) == 1 else None
    if request.method == "GET" and not text:
        return None, None, {}
    if not text and chosen is None:
        errors["customer_id"] = _l("This field is required.")
    elif not found:
        errors["customer_id"] = _l("No customer found: enter a name, or a full mobile or ID-card number.")
    elif customer is None:
        errors["customer_id"] = _l("Several customers match: choose one in “Customers found”.")
    units = customer.units if customer else []
    form.customer_id.data = str(customer.id) if customer else ""
    form.unit_id.choices = [("", "—")] * (len(units) != 1) + [(str(pk), label) for pk, label in units]
    unit_id = _int(form.unit_id.data) if form.unit_id.data else (units[0][0] if len(units) == 1 else None)
    if unit_id is not None and units and unit_id not in {pk for pk, _ in units}:
        errors["unit_id"] = _l("This unit is not one of the customer's units.")
    elif unit_id is None and len(units) > 1 and request.method == "POST":
        errors["unit_id"] = _l("Choose the unit the complaint is about.")
    form.unit_id.data = str(unit_id) if unit_id else ""
    return (customer.id if customer else None), unit_id, errors


def resolve_customer(session, text) -> tuple[dict, int | None]:
    """A customer from a full mobile, a full ID-card number or a customer number: ({}, id) or (errors, None)."""
    text = (text or "").strip()
    compact = text.replace(" ", "").replace("-", "").lstrip("#")
    if not compact:
        return {"customer": _l("This field is required.")}, None
    if re.fullmatch(r"\d{17}[\dXx]", compact):
        condition = Customer.id_number == compact.upper()
    elif re.fullmatch(r"1\d{10}", compact):
        condition = Customer.mobile == compact
    elif re.fullmatch(r"\d{1,10}", compact):
        condition = Customer.id == int(compact)
    else:
        return {"customer": _l("Enter the full mobile number, the full ID-card number or the customer number.")}, None
    found = session.scalars(select(Customer.id).where(condition).limit(2)).all()
    if not found:
        return {"customer": _l("No customer has this number.")}, None
    if len(found) > 1:
        return {"customer": _l("Several customers have this number; enter the ID-card number or the customer "
                               "number.")}, None
    return {}, found[0]


def suggestion(found) -> str:
    """How a customer is offered: name, masked mobile, units."""
    units = "、".join(label for _, label in found.units)
    return " · ".join(part for part in (found.name, found.mobile, units) if part)


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


# --- a step ----------------------------------------------------------------------------------------

def transition_message(session, step, source, target, number, complaint):
    waiting = approvals.pending_for(session, complaint)
    if waiting is not None and step.approval is not None:
        return _l("%(number)s: “%(action)s” recorded; it now waits for the general manager's approval.",
                  number=number, action=step.label)
    return _l("%(number)s: “%(action)s” recorded; the complaint is now “%(state)s”.", number=number,
              action=step.label, state=ComplaintState.label_of(target))


# --- detail page ----------------------------------------------------------------------------------

def complaint_timeline(session, steps, departments):
    """The complaint's step entries for the timeline partial: names, China time, fields labelled."""
    def order(row):
        step = complaints.STEP_BY_ACTION.get(row.action)
        return [*step.required, *step.optional] if step else []

    return step_entries(session, steps, action_label=action_label, state_label=ComplaintState.label_of,
                        field_label=labelled(labels.COMPLAINT_STEP_FIELDS), order=order,
                        field_text=lambda name, value: labels.readable(name, value, departments))


def approval_context(session, complaint_id, actor) -> dict:
    """What the general manager reads beside an approval of a complaint: the complaint in its sections
    (content, customer, severity, the legal opinion and the plan) and a summary of its timeline (each step,
    when and by whom). Empty when the complaint is not visible to the reader."""
    try:
        complaint = complaints.get_visible(session, complaint_id, actor)
    except NotFoundError:
        return {}
    steps = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                            .order_by(ComplaintStep.id)).all()
    departments = {d.id: d.name for d in session.scalars(select(Department))}
    names = user_names(session, {complaint.first_responsible_id})
    unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
    entries = complaint_timeline(session, steps, departments)
    for entry in entries:
        entry.data = []  # a summary: the fields themselves are in the sections
    sections = [(title, rows) for title, rows in labels.complaint_sections(complaint, departments, names, unit)
                if rows]
    return {"complaint": complaint, "complaint_sections": sections, "complaint_timeline": entries,
            "complaint_state": ComplaintState.label_of(complaint.state),
            "complaint_mobile": mask("mobile", complaint.customer.mobile)}


def approval_kind_label(code: str) -> str:
    kind = approvals.KINDS.get(code)
    return str(kind.label) if kind else code


def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category or None) for
    each one added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    appbuilder.add_view(ComplaintView, "Complaints", label=_l("Complaints"), icon="fa-bullhorn",
                        category="Customer service", category_label=_l("Customer service"))
    return [(ComplaintView, "Complaints", "Customer service")]
