"""The JSON type of each field a workflow step takes, by name, for the OpenAPI document of the
transition bodies (app.api.documented.step_body_schema). Which fields a step takes is the domain's
step table; this only says how each is written in JSON. A field not named here is documented as any
JSON value until it is: adding a field to a step needs no change here to be documented and accepted."""

from __future__ import annotations

from functools import partial

from marshmallow import Schema
from marshmallow import fields as ma
from marshmallow.validate import OneOf, Range

from app.models.choices import (
    CaseCategory,
    CaseStage,
    ComplaintCategory,
    ItemResult,
    Satisfaction,
    ServiceItem,
    Severity,
    VisitMethod,
)


def _one_of(enum_class):
    return partial(ma.String, validate=OneOf([m.value for m in enum_class]))


class InspectedItemSchema(Schema):
    """A service item inspected on a visit (an opinion for a non-conforming one, the explanation given
    for one outside the scope of management)."""

    service_item = ma.String(required=True, validate=OneOf([m.value for m in ServiceItem]))
    result = ma.String(required=True, validate=OneOf([m.value for m in ItemResult]))
    opinion = ma.String(allow_none=True)
    explanation = ma.String(allow_none=True)


class RectificationPlanSchema(Schema):
    """The rectification of one non-conforming item."""

    item_id = ma.Integer(required=True)
    department_id = ma.Integer(required=True)
    measure = ma.String(required=True)
    responsible_person = ma.String(required=True)
    deadline = ma.Date(required=True)
    tenant_consulted = ma.Boolean()


TEXT = ("confirmed_how", "invalid_explanation", "legal_opinion", "handling_plan", "assigned_post", "assigned_person",
        "cause_analysis", "report", "measures", "handling_person", "progress_note", "customer_told_how",
        "reply_result", "return_visit_record", "root_cause", "improvement", "case_title", "case_lesson",
        "opinions", "companions", "note", "told_how", "measure", "responsible_person", "deadline_reason")
YES_NO = ("customer_accepted", "department_signed_off", "person_signed_off", "effect_confirmed", "customer_told",
          "tenant_consulted")

# Satisfaction in words, as the forms offer it (app.models.choices.Satisfaction; English in the schema).
SATISFACTION_WORDS = Satisfaction.described()  # read at import, outside a request: the English words

STEP_FIELD_TYPES = {
    **dict.fromkeys(TEXT, ma.String),
    **dict.fromkeys(YES_NO, ma.Boolean),
    **dict.fromkeys(("satisfaction", "return_visit_satisfaction", "return_visit_process_satisfaction"),
                    partial(ma.Integer, validate=Range(1, 5), metadata={"description": SATISFACTION_WORDS})),
    **dict.fromkeys(("handling_deadline", "deadline"), ma.Date),
    "department_id": ma.Integer,
    "visited_at": ma.DateTime,
    "severity": _one_of(Severity), "category": _one_of(ComplaintCategory),
    "return_visit_method": _one_of(VisitMethod),
    "case_stage": _one_of(CaseStage), "case_category": _one_of(CaseCategory),
    "items": partial(ma.List, ma.Nested(InspectedItemSchema)),
    "rectifications": partial(ma.List, ma.Nested(RectificationPlanSchema)),
}
