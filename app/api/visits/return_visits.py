"""/api/v1/return_visit/: the return visits of visits, deliveries and move-ins — record one (a
visit's own is the visit's `return_visit` step), schedule a project's, print the record. Writes go
through app.domain.visits in one unit of work."""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import fields as ma
from marshmallow.validate import OneOf, Range
from sqlalchemy import select

from app.domain import calendar, visits
from app.domain.errors import DomainError, ValidationError
from app.extensions import db
from app.models import Project, ReturnVisit
from app.models.choices import ReturnVisitKind, VisitMethod
from app.views.base import KefuInterface

from ..base import DomainModelRestApi, json_object
from ..complaint_schemas import PrintCopySchema
from ..documented import Answer, PrintedAnswerSchema, StateAnswer, documented, the_record
from .common import existing_id, is_false, refuse_unknown


# FAB keeps one global map of arg_name -> filter class: the names are unique.
class FilterReturnVisitOverdue(BaseFilter):
    """`(col:state,opr:return_visit_overdue,value:true)`: return visits still due after their date."""

    name = _l("Overdue")
    arg_name = "return_visit_overdue"

    def apply(self, query, value):
        clause = visits.return_visit_overdue_clause()
        return query.filter(~clause if is_false(value) else clause)


RETURN_VISIT_LABELS = {
    "id": _l("ID"), "version": _l("Version"), "number": _l("Return visit number"), "kind": _l("Kind"),
    "customer_id": _l("Customer"), "customer.name": _l("Customer"), "unit_id": _l("Unit"), "visit_id": _l("Visit"),
    "project_id": _l("Project"), "due_on": _l("Due on"), "state": _l("State"), "method": _l("Method"),
    "record": _l("Record"), "satisfaction": _l("Satisfaction"), "effect_confirmed": _l("Effect confirmed"),
    "follow_up": _l("Follow-up"), "done_by_name": _l("Return-visited by"), "done_at": _l("Return-visited at"),
    "created_at": _l("Created at"), "updated_at": _l("Updated at"),
}
RETURN_VISIT_LIST = ["number", "kind", "customer_id", "customer.name", "unit_id", "visit_id", "project_id", "due_on",
                     "state", "method", "satisfaction", "effect_confirmed", "done_by_name", "done_at"]
RETURN_VISIT_SHOW = [*RETURN_VISIT_LIST, "record", "follow_up", "created_at", "updated_at"]


class ReturnVisitRecordSchema(Schema):
    """How a delivery or move-in return visit went, with the version read."""

    version = ma.Integer(required=True)
    method = ma.String(required=True, validate=OneOf([m.value for m in VisitMethod]))
    record = ma.String(required=True)
    satisfaction = ma.Integer(required=True, validate=Range(1, 5))
    follow_up = ma.String(allow_none=True)
    effect_confirmed = ma.Boolean(allow_none=True)


class ReturnVisitRecordedAnswerSchema(StateAnswer):
    """The return visit, now done."""

    result = the_record("return visit")


class ScheduleSchema(Schema):
    """The project whose customers' return visits to schedule."""

    project_id = ma.Integer(required=True)


class ScheduledAnswerSchema(Answer):
    """How many return visits were added."""

    project_id = ma.Integer(required=True)
    added = ma.Integer(required=True)


class ReturnVisitApi(DomainModelRestApi):
    resource_name = "return_visit"
    datamodel = KefuInterface(ReturnVisit)
    include_route_methods = {"get", "get_list", "info", "record", "schedule", "print_record"}
    label_columns = RETURN_VISIT_LABELS
    list_columns = RETURN_VISIT_LIST
    show_columns = RETURN_VISIT_SHOW
    search_columns = ["kind", "state", "due_on", "customer_id", "visit_id", "project_id", "done_at"]
    search_filters = {"state": [FilterReturnVisitOverdue]}
    order_columns = ["id", "due_on", "state", "kind", "done_at"]
    openapi_spec_methods = {
        "record": {"post": {"summary": "Record a delivery or move-in return visit"}},
        "schedule": {"post": {"summary": "Schedule a project's delivery and move-in return visits"}},
        "print_record": {"post": {"summary": "Print the return visit record and file it in the archive"}},
    }

    def pre_get_list(self, data):
        super().pre_get_list(data)
        ids = list(data.get("ids", []))
        if not ids:
            return
        today = calendar.local_now().date()
        rows = {row.id: row for row in db.session.execute(
            select(ReturnVisit.id, ReturnVisit.state, ReturnVisit.due_on, ReturnVisit.kind)
            .where(ReturnVisit.id.in_(ids)))}
        for row_id, row in zip(ids, data.get("result", []), strict=False):
            found = rows.get(row_id)
            if found is not None:
                row["overdue"] = visits.return_visit_overdue(found, today)
                row["kind_label"] = ReturnVisitKind.label_of(found.kind)

    @staticmethod
    def computed(record: ReturnVisit) -> dict:
        return {"number": record.number, "overdue": visits.return_visit_overdue(record),
                "kind_label": ReturnVisitKind.label_of(record.kind),
                "method_label": VisitMethod.label_of(record.method) if record.method else None}

    @expose("/<int:pk>/record", methods=["POST"])
    @documented(ReturnVisitRecordedAnswerSchema, body=ReturnVisitRecordSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("record")
    def record(self, pk):
        """A delivery or move-in return visit is made (a visit's own is the visit's `return_visit` step).

        Refusals: 409 already recorded, a visit's return visit, or a stale version; 403 role; 422 missing
        or bad fields (`errors` per field)."""
        def record():
            data = dict(json_object())
            version = data.pop("version", None)
            return visits.record_return_visit(db.session, self._get_visible(pk), self.actor(), version, data)

        return self.write(record, lambda item: self.response(200, id=item.id, version=item.version, state=item.state,
                                                             result=self.body(item)))

    @expose("/schedule", methods=["POST"])
    @documented(ScheduledAnswerSchema, body=ScheduleSchema, refusals=(403, 422))
    @protect()
    @safe
    @permission_name("schedule")
    def schedule(self):
        """Schedule the delivery (30 days after delivery) and move-in (three months after the move-in date)
        return visits of every customer holding a unit of a project.

        Idempotent: a customer and unit already scheduled for a kind is not scheduled again. Refused (422)
        while the project has neither date."""
        def schedule():
            data = json_object()
            refuse_unknown(data, ("project_id",))
            project_id = existing_id("project_id", data.get("project_id"), Project, _l("This project does not exist."))
            if project_id is None:
                raise ValidationError({"project_id": _l("This field is required.")})
            project = db.session.get(Project, project_id)
            return project_id, visits.schedule_project_return_visits(db.session, project, self.actor())

        return self.write(schedule, lambda done: self.response(200, project_id=done[0], added=done[1]))

    @expose("/<int:pk>/print", methods=["POST"])
    @documented(PrintedAnswerSchema, status=201, body=PrintCopySchema, body_required=False,
                refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("print")
    def print_record(self, pk):
        """Print the return visit record (回访记录表) and file it in the archive.

        Each call files a new copy: a reprint is a new archive record whose `previous_id` names the copy
        before it. A return visit not yet done has nothing to print (409). Personal data is masked unless
        `full_data` is asked by a role that may reveal it (audited)."""
        from app import printing

        from ..archive import full_data_asked, print_response

        try:
            item = self._get_visible(pk)
            full = full_data_asked()
        except DomainError as err:
            return self.domain_error(err)
        return print_response(self, lambda: printing.print_return_visit(db.session, item, self.actor(), full))

