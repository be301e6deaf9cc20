"""/api/v1/visit/: plan, list, detail, transition, inspected items, rectification items, timeline and
printing both filled forms. Planning goes through app.domain.visit_planning (the planning rules hold
here as on the form), every step through app.domain.visits.transition, in one unit of work; a refusal
answers `err.status` with a JSON `message` (and `errors` per field) with nothing written. A visit
changes only through its steps: there is no PUT or DELETE."""

from __future__ import annotations

import json

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import fields as ma
from sqlalchemy import select

from app.domain import calendar, visit_planning, visits
from app.domain.errors import DomainError
from app.extensions import db
from app.models import Rectification, Visit, VisitItem, VisitStep
from app.models.choices import ContactRole, ItemResult, ServiceItem, VisitState
from app.views.base import KefuInterface

from ..base import DomainModelRestApi, json_object
from ..complaint_schemas import PrintCopySchema
from ..documented import (
    Answer,
    ListAnswer,
    PrintedFormsAnswerSchema,
    StepAnswerSchema,
    StepEntry,
    documented,
    step_body_schema,
)
from ..step_fields import STEP_FIELD_TYPES
from .common import iso, refuse_unknown
from .rectifications import RectificationAnswerSchema, rectification_json

VISIT_LABELS = {
    "id": _l("ID"), "version": _l("Version"), "number": _l("Visit number"), "customer_id": _l("Customer"),
    "customer.name": _l("Customer"), "unit_id": _l("Unit"), "contact_role": _l("Received by"),
    "contact_name": _l("Contact"), "contact_post": _l("Post"), "contact_phone": _l("Contact phone"),
    "planned_at": _l("Planned for"), "staff_id": _l("Visited by"), "companions": _l("Accompanied by"),
    "state": _l("State"), "state_changed_at": _l("State changed at"), "visited_at": _l("Visited at"),
    "opinions": _l("Opinions and suggestions"), "return_visited_at": _l("Return-visited at"),
    "return_visit_method": _l("Return visit by"), "return_visit_record": _l("Return visit record"),
    "effect_confirmed": _l("Effect confirmed"), "satisfaction": _l("Satisfaction"), "summary_id": _l("Summary"),
    "archived_at": _l("Archived at"), "created_at": _l("Created at"), "updated_at": _l("Updated at"),
}
VISIT_LIST = ["number", "customer_id", "customer.name", "unit_id", "contact_role", "contact_name", "contact_phone",
              "planned_at", "staff_id", "state", "state_changed_at", "visited_at", "return_visited_at",
              "satisfaction", "summary_id", "archived_at"]
VISIT_SHOW = ["number", "customer_id", "customer.name", "unit_id", "contact_role", "contact_name", "contact_post",
              "contact_phone", "planned_at", "staff_id", "companions", "state", "state_changed_at", "visited_at",
              "opinions", "return_visited_at", "return_visit_method", "return_visit_record", "effect_confirmed",
              "satisfaction", "summary_id", "archived_at", "created_at", "updated_at"]
VISIT_CREATE = ("customer_id", "planned_at", "contact_role", "contact_name", "contact_post", "contact_phone",
                "unit_id", "staff_id", "companions")

VisitTransitionSchema = step_body_schema("VisitTransitionSchema", visits.VISIT_STEPS, STEP_FIELD_TYPES)


class InspectedItemAnswerSchema(Answer):
    """A service item inspected on the visit, with its result."""

    id = ma.Integer(required=True)
    seq = ma.Integer()
    service_item = ma.String()
    service_item_label = ma.String()
    result = ma.String()
    result_label = ma.String()
    opinion = ma.String(allow_none=True)
    explanation = ma.String(allow_none=True)


class VisitStepEntrySchema(StepEntry):
    """One step of the visit or of one of its rectification items (`rectification_id`, `round`)."""

    rectification_id = ma.Integer(allow_none=True)
    round = ma.Integer(allow_none=True)
    customer_told = ma.Boolean(allow_none=True)


class InspectedItemsAnswerSchema(ListAnswer):
    """The inspected items, in order."""

    result = ma.List(ma.Nested(InspectedItemAnswerSchema), required=True)


class VisitRectificationsAnswerSchema(ListAnswer):
    """The visit's rectification items, with `round`, `overdue` and the caller's `allowed_actions`."""

    result = ma.List(ma.Nested(RectificationAnswerSchema), required=True)


class VisitStepsAnswerSchema(ListAnswer):
    """The steps, oldest first."""

    result = ma.List(ma.Nested(VisitStepEntrySchema), required=True)


class VisitApi(DomainModelRestApi):
    resource_name = "visit"
    datamodel = KefuInterface(Visit)
    include_route_methods = {"get", "get_list", "info", "post", "transition", "inspected_items", "rectifications",
                             "steps", "print_forms"}
    label_columns = VISIT_LABELS
    list_columns = VISIT_LIST
    show_columns = VISIT_SHOW
    # Plain columns only: FAB's _info would list every related row (all customers) for a relation.
    add_columns = list(VISIT_CREATE)
    search_columns = ["state", "customer_id", "unit_id", "staff_id", "planned_at", "visited_at", "summary_id",
                      "contact_name"]
    order_columns = ["id", "planned_at", "visited_at", "state", "state_changed_at", "return_visited_at"]
    openapi_spec_methods = {
        "transition": {"post": {"summary": "Take one step of the visit procedure"}},
        "inspected_items": {"get": {"summary": "The service items inspected on a visit and their results"}},
        "rectifications": {"get": {"summary": "A visit's rectification items (round, overdue)"}},
        "steps": {"get": {"summary": "The timeline of a visit and of its rectification items"}},
        "print_forms": {"post": {"summary": "Print both filled visit forms and file them in the archive"}},
    }

    # --- reading ----------------------------------------------------------------------------
    def pre_get_list(self, data):
        super().pre_get_list(data)
        for row in data.get("result", []):
            if "state" in row:
                row["state_label"] = VisitState.label_of(row["state"])

    def computed(self, visit: Visit) -> dict:
        return {
            "number": visit.number, "state_label": VisitState.label_of(visit.state),
            "contact_role_label": ContactRole.label_of(visit.contact_role),
            "allowed_actions": [step.action for step in visits.allowed_steps(db.session, visit, self.actor())],
        }

    def _visible(self, pk) -> Visit:
        return visits.get_visit(db.session, pk, self.actor())

    # --- planning ---------------------------------------------------------------------------
    def post_headless(self):
        """预约: a visit in `planned`; the visiting staff member is the caller unless `staff_id` names
        another active member of customer service (app.domain.visit_planning decides)."""
        def plan():
            data = json_object()
            refuse_unknown(data, VISIT_CREATE)
            return visit_planning.plan_visit(db.session, self.actor(), **{name: data.get(name) for name in VISIT_CREATE})

        return self.write(plan, lambda visit: self.response(201, id=visit.id, version=visit.version,
                                                            result=self.body(visit)))

    # --- moving -----------------------------------------------------------------------------
    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(StepAnswerSchema, body=VisitTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of the visit procedure: the visit in its new state, or a refusal with nothing written.

        `summarise` is not taken here: the general manager's acknowledgement of the summary takes it. The
        return visit is refused while any rectification item is not satisfied, the archive until both forms
        are printed. Refusals: 404 not visible, 409 wrong state, unmet condition or stale version, 403 role,
        422 missing or bad fields (`errors` per field)."""
        return self.take_step(lambda: self._visible(pk), visits.transition)

    # --- what a visit found, its rectifications and its timeline ----------------------------
    @expose("/<int:pk>/items", methods=["GET"])
    @documented(InspectedItemsAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def inspected_items(self, pk):
        """The service items inspected on the visit, in order, with their results."""
        try:
            visit = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        found = db.session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id)
                                   .order_by(VisitItem.seq)).all()
        result = [{"id": i.id, "seq": i.seq, "service_item": i.service_item,
                   "service_item_label": ServiceItem.label_of(i.service_item), "result": i.result,
                   "result_label": ItemResult.label_of(i.result), "opinion": i.opinion,
                   "explanation": i.explanation} for i in found]
        return self.response(200, id=visit.id, count=len(result), result=result)

    @expose("/<int:pk>/rectifications", methods=["GET"])
    @documented(VisitRectificationsAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def rectifications(self, pk):
        """The visit's rectification items: department, measure, deadline, round, state, overdue."""
        try:
            visit = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        today = calendar.local_now().date()
        found = db.session.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                   .order_by(Rectification.id)).all()
        result = [rectification_json(db.session, item, self.actor(), today) for item in found]
        return self.response(200, id=visit.id, count=len(result), result=result)

    @expose("/<int:pk>/steps", methods=["GET"])
    @documented(VisitStepsAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def steps(self, pk):
        """The visit's timeline: one entry per step of the visit and of its rectification items, oldest first."""
        try:
            visit = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        entries = db.session.scalars(select(VisitStep).where(VisitStep.visit_id == visit.id)
                                     .order_by(VisitStep.id)).all()
        result = [{"id": e.id, "action": e.action, "from": e.from_state, "to": e.to_state,
                   "rectification_id": e.rectification_id, "round": e.round, "actor_id": e.actor_id,
                   "actor_name": e.actor_name, "at": iso(e.at), "comment": e.comment,
                   "customer_told": e.customer_told, "data": json.loads(e.data) if e.data else {}} for e in entries]
        return self.response(200, id=visit.id, count=len(result), result=result)

    # --- printing ---------------------------------------------------------------------------
    @expose("/<int:pk>/print", methods=["POST"])
    @documented(PrintedFormsAnswerSchema, status=201, body=PrintCopySchema, body_required=False,
                refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("print")
    def print_forms(self, pk):
        """Print the filled 走访客户记录表 and 客户意见、建议征求表 and file both in the archive (kept permanently).

        Each call files a new copy of each form: a reprint is a new archive record whose `previous_id`
        names the copy before it. The `archive` step of the visit needs both filed; a planned visit has
        nothing to print (409). The contact phone is printed masked unless `full_data` is asked by a role
        that may reveal personal data (the reveal is audited)."""
        from app import printing

        from ..archive import full_data_asked, print_response

        try:
            visit = self._visible(pk)
            full = full_data_asked()
        except DomainError as err:
            return self.domain_error(err)
        return print_response(self, lambda: printing.print_visit_forms(db.session, visit, self.actor(), full))

