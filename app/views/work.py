"""My work, the general manager's approval queue, the case library and the monthly complaint statistics.

"My work" lists, for the current user, what waits for them, overdue first. Which complaints wait for whom
is the transition table read in SQL terms (states per role), one query per section whatever the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.models.sqla.filters import BaseFilter, FilterEqual, FilterNotEqual
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import case, or_
from wtforms import RadioField, SelectField, StringField, TextAreaField

from app import audit, labels
from app.domain import approvals, calendar, cases, complaint_stats, reminders, worklist
from app.domain.errors import ValidationError
from app.domain.workflow import WORKFLOWS
from app.extensions import db
from app.models import Approval, CaseEntry, Model, Project
from app.models.choices import (
    ApprovalState,
    CaseCategory,
    CaseStage,
    Channel,
    ComplaintCategory,
    ComplaintState,
    Severity,
)
from app.outcome import attempt

from .base import DomainModelView, RelatedTextFilter, china_time, person_by_login
from .complaints import (
    ComputedColumnsInterface,
    approval_context,
    approval_kind_label,
)

S = ComplaintState


# --- waiting time ---------------------------------------------------------------------------------

def waited(since, until=None) -> str:
    """How long from `since` to `until` (UTC, default now), in hours under two days, else in days."""
    if since is None:
        return ""
    seconds = max(((until or audit.utcnow()) - since).total_seconds(), 0)
    hours = int(seconds // 3600)
    if hours < 1:
        return str(_l("less than an hour"))
    if hours < 48:
        return str(_l("%(n)s hours", n=hours))
    return str(_l("%(n)s days", n=hours // 24))


def waiting_too_long(approval) -> bool:
    return worklist.approval_overdue(approval)


def subject_url(table: str, pk: int) -> str | None:
    """The detail page of an approval's subject: the view whose model has that table (any kind)."""
    for view in current_app.appbuilder.baseviews:
        model = getattr(getattr(view, "datamodel", None), "obj", None)
        if model is not None and getattr(model, "__tablename__", None) == table and hasattr(view, "show"):
            return url_for(f"{type(view).__name__}.show", pk=pk)
    return None


# --- my work ----------------------------------------------------------------------------------------

MY_WORK_LIMIT = 100  # rows per page of a section (server-side, ?p_<section>=2); a section folds away


@dataclass
class Row:
    url: str
    number: str
    title: str
    state: str
    what: str  # what is due: the steps' labels
    who: str  # the next actor, in words
    due: str  # the deadline's label and moment
    overdue: str


@dataclass
class Section:
    key: str
    title: str
    rows: list
    count: int
    overdue_count: int
    page: int = 1
    pages: int = 1


# The start-the-day sections in this order; a section shows when the person has something in it.
SECTION_TITLES = {
    "complaint": _l("My complaints"), "approval": _l("Awaiting my approval"), "visit": _l("My visits"),
    "rectification": _l("My department's rectification items"), "return_visit": _l("Return visits due"),
    "loan": _l("Files out on loan"), "visit_summary": _l("Summaries of visits"), "calendar": _l("Calendar"),
    "club_member": _l("Club memberships to handle"), "club_activity": _l("Club activities"),
    "club_plan": _l("Annual activity plans"),
}
ORDER = ("complaint", "approval", "visit", "rectification", "return_visit", "loan", "club_activity", "club_member",
         "club_plan", "visit_summary", "calendar")


def _when(moment) -> str:
    """Work deadlines are China local time already (app.domain.worklist)."""
    if moment is None:
        return ""
    return f"{moment:%Y-%m-%d %H:%M}" if hasattr(moment, "hour") else f"{moment:%Y-%m-%d}"


def _item_url(item) -> str | None:
    if item.kind == "approval":
        return url_for("ApprovalView.show", pk=item.record_id)
    if item.kind == "calendar":
        return url_for("CalendarYearView.list")
    workflow = WORKFLOWS.get(item.kind)
    return subject_url(workflow.model.__tablename__, item.record_id) if workflow else None


def _row(item) -> Row:
    if item.kind == "approval":
        state, what = approval_kind_label(item.state), str(_l("Approve or reject"))
    else:
        state = reminders.state_label(item)
        what = "、".join(reminders.action_label(item.kind, a) for a in item.actions)
    due = f"{reminders.due_label(item.due)} {_when(item.due_at)}" if item.due else _when(item.due_at)
    return Row(url=_item_url(item) or "#", number=item.number, title=item.summary, state=state,
               what=f"{state} → {what}", who=item.who, due=due.strip(),
               overdue="、".join(reminders.due_label(r) for r in item.overdue))


def _page_of(args, key: str) -> int:
    try:
        return max(int(args.get(f"p_{key}", 1)), 1)
    except (TypeError, ValueError):
        return 1


def my_work(session, actor, now, overdue_only: bool = False, args=None) -> list[Section]:
    """The actor's part of app.domain.worklist (exactly what `reminders` lists for them, overdue first),
    by kind, each section paged on its own."""
    by_kind: dict[str, list] = {}
    for item in worklist.for_user(session, actor.id, now):
        by_kind.setdefault(item.kind, []).append(item)
    sections = []
    for kind in sorted(by_kind, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER)):
        items = by_kind[kind]
        overdue_count = sum(1 for i in items if i.overdue)
        if overdue_only:
            items = [i for i in items if i.overdue]
        pages = max((len(items) + MY_WORK_LIMIT - 1) // MY_WORK_LIMIT, 1)
        page = min(_page_of(args or {}, kind), pages)
        shown = items[(page - 1) * MY_WORK_LIMIT:page * MY_WORK_LIMIT]
        sections.append(Section(kind, str(SECTION_TITLES.get(kind, kind)), [_row(i) for i in shown],
                                count=len(items), overdue_count=overdue_count, page=page, pages=pages))
    return sections


def my_work_context(actor) -> dict:
    """What the my-work sections need (the my-work page and the landing page): ?overdue=1 keeps only the
    overdue items, ?p_<section>=N shows that section's Nth page."""
    now = calendar.local_now()
    overdue_only = request.args.get("overdue") in ("1", "y", "yes", "on")
    args = {k: v for k, v in request.args.items() if k.startswith("p_") or k == "overdue"}
    return {"sections": my_work(db.session, actor, now, overdue_only, request.args),
            "now": f"{now:%Y-%m-%d %H:%M}", "overdue_only": overdue_only, "args": args}


def landing_context() -> dict:
    """The landing page is my-work for whoever has a my-work page (an auditor has none)."""
    sm = current_app.appbuilder.sm
    user = sm.current_user
    if user is None or not user.is_authenticated or not sm.has_access("can_index", "MyWorkView"):
        return {}
    return my_work_context(user)


class MyWorkView(BaseView):
    route_base = "/mywork"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        return self.render_template("kefu/work_mywork.html", title=_l("My work"),
                                    **my_work_context(current_app.appbuilder.sm.current_user))


# --- approvals ----------------------------------------------------------------------------------

APPROVAL = labels.APPROVAL


class ApprovalInterface(ComputedColumnsInterface):
    """Pending first; the pending oldest first (longest waiting), the decided newest first."""

    def apply_order_by(self, query, order_column, order_direction, aliases_mapping=None,
                       bypass_many_to_many=False, add_pk=False):
        pending = Approval.state == ApprovalState.PENDING
        query = query.order_by(case((pending, 0), else_=1))
        if not order_column:
            return query.order_by(case((pending, Approval.requested_at), else_=None), Approval.id.desc())
        return super().apply_order_by(query, order_column, order_direction, aliases_mapping=aliases_mapping,
                                      bypass_many_to_many=bypass_many_to_many, add_pk=add_pk)

    def computed(self, items):
        return {
            "subject": [_subject_link(a) for a in items],
            "waited": [(waited(a.requested_at, a.decided_at), waiting_too_long(a)) for a in items],
        }


def _subject_link(approval) -> Markup:
    url = subject_url(approval.subject_table, approval.subject_id)
    if url is None:
        return Markup("{}").format(approval.summary)
    return Markup('<a class="kefu-subject" href="{}">{}</a>').format(url, approval.summary)


def _waited_cell(value) -> Markup:
    text, late = value
    if late:
        return Markup('<span class="text-danger kefu-overdue-flag" style="color:#c9302c;font-weight:bold">{}</span>'
                      ).format(text)
    return Markup("{}").format(text)


class DecideForm(DynamicForm):
    # No decision is chosen for the general manager: the submit without one is refused (app.domain.approvals).
    decision = RadioField(_l("Decision"), choices=[("approve", _l("Approve")), ("reject", _l("Reject"))],
                          validate_choice=False, default=None)
    comment = TextAreaField(_l("Comment"), widget=BS3TextAreaFieldWidget(),
                            description=_l("A rejection needs a comment saying why."))


class ApprovalView(DomainModelView):
    datamodel = ApprovalInterface(Approval, custom_filters={
        "state": [FilterEqual, FilterNotEqual], "kind": [FilterEqual, FilterNotEqual]})
    route_base = "/approval"
    base_permissions = ["can_list", "can_show", "can_decide"]
    list_title = _l("Approvals")
    show_title = _l("Approval")
    label_columns = APPROVAL
    list_columns = ["kind", "subject", "state", "requested_by_name", "requested_at", "waited",
                    "decided_by_name"]
    order_columns = ["requested_at", "kind", "state"]
    search_columns = ["state", "kind", "summary", "requested_by_name"]
    show_columns = ["kind", "summary", "detail", "state", "requested_by_name", "requested_at", "decided_by_name",
                    "decided_at", "comment"]
    formatters_columns = {
        "kind": approval_kind_label,
        "state": ApprovalState.label_of,
        "requested_at": china_time, "decided_at": china_time,  # stored in UTC
        "waited": _waited_cell,
    }

    def __init__(self, **kwargs):
        self.search_form_extra_fields = {
            "state": SelectField(_l("State"), choices=ApprovalState.choices()),
            "kind": SelectField(_l("Kind"), choices=[(code, kind.label) for code, kind in approvals.KINDS.items()]),
        }
        super().__init__(**kwargs)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        approval = self._approval(pk)
        sm = current_app.appbuilder.sm
        may_decide = approval.state == ApprovalState.PENDING and sm.has_access("can_decide", "ApprovalView")
        return self._render_show(approval, DecideForm() if may_decide else None)

    def _render_show(self, approval, form, status=200):
        rows = [(APPROVAL["kind"], approval_kind_label(approval.kind)),
                (APPROVAL["state"], ApprovalState.label_of(approval.state)),
                (APPROVAL["summary"], approval.summary), (APPROVAL["detail"], approval.detail or ""),
                (APPROVAL["requested_by_name"], person_by_login(approval.requested_by_name)),
                (APPROVAL["requested_at"], china_time(approval.requested_at)),
                (APPROVAL["waited"], waited(approval.requested_at, approval.decided_at))]
        if approval.decided_at:
            rows += [(APPROVAL["decided_by_name"], person_by_login(approval.decided_by_name)),
                     (APPROVAL["decided_at"], china_time(approval.decided_at)),
                     (APPROVAL["comment"], approval.comment or "")]
        subject = approval_context(db.session, approval.subject_id, self._actor()) \
            if approval.subject_table == "complaint" else {}
        return self.render_template(
            "kefu/work_approval_show.html", title=self.show_title, approval=approval, rows=rows, form=form,
            subject_url=subject_url(approval.subject_table, approval.subject_id),
            late=waiting_too_long(approval), **subject), status

    @expose("/decide/<int:pk>", methods=["POST"])
    @has_access
    @permission_name("decide")
    def decide(self, pk):
        approval = self._approval(pk)
        form = DecideForm()
        if not form.validate():
            return self._render_show(approval, form, 400)
        state, refusal = attempt(db.session, lambda: approvals.decide(
            db.session, approval, form.decision.data, form.comment.data, self._actor()).state)
        if refusal is not None:
            status = refusal.flash(form)
            if refusal.errors:
                return self._render_show(self._approval(pk), form, status)
            return redirect(url_for(".show", pk=pk))
        flash(str(_l("The request is %(state)s.", state=ApprovalState.label_of(state))), "success")
        return redirect(url_for(".show", pk=pk))

    def _approval(self, pk) -> Approval:
        try:
            approval = self.datamodel.get(int(pk), self._base_filters)
        except ValueError:
            approval = None
        if approval is None:
            abort(404)
        return approval


# --- case library ---------------------------------------------------------------------------------

CASE = labels.CASE


class FilterCaseProject(RelatedTextFilter):
    name = _l("Project contains")
    arg_name = "kefu_case_project"

    def condition(self, value):
        return CaseEntry.project.has(Project.name.contains(value, autoescape=True))


class FilterCaseText(BaseFilter):
    """Any of title, description, cause and lesson contains the words (each word somewhere)."""

    name = _l("Contains")
    arg_name = "kefu_case_text"

    def apply(self, query, value):
        for word in re.split(r"\s+", (value or "").strip()):
            if word:
                query = query.filter(or_(*(column.contains(word, autoescape=True) for column in (
                    CaseEntry.title, CaseEntry.description, CaseEntry.cause, CaseEntry.lesson))))
        return query


SOURCE_PAGES = {"complaint": "ComplaintView.show", "visit_summary": "VisitSummaryView.show",
                "visit": "VisitView.show"}


class CaseEntryInterface(ComputedColumnsInterface):
    """The detail page's `source`: a link to the record the case came from, only for a reader whose
    department scope includes that record (others see nothing, and would get 404 there)."""

    narrowed_search = {"source_id": cases.source_in_scope, "source_table": cases.source_in_scope}  # as the API's

    def get_values_item(self, item, show_columns):
        return [self.source_link(item) if c == "source" else self._get_attr_value(item, c) for c in show_columns]

    def source_link(self, item):
        page = SOURCE_PAGES.get(item.source_table)
        actor = audit.request_actor_resolver()
        if page is None or (item.source_table, item.source_id) not in cases.visible_sources(
                self.session, [item], actor):
            return ""
        source = next((m.class_ for m in Model.registry.mappers if m.local_table.name == item.source_table), None)
        record = self.session.get(source, item.source_id) if source else None  # named by its number, not its id
        return Markup('<a href="{}">{} {}</a>').format(url_for(page, pk=item.source_id), labels.label(
            labels.TABLES, item.source_table), getattr(record, "number", None) or f"#{item.source_id}")


class CaseEntryView(DomainModelView):
    datamodel = CaseEntryInterface(CaseEntry, custom_filters={
        "project": [FilterCaseProject], "text": [FilterCaseText],
        "stage": [FilterEqual, FilterNotEqual], "category": [FilterEqual, FilterNotEqual]},
        virtual_columns=["text"])
    route_base = "/caseentry"
    list_title = _l("Case library")
    show_title = _l("Case")
    add_title = _l("New case")
    edit_title = _l("Edit case")
    label_columns = CASE
    list_columns = ["title", "project", "stage", "category", "department", "updated_at"]
    order_columns = ["title", "stage", "category", "updated_at"]
    base_order = ("id", "desc")
    search_columns = ["text", "stage", "category", "project", "title", "lesson"]
    search_form_extra_fields = {
        "text": StringField(_l("Text")),
        "project": StringField(_l("Project")),
        "stage": SelectField(CASE["stage"], choices=cases.choices("stage")),
        "category": SelectField(CASE["category"], choices=cases.choices("category")),
    }
    form_fields = ["title", "project", "stage", "category", "description", "photos", "cause", "lesson",
                   "department"]
    add_columns = form_fields
    edit_columns = form_fields
    show_columns = [*form_fields, "source", "created_at", "updated_at", "version"]
    # The choices are the domain's (app.domain.cases.CHOICES), and so is the check of a value: the select
    # does not refuse one itself, app.domain.cases does, with the same message as for the API.
    add_form_extra_fields = edit_form_extra_fields = {
        "stage": SelectField(CASE["stage"], choices=cases.choices("stage", blank=True), validate_choice=False,
                             widget=Select2Widget()),
        "category": SelectField(CASE["category"], choices=cases.choices("category", blank=True),
                                validate_choice=False, widget=Select2Widget()),
    }
    formatters_columns = {"stage": CaseStage.label_of, "category": CaseCategory.label_of}

    def __init__(self, **kwargs):
        self.edit_form_extra_fields = {**self.edit_form_extra_fields, **DomainModelView.edit_form_extra_fields}
        super().__init__(**kwargs)

    # Writes go through app.domain.cases: who may write the library and the rules of an entry.
    def pre_add(self, item):
        self._through_domain(lambda: cases.add_entry(db.session, self._actor(), item))

    def pre_update(self, item):
        self._through_domain(lambda: cases.save_entry(db.session, item, self._actor(), request.form.get("version")))

    def pre_delete(self, item):
        self._through_domain(lambda: cases.delete_entry(db.session, item, self._actor(), item.version))


# --- monthly statistics -----------------------------------------------------------------------------

LEDGER_PAGE = 100
LEDGER_SORT_CAP = 5_000  # above this many complaints in the month the ledger is shown in order of receipt
LEDGER_COLUMNS = ("number", "received_at", "channel", "customer", "unit", "category", "severity", "summary",
                  "department", "state", "closed_at", "working_days", "satisfaction", "overdue",
                  "first_responsible")
LEDGER_LABELS = labels.COMPLAINT_LEDGER
NOT_SET = _l("Not set")


def _coded(enum_class):
    def label(code):
        return str(NOT_SET) if code in (None, complaint_stats.UNSET) else enum_class.label_of(code)
    return label


def _named(name):
    return str(NOT_SET) if name in (None, complaint_stats.UNSET) else name


LEDGER_TEXT = {
    "channel": _coded(Channel), "category": _coded(ComplaintCategory), "severity": _coded(Severity),
    "state": _coded(ComplaintState),
    "received_at": lambda v: f"{v:%Y-%m-%d %H:%M}" if v else "",
    "closed_at": lambda v: f"{v:%Y-%m-%d %H:%M}" if v else "",
}


def _sort_key(column):
    def key(row):
        value = row.get(column)
        if column in ("channel", "category", "severity", "state"):
            value = LEDGER_TEXT[column](value)
        return (value is None, value if value is not None else 0)
    return key


def _month_arg(value) -> str:
    now = calendar.local_now()
    return (value or "").strip() or f"{now:%Y-%m}"


def _shift(month: str, months: int) -> str:
    year, number = int(month[:4]), int(month[5:7]) - 1 + months
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


class ComplaintStatsView(BaseView):
    route_base = "/complaintstats"
    default_view = "index"

    @expose("/")
    @has_access
    def index(self):
        month = _month_arg(request.args.get("month"))
        sort = request.args.get("sort", "received_at")
        sort = sort if sort in LEDGER_COLUMNS else "received_at"
        descending = request.args.get("dir") == "desc"
        try:
            page = max(0, int(request.args.get("page", 0)))
        except ValueError:
            page = 0
        try:
            stats = self._stats(month, sort, descending, page)
        except ValidationError as err:
            flash(" ".join(str(m) for m in err.errors.values()) or str(err), "danger")
            month = _month_arg(None)
            sort, descending, page = "received_at", False, 0
            stats = self._stats(month, sort, descending, page)
        total = stats["ledger_total"]
        return self.render_template(
            "kefu/work_stats.html", title=_l("Complaint statistics"), stats=stats, month=month,
            previous=_shift(month, -1), following=_shift(month, 1), counts=self._counts(stats),
            ledger=[self._ledger_row(row) for row in stats["ledger"]], columns=LEDGER_COLUMNS,
            labels=LEDGER_LABELS, sort=sort, descending=descending, page=page, pages=max(1, -(-total // LEDGER_PAGE)),
            sortable=total <= LEDGER_SORT_CAP, sort_cap=LEDGER_SORT_CAP,
            page_window=range(max(0, page - 5), min(max(1, -(-total // LEDGER_PAGE)), page + 6)),
            rate=None if stats["rehandling"]["rate"] is None else f"{stats['rehandling']['rate'] * 100:.1f}%")

    @staticmethod
    def _stats(month, sort, descending, page):
        """The month's figures (one call to the domain) and one page of its ledger, sorted as asked when
        the month has at most LEDGER_SORT_CAP complaints (else in order of receipt)."""
        session = db.session
        stats = complaint_stats.monthly(session, month, ledger=False)
        bounds = (session, stats["from"], stats["to"], stats["as_of"])
        if (sort, descending) != ("received_at", False) and stats["total"] <= LEDGER_SORT_CAP:
            rows = sorted(complaint_stats.ledger_rows(*bounds), key=_sort_key(sort), reverse=descending)
            stats["ledger"] = rows[page * LEDGER_PAGE:(page + 1) * LEDGER_PAGE]
        else:
            stats["ledger"] = complaint_stats.ledger_rows(*bounds, offset=page * LEDGER_PAGE, limit=LEDGER_PAGE)
        return stats

    @staticmethod
    def _counts(stats) -> list[tuple[str, str, list[tuple[str, int, int | None]]]]:
        """(key, title, [(label, count, overdue or None)]) for each breakdown, largest first."""
        overdue = stats["overdue"]
        breakdowns = [
            ("channel", _l("By channel"), stats["by_channel"], _coded(Channel), None),
            ("category", _l("By category"), stats["by_category"], _coded(ComplaintCategory), None),
            ("severity", _l("By severity"), stats["by_severity"], _coded(Severity), None),
            ("department", _l("By department"), stats["by_department"], _named, overdue["by_department"]),
            ("state", _l("By state"), stats["by_state"], _coded(ComplaintState), overdue["by_state"]),
        ]
        found = []
        for key, title, counts, label, late in breakdowns:
            rows = [(label(code), n, None if late is None else late.get(code, 0))
                    for code, n in sorted(counts.items(), key=lambda item: -item[1]) if n or late is None]
            found.append((key, str(title), rows))
        return found

    @staticmethod
    def _ledger_row(row) -> dict:
        shown = {}
        for column in LEDGER_COLUMNS:
            value = row.get(column)
            if column in LEDGER_TEXT:
                shown[column] = LEDGER_TEXT[column](value)
            elif column == "department":
                shown[column] = value or ""
            elif column == "overdue":
                shown[column] = bool(value)
            else:
                shown[column] = "" if value is None else value
        shown["url"] = url_for("ComplaintView.show", pk=row["id"])
        return shown


# --- registration ---------------------------------------------------------------------------------

def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category or None) for
    each one added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    category, category_label = "Customer service", _l("Customer service")
    appbuilder.add_view(MyWorkView, "My work", label=_l("My work"), icon="fa-inbox", category=category,
                        category_label=category_label)
    appbuilder.add_view(ApprovalView, "Approvals", label=_l("Approvals"), icon="fa-check-square-o",
                        category=category, category_label=category_label)
    appbuilder.add_view(CaseEntryView, "Case library", label=_l("Case library"), icon="fa-book",
                        category=category, category_label=category_label)
    appbuilder.add_view(ComplaintStatsView, "Complaint statistics", label=_l("Complaint statistics"),
                        icon="fa-bar-chart", category=category, category_label=category_label)
    return [(MyWorkView, "My work", category), (ApprovalView, "Approvals", category),
            (CaseEntryView, "Case library", category), (ComplaintStatsView, "Complaint statistics", category)]
