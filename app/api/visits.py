"""REST for visits (issue 6): /api/v1/visit/ (plan, list, detail, transition, inspected items,
rectification items, timeline, print both forms), /api/v1/rectification/ (a department's items and
their steps), /api/v1/return_visit/ (visit, delivery and move-in return visits: record, schedule,
print) and /api/v1/visit_summary/ (draft, edit, submit to the general manager, case from a summary).

Thin adapters: every write goes through app.domain.visits (plan_visit, transition,
rectification_transition, record_return_visit, schedule_project_return_visits, draft_summary,
edit_summary, submit_summary, case_from_summary) or app.printing inside one unit of work, and a
refusal answers `err.status` with a JSON `message` (and `errors` per field) with nothing written.
Visits, rectification items and return visits change only through their steps: there is no PUT or
DELETE on them. The general manager acknowledges a summary through `POST /api/v1/approval/<id>/decide`.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.domain import calendar, records, visits
from app.domain.errors import DomainError, ValidationError
from app.extensions import db
from app.models import (
    Approval,
    Department,
    Project,
    Rectification,
    ReturnVisit,
    Visit,
    VisitItem,
    VisitStep,
    VisitSummary,
)
from app.models.choices import (
    ContactRole,
    ItemResult,
    RectificationState,
    ReturnVisitKind,
    ServiceItem,
    SummaryState,
    VisitMethod,
    VisitState,
)
from app.views.base import KefuInterface, may_reveal

from .base import DomainModelRestApi, json_object

FALSE_WORDS = ("0", "false", "no", "n", "off")


# --- helpers ------------------------------------------------------------------------------------

def _record_id(name: str, value, model, message):
    """An optional id in a body: None when blank, else an existing record's id (422 otherwise)."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({name: message})
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: message}) from None
    if db.session.get(model, value) is None:
        raise ValidationError({name: message})
    return value


def _refuse_unknown(data: dict, allowed) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: _l("%(field)s cannot be set here.", field=name) for name in unknown})


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


def _labels(enum_class) -> dict[str, str]:
    return {code: str(label) for code, label in enum_class.choices()}


def _is_false(value) -> bool:
    return str(value).strip().lower() in FALSE_WORDS


# --- filters (FAB keeps one global map of arg_name -> filter class: the names are unique) --------------

class FilterRectificationOverdue(BaseFilter):
    """`(col:state,opr:rectification_overdue,value:true)`: items still open after their deadline."""

    name = _l("Overdue")
    arg_name = "rectification_overdue"

    def apply(self, query, value):
        clause = visits.rectification_overdue_clause()
        return query.filter(~clause if _is_false(value) else clause)


class FilterReturnVisitOverdue(BaseFilter):
    """`(col:state,opr:return_visit_overdue,value:true)`: return visits still due after their date."""

    name = _l("Overdue")
    arg_name = "return_visit_overdue"

    def apply(self, query, value):
        clause = visits.return_visit_overdue_clause()
        return query.filter(~clause if _is_false(value) else clause)


# --- visits -------------------------------------------------------------------------------------

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
                "unit_id", "companions")


def rectification_json(session, item: Rectification, actor, today=None) -> dict:
    """A rectification item as the API shows it (with its round, overdue flag and the caller's next steps)."""
    return {
        "id": item.id, "version": item.version, "number": item.number, "visit_id": item.visit_id,
        "item_id": item.item_id, "service_item": item.item.service_item,
        "service_item_label": ServiceItem.label_of(item.item.service_item), "opinion": item.item.opinion,
        "department_id": item.department_id, "department_name": item.department.name, "measure": item.measure,
        "responsible_person": item.responsible_person, "deadline": _iso(item.deadline),
        "tenant_consulted": item.tenant_consulted, "round": item.round, "state": item.state,
        "state_label": RectificationState.label_of(item.state), "completed_at": _iso(item.completed_at),
        "satisfied_at": _iso(item.satisfied_at), "overdue": visits.rectification_overdue(item, today),
        "allowed_actions": [s.action for s in visits.allowed_rectification_steps(session, item, actor)],
    }


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
        """预约: a visit in `planned`; the caller is the visiting staff member."""
        try:
            data = json_object()
            _refuse_unknown(data, VISIT_CREATE)
            values = {name: data.get(name) for name in VISIT_CREATE}
            with records.unit_of_work(db.session):
                visit = visits.plan_visit(db.session, self.actor(), **values)
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(201, id=visit.id, version=visit.version, result=self.body(visit))

    # --- moving -----------------------------------------------------------------------------
    @expose("/<int:pk>/transition", methods=["POST"])
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of the visit procedure: the visit in its new state, or a refusal with nothing written.
        ---
        post:
          description: >-
            Body: `action` (visit, rectify, return_visit, archive), `version` (the version read),
            optional `comment`, and the fields the step takes. visit: `items` (a list of
            {service_item, result: qualified | non_conforming | out_of_scope, opinion, explanation}),
            optional `visited_at`, `opinions`, `companions`. rectify: `rectifications` (one per
            non-conforming item: {item_id, department_id, measure, responsible_person, deadline,
            tenant_consulted}). return_visit: `return_visit_method` (phone, on_site),
            `return_visit_record`, `satisfaction` (1-5), `effect_confirmed` (required after
            rectifications; refused while any item is not satisfied). archive: nothing (refused until
            both forms are printed). `summarise` is taken by the general manager's acknowledgement of
            the summary. Refusals: 404 not visible, 409 wrong state, unmet condition or stale version,
            403 role, 422 missing or bad fields (`errors` per field).
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [action, version]
                  properties:
                    action: {type: string, enum: [visit, rectify, return_visit, archive]}
                    version: {type: integer}
                    comment: {type: string}
                  additionalProperties: true
          responses:
            200:
              description: The visit in its new state, with the actions the caller may take next
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      version: {type: integer}
                      state: {type: string}
                      allowed_actions: {type: array, items: {type: string}}
                      result: {type: object}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not possible in the current state, a condition unmet, or the version is stale}
            422: {$ref: '#/components/responses/422'}
        """
        return self.take_step(lambda: self._visible(pk), visits.transition)

    # --- what a visit found, its rectifications and its timeline ----------------------------
    @expose("/<int:pk>/items", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def inspected_items(self, pk):
        """The service items inspected on the visit, in order, with their results.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: The inspected items
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      count: {type: integer}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            id: {type: integer}
                            seq: {type: integer}
                            service_item: {type: string}
                            result: {type: string, enum: [qualified, non_conforming, out_of_scope]}
                            opinion: {type: string}
                            explanation: {type: string}
            404: {$ref: '#/components/responses/404'}
        """
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
    @protect()
    @safe
    @permission_name("get")
    def rectifications(self, pk):
        """The visit's rectification items: department, measure, deadline, round, state, overdue.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: The rectification items, with `round`, `overdue` and the caller's `allowed_actions`
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      count: {type: integer}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            id: {type: integer}
                            version: {type: integer}
                            item_id: {type: integer}
                            department_id: {type: integer}
                            deadline: {type: string, format: date}
                            round: {type: integer}
                            state: {type: string, enum: [open, done, satisfied]}
                            overdue: {type: boolean}
            404: {$ref: '#/components/responses/404'}
        """
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
    @protect()
    @safe
    @permission_name("get")
    def steps(self, pk):
        """The visit's timeline: one entry per step of the visit and of its rectification items, oldest first.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: The steps
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      count: {type: integer}
                      result:
                        type: array
                        items:
                          type: object
                          properties:
                            action: {type: string}
                            from: {type: string}
                            to: {type: string}
                            rectification_id: {type: integer}
                            round: {type: integer}
                            actor_name: {type: string}
                            at: {type: string, format: date-time}
                            comment: {type: string}
                            customer_told: {type: boolean}
                            data: {type: object}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            visit = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        entries = db.session.scalars(select(VisitStep).where(VisitStep.visit_id == visit.id)
                                     .order_by(VisitStep.id)).all()
        result = [{"id": e.id, "action": e.action, "from": e.from_state, "to": e.to_state,
                   "rectification_id": e.rectification_id, "round": e.round, "actor_id": e.actor_id,
                   "actor_name": e.actor_name, "at": _iso(e.at), "comment": e.comment,
                   "customer_told": e.customer_told, "data": json.loads(e.data) if e.data else {}} for e in entries]
        return self.response(200, id=visit.id, count=len(result), result=result)

    # --- printing ---------------------------------------------------------------------------
    @expose("/<int:pk>/print", methods=["POST"])
    @protect()
    @safe
    @permission_name("print")
    def print_forms(self, pk):
        """Print the filled 走访客户记录表 and 客户意见、建议征求表 and file both in the archive (kept permanently).
        ---
        post:
          description: >-
            Each call files a new copy of each form: a reprint is a new archive record whose
            `previous_id` names the copy before it. The `archive` step of the visit needs both filed.
            The contact phone is printed in full only for a role that may reveal personal data (the
            reveal is audited), masked otherwise.
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            201:
              description: The two archive records (number, form, sha256, verify_code, previous_id)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      ids: {type: array, items: {type: integer}}
                      count: {type: integer}
                      result: {type: array, items: {type: object}}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
        """
        from app import printing

        from .archive import print_response

        try:
            visit = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        reveal = may_reveal()
        return print_response(self, lambda: printing.print_visit_forms(db.session, visit, self.actor(), reveal))


# --- rectification items ------------------------------------------------------------------------

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
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of a rectification item: the item in its new state, or a refusal with nothing written.
        ---
        post:
          description: >-
            Body: `action`, `version` (the version read), optional `comment`, and the step's fields.
            report_progress and complete (the item's department, or customer service): `note`,
            `customer_told` (complete needs it true), optional `told_how`. accept (customer service):
            optional `note`. reject (customer service: the customer is not satisfied, another round):
            `note`, `measure`, `deadline`, optional `responsible_person`, `department_id`,
            `tenant_consulted`. Another department's item answers 404. Refusals: 409 wrong state or
            stale version, 403 role, 422 missing or bad fields (`errors` per field).
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [action, version]
                  properties:
                    action: {type: string, enum: [report_progress, complete, accept, reject]}
                    version: {type: integer}
                    comment: {type: string}
                  additionalProperties: true
          responses:
            200:
              description: The item in its new state (with `round` and `overdue`)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      version: {type: integer}
                      state: {type: string}
                      round: {type: integer}
                      allowed_actions: {type: array, items: {type: string}}
                      result: {type: object}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not possible in the current state, or the version is stale}
            422: {$ref: '#/components/responses/422'}
        """
        return self.take_step(lambda: visits.get_rectification(db.session, pk, self.actor()),
                              visits.rectification_transition,
                              answer=lambda item: rectification_json(db.session, item, self.actor()), round="round")


# --- return visits ------------------------------------------------------------------------------

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
    @protect()
    @safe
    @permission_name("record")
    def record(self, pk):
        """A delivery or move-in return visit is made (a visit's own is the visit's `return_visit` step).
        ---
        post:
          description: >-
            Body: `version` (the version read), `method` (phone, on_site), `record`, `satisfaction`
            (1-5), optional `follow_up` and `effect_confirmed`. Refusals: 409 already recorded, a visit's
            return visit, or a stale version; 403 role; 422 missing or bad fields (`errors` per field).
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [version, method, record, satisfaction]
                  properties:
                    version: {type: integer}
                    method: {type: string, enum: [phone, on_site]}
                    record: {type: string}
                    satisfaction: {type: integer, minimum: 1, maximum: 5}
                    follow_up: {type: string}
                    effect_confirmed: {type: boolean}
          responses:
            200: {description: The return visit, now done}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already recorded, a visit's return visit, or changed meanwhile}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            data = dict(json_object())
            version = data.pop("version", None)
            item = self._get_visible(pk)
            with records.unit_of_work(db.session):
                visits.record_return_visit(db.session, item, self.actor(), version, data)
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(200, id=item.id, version=item.version, state=item.state, result=self.body(item))

    @expose("/schedule", methods=["POST"])
    @protect()
    @safe
    @permission_name("schedule")
    def schedule(self):
        """Schedule the delivery (30 days after delivery) and move-in (three months after the move-in date)
        return visits of every customer holding a unit of a project.
        ---
        post:
          description: >-
            Body: `project_id`. Idempotent: a customer and unit already scheduled for a kind is not
            scheduled again. Refused (422) while the project has neither date.
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [project_id]
                  properties:
                    project_id: {type: integer}
          responses:
            200:
              description: How many return visits were added
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      project_id: {type: integer}
                      added: {type: integer}
            403: {$ref: '#/components/responses/401'}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            data = json_object()
            _refuse_unknown(data, ("project_id",))
            project_id = _record_id("project_id", data.get("project_id"), Project, _l("This project does not exist."))
            if project_id is None:
                raise ValidationError({"project_id": _l("This field is required.")})
            project = db.session.get(Project, project_id)
            with records.unit_of_work(db.session):
                added = visits.schedule_project_return_visits(db.session, project, self.actor())
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(200, project_id=project_id, added=added)

    @expose("/<int:pk>/print", methods=["POST"])
    @protect()
    @safe
    @permission_name("print")
    def print_record(self, pk):
        """Print the return visit record (回访记录表) and file it in the archive.
        ---
        post:
          description: >-
            Each call files a new copy: a reprint is a new archive record whose `previous_id` names the
            copy before it.
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            201: {description: The archive record of the printed copy (number, sha256, verify_code, previous_id)}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
        """
        from app import printing

        from .archive import print_response

        try:
            item = self._get_visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        reveal = may_reveal()
        return print_response(self, lambda: printing.print_return_visit(db.session, item, self.actor(), reveal))


# --- the summary to the general manager's office ------------------------------------------------

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
        try:
            data = json_object()
            _refuse_unknown(data, SUMMARY_CREATE)
            with records.unit_of_work(db.session):
                summary = visits.draft_summary(db.session, self.actor(), data.get("period_from"),
                                               data.get("period_to"), data.get("title"))
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(201, id=summary.id, version=summary.version, result=self.body(summary))

    def put_headless(self, pk):
        """Edit the content (and title) of a draft or returned summary, with the version read."""
        try:
            data = dict(json_object())
            version = data.pop("version", None)
            _refuse_unknown(data, SUMMARY_EDIT)
            summary = self._get_visible(pk)
            with records.unit_of_work(db.session):
                visits.edit_summary(db.session, summary, self.actor(), version, data.get("content"), data.get("title"))
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(200, id=summary.id, version=summary.version, result=self.body(summary))

    @expose("/<int:pk>/submit", methods=["POST"])
    @protect()
    @safe
    @permission_name("submit")
    def submit(self, pk):
        """Submit the summary to the general manager: a `visit_summary` approval, decided through
        /api/v1/approval/<id>/decide; acknowledging it moves its visits to `summarised`.
        ---
        post:
          description: >-
            Body: `version` (the version read). Refused (409) once submitted, or while no
            return-visited visit of the period waits to be summarised.
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [version]
                  properties:
                    version: {type: integer}
          responses:
            200:
              description: The submitted summary, with `approval_id` (the general manager's request)
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id: {type: integer}
                      version: {type: integer}
                      state: {type: string}
                      approval_id: {type: integer}
                      result: {type: object}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Already submitted, nothing to summarise, or changed meanwhile}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            data = dict(json_object())
            version = data.pop("version", None)
            _refuse_unknown(data, ())
            summary = self._get_visible(pk)
            with records.unit_of_work(db.session):
                visits.submit_summary(db.session, summary, self.actor(), version)
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        result = self.body(summary)
        return self.response(200, id=summary.id, version=summary.version, state=summary.state,
                             approval_id=result["approval_id"], result=result)

    @expose("/<int:pk>/case", methods=["POST"])
    @protect()
    @safe
    @permission_name("case")
    def add_case(self, pk):
        """A recurring problem of the summary becomes a case-library entry (its source is the summary).
        ---
        post:
          description: >-
            Body: `title`, `stage` (design, marketing, construction, delivery, move_in), `category`
            (planning, building, living, quality), `description`, optional `lesson`, `cause`,
            `project_id`, `department_id`.
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [title, stage, category, description]
                  properties:
                    title: {type: string}
                    stage: {type: string}
                    category: {type: string}
                    description: {type: string}
                    lesson: {type: string}
                    cause: {type: string}
                    project_id: {type: integer}
                    department_id: {type: integer}
          responses:
            201: {description: The case entry (see /api/v1/case_entry/)}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            422: {$ref: '#/components/responses/422'}
        """
        try:
            data = json_object()
            _refuse_unknown(data, CASE_FIELDS)
            summary = self._get_visible(pk)
            values = {name: data.get(name) for name in CASE_FIELDS}
            values["project_id"] = _record_id("project_id", values["project_id"], Project,
                                              _l("This project does not exist."))
            values["department_id"] = _record_id("department_id", values["department_id"], Department,
                                                 _l("This department does not exist."))
            with records.unit_of_work(db.session):
                entry = visits.case_from_summary(db.session, summary, self.actor(), **values)
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)
        return self.response(201, id=entry.id, version=entry.version, result={
            "id": entry.id, "version": entry.version, "title": entry.title, "stage": entry.stage,
            "category": entry.category, "description": entry.description, "lesson": entry.lesson,
            "cause": entry.cause, "project_id": entry.project_id, "department_id": entry.department_id,
            "source_table": entry.source_table, "source_id": entry.source_id})


ALL_APIS = (VisitApi, RectificationApi, ReturnVisitApi, VisitSummaryApi)


def register(appbuilder) -> list[tuple]:
    """Add this module's APIs to AppBuilder. APIs have no menu entry, so nothing is returned."""
    for api in ALL_APIS:
        appbuilder.add_api(api)
    return []
