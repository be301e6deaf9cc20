"""/api/v1/visit_summary/: the summary of visits to the general manager's office — drafted from a
period's figures, edited, submitted (a `visit_summary` approval, decided through
/api/v1/approval/<id>/decide), and a recurring problem turned into a case-library entry. Writes go
through app.domain.visits in one unit of work."""

from __future__ import annotations

import json

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import fields as ma
from marshmallow.validate import OneOf
from sqlalchemy import select

from app.domain import visits
from app.extensions import db
from app.models import Approval, Department, Project, VisitSummary
from app.models.choices import CaseCategory, CaseStage, SummaryState
from app.views.base import KefuInterface

from ..base import DomainModelRestApi, json_object
from ..documented import RecordAnswer, StateAnswer, documented, the_record
from .common import existing_id, refuse_unknown

SUMMARY_LABELS = {
    "id": _l("ID"), "version": _l("Version"), "title": _l("Title"), "period_from": _l("From"),
    "period_to": _l("To"), "content": _l("Content"), "figures": _l("Figures"), "visit_ids": _l("Visits reported"),
    "state": _l("State"), "comment": _l("General manager's comment"), "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
}
SUMMARY_LIST = ["title", "period_from", "period_to", "state", "comment", "created_at", "updated_at"]
SUMMARY_SHOW = ["title", "period_from", "period_to", "content", "figures", "visit_ids", "state", "comment",
                "created_at", "updated_at"]
SUMMARY_CREATE = ("period_from", "period_to", "title")
SUMMARY_EDIT = ("title", "content")
CASE_FIELDS = ("title", "stage", "category", "description", "lesson", "cause", "project_id", "department_id")


class VersionSchema(Schema):
    """The version of the record as read."""

    version = ma.Integer(required=True)


class SubmittedAnswerSchema(StateAnswer):
    """The submitted summary, with `approval_id` (the general manager's request)."""

    approval_id = ma.Integer(required=True, allow_none=True)
    result = the_record("summary")


class SummaryCaseSchema(Schema):
    """A case-library entry drawn from a summary (its source is the summary)."""

    title = ma.String(required=True)
    stage = ma.String(required=True, validate=OneOf([m.value for m in CaseStage]))
    category = ma.String(required=True, validate=OneOf([m.value for m in CaseCategory]))
    description = ma.String(required=True)
    lesson = ma.String(allow_none=True)
    cause = ma.String(allow_none=True)
    project_id = ma.Integer(allow_none=True)
    department_id = ma.Integer(allow_none=True)


class CaseEntryAnswerSchema(RecordAnswer):
    """The case entry (see /api/v1/case_entry/)."""

    result = ma.Dict(required=True)


def _parsed(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class VisitSummaryApi(DomainModelRestApi):
    resource_name = "visit_summary"
    datamodel = KefuInterface(VisitSummary)
    include_route_methods = {"get", "get_list", "info", "post", "put", "submit", "add_case"}
    label_columns = SUMMARY_LABELS
    list_columns = SUMMARY_LIST
    show_columns = SUMMARY_SHOW
    add_columns = list(SUMMARY_CREATE)
    edit_columns = list(SUMMARY_EDIT)
    search_columns = ["state", "period_from", "period_to", "title"]
    order_columns = ["id", "period_from", "period_to", "state", "updated_at"]
    openapi_spec_methods = {
        "submit": {"post": {"summary": "Submit a summary to the general manager"}},
        "add_case": {"post": {"summary": "Add a recurring problem of a summary to the case library"}},
    }

    def pre_get_list(self, data):
        super().pre_get_list(data)
        for row in data.get("result", []):
            if "state" in row:
                row["state_label"] = SummaryState.label_of(row["state"])

    @staticmethod
    def computed(summary: VisitSummary) -> dict:
        """Figures and visit ids as JSON, and the summary's latest approval (the general manager decides it)."""
        approval = db.session.execute(
            select(Approval.id, Approval.state).where(Approval.subject_table == VisitSummary.__table__.name,
                                                      Approval.subject_id == summary.id,
                                                      Approval.kind == visits.SUMMARY_KIND)
            .order_by(Approval.id.desc()).limit(1)).first()
        return {"figures": _parsed(summary.figures), "visit_ids": _parsed(summary.visit_ids) or [],
                "state_label": SummaryState.label_of(summary.state),
                "approval_id": approval.id if approval else None, "approval_state": approval.state if approval else None}

    def post_headless(self):
        """Draft a summary of a period from its figures (customer-service manager)."""
        def draft():
            data = json_object()
            refuse_unknown(data, SUMMARY_CREATE)
            return visits.draft_summary(db.session, self.actor(), data.get("period_from"), data.get("period_to"),
                                        data.get("title"))

        return self.write(draft, lambda summary: self.response(201, id=summary.id, version=summary.version,
                                                               result=self.body(summary)))

    def put_headless(self, pk):
        """Edit the content (and title) of a draft or returned summary, with the version read."""
        def edit():
            data = dict(json_object())
            version = data.pop("version", None)
            refuse_unknown(data, SUMMARY_EDIT)
            summary = self._get_visible(pk)
            visits.edit_summary(db.session, summary, self.actor(), version, data.get("content"), data.get("title"))
            return summary

        return self.write(edit, lambda summary: self.response(200, id=summary.id, version=summary.version,
                                                              result=self.body(summary)))

    @expose("/<int:pk>/submit", methods=["POST"])
    @documented(SubmittedAnswerSchema, body=VersionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("submit")
    def submit(self, pk):
        """Submit the summary to the general manager: a `visit_summary` approval, decided through
        /api/v1/approval/<id>/decide; acknowledging it moves its visits to `summarised`.

        Refused (409) once submitted, or while no return-visited visit of the period waits to be
        summarised."""
        def submit():
            data = dict(json_object())
            version = data.pop("version", None)
            refuse_unknown(data, ())
            return visits.submit_summary(db.session, self._get_visible(pk), self.actor(), version)

        def submitted(summary):
            result = self.body(summary)
            return self.response(200, id=summary.id, version=summary.version, state=summary.state,
                                 approval_id=result["approval_id"], result=result)

        return self.write(submit, submitted)

    @expose("/<int:pk>/case", methods=["POST"])
    @documented(CaseEntryAnswerSchema, status=201, body=SummaryCaseSchema, refusals=(403, 404, 422))
    @protect()
    @safe
    @permission_name("case")
    def add_case(self, pk):
        """A recurring problem of the summary becomes a case-library entry (its source is the summary)."""
        def add():
            data = json_object()
            refuse_unknown(data, CASE_FIELDS)
            summary = self._get_visible(pk)
            values = {name: data.get(name) for name in CASE_FIELDS}
            values["project_id"] = existing_id("project_id", values["project_id"], Project,
                                              _l("This project does not exist."))
            values["department_id"] = existing_id("department_id", values["department_id"], Department,
                                                 _l("This department does not exist."))
            return visits.case_from_summary(db.session, summary, self.actor(), **values)

        return self.write(add, self._case_answer)

    def _case_answer(self, entry):
        return self.response(201, id=entry.id, version=entry.version, result={
            "id": entry.id, "version": entry.version, "title": entry.title, "stage": entry.stage,
            "category": entry.category, "description": entry.description, "lesson": entry.lesson,
            "cause": entry.cause, "project_id": entry.project_id, "department_id": entry.department_id,
            "source_table": entry.source_table, "source_id": entry.source_id})

