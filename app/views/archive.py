"""The archive pages: archived copies (list, detail, the PDF), printing (each print is filed at once),
the verification page a QR code opens, and the consultation and lending register."""

from __future__ import annotations

from datetime import date

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import not_, select
from wtforms import SelectField, StringField, TextAreaField

from app import labels, printing
from app.domain import archive, archive_loans, complaints, workflow, worklist
from app.domain.calendar import local_now
from app.domain.errors import DomainError
from app.extensions import db
from app.models import ArchiveLoan, ArchiveRecord
from app.models.approvals import Approval
from app.models.choices import LoanKind, LoanState
from app.outcome import Refusal, attempt

from .base import DomainModelView, KefuInterface, RelatedTextFilter, china_time, may_reveal
from .complaints import ComputedColumnsInterface
from .workflow import Entry, approval_entries, people, person, step_buttons

LOAN_QUESTIONS = {"lend": _l("Register that the file leaves the archive now?"),
                  "register_return": _l("Register that the file is back in the archive?")}

ARCHIVE = labels.ARCHIVE
LOAN = labels.LOAN
FILE_STATES = {"ok": _l("The stored file matches its hash."), "missing": _l("The stored file is missing."),
               "changed": _l("The stored file was changed: it no longer matches its hash.")}
CONFIRM_PRINT = _l("Print and file this form in the archive? An archived copy can never be deleted.")


def _minute(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _actor():
    return current_app.appbuilder.sm.current_user


def _after_printing(record: ArchiveRecord):
    """Printed and filed: the PDF itself opens when the button asked for it (`open=pdf`, one click) and the
    user may open it (archive.open_file checks and audits again); else the archived copy's page."""
    flash(str(_l("Printed and filed as %(number)s.", number=record.number)), "success")
    sm = current_app.appbuilder.sm
    if request.form.get("open") == "pdf" and sm.has_access("can_download", "ArchiveRecordView") \
            and (not record.full_personal_data or may_reveal()):
        return redirect(url_for("ArchiveRecordView.file", pk=record.id))
    return redirect(url_for("ArchiveRecordView.show", pk=record.id))


def full_data_asked() -> bool:
    """A print button's "full personal data" variant, `?full_data=1` (app.printing: honoured only for a role
    that may reveal)."""
    return request.values.get("full_data") == "1"


def refused_print(refusal: Refusal, back: str):
    """A print the domain refused (nothing to print yet, 409; not allowed, 403): the reason, nothing filed."""
    appbuilder = current_app.appbuilder  # what BaseView.render_template adds, outside a view
    return render_template("kefu/refused.html", base_template=appbuilder.base_template, appbuilder=appbuilder,
                           title=str(_l("Print")), message=refusal.message, back=back), refusal.status


def _print(action):
    """Print and file in one transaction; a refusal is shown and nothing is filed."""
    record_id, refusal = attempt(db.session, lambda: action().id)
    if refusal is not None:
        back = request.referrer or url_for("ArchiveRecordView.list")
        if refusal.status == 409:  # nothing to print yet: a page that says why
            return refused_print(refusal, back)
        flash(" ".join(refusal.errors.values()) or refusal.message, "danger")
        return redirect(request.referrer or url_for("ArchiveRecordView.list"))
    return _after_printing(db.session.get(ArchiveRecord, record_id))


# --- archived copies ---------------------------------------------------------------------------

class FilterArchiveSource(RelatedTextFilter):
    name = _l("Source record contains")
    arg_name = "kefu_archive_source"

    def condition(self, value):
        return ArchiveRecord.source_label.contains(value, autoescape=True)


class ArchiveRecordView(DomainModelView):
    datamodel = KefuInterface(ArchiveRecord, custom_filters={
        "form": [FilterEqual, FilterNotEqual], "source_label": [FilterArchiveSource]})
    route_base = "/archive"
    base_permissions = ["can_list", "can_show", "can_download"]
    list_title = _l("Archive")
    show_title = _l("Archived copy")
    label_columns = ARCHIVE
    list_columns = ["number", "title", "form_code", "source_label", "revision", "retention_label", "printed_by_name",
                    "printed_at"]  # retention_label: 永久 or N 年
    order_columns = ["number", "printed_at", "form_code"]
    search_columns = ["number", "title", "form", "source_label", "printed_by_name", "printed_at"]
    base_order = ("id", "desc")
    formatters_columns = {"printed_at": _minute, "revision": lambda v: f"第 {v} 次" if v else ""}
    list_template = "kefu/archive_list.html"

    def __init__(self, **kwargs):
        self.search_form_extra_fields = {
            "form": SelectField(_l("Form"), choices=[(name, label) for name, label in FORM_LABELS.items()]),
        }
        super().__init__(**kwargs)

    def _record(self, pk) -> ArchiveRecord:
        try:
            record = db.session.get(ArchiveRecord, int(pk))
        except (TypeError, ValueError):
            record = None
        if record is None:
            abort(404)
        return record

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        record = self._record(pk)
        return self.render_template("kefu/archive_show.html", title=self.show_title, record=record,
                                    **record_context(record))

    @expose("/file/<int:pk>", methods=["GET"])
    @has_access
    @permission_name("download")
    def file(self, pk):
        record = self._record(pk)
        # A file carrying full personal data is an audited reveal: written in a unit of work.
        data, refusal = attempt(db.session, lambda: archive.open_file(db.session, record, _actor()))
        if refusal is not None:
            flash(refusal.message, "danger")
            return redirect(url_for(".show", pk=pk))
        return Response(data, mimetype="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{record.number}.pdf"', "Cache-Control": "no-store"})


FORM_LABELS = labels.ARCHIVE_FORMS


def record_context(record: ArchiveRecord) -> dict:
    """What the detail page shows of a record: its file's state and its versions."""
    session = db.session
    state = archive.file_state(record)
    versions = session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.form == record.form, ArchiveRecord.source_table == record.source_table,
        ArchiveRecord.source_id == record.source_id).order_by(ArchiveRecord.id)).all() if record.source_id else [record]
    sm = current_app.appbuilder.sm
    rows = [(ARCHIVE["number"], record.number), (ARCHIVE["title"], record.title),
            (ARCHIVE["form"], f"{FORM_LABELS.get(record.form, record.form)}（{record.form_code}）"),
            (ARCHIVE["source_label"], record.source_label or ""), (ARCHIVE["revision"], f"第 {record.revision} 次"),
            (ARCHIVE["retention"], record.retention_label), (ARCHIVE["pages"], record.pages),
            (ARCHIVE["printed_at"], _minute(record.printed_at)), (ARCHIVE["printed_by_name"], record.printed_by_name),
            (ARCHIVE["sha256"], record.sha256), (ARCHIVE["verify_code"], record.verify_code)]
    return {"rows": rows, "file_state": state, "file_state_text": FILE_STATES[state], "versions": versions,
            # a copy carrying full personal data opens only for a role that may reveal (archive.open_file)
            "may_download": sm.has_access("can_download", "ArchiveRecordView")
            and (not record.full_personal_data or may_reveal()),
            "may_register": sm.has_access("can_add", "ArchiveLoanView")}


# --- printing --------------------------------------------------------------------------------------

class PrintView(BaseView):
    """Each action prints a form and files it in the archive (POST, after the page asked to confirm)."""

    route_base = "/print"
    base_permissions = ["can_complaint", "can_ledger", "can_blank", "can_register"]

    @expose("/complaint/<int:pk>/<form>", methods=["POST"])
    @has_access
    @permission_name("complaint")
    def complaint(self, pk, form):
        kinds = {"complaint_record": printing.print_complaint_record,
                 "return_visit": printing.print_complaint_return_visit}
        if form not in kinds:
            abort(404)
        try:
            item = complaints.get_visible(db.session, pk, _actor())
        except DomainError:
            abort(404)
        return _print(lambda: kinds[form](db.session, item, _actor(), full_data_asked()))

    @expose("/ledger", methods=["POST"])
    @has_access
    @permission_name("ledger")
    def ledger(self):
        month = request.form.get("month", "")
        return _print(lambda: printing.print_ledger(db.session, month, _actor()))

    @expose("/blank/<name>", methods=["POST"])
    @has_access
    @permission_name("blank")
    def blank(self, name):
        if name not in printing.BLANK_FORMS:
            abort(404)
        return _print(lambda: printing.print_blank(db.session, name, _actor()))

    @expose("/register", methods=["POST"])
    @has_access
    @permission_name("register")
    def register(self):
        try:
            year = int(request.form.get("year") or date.today().year)
        except ValueError:
            year = date.today().year
        return _print(lambda: printing.print_lending_register(db.session, _actor(), year))


# --- verification -----------------------------------------------------------------------------------

class VerifyView(BaseView):
    """What a QR code on a printed page opens: is this archive number real, does the code on the paper
    belong to it, and does the stored file still match the hash taken when it was printed."""

    route_base = "/verify"
    default_view = "index"

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        number = (request.args.get("number") or "").strip().upper()
        if number:
            return redirect(url_for(".check", number=number, c=request.args.get("c", "")))
        return self.render_template("kefu/archive_verify.html", title=_l("Verify a printed form"), record=None,
                                    number="", searched=False)

    @expose("/<number>", methods=["GET"])
    @has_access
    @permission_name("index")
    def check(self, number):
        """Only what the holder of the paper needs: with the right code, the form, number, date,
        retention and whether the file is intact; with a wrong one (or a made-up number) nothing at
        all, not even whether the number exists. Wrong attempts are rate-limited (see register)."""
        record = archive.record_for_code(db.session, number, request.args.get("c", ""))
        facts = None
        if record is not None:
            facts = [(ARCHIVE["form"], f"{FORM_LABELS.get(record.form, record.form)}（{record.form_code}）"),
                     (ARCHIVE["number"], record.number), (ARCHIVE["printed_at"], f"{record.printed_at:%Y-%m-%d}"),
                     (ARCHIVE["retention"], record.retention_label)]
        response = make_response(self.render_template(
            "kefu/archive_verify.html", title=_l("Verify a printed form"), record=record, facts=facts,
            number=number, searched=True, code=request.args.get("c", ""),
            file_state=archive.file_state(record) if record else None))
        response.kefu_wrong_code = record is None
        return response


# --- the consultation and lending register ------------------------------------------------------------

class LoanForm(DynamicForm):
    number = StringField(_l("Archive number"), widget=BS3TextFieldWidget(),
                         description=_l("As printed on the form, e.g. KF-2026-000123."))
    kind = SelectField(_l("Kind"), choices=LoanKind.choices(), validate_choice=False, widget=Select2Widget())
    borrower = StringField(_l("Borrower"), widget=BS3TextFieldWidget())
    borrower_department = StringField(_l("Borrower's department"), widget=BS3TextFieldWidget())
    purpose = TextAreaField(_l("Purpose"), widget=BS3TextAreaFieldWidget())
    due_on = StringField(_l("Due on"), description=_l("Needed for a loan outside the company."))
    note = TextAreaField(_l("Note"), widget=BS3TextAreaFieldWidget())


def _overdue_cell(overdue: bool):
    if overdue:
        return Markup('<span class="text-danger kefu-overdue-flag" style="color:#c9302c;font-weight:bold">{}</span>'
                      ).format(_l("Overdue"))
    return ""


class FilterLoanNumber(RelatedTextFilter):
    name = _l("Archive number contains")
    arg_name = "kefu_loan_number"

    def condition(self, value):
        return ArchiveLoan.archive_record.has(ArchiveRecord.number.contains(value.upper(), autoescape=True))


class FilterLoanOverdue(BaseFilter):
    name = _l("Is")
    arg_name = "kefu_loan_overdue"

    def apply(self, query, value):
        clause = archive_loans.overdue_clause()
        if value in ("y", "yes", "1", "true", "on"):
            return query.filter(clause)
        if value in ("n", "no", "0", "false", "off"):
            return query.filter(not_(clause))
        return query


class LoanInterface(ComputedColumnsInterface):
    """A loan's `overdue` column: the domain's rule (app.domain.archive_loans.is_overdue), for the page."""

    def computed(self, items):
        today = local_now().date()
        return {"overdue": [archive_loans.is_overdue(loan, today) for loan in items]}


class ArchiveLoanView(DomainModelView):
    datamodel = LoanInterface(ArchiveLoan, custom_filters={
        "state": [FilterEqual, FilterNotEqual], "kind": [FilterEqual, FilterNotEqual],
        "archive_record": [FilterLoanNumber], "overdue": [FilterLoanOverdue]}, virtual_columns=["overdue"])
    route_base = "/archiveloan"
    base_permissions = ["can_list", "can_show", "can_add", "can_lend", "can_return"]
    list_title = _l("Consultation and lending register")
    show_title = _l("Register entry")
    label_columns = LOAN
    list_columns = ["archive_record", "kind", "borrower", "borrower_department", "state", "out_at", "due_on",
                    "returned_at", "overdue"]
    order_columns = ["out_at", "due_on", "state"]
    search_columns = ["archive_record", "overdue", "kind", "state", "borrower", "borrower_department", "due_on"]
    base_order = ("id", "desc")
    formatters_columns = {"kind": LoanKind.label_of, "state": LoanState.label_of, "out_at": _minute,
                          "returned_at": _minute, "overdue": _overdue_cell}
    list_template = "kefu/archive_loan_list.html"
    # FAB builds forms from these when the view is set up; the register's own form is LoanForm.
    add_columns = edit_columns = ["kind", "borrower", "borrower_department", "purpose", "due_on", "note"]
    show_columns = ["kind", "borrower", "borrower_department", "purpose", "state", "due_on", "out_at", "returned_at"]

    def __init__(self, **kwargs):
        self.search_form_extra_fields = {
            "state": SelectField(_l("State"), choices=LoanState.choices()),
            "kind": SelectField(_l("Kind"), choices=LoanKind.choices()),
            "overdue": SelectField(_l("Overdue"), choices=[("y", _l("Yes")), ("n", _l("No"))]),
            "archive_record": StringField(_l("Archive number"), widget=BS3TextFieldWidget()),
        }
        super().__init__(**kwargs)

    def _loan(self, pk) -> ArchiveLoan:
        loan = db.session.get(ArchiveLoan, pk)
        if loan is None:
            abort(404)
        return loan

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        form = LoanForm()
        if request.method == "GET" and request.args.get("number"):
            form.number.data = request.args["number"]
        if request.method == "POST":
            record = archive.by_number(db.session, (form.number.data or "").strip().upper())
            registered, refusal = attempt(db.session, lambda: (lambda loan: (loan.id, loan.kind))(
                archive_loans.register(db.session, form.kind.data, record.id if record else None,
                                       {name: form[name].data for name in ("borrower", "borrower_department",
                                                                           "purpose", "due_on", "note")}, _actor())))
            if refusal is None:
                flash(str(_l("Registered. The loan now waits for the general manager's approval.")
                          if registered[1] == LoanKind.LOAN else _l("Registered: the file is out for consultation.")),
                      "success")
                return redirect(url_for(".show", pk=registered[0]))
            refusal.flash(form, rename={"archive_record_id": "number"})
        return self.render_template("kefu/archive_loan_add.html", title=_l("Register a consultation or loan"),
                                    form=form)

    @expose("/show/<int:pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        loan = self._loan(pk)
        record = db.session.get(ArchiveRecord, loan.archive_record_id)
        session, sm = db.session, current_app.appbuilder.sm
        overdue = archive_loans.is_overdue(loan)
        by_id, by_login = people(session, logins={loan.registered_by_name})
        registered_by = person(by_id, by_login, None, loan.registered_by_name)
        rows = [(LOAN["archive_record"], record.number), (ARCHIVE["title"], record.title),
                (LOAN["kind"], LoanKind.label_of(loan.kind)), (LOAN["borrower"], loan.borrower),
                (LOAN["borrower_department"], loan.borrower_department), (LOAN["purpose"], loan.purpose),
                (LOAN["state"], LoanState.label_of(loan.state) + ("（已逾期）" if overdue else "")),
                (LOAN["due_on"], f"{loan.due_on:%Y-%m-%d}" if loan.due_on else ""),
                (LOAN["out_at"], _minute(loan.out_at)), (LOAN["returned_at"], _minute(loan.returned_at)),
                (LOAN["registered_by_name"], registered_by), (LOAN["note"], loan.note or "")]
        permission = {"lend": "can_lend", "register_return": "can_return"}
        allowed = [step for step in workflow.allowed_steps(session, archive_loans.WORKFLOW, loan, _actor())
                   if sm.has_access(permission[step.action], "ArchiveLoanView")]
        found = session.scalars(select(Approval).where(Approval.subject_table == ArchiveLoan.__table__.name,
                                                       Approval.subject_id == loan.id).order_by(Approval.id)).all()
        # A loan keeps no step entries: its timeline is read from the record and its approval.
        timeline = [Entry(china_time(loan.created_at), registered_by, str(_l("Registered")), "register"),
                    *approval_entries(session, found)]
        timeline += [Entry(_minute(at), "", str(step.label), step.action) for step, at in (
            (archive_loans.WORKFLOW.step("lend"), loan.out_at),
            (archive_loans.WORKFLOW.step("register_return"), loan.returned_at)) if at]
        return self.render_template(
            "kefu/archive_loan_show.html", title=self.show_title, loan=loan, record=record, rows=rows,
            overdue=overdue, stepper=workflow.states_in_path(archive_loans.WORKFLOW, loan),
            status_text=worklist.status_text(session, loan),
            buttons=step_buttons(allowed, {"lend": "ArchiveLoanView.lend",
                                           "register_return": "ArchiveLoanView.register_return"},
                                 loan, LOAN_QUESTIONS, direct={"lend", "register_return"}),
            timeline_entries=timeline)

    def _move(self, pk, move, done):
        loan = self._loan(pk)
        _moved, refusal = attempt(db.session, lambda: move(db.session, loan, _actor()))
        if refusal is None:
            flash(str(done), "success")
        else:
            refusal.flash()
        return redirect(url_for(".show", pk=pk))

    @expose("/lend/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("lend")
    def lend(self, pk):
        return self._move(pk, archive_loans.lend, _l("Registered: the file is out on loan."))

    @expose("/return/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("return")
    def register_return(self, pk):
        return self._move(pk, archive_loans.register_return, _l("Registered: the file is back in the archive."))


def _limit_wrong_codes(appbuilder) -> None:
    """Guessing codes on the verification page: each address has KEFU_VERIFY_RATE_LIMIT wrong tries."""
    app = current_app
    endpoint = "VerifyView.check"
    if endpoint in app.view_functions:
        app.view_functions[endpoint] = appbuilder.sm.limiter.limit(
            lambda: current_app.config.get("KEFU_VERIFY_RATE_LIMIT") or "20 per 10 minutes",
            deduct_when=lambda response: getattr(response, "kefu_wrong_code", False),
        )(app.view_functions[endpoint])


def register(appbuilder) -> list[tuple]:
    category, category_label = "Archive", _l("Archive")
    appbuilder.add_view(ArchiveRecordView, "Archived copies", label=_l("Archived copies"), icon="fa-archive",
                        category=category, category_label=category_label, category_icon="fa-archive")
    appbuilder.add_view(ArchiveLoanView, "Lending register", label=_l("Consultation and lending register"),
                        icon="fa-exchange", category=category, category_label=category_label)
    appbuilder.add_view(VerifyView, "Verify a printed form", label=_l("Verify a printed form"), icon="fa-qrcode",
                        category=category, category_label=category_label)
    appbuilder.add_view_no_menu(PrintView)
    _limit_wrong_codes(appbuilder)
    return [(ArchiveRecordView, "Archived copies", category), (ArchiveLoanView, "Lending register", category),
            (VerifyView, "Verify a printed form", category)]
