"""The nine-step complaint workflow (SPEC §3, seed 001): one transition table that forms, the REST API
and commands all go through.

Each transition checks, in this order: the version read, the action exists, the current state, the
actor's role, the required fields, the step's guard; then writes the complaint, a step entry and
(through the flush hook) the audit rows, in the caller's transaction. A refusal raises before
anything is written. The state changes nowhere else: the flush refuses a state written outside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, inspect, or_
from sqlalchemy.orm.attributes import flag_modified

from app import audit
from app.models import CaseEntry, Complaint, ComplaintStep, Customer, Department
from app.models.choices import (
    CaseCategory,
    CaseStage,
    Channel,
    ComplaintCategory,
    ComplaintState,
    Severity,
    VisitMethod,
)

from . import approvals, calendar, fields, scope
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import check_version, flush
from .roles import CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, SEES_ALL_DEPARTMENTS, role_names

S = ComplaintState
CS = frozenset({CS_STAFF, CS_MANAGER})
SERIOUS = frozenset({Severity.MAJOR.value, Severity.CRISIS.value})

# Working days allowed from receipt, per severity (SPEC: major and crisis at half the time).
DEADLINES = {"assign": 0.5, "investigate": 3, "close": 7}
RETURN_VISIT_DAYS = 7
SERIOUS_FACTOR = 0.5


# --- field parsers (app.domain.fields, shared with the visit procedure) -------------------------------

_text, _choice, _bool, _satisfaction = fields.text, fields.choice, fields.yes_no, fields.satisfaction
_date, _id, _true = fields.a_date, fields.record_id, fields.confirmed


FIELDS: dict[str, Callable] = {
    "confirmed_how": _text, "invalid_explanation": _text,
    "severity": _choice(Severity), "category": _choice(ComplaintCategory),
    "legal_opinion": _text, "handling_plan": _text,
    "department_id": _id, "assigned_post": _text, "assigned_person": _text,
    "cause_analysis": _text, "report": _text, "measures": _text, "handling_person": _text,
    "handling_deadline": _date, "progress_note": _text, "customer_told_how": _text,
    "reply_result": _text, "customer_accepted": _bool, "satisfaction": _satisfaction,
    "department_signed_off": _true, "person_signed_off": _true,
    "return_visit_method": _choice(VisitMethod), "return_visit_record": _text,
    "return_visit_satisfaction": _satisfaction,
    "root_cause": _text, "improvement": _text,
    "case_title": _text, "case_stage": _choice(CaseStage), "case_category": _choice(CaseCategory),
    "case_lesson": _text,
}
# Fields a step records in its entry only (not columns of the complaint).
STEP_ONLY = frozenset({"progress_note", "customer_told_how", "case_title", "case_stage", "case_category",
                       "case_lesson"})


# --- the transition table ------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    action: str
    label: object
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    guard: Callable | None = None  # (session, complaint, actor, values) -> None, raises to refuse
    effect: Callable | None = None  # (session, complaint, actor, values) -> target state
    extra_required: Callable | None = field(default=None)  # (complaint, values) -> more required fields


def _serious_needs(complaint, values):
    return ("legal_opinion", "handling_plan") if values.get("severity") in SERIOUS else ()


def _plan_approved(session, complaint, actor, values):
    if complaint.severity in SERIOUS and not complaint.plan_approved:
        raise TransitionNotAllowedError(_l("A major or crisis complaint is assigned only after the general "
                                           "manager approved its handling plan."))


def _department_exists(session, complaint, actor, values):
    if session.get(Department, values["department_id"]) is None:
        raise ValidationError({"department_id": _l("This department does not exist.")})
    _plan_approved(session, complaint, actor, values)


def _own_department(session, complaint, actor, values):
    if role_names(actor) & SEES_ALL_DEPARTMENTS:
        return
    if complaint.department_id is None or complaint.department_id != scope.department_id_of(session, actor):
        raise ForbiddenError(_l("Only the department the complaint is assigned to may do this."))


def _first_responsible_or_manager(session, complaint, actor, values):
    if CS_MANAGER not in role_names(actor) and complaint.first_responsible_id != actor.id:
        raise ForbiddenError(_l("Only the first-responsible person or a customer-service manager replies "
                                "to the customer."))


def _assess(session, complaint, actor, values):
    set_deadlines(session, complaint)
    if complaint.severity in SERIOUS:
        approvals.request(session, "complaint_plan", complaint, actor,
                          summary=f"{complaint.number} {Severity.label_of(complaint.severity)}：处理方案",
                          detail=complaint.handling_plan)
    return S.ASSESSED


def _close_invalid(session, complaint, actor, values):
    complaint.closed_at = calendar.local_now()
    return S.CLOSED_INVALID


def _reply(session, complaint, actor, values):
    if values["customer_accepted"]:
        return S.REPLIED
    complaint.rehandling_count = (complaint.rehandling_count or 0) + 1
    return S.HANDLING


def _close(session, complaint, actor, values):
    if complaint.severity in SERIOUS:
        approvals.request(session, "complaint_close", complaint, actor,
                          summary=f"{complaint.number} {Severity.label_of(complaint.severity)}：申请关闭",
                          detail=complaint.reply_result)
        return S.REPLIED  # stays replied until the general manager decides
    _mark_closed(complaint)
    return S.CLOSED


def _return_visit(session, complaint, actor, values):
    complaint.return_visited_at = calendar.local_now()
    return S.RETURN_VISITED


def _feed_back(session, complaint, actor, values):
    if values.get("case_title"):
        missing = [f for f in ("case_stage", "case_category") if not values.get(f)]
        if missing:
            raise ValidationError({f: _l("This field is required.") for f in missing})
        customer = session.get(Customer, complaint.customer_id)
        case = CaseEntry(title=values["case_title"], stage=values["case_stage"], category=values["case_category"],
                         description=complaint.content, cause=complaint.root_cause,
                         lesson=values.get("case_lesson") or complaint.improvement,
                         department_id=complaint.department_id, source_table="complaint",
                         source_id=complaint.id, project_id=_project_of(session, complaint, customer))
        session.add(case)
        flush(session)
        complaint.case_entry_id = case.id
    return S.FED_BACK


def _project_of(session, complaint, customer):
    from app.models import Building, Unit

    if complaint.unit_id:
        unit = session.get(Unit, complaint.unit_id)
        return session.get(Building, unit.building_id).project_id if unit else None
    return None


def _mark_closed(complaint):
    complaint.closed_at = calendar.local_now()
    complaint.return_visit_due_at = complaint.closed_at + timedelta(days=RETURN_VISIT_DAYS)


STEPS: tuple[Step, ...] = (
    Step("confirm", _l("Confirm as valid"), frozenset({S.RECEIVED}), S.CONFIRMED, CS, ("confirmed_how",)),
    Step("close_invalid", _l("Close as invalid or consultation"), frozenset({S.RECEIVED}), S.CLOSED_INVALID, CS,
         ("invalid_explanation",), effect=_close_invalid),
    Step("assess", _l("Assess"), frozenset({S.CONFIRMED}), S.ASSESSED, CS, ("severity", "category"),
         ("legal_opinion", "handling_plan"), effect=_assess, extra_required=_serious_needs),
    Step("assign", _l("Assign to a department"), frozenset({S.ASSESSED}), S.INVESTIGATING, CS,
         ("department_id", "assigned_post", "assigned_person"), guard=_department_exists),
    Step("start_handling", _l("Report the investigation and start handling"), frozenset({S.INVESTIGATING}),
         S.HANDLING, frozenset({DEPARTMENT_STAFF, CS_MANAGER}),
         ("cause_analysis", "report", "measures", "handling_person", "handling_deadline"), guard=_own_department),
    Step("add_progress", _l("Add progress"), frozenset({S.HANDLING}), S.HANDLING,
         frozenset({DEPARTMENT_STAFF, CS_STAFF, CS_MANAGER}), ("progress_note", "customer_told_how"),
         guard=_own_department),
    Step("reply", _l("Reply to the customer"), frozenset({S.HANDLING}), S.REPLIED, CS,
         ("reply_result", "customer_accepted", "satisfaction"), guard=_first_responsible_or_manager,
         effect=_reply),
    Step("close", _l("Close"), frozenset({S.REPLIED}), S.CLOSED, frozenset({CS_MANAGER}),
         ("department_signed_off", "person_signed_off"), effect=_close),
    Step("return_visit", _l("Return visit"), frozenset({S.CLOSED}), S.RETURN_VISITED, CS,
         ("return_visit_method", "return_visit_record", "return_visit_satisfaction"), effect=_return_visit),
    Step("feed_back", _l("Feed back"), frozenset({S.RETURN_VISITED}), S.FED_BACK, frozenset({CS_MANAGER}),
         ("root_cause", "improvement"), ("case_title", "case_stage", "case_category", "case_lesson"),
         effect=_feed_back),
)
STEP_BY_ACTION = {step.action: step for step in STEPS}


def allowed_steps(session, complaint, actor) -> list[Step]:
    """The actions this actor may take on this complaint now (drives the buttons)."""
    mine = role_names(actor)
    found = []
    for step in STEPS:
        if complaint.state not in step.sources or not (step.roles & mine):
            continue
        if step.action == "close" and approvals.pending_for(session, complaint, "complaint_close"):
            continue
        try:
            if step.guard and step.action != "assign":
                step.guard(session, complaint, actor, {})
            elif step.action == "assign":
                _plan_approved(session, complaint, actor, {})
        except (ForbiddenError, TransitionNotAllowedError):
            continue
        found.append(step)
    return found


# --- creating and moving -------------------------------------------------------------------

def open_complaint(session, actor, *, channel, customer_id, content, received_at=None, unit_id=None):
    """受理: record a complaint; the receiver becomes its first-responsible person."""
    if not role_names(actor) & CS:
        raise ForbiddenError(_l("Only customer-service staff receive complaints."))
    errors = {}
    try:
        channel = _choice(Channel)(channel)
    except ValueError:
        errors["channel"] = _l("Please choose the channel the complaint came by.")
    try:
        if not _text(content):
            errors["content"] = _l("This field is required.")
    except ValueError as exc:
        errors["content"] = exc.args[0]
    try:
        customer_id = _id(customer_id)
        if session.get(Customer, customer_id) is None:
            errors["customer_id"] = _l("This customer does not exist.")
    except ValueError as exc:
        errors["customer_id"] = exc.args[0]
    if received_at in (None, "") or (isinstance(received_at, str) and not received_at.strip()):
        received_at = None
    else:
        try:
            received_at = fields.a_moment(received_at)
        except ValueError as exc:
            errors["received_at"] = exc.args[0]
    if unit_id not in (None, ""):
        from app.models import Unit

        try:
            unit_id = _id(unit_id)
            if session.get(Unit, unit_id) is None:
                errors["unit_id"] = _l("This unit does not exist.")
        except ValueError as exc:
            errors["unit_id"] = exc.args[0]
    else:
        unit_id = None
    if isinstance(received_at, datetime) and received_at > calendar.local_now() + timedelta(minutes=5):
        errors["received_at"] = _l("This date cannot be in the future.")
    if errors:
        raise ValidationError(errors)
    complaint = Complaint(channel=channel, customer_id=customer_id, unit_id=unit_id, content=_text(content),
                          received_at=(received_at or calendar.local_now()).replace(microsecond=0),
                          state=S.RECEIVED, first_responsible_id=actor.id, rehandling_count=0,
                          plan_approved=False)
    complaint.state_changed_at = complaint.received_at
    set_deadlines(session, complaint)  # before the insert: one audit row, version 1
    with audit.acting_as(session, actor):
        session.add(complaint)
        flush(session)
        _entry(session, complaint, "receive", "", S.RECEIVED, actor, {}, None)
        flush(session)
    return complaint


def transition(session, complaint, action, actor, version, fields: dict | None = None, comment=None):
    fields = dict(fields or {})
    check_version(complaint, version)
    step = STEP_BY_ACTION.get(action)
    if step is None:
        raise ValidationError({"action": _l("Unknown action: %(action)s", action=action)})
    if complaint.state not in step.sources:
        raise TransitionNotAllowedError(
            _l("“%(action)s” is not possible while the complaint is “%(state)s”.",
               action=step.label, state=ComplaintState.label_of(complaint.state)))
    if not step.roles & role_names(actor):
        raise ForbiddenError(_l("Your role may not “%(action)s” a complaint.", action=step.label))
    values = _parse(step, complaint, fields)
    if step.guard:
        step.guard(session, complaint, actor, values)
    with audit.acting_as(session, actor):
        source = complaint.state
        for name, value in values.items():
            if name not in STEP_ONLY:
                setattr(complaint, name, value)
        target = step.effect(session, complaint, actor, values) if step.effect else step.target
        _move(session, complaint, step.action, source, target, actor, values, comment)
    return complaint


def _parse(step: Step, complaint, fields: dict) -> dict:
    allowed = set(step.required) | set(step.optional)
    unknown = sorted(set(fields) - allowed)
    errors = {name: _l("%(field)s cannot be set by this action.", field=name) for name in unknown}
    values = {}
    for name in allowed & set(fields):
        try:
            parsed = FIELDS[name](fields[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
            continue
        if parsed is not None:
            values[name] = parsed
    required = set(step.required) | set(step.extra_required(complaint, values) if step.extra_required else ())
    for name in sorted(required):
        if name not in values and name not in errors:
            errors[name] = _l("This field is required.")
    if errors:
        raise ValidationError(errors)
    return values


def _move(session, complaint, action, source, target, actor, values, comment):
    """The one place a complaint's state changes."""
    with _transitioning(session):
        complaint.state = target
        complaint.state_changed_at = calendar.local_now()
        # Always an UPDATE (version + 1, row locked), even for a step within the same second that
        # changes no other column (add_progress): a concurrent step on a stale read is then refused.
        flag_modified(complaint, "state_changed_at")
        _entry(session, complaint, action, source, target, actor, values, comment)
        flush(session)


def _entry(session, complaint, action, source, target, actor, values, comment):
    session.add(ComplaintStep(complaint_id=complaint.id, action=action, from_state=source, to_state=target,
                              actor_id=getattr(actor, "id", None), actor_name=getattr(actor, "username", "system"),
                              at=calendar.local_now(), comment=_text(comment),
                              data=audit.canonical_json({k: audit._jsonable(v) for k, v in values.items()})))


def set_deadlines(session, complaint) -> None:
    work = calendar.WorkCalendar(session)
    factor = SERIOUS_FACTOR if complaint.severity in SERIOUS else 1
    start = complaint.received_at
    complaint.assign_due_at = work.add_working_days(start, DEADLINES["assign"] * factor)
    complaint.investigate_due_at = work.add_working_days(start, DEADLINES["investigate"] * factor)
    complaint.close_due_at = work.add_working_days(start, DEADLINES["close"] * factor)


# --- overdue ---------------------------------------------------------------------------------

BEFORE_ASSIGNED = (S.RECEIVED, S.CONFIRMED, S.ASSESSED)
BEFORE_INVESTIGATED = (*BEFORE_ASSIGNED, S.INVESTIGATING)
BEFORE_CLOSED = (*BEFORE_INVESTIGATED, S.HANDLING, S.REPLIED)


def overdue_clause(now: datetime):
    """SQL condition: a deadline has passed for the step the complaint is still waiting for."""
    C = Complaint
    return or_(
        and_(C.state.in_(BEFORE_ASSIGNED), C.assign_due_at < now),
        and_(C.state.in_(BEFORE_INVESTIGATED), C.investigate_due_at < now),
        and_(C.state.in_(BEFORE_CLOSED), C.close_due_at < now),
        and_(C.state == S.HANDLING, C.handling_deadline < now.date()),
        and_(C.state == S.CLOSED, C.return_visit_due_at < now),
    )


def overdue_reasons(complaint, now: datetime) -> list[str]:
    reasons = []
    if complaint.state in BEFORE_ASSIGNED and complaint.assign_due_at and complaint.assign_due_at < now:
        reasons.append("assign")
    if complaint.state in BEFORE_INVESTIGATED and complaint.investigate_due_at and complaint.investigate_due_at < now:
        reasons.append("investigate")
    if complaint.state in BEFORE_CLOSED and complaint.close_due_at and complaint.close_due_at < now:
        reasons.append("close")
    if complaint.state == S.HANDLING and complaint.handling_deadline and complaint.handling_deadline < now.date():
        reasons.append("handling")
    if complaint.state == S.CLOSED and complaint.return_visit_due_at and complaint.return_visit_due_at < now:
        reasons.append("return_visit")
    return reasons


# --- approvals of complaint plans and closings ----------------------------------------------------

def _plan_approved_by_gm(session, complaint, approval, actor):
    complaint.plan_approved = True
    _move(session, complaint, "approve_plan", complaint.state, complaint.state, actor, {}, approval.comment)


def _plan_rejected_by_gm(session, complaint, approval, actor):
    complaint.plan_approved = False
    _move(session, complaint, "reject_plan", complaint.state, S.CONFIRMED, actor, {}, approval.comment)


def _close_approved_by_gm(session, complaint, approval, actor):
    _mark_closed(complaint)
    _move(session, complaint, "approve_close", complaint.state, S.CLOSED, actor, {}, approval.comment)


def _close_rejected_by_gm(session, complaint, approval, actor):
    _move(session, complaint, "reject_close", complaint.state, S.HANDLING, actor, {}, approval.comment)


@contextmanager
def _transitioning(session) -> Iterator[None]:
    """Marks the writes of a workflow step, so the flush lets the state change through."""
    session.info["kefu_complaint_transition"] = session.info.get("kefu_complaint_transition", 0) + 1
    try:
        yield
    finally:
        session.info["kefu_complaint_transition"] -= 1


def _in_transition(session, _ctx, _instances):
    """The state of a complaint changes only through transition() (and the approval handlers)."""
    if session.info.get("kefu_complaint_transition"):
        return
    for obj in session.dirty:
        if isinstance(obj, Complaint) and inspect(obj).attrs.state.history.has_changes():
            raise TransitionNotAllowedError(_l("A complaint's state changes only through its workflow steps."))


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _in_transition):
        event.listen(session_class, "before_flush", _in_transition)
    approvals.register(approvals.ApprovalKind("complaint_plan", _l("Handling plan of a major complaint"),
                                              Complaint, _plan_approved_by_gm, _plan_rejected_by_gm))
    approvals.register(approvals.ApprovalKind("complaint_close", _l("Closing of a major complaint"),
                                              Complaint, _close_approved_by_gm, _close_rejected_by_gm))


def get_visible(session, complaint_id, actor) -> Complaint:
    """A complaint the actor may see (department scope), else NotFoundError."""
    query = scope.restrict(session.query(Complaint).filter(Complaint.id == complaint_id), Complaint, actor, session)
    complaint = query.one_or_none()
    if complaint is None:
        raise NotFoundError()
    return complaint
