"""The complaint workflow (SPEC §3, seed 001, ISO 10002 / GB/T 19012-2019) declared on the engine
(app.domain.workflow): its parties, deadlines, steps and waits are the tables below; receiving a
complaint (open_complaint) and its deadlines are the only code besides.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.models import Complaint, ComplaintStep, Customer, Department, Unit
from app.models.choices import (
    CaseCategory,
    CaseStage,
    Channel,
    ComplaintCategory,
    ComplaintRoute,
    ComplaintState,
    Severity,
    VisitMethod,
)

from . import calendar, cases, fields, scope
from . import workflow as wf
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import flush
from .roles import CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, SEES_ALL_DEPARTMENTS, role_names
from .workflow import Deadline, Field, Only, Party, Step, Wait, optional, required

S = ComplaintState
CS = frozenset({CS_STAFF, CS_MANAGER})
MANAGER = frozenset({CS_MANAGER})
SERIOUS = frozenset({Severity.MAJOR.value, Severity.CRISIS.value})

# Working days allowed from receipt, per severity (SPEC: major and crisis at half the time).
DEADLINES = {"assign": 0.5, "investigate": 3, "close": 7}
SERIOUS_FACTOR = 0.5
RETURN_VISIT_DAYS = 7
ACKNOWLEDGE_WORKING_HOURS = 1  # 受理回执 within this many working hours (KEFU_ACKNOWLEDGE_HOURS)


def serious(complaint, values=None) -> bool:
    return ((values or {}).get("severity") or complaint.severity) in SERIOUS


# --- who acts --------------------------------------------------------------------------------------

def _first_responsible(complaint, directory):
    if directory.active(complaint.first_responsible_id):
        return [complaint.first_responsible_id]
    return directory.role(CS_MANAGER)


def _department(complaint, directory):
    return directory.staff_of.get(complaint.department_id) or directory.role(CS_MANAGER)


FIRST_RESPONSIBLE = Party("first_responsible", _l("the first-responsible person"), frozenset({CS_STAFF}),
                          _first_responsible,
                          name=lambda c, d: d.name_of(c.first_responsible_id),
                          where=wf.person_or(Complaint.first_responsible_id, CS_MANAGER))
DEPARTMENT = Party("department", _l("the responsible department"), frozenset({DEPARTMENT_STAFF}), _department,
                   name=lambda c, d: d.department_name(c.department_id),
                   where=wf.department_or(Complaint.department_id, CS_MANAGER))
MANAGERS = Party("managers", _l("the customer-service manager"), MANAGER, lambda c, d: d.role(CS_MANAGER),
                 where=wf.everyone_of(CS_MANAGER))

# --- deadlines (China time; working time where the seed says so) -------------------------------------

ACKNOWLEDGE = Deadline("acknowledge", _l("acknowledgement"), "acknowledge_due_at", met_by="acknowledged_at")
ASSIGN = Deadline("assign", _l("assignment"), "assign_due_at")
INVESTIGATE = Deadline("investigate", _l("investigation"), "investigate_due_at")
HANDLING_DEADLINE = Deadline("handling", _l("handling deadline"), "handling_deadline")
CLOSE = Deadline("close", _l("closing"), "close_due_at")
RETURN_VISIT = Deadline("return_visit", _l("return visit"), "return_visit_due_at")

WAITS = {
    S.RECEIVED: Wait((FIRST_RESPONSIBLE,), (ACKNOWLEDGE, ASSIGN, INVESTIGATE, CLOSE)),
    S.CONFIRMED: Wait((FIRST_RESPONSIBLE,), (ACKNOWLEDGE, ASSIGN, INVESTIGATE, CLOSE)),
    S.ASSESSED: Wait((MANAGERS,), (ACKNOWLEDGE, ASSIGN, INVESTIGATE, CLOSE)),
    S.INVESTIGATING: Wait((DEPARTMENT,), (ACKNOWLEDGE, INVESTIGATE, CLOSE)),
    S.HANDLING: Wait((DEPARTMENT, FIRST_RESPONSIBLE), (ACKNOWLEDGE, HANDLING_DEADLINE, CLOSE)),
    S.REPLIED: Wait((MANAGERS,), (ACKNOWLEDGE, CLOSE)),
    S.CLOSED: Wait((FIRST_RESPONSIBLE,), (RETURN_VISIT,)),
    S.RETURN_VISITED: Wait((MANAGERS,)),
}
OPEN_STATES = tuple(WAITS)
ENDED = (S.CLOSED_INVALID, S.FED_BACK, S.CLOSED_UNRESOLVED)

# --- conditions (on the record: a step not met is not offered) and checks (on the input) ---------------


# A condition read without an actor (who acts next: app.domain.worklist) answers for the record alone.

def _own_department(session, complaint, actor):
    if actor is None or role_names(actor) & SEES_ALL_DEPARTMENTS:
        return
    if complaint.department_id is None or complaint.department_id != scope.department_id_of(session, actor):
        raise ForbiddenError(_l("Only the department the complaint is assigned to may do this."))


def _first_responsible_or_manager(session, complaint, actor):
    if actor is not None and CS_MANAGER not in role_names(actor) and complaint.first_responsible_id != actor.id:
        raise ForbiddenError(_l("Only the first-responsible person or a customer-service manager replies "
                                "to the customer."))


def _plan_approved(session, complaint, actor):
    if serious(complaint) and not complaint.plan_approved:
        raise TransitionNotAllowedError(_l("A major or crisis complaint is assigned only after the general "
                                           "manager approved its handling plan."))


def _not_acknowledged(session, complaint, actor):
    if complaint.acknowledged_at is not None:
        raise TransitionNotAllowedError(_l("The customer has already been given the complaint's number."))


def _department_exists(session, complaint, actor, values):
    if session.get(Department, values["department_id"]) is None:
        raise ValidationError({"department_id": _l("This department does not exist.")})


def _handling_deadline_ok(session, complaint, actor, values):
    """A handling deadline is not in the past, and not after the complaint's close-by deadline unless a
    reason is given (the reason stays in the step entry)."""
    deadline, today = values.get("handling_deadline"), calendar.local_now().date()
    if deadline is None:
        return
    if deadline < today:
        raise ValidationError({"handling_deadline": _l("The handling deadline cannot be in the past.")})
    close_by = complaint.close_due_at.date() if complaint.close_due_at else None
    if close_by is not None and deadline > close_by and not values.get("deadline_reason"):
        raise ValidationError({"deadline_reason": _l(
            "The handling deadline is after the complaint's close-by deadline (%(date)s): give the reason.",
            date=f"{close_by:%Y-%m-%d}")})


# --- effects ------------------------------------------------------------------------------------------


def _acknowledged(session, complaint, actor, values):
    complaint.acknowledged_at = calendar.local_now()


def _assessed(session, complaint, actor, values):
    set_deadlines(session, complaint)
    complaint.plan_approved = False


def _closed(session, complaint, actor, values):
    """The close itself files the complaint record form (SPEC §3): if it cannot be filed, the close is
    refused and nothing is written (the caller's transaction rolls back)."""
    complaint.closed_at = calendar.local_now()
    complaint.return_visit_due_at = complaint.closed_at + timedelta(days=RETURN_VISIT_DAYS)
    _file_record_form(session, complaint, actor)


def _closed_unresolved(session, complaint, actor, values):
    complaint.closed_at = calendar.local_now()
    _file_record_form(session, complaint, actor)


def _file_record_form(session, complaint, actor):
    from app import printing  # printing reads the domain; the domain calls it only here

    flush(session)
    printing.print_complaint_record(session, complaint, actor, full_data=False)


def _closed_invalid(session, complaint, actor, values):
    complaint.closed_at = calendar.local_now()


def _rehandled(session, complaint, actor, values):
    if not values["customer_accepted"]:
        complaint.rehandling_count = (complaint.rehandling_count or 0) + 1


def _return_visited(session, complaint, actor, values):
    complaint.return_visited_at = calendar.local_now()


def _fed_back(session, complaint, actor, values):
    """An optional case-library entry, by the library's own rules (app.domain.cases): a field it refuses
    is named as the step's field."""
    if values.get("case_title") or values.get("case_stage") or values.get("case_category"):
        entry = cases.new_entry(session, actor, title=values.get("case_title"), stage=values.get("case_stage"),
                                category=values.get("case_category"), description=complaint.content,
                                cause=complaint.root_cause, lesson=values.get("case_lesson") or complaint.improvement,
                                department_id=complaint.department_id, source_table="complaint",
                                source_id=complaint.id, project_id=_project_of(session, complaint),
                                names=CASE_FIELD_NAMES)
        complaint.case_entry_id = entry.id


CASE_FIELD_NAMES = {"title": "case_title", "stage": "case_stage", "category": "case_category",
                    "lesson": "case_lesson"}


def _project_of(session, complaint):
    from app.models import Building

    unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
    return session.get(Building, unit.building_id).project_id if unit else None


def _plan_decided(approved: bool):
    def effect(session, complaint, approval, actor):
        complaint.plan_approved = approved
    return effect


# --- the steps -----------------------------------------------------------------------------------------

_text, _date, _id = fields.text, fields.a_date, fields.record_id
NOTE = {"stored": False}  # a field kept in the step entry only
OPEN_BEFORE_CLOSE = frozenset({S.RECEIVED, S.CONFIRMED, S.ASSESSED, S.INVESTIGATING, S.HANDLING, S.REPLIED})

_SUMMARY = {
    "complaint_plan": lambda c: f"{c.number} {Severity.label_of(c.severity)}：处理方案",
    "complaint_close": lambda c: f"{c.number} {Severity.label_of(c.severity)}：申请关闭",
    "complaint_close_unresolved": lambda c: f"{c.number} {Severity.label_of(c.severity)}：申请未解决关闭",
}

STEPS: tuple[Step, ...] = (
    Step("acknowledge", OPEN_BEFORE_CLOSE, None, CS,
         {"acknowledged_how": required(fields.choice(VisitMethod)), "acknowledge_note": optional(_text, **NOTE)},
         condition=_not_acknowledged, effect=_acknowledged, comment_field="acknowledge_note"),
    Step("confirm", frozenset({S.RECEIVED}), S.CONFIRMED, CS,
         {"confirmed_how": required(_text)}),
    Step("close_invalid", frozenset({S.RECEIVED}), S.CLOSED_INVALID, CS,
         {"invalid_explanation": required(_text)}, effect=_closed_invalid),
    Step("assess", frozenset({S.CONFIRMED}), S.ASSESSED, CS,
         {"severity": required(fields.choice(Severity)), "category": required(fields.choice(ComplaintCategory)),
          "legal_opinion": Field(_text, required=False, when=serious),
          "handling_plan": Field(_text, required=False, when=serious)},
         effect=_assessed,
         only=Only(MANAGER, serious, _l("Only a customer-service manager assesses a complaint as major or crisis "
                                        "(its handling plan goes to the general manager).")),
         approval=wf.ApprovalRule("complaint_plan", _l("Handling plan of a major complaint"), _SUMMARY["complaint_plan"],
                                  detail=lambda c: c.handling_plan, when=serious,
                                  on_approved=_plan_decided(True), rejected_target=S.CONFIRMED,
                                  on_rejected=_plan_decided(False), actions=("approve_plan", "reject_plan"))),
    Step("assign", frozenset({S.ASSESSED}), S.INVESTIGATING, MANAGER,
         {"department_id": required(_id), "assigned_post": required(_text), "assigned_person": required(_text)},
         condition=_plan_approved, check=_department_exists),
    Step("start_handling", frozenset({S.INVESTIGATING}),
         S.HANDLING, frozenset({DEPARTMENT_STAFF, CS_MANAGER}),
         {"cause_analysis": required(_text), "report": required(_text), "measures": required(_text),
          "handling_person": required(_text), "handling_deadline": required(_date),
          "deadline_reason": optional(_text, **NOTE)},
         condition=_own_department, check=_handling_deadline_ok),
    Step("add_progress", frozenset({S.HANDLING}), S.HANDLING,
         frozenset({DEPARTMENT_STAFF, CS_STAFF, CS_MANAGER}),
         {"progress_note": required(_text, **NOTE), "customer_told_how": required(_text, **NOTE)},
         condition=_own_department),
    Step("reply", frozenset({S.HANDLING}), S.REPLIED, CS,
         {"reply_result": required(_text), "customer_accepted": required(fields.yes_no),
          "satisfaction": required(fields.satisfaction)},
         condition=_first_responsible_or_manager, effect=_rehandled,
         route=lambda c, values: S.REPLIED if values["customer_accepted"] else S.HANDLING),
    Step("close", frozenset({S.REPLIED}), S.CLOSED, MANAGER,
         {"department_signed_off": required(fields.confirmed), "person_signed_off": required(fields.confirmed)},
         effect=_closed,
         approval=wf.ApprovalRule("complaint_close", _l("Closing of a major complaint"), _SUMMARY["complaint_close"],
                                  detail=lambda c: c.reply_result, when=serious, hold=True,
                                  rejected_target=S.HANDLING)),
    Step("close_unresolved",
         frozenset({S.HANDLING, S.REPLIED}), S.CLOSED_UNRESOLVED, MANAGER,
         {"unresolved_position": required(_text), "unresolved_routes": required(fields.choices(ComplaintRoute)),
          "customer_told_how": required(_text, **NOTE)},
         effect=_closed_unresolved,
         approval=wf.ApprovalRule("complaint_close_unresolved", _l("Closing of a major complaint unresolved"),
                                  _SUMMARY["complaint_close_unresolved"], detail=lambda c: c.unresolved_position,
                                  when=serious, hold=True, rejected_target=S.HANDLING,
                                  actions=("approve_unresolved", "reject_unresolved"))),  # step actions: ≤ 20 chars
    Step("return_visit", frozenset({S.CLOSED}), S.RETURN_VISITED, CS,
         {"return_visit_method": required(fields.choice(VisitMethod)), "return_visit_record": required(_text),
          "return_visit_satisfaction": required(fields.satisfaction),
          "return_visit_process_satisfaction": optional(fields.satisfaction)},
         effect=_return_visited),
    Step("feed_back", frozenset({S.RETURN_VISITED}), S.FED_BACK, MANAGER,
         {"root_cause": required(_text), "improvement": required(_text),
          "case_title": optional(_text, **NOTE), "case_stage": optional(fields.choice(CaseStage), **NOTE),
          "case_category": optional(fields.choice(CaseCategory), **NOTE), "case_lesson": optional(_text, **NOTE)},
         effect=_fed_back),
)


def _entry(session, complaint, action, source, target, actor, values, comment):
    session.add(ComplaintStep(complaint_id=complaint.id, action=action, from_state=source, to_state=target,
                              actor_id=getattr(actor, "id", None), actor_name=getattr(actor, "username", "system"),
                              at=calendar.local_now(), comment=_text(comment), data=wf.entry_data(values)))


WORKFLOW = wf.Workflow(
    "complaint", _l("Complaint"), Complaint, ComplaintState, STEPS, WAITS, entry=_entry,
    path=(S.RECEIVED, S.CONFIRMED, S.ASSESSED, S.INVESTIGATING, S.HANDLING, S.REPLIED, S.CLOSED,
          S.RETURN_VISITED, S.FED_BACK),
    number=lambda c: c.number, what=_l("complaint"), actions=labels.COMPLAINT_ACTIONS,
    reads=("customer", "department"))

# Names the views, the API and the tests read (one table: these are views of it).
STEP_BY_ACTION = WORKFLOW.by_action
FIELDS = {name: spec.parse for step in STEPS for name, spec in step.fields.items()}
_text = fields.text


def allowed_steps(session, complaint, actor) -> list[Step]:
    return wf.allowed_steps(session, WORKFLOW, complaint, actor)


def transition(session, complaint, action, actor, version, fields: dict | None = None, comment=None):
    return wf.transition(session, WORKFLOW, complaint, action, actor, version, fields, comment)


def overdue_clause(now: datetime):
    return WORKFLOW.overdue_clause(now)


def overdue_reasons(complaint, now: datetime) -> list[str]:
    return WORKFLOW.overdue_reasons(complaint, now)


# --- receiving ---------------------------------------------------------------------------------------

def open_complaint(session, actor, *, channel, customer_id, content, received_at=None, unit_id=None,
                   remedy_requested=None):
    """受理: record a complaint and the remedy the customer asks for (诉求); the receiver becomes its
    first-responsible person and must acknowledge it with its number within the set time."""
    if not role_names(actor) & CS:
        raise ForbiddenError(_l("Only customer-service staff receive complaints."))
    errors, values = {}, {}
    for name, parse, raw in (("channel", fields.choice(Channel), channel), ("content", _text, content),
                             ("customer_id", _id, customer_id), ("remedy_requested", _text, remedy_requested)):
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            errors[name] = exc.args[0]
    if "channel" in errors:
        errors["channel"] = _l("Please choose the channel the complaint came by.")
    if "content" not in errors and not values.get("content"):
        errors["content"] = _l("This field is required.")
    if values.get("customer_id") is not None and session.get(Customer, values["customer_id"]) is None:
        errors["customer_id"] = _l("This customer does not exist.")
    if received_at in (None, "") or (isinstance(received_at, str) and not received_at.strip()):
        received_at = None
    else:
        try:
            received_at = fields.a_moment(received_at)
        except ValueError as exc:
            errors["received_at"] = exc.args[0]
    if isinstance(received_at, datetime) and received_at > calendar.local_now() + timedelta(minutes=5):
        errors["received_at"] = _l("This date cannot be in the future.")
    if unit_id in (None, ""):
        unit_id = None
    else:
        try:
            unit_id = _id(unit_id)
            if session.get(Unit, unit_id) is None:
                errors["unit_id"] = _l("This unit does not exist.")
        except ValueError as exc:
            errors["unit_id"] = exc.args[0]
    if errors:
        raise ValidationError(errors)
    complaint = Complaint(channel=values["channel"], customer_id=values["customer_id"], unit_id=unit_id,
                          content=values["content"], remedy_requested=values.get("remedy_requested"),
                          received_at=(received_at or calendar.local_now()).replace(microsecond=0),
                          state=S.RECEIVED, first_responsible_id=actor.id, rehandling_count=0,
                          plan_approved=False)
    complaint.state_changed_at = complaint.received_at
    set_deadlines(session, complaint)  # before the insert: one audit row, version 1
    with audit.acting_as(session, actor), wf.creating(session):
        session.add(complaint)
        flush(session)
        _entry(session, complaint, "receive", "", S.RECEIVED, actor, {}, None)
        flush(session)
    return complaint


def acknowledge_hours() -> float:
    if has_app_context():
        return float(current_app.config.get("KEFU_ACKNOWLEDGE_HOURS", ACKNOWLEDGE_WORKING_HOURS))
    return ACKNOWLEDGE_WORKING_HOURS


def set_deadlines(session, complaint) -> None:
    work = calendar.WorkCalendar(session)
    factor = SERIOUS_FACTOR if complaint.severity in SERIOUS else 1
    start = complaint.received_at
    complaint.acknowledge_due_at = work.add_working_days(start, acknowledge_hours() * 60 / calendar.OFFICE_MINUTES)
    complaint.assign_due_at = work.add_working_days(start, DEADLINES["assign"] * factor)
    complaint.investigate_due_at = work.add_working_days(start, DEADLINES["investigate"] * factor)
    complaint.close_due_at = work.add_working_days(start, DEADLINES["close"] * factor)


def get_visible(session, complaint_id, actor) -> Complaint:
    """A complaint the actor may see (department scope), else NotFoundError."""
    query = scope.restrict(session.query(Complaint).filter(Complaint.id == complaint_id), Complaint, actor, session)
    complaint = query.one_or_none()
    if complaint is None:
        raise NotFoundError()
    return complaint


def steps_of(session, complaint) -> list[ComplaintStep]:
    return session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                           .order_by(ComplaintStep.at, ComplaintStep.id)).all()
