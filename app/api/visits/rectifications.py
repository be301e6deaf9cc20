"""/api/v1/rectification/: a department's rectification items (department staff see only their own)
and their steps, through app.domain.visits.rectification_transition in one unit of work."""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import fields as ma
from sqlalchemy import select

from app.domain import calendar, visits
from app.extensions import db
from app.models import Rectification, Visit
from app.models.choices import RectificationState, ServiceItem
from app.views.base import KefuInterface

from ..base import DomainModelRestApi
from ..documented import Answer, StateAnswer, documented, step_body_schema
from ..step_fields import STEP_FIELD_TYPES
from .common import is_false, iso


# FAB keeps one global map of arg_name -> filter class: the names are unique.
class FilterRectificationOverdue(BaseFilter):
    """`(col:state,opr:rectification_overdue,value:true)`: items still open after their deadline."""

    name = _l("Overdue")
    arg_name = "rectification_overdue"

    def apply(self, query, value):
        clause = visits.rectification_overdue_clause()
        return query.filter(~clause if is_false(value) else clause)


class RectificationAnswerSchema(Answer):
    """A rectification item with its round, overdue flag and the actions the caller may take now."""

    id = ma.Integer(required=True)
    version = ma.Integer(required=True)
    number = ma.String()
    visit_id = ma.Integer()
    item_id = ma.Integer()
    service_item = ma.String()
    service_item_label = ma.String()
    opinion = ma.String(allow_none=True)
    department_id = ma.Integer()
    department_name = ma.String()
    measure = ma.String()
    responsible_person = ma.String()
    deadline = ma.Date()
    tenant_consulted = ma.Boolean()
    round = ma.Integer()
    state = ma.String()
    state_label = ma.String()
    completed_at = ma.DateTime(allow_none=True)
    satisfied_at = ma.DateTime(allow_none=True)
    overdue = ma.Boolean()
    allowed_actions = ma.List(ma.String())


class RectificationStepAnswerSchema(StateAnswer):
    """The item in its new state, its round, and the actions the caller may take next."""

    round = ma.Integer(required=True)
    allowed_actions = ma.List(ma.String(), required=True)
    result = ma.Nested(RectificationAnswerSchema, required=True)


RectificationTransitionSchema = step_body_schema("RectificationTransitionSchema", visits.RECTIFICATION_STEPS,
                                                 STEP_FIELD_TYPES)


def rectification_json(session, item: Rectification, actor, today=None) -> dict:
    """A rectification item as the API shows it (with its round, overdue flag and the caller's next steps)."""
    return {
        "id": item.id, "version": item.version, "number": item.number, "visit_id": item.visit_id,
        "item_id": item.item_id, "service_item": item.item.service_item,
        "service_item_label": ServiceItem.label_of(item.item.service_item), "opinion": item.item.opinion,
        "department_id": item.department_id, "department_name": item.department.name, "measure": item.measure,
        "responsible_person": item.responsible_person, "deadline": iso(item.deadline),
        "tenant_consulted": item.tenant_consulted, "round": item.round, "state": item.state,
        "state_label": RectificationState.label_of(item.state), "completed_at": iso(item.completed_at),
        "satisfied_at": iso(item.satisfied_at), "overdue": visits.rectification_overdue(item, today),
        "allowed_actions": [s.action for s in visits.allowed_rectification_steps(session, item, actor)],
    }


RECTIFICATION_LABELS = {
    "id": _l("ID"), "version": _l("Version"), "number": _l("Rectification number"), "visit_id": _l("Visit"),
    "item_id": _l("Inspected item"), "item.service_item": _l("Service item"), "item.opinion": _l("Found"),
    "department_id": _l("Responsible department"), "department.name": _l("Responsible department"),
    "measure": _l("Measure"), "responsible_person": _l("Responsible person"), "deadline": _l("Deadline"),
    "tenant_consulted": _l("Tenant consulted"), "round": _l("Round"), "state": _l("State"),
    "completed_at": _l("Completed at"), "satisfied_at": _l("Customer satisfied at"), "created_at": _l("Created at"),
    "updated_at": _l("Updated at"),
}
RECTIFICATION_COLUMNS = ["number", "visit_id", "item_id", "item.service_item", "item.opinion", "department_id",
                         "department.name", "measure", "responsible_person", "deadline", "tenant_consulted", "round",
                         "state", "completed_at", "satisfied_at"]


class RectificationApi(DomainModelRestApi):
    resource_name = "rectification"
    datamodel = KefuInterface(Rectification)  # department staff: their department's items only
    include_route_methods = {"get", "get_list", "info", "transition"}
    label_columns = RECTIFICATION_LABELS
    list_columns = RECTIFICATION_COLUMNS
    show_columns = [*RECTIFICATION_COLUMNS, "created_at", "updated_at"]
    search_columns = ["state", "department_id", "visit_id", "deadline", "round", "responsible_person"]
    search_filters = {"state": [FilterRectificationOverdue]}
    order_columns = ["id", "deadline", "state", "round", "completed_at"]
    openapi_spec_methods = {"transition": {"post": {"summary": "Take one step of a rectification item"}}}

    def pre_get_list(self, data):
        super().pre_get_list(data)
        ids = list(data.get("ids", []))
        if not ids:
            return
        today = calendar.local_now().date()
        rows = {row.id: row for row in db.session.execute(
            select(Rectification.id, Rectification.state, Rectification.deadline, Rectification.round,
                   Rectification.visit_id).where(Rectification.id.in_(ids)))}
        visit_of = {v.id: v for v in db.session.scalars(
            select(Visit).where(Visit.id.in_({row.visit_id for row in rows.values()})))}
        for row_id, row in zip(ids, data.get("result", []), strict=False):
            found = rows.get(row_id)
            if found is None:
                continue
            visit = visit_of[found.visit_id]
            row["overdue"] = visits.rectification_overdue(found, today)
            row["round"] = found.round
            row["state_label"] = RectificationState.label_of(found.state)
            row["visit_number"], row["customer_name"] = visit.number, visit.customer.name

    def computed(self, item: Rectification) -> dict:
        visit = db.session.get(Visit, item.visit_id)
        return {"number": item.number, "round": item.round, "overdue": visits.rectification_overdue(item),
                "state_label": RectificationState.label_of(item.state), "visit_number": visit.number,
                "customer_name": visit.customer.name,
                "allowed_actions": [s.action for s in visits.allowed_rectification_steps(db.session, item,
                                                                                         self.actor())]}

    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(RectificationStepAnswerSchema, body=RectificationTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of a rectification item: the item in its new state, or a refusal with nothing written.

        The department's steps (report progress, complete) are taken by its own staff or customer service,
        the customer's verdict (accept, reject: another round) by customer service. Another department's
        item answers 404; a wrong state or a stale version 409, a role 403, missing or bad fields 422
        (`errors` per field)."""
        return self.take_step(lambda: visits.get_rectification(db.session, pk, self.actor()),
                              visits.rectification_transition,
                              answer=lambda item: rectification_json(db.session, item, self.actor()), round="round")

