"""REST: /api/v1/complaint/ (create, list, detail, transition, steps, evidence, stats),
/api/v1/approval/ (the general manager's queue, decide) and /api/v1/case_entry/ (the case library).

Thin adapters: every write goes through app.domain (complaints.open_complaint, complaints.transition,
approvals.decide, attachments.add_attachment, records.*) inside one unit of work, and a refusal
answers `err.status` with a JSON `message` (and `errors` per field) with nothing written. Complaints
change only through their workflow: there is no PUT or DELETE on /api/v1/complaint/.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import request, send_file
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import fields as ma_fields
from marshmallow.validate import Length, OneOf
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from sqlalchemy import case, false, func, or_, select

from app import audit, labels
from app.domain import approvals, attachments, calendar, cases, complaint_stats, complaints, records, worklist
from app.domain.errors import DomainError, ValidationError
from app.extensions import db
from app.models import Approval, CaseEntry, Complaint, ComplaintStep, Unit
from app.models.choices import (
    ApprovalState,
    Channel,
    ComplaintCategory,
    ComplaintState,
    Severity,
)
from app.views.base import KefuInterface

from .base import DomainModelRestApi, json_object
from .complaint_schemas import (
    AttachmentAddedAnswerSchema,
    AttachmentsAnswerSchema,
    ComplaintStepsAnswerSchema,
    ComplaintTransitionSchema,
    DecidedAnswerSchema,
    DecisionSchema,
    PrintFormSchema,
    StatsAnswerSchema,
    StatsQuerySchema,
    UploadSchema,
)
from .documented import BINARY, PrintedAnswerSchema, StepAnswerSchema, documented

COMPLAINT_LABELS = labels.COMPLAINT
DEADLINES = ["assign_due_at", "investigate_due_at", "close_due_at", "handling_deadline", "return_visit_due_at"]
COMPLAINT_LIST = ["number", "customer_id", "customer.name", "state", "severity", "category", "channel",
                  "received_at", "first_responsible_id", "department_id", "department.name", "satisfaction",
                  "rehandling_count", *DEADLINES, "closed_at"]
COMPLAINT_SHOW = [
    "number", "channel", "customer_id", "customer.name", "unit_id", "content", "received_at", "state",
    "state_changed_at", "first_responsible_id", "confirmed_how", "invalid_explanation", "severity", "category",
    "legal_opinion", "handling_plan", "plan_approved", "department_id", "department.name", "assigned_post",
    "assigned_person", "cause_analysis", "report", "measures", "handling_person", "handling_deadline",
    "reply_result", "customer_accepted", "satisfaction", "rehandling_count", "department_signed_off",
    "person_signed_off", "closed_at", "return_visit_method", "return_visit_record", "return_visit_satisfaction",
    "return_visited_at", "root_cause", "improvement", "case_entry_id", "assign_due_at", "investigate_due_at",
    "close_due_at", "return_visit_due_at", "created_at", "updated_at",
    "remedy_requested", "acknowledge_due_at", "acknowledged_at", "acknowledged_how", "unresolved_position",
    "unresolved_routes", "return_visit_process_satisfaction",
]
CREATE_FIELDS = ("channel", "customer_id", "content", "received_at", "unit_id", "remedy_requested")
# What overdue_reasons reads (loaded for a page of complaints in one statement).
OVERDUE_INPUTS = complaints.WORKFLOW.deadline_columns()
LEDGER_LIMIT_DEFAULT, LEDGER_LIMIT_MAX = 1000, 10_000


def _labels(enum_class) -> dict[str, str]:
    return {code: str(label) for code, label in enum_class.choices()}


class FilterOverdue(BaseFilter):
    """`(col:state,opr:overdue,value:true)`: complaints past a deadline of the step they wait for."""

    name = _l("Overdue")
    arg_name = "overdue"  # unique: FAB keeps one global map of arg_name -> filter class

    def apply(self, query, value):
        clause = complaints.overdue_clause(calendar.local_now())
        if str(value).lower() in ("0", "false", "no", "n", "off"):
            return query.filter(~func.coalesce(clause, false()))  # a NULL deadline is not overdue
        return query.filter(clause)


class ComplaintApi(DomainModelRestApi):
    resource_name = "complaint"
    datamodel = KefuInterface(Complaint)
    include_route_methods = {"get", "get_list", "info", "post", "transition", "steps", "stats",
                             "attachments", "add_attachment", "attachment", "print_record"}
    label_columns = COMPLAINT_LABELS
    list_columns = COMPLAINT_LIST
    show_columns = COMPLAINT_SHOW
    # Plain columns only: FAB's _info would list every related row (all customers) for a relation.
    add_columns = edit_columns = list(CREATE_FIELDS)
    search_columns = ["state", "severity", "category", "channel", "department_id", "first_responsible_id",
                      "customer_id", "received_at", "rehandling_count"]
    search_filters = {"state": [FilterOverdue]}
    order_columns = ["id", "received_at", "state", "severity", "category", "channel", "close_due_at",
                     "closed_at", "rehandling_count"]
    base_order = ("received_at", "desc")
    openapi_spec_methods = {
        "transition": {"post": {"summary": "Take one step of the complaint workflow"}},
        "steps": {"get": {"summary": "The timeline of a complaint's steps"}},
        "stats": {"get": {"summary": "Monthly complaint statistics and the complaint ledger"}},
        "attachments": {"get": {"summary": "The evidence attachments of a complaint"}},
        "add_attachment": {"post": {"summary": "Attach evidence (an image or a PDF, up to 10 MB)"}},
        "attachment": {"get": {"summary": "Download one evidence attachment"}},
    }

    # --- reading ----------------------------------------------------------------------------
    def pre_get_list(self, data):
        super().pre_get_list(data)
        ids = [row["id"] for row in data.get("result", []) if "id" in row]
        if not ids:
            return
        now = calendar.local_now()
        inputs = db.session.execute(
            select(Complaint.id, *(getattr(Complaint, name) for name in OVERDUE_INPUTS)).where(Complaint.id.in_(ids))
        ).all()
        overdue = {row.id: complaints.overdue_reasons(row, now) for row in inputs}
        for row in data["result"]:
            row["overdue"] = overdue.get(row.get("id"), [])

    def computed(self, complaint) -> dict:
        return {
            "number": complaint.number,
            "overdue": complaints.overdue_reasons(complaint, calendar.local_now()),
            "status_text": worklist.status_text(db.session, complaint),
            "allowed_actions": [step.action for step in complaints.allowed_steps(db.session, complaint,
                                                                                  self.actor())],
        }

    def _visible(self, pk) -> Complaint:
        return complaints.get_visible(db.session, pk, self.actor())

    # --- creating ---------------------------------------------------------------------------
    def post_headless(self):
        """受理: the caller receives the complaint and becomes its first-responsible person."""
        def receive():
            data = json_object()
            unknown = sorted(set(data) - set(CREATE_FIELDS))
            if unknown:
                raise ValidationError({name: _l("%(field)s cannot be set here.", field=name) for name in unknown})
            unit_id = data.get("unit_id")
            if unit_id not in (None, ""):
                if isinstance(unit_id, bool) or not isinstance(unit_id, int) or db.session.get(Unit, unit_id) is None:
                    raise ValidationError({"unit_id": _l("This unit does not exist.")})
            else:
                unit_id = None
            return complaints.open_complaint(
                db.session, self.actor(), channel=data.get("channel"), customer_id=data.get("customer_id"),
                content=data.get("content"), received_at=data.get("received_at"),
                unit_id=unit_id, remedy_requested=data.get("remedy_requested"))

        return self.write(receive, lambda complaint: self.response(201, id=complaint.id, version=complaint.version,
                                                                   result=self.body(complaint)))

    # --- moving -----------------------------------------------------------------------------
    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(StepAnswerSchema, body=ComplaintTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of the workflow: the complaint in its new state, or a refusal with nothing written.

        Refusals: 404 not visible, 409 wrong state or stale version, 403 role, 422 missing or bad fields
        (`errors` per field)."""
        return self.take_step(lambda: self._visible(pk), complaints.transition)

    @expose("/<int:pk>/print", methods=["POST"])
    @documented(PrintedAnswerSchema, status=201, body=PrintFormSchema, body_required=False,
                refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("print")
    def print_record(self, pk):
        """Print the complaint record form (客户投诉处理记录表) and file it in the archive.

        Each call files a new copy: a reprint is a new archive record whose `previous_id` names the copy
        before it (`revision` counts them). `form` chooses the complaint's return-visit record instead."""
        from app import printing

        from .archive import full_data_asked, print_response

        body = request.get_json(silent=True) if request.data else {}
        forms = {"complaint_record": printing.print_complaint_record,
                 "return_visit": printing.print_complaint_return_visit}
        form = (body.get("form") or "complaint_record") if isinstance(body, dict) else None
        if not isinstance(form, str) or form not in forms:  # a list or an object is no form's name
            return self.domain_error(ValidationError({"form": _l("Choose complaint_record or return_visit.")}))
        try:
            complaint = self._get_visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        try:
            full = full_data_asked()
        except DomainError as err:
            return self.domain_error(err)
        return print_response(self, lambda: forms[form](db.session, complaint, self.actor(), full))

    @expose("/<int:pk>/steps", methods=["GET"])
    @documented(ComplaintStepsAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def steps(self, pk):
        """The complaint's timeline: one entry per step, oldest first."""
        try:
            complaint = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        entries = db.session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                                     .order_by(ComplaintStep.id)).all()
        result = [{"id": e.id, "action": e.action, "from": e.from_state, "to": e.to_state,
                   "actor_id": e.actor_id, "actor_name": e.actor_name, "at": e.at.isoformat(timespec="seconds"),
                   "comment": e.comment, "data": json.loads(e.data) if e.data else {}} for e in entries]
        return self.response(200, id=complaint.id, count=len(result), result=result)

    # --- evidence ---------------------------------------------------------------------------
    @staticmethod
    def _attachment_json(item) -> dict:
        return {"id": item.id, "complaint_id": item.complaint_id, "filename": item.filename,
                "content_type": item.content_type, "size": item.size, "sha256": item.sha256,
                "created_at": item.created_at.isoformat(timespec="seconds") if item.created_at else None,
                "created_by_id": item.created_by_id}

    @expose("/<int:pk>/attachment", methods=["GET"])
    @documented(AttachmentsAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def attachments(self, pk):
        """The complaint's evidence attachments."""
        try:
            complaint = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        items = [self._attachment_json(a) for a in attachments.attachments_of(db.session, complaint)]
        return self.response(200, id=complaint.id, count=len(items), result=items)

    @expose("/<int:pk>/attachment", methods=["POST"])
    @documented(AttachmentAddedAnswerSchema, status=201, body=UploadSchema, body_media="multipart/form-data",
                refusals=(403, 404, 422))
    @protect()
    @safe
    @permission_name("transition")
    def add_attachment(self, pk):
        """Attach evidence: an image (PNG, JPEG, GIF, WebP) or a PDF, at most 10 MB, checked by its content."""
        def attach():
            complaint = self._visible(pk)
            upload = request.files.get("file")
            if upload is None:
                raise ValidationError({"file": _l("Please choose a file.")})
            data = upload.stream.read(attachments.MAX_BYTES + 1)  # enough to know it is too large
            return attachments.add_attachment(db.session, complaint, self.actor(), upload.filename, data)

        return self.write(attach, lambda item: self.response(201, id=item.id, result=self._attachment_json(item)))

    @expose("/<int:pk>/attachment/<int:attachment_id>", methods=["GET"])
    @documented(BINARY, refusals=(404, 409))
    @protect()
    @safe
    @permission_name("get")
    def attachment(self, pk, attachment_id):
        """Download one evidence attachment (the stored file is checked against its SHA-256 first).

        409: the stored file no longer matches its hash."""
        try:
            complaint = self._visible(pk)
            item, path = attachments.get_attachment(db.session, complaint, attachment_id)
        except DomainError as err:
            return self.domain_error(err)
        # Never rendered by the browser: an attachment of the detected type, no sniffing, no scripts.
        response = send_file(path, mimetype=item.content_type, as_attachment=True,
                             download_name=attachments.download_name(item), etag=item.sha256, conditional=True,
                             max_age=0)
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Stricter than the pages' policy (app.web_security): no script, no frame, nothing it may load.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; sandbox; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            "form-action 'none'")
        return response

    # --- statistics -------------------------------------------------------------------------
    @expose("/stats", methods=["GET"])
    @documented(StatsAnswerSchema, query=StatsQuerySchema, refusals=(403, 422))
    @protect()
    @safe
    @permission_name("stats")
    def stats(self):
        """Monthly statistics and the complaint ledger (台帐) of the complaints received in a month."""
        try:
            month = request.args.get("month") or f"{calendar.local_now():%Y-%m}"
            offset = self._int_arg("ledger_offset", 0, None)
            limit = self._int_arg("ledger_limit", LEDGER_LIMIT_DEFAULT, LEDGER_LIMIT_MAX)
            result = complaint_stats.monthly(db.session, month, ledger=limit > 0, ledger_offset=offset,
                                             ledger_limit=limit)
        except DomainError as err:
            return self.domain_error(err)
        result.setdefault("ledger", [])
        result["ledger_offset"], result["ledger_limit"] = offset, limit
        result["labels"] = {"channel": _labels(Channel), "category": _labels(ComplaintCategory),
                            "severity": _labels(Severity), "state": _labels(ComplaintState)}
        return self.response(200, **complaint_stats.jsonable(result))

    @staticmethod
    def _int_arg(name, default, maximum):
        raw = request.args.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValidationError({name: _l("Please give a whole number.")}) from None
        if value < 0:
            raise ValidationError({name: _l("Please give a whole number.")})
        return min(value, maximum) if maximum is not None else value


# --- approvals ----------------------------------------------------------------------------------

class ApprovalInterface(KefuInterface):
    """The queue's order unless the client asks for another: pending first (longest waiting first),
    then the decided ones, newest first."""

    def apply_order_by(self, query, order_column, order_direction, aliases_mapping=None,
                       bypass_many_to_many=False, add_pk=False):
        if order_column:
            return super().apply_order_by(query, order_column, order_direction, aliases_mapping,
                                          bypass_many_to_many, add_pk)
        pending = Approval.state == ApprovalState.PENDING.value
        return query.order_by(case((pending, 0), else_=1), case((pending, Approval.id), else_=-Approval.id))


APPROVAL_LABELS = labels.APPROVAL
APPROVAL_COLUMNS = ["kind", "subject_table", "subject_id", "summary", "state", "requested_by_id",
                    "requested_by_name", "requested_at", "decided_by_id", "decided_by_name", "decided_at", "comment"]


def _hours_between(start_text, end) -> float | None:
    if not start_text:
        return None
    start = datetime.fromisoformat(start_text) if isinstance(start_text, str) else start_text
    if isinstance(end, str):
        end = datetime.fromisoformat(end)
    return round(max((end - start).total_seconds(), 0) / 3600, 1)


class ApprovalApi(DomainModelRestApi):
    resource_name = "approval"
    datamodel = ApprovalInterface(Approval)
    include_route_methods = {"get", "get_list", "info", "decide"}
    label_columns = APPROVAL_LABELS
    list_columns = APPROVAL_COLUMNS
    show_columns = [*APPROVAL_COLUMNS[:4], "detail", *APPROVAL_COLUMNS[4:]]
    search_columns = ["state", "kind", "subject_table", "subject_id", "requested_by_name"]
    order_columns = ["id", "requested_at", "decided_at", "state", "kind"]
    base_order = None  # the queue's own stable order (ApprovalInterface), unless the client asks for another
    openapi_spec_methods = {"decide": {"post": {"summary": "Approve or reject a request (general manager)"}}}

    def _add_waiting(self, row: dict) -> None:
        """waiting_hours: how long it waited (pending: until now; decided: until the decision)."""
        end = row.get("decided_at") or audit.utcnow()
        row["waiting_hours"] = _hours_between(row.get("requested_at"), end)
        kind = approvals.KINDS.get(row.get("kind"))
        if "kind" in row:
            row["kind_label"] = str(kind.label) if kind else row["kind"]

    def pre_get(self, data):
        super().pre_get(data)
        self._add_waiting(data.get("result", {}))

    def pre_get_list(self, data):
        super().pre_get_list(data)
        for row in data.get("result", []):
            self._add_waiting(row)

    @expose("/<int:pk>/decide", methods=["POST"])
    @documented(DecidedAnswerSchema, body=DecisionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("decide")
    def decide(self, pk):
        """The general manager approves or rejects; the subject moves on or back by its own rules.

        The requester can never decide their own request (403); an approval already decided answers 409."""
        def decide():
            data = json_object()
            item = self._get_visible(pk)
            if data.get("version") not in (None, ""):
                records.check_version(item, data["version"])
            approvals.decide(db.session, item, data.get("decision"), data.get("comment"), self.actor())
            return item

        return self.write(decide, self._decided)

    def _decided(self, item):
        result = self.dump(item)
        self._add_waiting(result)
        kind = approvals.KINDS.get(item.kind)
        subject = db.session.get(kind.subject_model, item.subject_id) if kind else None
        return self.response(200, id=item.id, version=item.version, result=result,
                             subject={"table": item.subject_table, "id": item.subject_id,
                                      "state": getattr(subject, "state", None),
                                      "version": getattr(subject, "version", None)})


# --- case library -------------------------------------------------------------------------------

CASE_LABELS = labels.CASE
CASE_FIELDS = list(cases.FIELDS)


def _documented(name: str, field_class, **kwargs):
    """A field of the case-entry schemas as the domain's rules (app.domain.cases) describe it. The schemas
    document the fields for OpenAPI and `_info`; the rules are checked by the domain (new_entry,
    change_entry), which answers every broken one at once."""
    if name in cases.CHOICES:
        kwargs["validate"] = OneOf([code for code, _label in cases.choices(name)])
    elif name in cases.MAX_LENGTH:
        kwargs["validate"] = Length(max=cases.MAX_LENGTH[name])
    required = name in cases.REQUIRED
    return field_class(required=required, allow_none=not required, **kwargs)


class CaseEntrySchema(SQLAlchemyAutoSchema):
    """Declared here rather than by FAB: marshmallow-sqlalchemy drops the foreign-key fields FAB declares,
    and the stage and category are coded values."""

    class Meta:
        model = CaseEntry
        fields = CASE_FIELDS
        include_fk = True
        load_instance = True
        sqla_session = db.session

    title = _documented("title", ma_fields.String)
    stage = _documented("stage", ma_fields.String)
    category = _documented("category", ma_fields.String)
    description = _documented("description", ma_fields.String)
    project_id = _documented("project_id", ma_fields.Integer)
    department_id = _documented("department_id", ma_fields.Integer)
    source_table = _documented("source_table", ma_fields.String, validate=OneOf(sorted(cases.SOURCES)))
    source_id = _documented("source_id", ma_fields.Integer)


class CaseEntryPutSchema(CaseEntrySchema):
    """The same fields for a change (a class of its own, so the OpenAPI spec names it once)."""


class FilterCaseText(BaseFilter):
    """`(col:title,opr:case_text,value:渗水)`: the words in the title, description, cause or lesson."""

    name = _l("Text contains")
    arg_name = "case_text"

    def apply(self, query, value):
        text = str(value or "").strip()
        if not text:
            return query
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return query.filter(or_(*(func.lower(column).like(func.lower(pattern), escape="\\")
                                  for column in (CaseEntry.title, CaseEntry.description, CaseEntry.cause,
                                                 CaseEntry.lesson))))


class CaseEntrySearch(KefuInterface):
    """A search by source (`source_id`, `source_table`, any operator) finds only entries whose source the
    reader may open: otherwise a reader outside its department learns which entries came from it."""

    narrowed_search = {"source_id": cases.source_in_scope, "source_table": cases.source_in_scope}


class CaseEntryApi(DomainModelRestApi):
    resource_name = "case_entry"
    datamodel = CaseEntrySearch(CaseEntry)
    label_columns = CASE_LABELS
    list_columns = ["title", "project_id", "project.name", "stage", "category", "department_id",
                    "department.name", "source_table", "source_id", "updated_at"]
    show_columns = [*CASE_FIELDS, "project.name", "department.name", "created_at", "updated_at"]
    add_columns = edit_columns = CASE_FIELDS
    search_columns = ["title", "description", "stage", "category", "project_id", "department_id", "source_table",
                      "source_id"]
    search_filters = {"title": [FilterCaseText]}
    order_columns = ["id", "title", "stage", "category", "updated_at"]
    base_order = ("id", "desc")
    add_model_schema = CaseEntrySchema()
    edit_model_schema = CaseEntryPutSchema()

    # The source record is named only to a reader whose department scope includes it.
    def pre_get_list(self, data):
        super().pre_get_list(data)
        self._hide_foreign_sources(data.get("result", []))

    def pre_get(self, data):
        super().pre_get(data)
        self._hide_foreign_sources([data.get("result", {})])

    def dump(self, item):
        data = super().dump(item)
        self._hide_foreign_sources([data])
        return data

    # Writes go through app.domain.cases, where the rules of an entry are (the schemas only document them).
    def post_headless(self):
        return self.write(lambda: cases.new_entry(db.session, self.actor(), **self._fields(json_object())),
                          lambda item: self.response(201, id=item.id, result=self.dump(item)))

    def put_headless(self, pk):
        def change():
            data = dict(json_object())
            version = data.pop("version", None)
            item = self._get_visible(pk)
            cases.change_entry(db.session, item, self.actor(), version, **self._fields(data))
            return item

        return self.write(change, lambda item: self.response(200, id=item.id, result=self.dump(item)))

    def delete_headless(self, pk):
        version = request.args.get("version") or (request.get_json(silent=True) or {}).get("version")
        return self.write(lambda: cases.delete_entry(db.session, self._get_visible(pk), self.actor(), version),
                          lambda _done: self.response(200, message="OK"))

    @staticmethod
    def _fields(data: dict) -> dict:
        """The body's fields as keywords; one that is not a field of an entry is refused by name (422)."""
        unknown = {name: _l("%(field)s cannot be set here.", field=name) for name in data if name not in cases.FIELDS}
        if unknown:
            raise ValidationError(unknown)
        return data

    def _hide_foreign_sources(self, rows):
        visible = cases.visible_sources(db.session, rows, self.actor())
        for row in rows:
            if (row.get("source_table"), row.get("source_id")) not in visible:
                row["source_table"] = row["source_id"] = None


ALL_APIS = (ComplaintApi, ApprovalApi, CaseEntryApi)


def register(appbuilder) -> list[tuple]:
    """Add this module's APIs to AppBuilder. APIs have no menu entry, so nothing is returned."""
    for api in ALL_APIS:
        appbuilder.add_api(api)
    return []
