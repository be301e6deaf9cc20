"""The annual activity plan (seed 003 2.3 客户会管理: 年度活动计划): for a year, its activities —
theme, month, customer group, type — drafted by the customer-service manager and approved or rejected
(with a comment) by the general manager through the one approval mechanism (app.domain.approvals).
A rejected plan is corrected and submitted again. Activities are scheduled from an approved plan."""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

from app import audit, labels
from app.domain import calendar, fields
from app.domain import workflow as wf
from app.domain.errors import ForbiddenError, NotFoundError, ValidationError
from app.domain.records import check_version, flush
from app.domain.roles import ADMIN, CS_MANAGER, role_names
from app.domain.workflow import Step, Wait
from app.models import ActivityPlan
from app.models.club import PlanState

S = PlanState
PLANNERS = frozenset({CS_MANAGER, ADMIN})
ITEM_FIELDS = ("theme", "month", "customer_group", "activity_type")


def parse_items(value) -> list[dict]:
    """[{theme, month (1–12), customer_group, activity_type}], at least one; every error at once."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError({"items": _l("List the planned activities.")}) from None
    if not isinstance(value, list) or not value:
        raise ValidationError({"items": _l("List the planned activities.")})
    cleaned, problems = [], []
    for i, item in enumerate(value, start=1):
        item = item if isinstance(item, dict) else {}
        row = {name: fields.text(item.get(name)) if not isinstance(item.get(name), dict | list) else None
               for name in ITEM_FIELDS}
        try:
            month = int(row["month"] or 0)
        except ValueError:
            month = 0
        if not row["theme"] or not 1 <= month <= 12:
            problems.append(f"{i}: {_l('Each planned activity needs a theme and a month from 1 to 12.')}")
            continue
        cleaned.append({**row, "month": month})
    if problems:
        raise ValidationError({"items": "；".join(problems)})
    return cleaned


def _submitted(session, plan, actor, values):
    plan.submitted_at = calendar.local_now()


def _decided(session, plan, approval, actor):
    plan.decided_at, plan.decision_comment = calendar.local_now(), approval.comment


def _summary(plan) -> str:
    return str(_l("Club activity plan %(year)s: %(title)s", year=plan.year, title=plan.title))


PLAN_STEPS: tuple[Step, ...] = (
    Step("submit", frozenset({S.DRAFT, S.REJECTED}), S.SUBMITTED, PLANNERS, effect=_submitted,
         approval=wf.ApprovalRule("club_plan", _l("Annual club activity plan"), _summary,
                                  detail=lambda plan: plan.items, approved_target=S.APPROVED,
                                  on_approved=_decided, rejected_target=S.REJECTED, on_rejected=_decided)),
)

PLAN_WORKFLOW = wf.Workflow(
    "club_plan", _l("Club activity plan"), ActivityPlan, PlanState, PLAN_STEPS,
    waits={S.DRAFT: Wait((wf.Party("managers", _l("the customer-service manager"), frozenset({CS_MANAGER}),
                                   lambda plan, d: d.role(CS_MANAGER), where=wf.everyone_of(CS_MANAGER)),))},
    path=(S.DRAFT, S.SUBMITTED, S.APPROVED), number=lambda p: p.number, what=_l("activity plan"),
    actions=labels.CLUB_PLAN_ACTIONS)


def create(session, actor, year, title, items) -> ActivityPlan:
    if not role_names(actor) & PLANNERS:
        raise ForbiddenError(_l("The customer-service manager drafts the activity plan."))
    errors = {}
    try:
        year = int(year)
        if not 2000 <= year <= 2100:
            raise ValueError
    except (TypeError, ValueError):
        errors["year"] = _l("Give the year, e.g. 2027.")
    title = fields.text(title) if not isinstance(title, dict | list) else None
    if not title:
        errors["title"] = _l("This field is required.")
    try:
        items = parse_items(items)
    except ValidationError as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationError(errors)
    plan = ActivityPlan(year=year, title=title[:100], items=json.dumps(items, ensure_ascii=False), state=S.DRAFT)
    with audit.acting_as(session, actor), wf.creating(session):
        session.add(plan)
        flush(session)
    return plan


def edit(session, plan, actor, version, items=None, title=None) -> ActivityPlan:
    """A draft or rejected plan is corrected before it is submitted (again)."""
    check_version(plan, version)
    if not role_names(actor) & PLANNERS:
        raise ForbiddenError(_l("The customer-service manager drafts the activity plan."))
    if plan.state not in (S.DRAFT, S.REJECTED):
        raise ValidationError({"state": _l("Only a draft or rejected plan can be changed.")})
    with audit.acting_as(session, actor):
        if items is not None:
            plan.items = json.dumps(parse_items(items), ensure_ascii=False)
        if fields.text(title):
            plan.title = fields.text(title)[:100]
        flush(session)
    return plan


def items_of(plan) -> list[dict]:
    return json.loads(plan.items or "[]")


def transition(session, plan, action, actor, version, values=None, comment=None):
    return wf.transition(session, PLAN_WORKFLOW, plan, action, actor, version, values, comment)


def get_plan(session, plan_id) -> ActivityPlan:
    try:
        plan = session.get(ActivityPlan, fields.record_id(plan_id))
    except ValueError:
        plan = None
    if plan is None:
        raise NotFoundError()
    return plan


def allowed_steps(session, plan, actor):
    return wf.allowed_steps(session, PLAN_WORKFLOW, plan, actor)
