"""The visit procedure (SPEC §4, seed 000): plan, visit, rectify round after round, return visit,
summary to the general manager's office, archive. Two transition tables — the visit's and each
rectification item's — that forms, the REST API and commands all go through, with the complaint
workflow's refusal behaviour: a step not allowed from the state, for the role, without its fields, on
a stale version or failing its guard is refused with a clear message before anything is written.

A rectification item belongs to a department: its staff see and work only their own items. An item
stays open until the customer is satisfied; "not satisfied" starts another round (counted). The
visit reaches `return_visited` only when every item is satisfied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, func, inspect, select
from sqlalchemy.orm.attributes import flag_modified

from app import audit
from app.models import (
    ArchiveRecord,
    CaseEntry,
    CustomerUnit,
    Department,
    Project,
    Rectification,
    ReturnVisit,
    Unit,
    Visit,
    VisitItem,
    VisitStep,
    VisitSummary,
)
from app.models.choices import (
    CaseCategory,
    CaseStage,
    ItemResult,
    RectificationState,
    ReturnVisitKind,
    ServiceItem,
    SummaryState,
    VisitMethod,
    VisitState,
)

from . import approvals, calendar, fields, scope
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import check_version, flush
from .roles import CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, SEES_ALL_DEPARTMENTS, role_names

S, R = VisitState, RectificationState
CS = frozenset({CS_STAFF, CS_MANAGER})
DEPARTMENT_WORK = CS | {DEPARTMENT_STAFF}
SUMMARY_KIND = "visit_summary"
# The two permanent forms filed when a visit is archived (reports/forms, kept 永久: seed 000 §4).
ARCHIVED_FORMS = ("visit_record", "opinion_sheet")
RETURN_VISIT_AFTER_DEADLINE = timedelta(days=7)
DELIVERY_RETURN_VISIT = timedelta(days=30)
MOVE_IN_RETURN_VISIT_MONTHS = 3


# --- the steps ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    action: str
    label: object
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    guard: Callable | None = None  # (session, record, actor, values) -> None; raises to refuse
    effect: Callable | None = None  # (session, record, actor, values) -> None; writes what the step adds


def _items(value) -> list[dict]:
    """The inspected items: [{service_item, result, opinion, explanation}], at least one."""
    if not isinstance(value, list) or not value:
        raise ValueError(_l("List at least one inspected item with its result."))
    cleaned, problems = [], []
    for i, item in enumerate(value, start=1):
        item = item if isinstance(item, dict) else {}
        try:
            entry = {"service_item": fields.choice(ServiceItem)(item.get("service_item")),
                     "result": fields.choice(ItemResult)(item.get("result")),
                     "opinion": fields.text(item.get("opinion")), "explanation": fields.text(item.get("explanation"))}
        except ValueError as exc:
            problems.append(f"{i}: {exc.args[0]}")
            continue
        if entry["result"] == ItemResult.OUT_OF_SCOPE and not entry["explanation"]:
            problems.append(f"{i}: {_l('Outside the scope: write the explanation given to the customer.')}")
        if entry["result"] == ItemResult.NON_CONFORMING and not entry["opinion"]:
            problems.append(f"{i}: {_l('Non-conforming: write what the customer found wrong.')}")
        cleaned.append(entry)
    if problems:
        raise ValueError("；".join(problems))
    return cleaned


def _rectifications(value) -> list[dict]:
    """Per non-conforming item: {item_id, department_id, measure, responsible_person, deadline, tenant_consulted}."""
    if not isinstance(value, list) or not value:
        raise ValueError(_l("Give a rectification for every non-conforming item."))
    cleaned, problems = [], []
    for i, entry in enumerate(value, start=1):
        entry = entry if isinstance(entry, dict) else {}
        try:
            row = {"item_id": fields.record_id(entry.get("item_id")),
                   "department_id": fields.record_id(entry.get("department_id")),
                   "measure": fields.text(entry.get("measure")),
                   "responsible_person": fields.text(entry.get("responsible_person")),
                   "deadline": fields.a_date(entry.get("deadline")),
                   "tenant_consulted": fields.yes_no(entry.get("tenant_consulted", False))}
        except ValueError as exc:
            problems.append(f"{i}: {exc.args[0]}")
            continue
        if not row["measure"] or not row["responsible_person"]:
            problems.append(f"{i}: {_l('A measure and a responsible person are required.')}")
        cleaned.append(row)
    if problems:
        raise ValueError("；".join(problems))
    return cleaned


FIELDS: dict[str, Callable] = {
    "items": _items, "visited_at": fields.a_moment, "opinions": fields.text, "companions": fields.text,
    "rectifications": _rectifications,
    "return_visit_method": fields.choice(VisitMethod), "return_visit_record": fields.text,
    "satisfaction": fields.satisfaction, "effect_confirmed": fields.yes_no,
    "note": fields.text, "customer_told": fields.yes_no, "told_how": fields.text, "measure": fields.text,
    "responsible_person": fields.text, "deadline": fields.a_date, "department_id": fields.record_id,
    "tenant_consulted": fields.yes_no,
}


def _record_items(session, visit, actor, values):
    for seq, item in enumerate(values["items"], start=1):
        session.add(VisitItem(visit_id=visit.id, seq=seq, **item))
    visit.visited_at = values.get("visited_at") or calendar.local_now()
    visit.opinions = values.get("opinions")
    if "companions" in values:
        visit.companions = values["companions"]


def _non_conforming(session, visit) -> list[VisitItem]:
    return session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id,
                                                   VisitItem.result == ItemResult.NON_CONFORMING)
                           .order_by(VisitItem.seq)).all()


def _rectifications_cover_items(session, visit, actor, values):
    wanted = {item.id for item in _non_conforming(session, visit)}
    if not wanted:
        raise TransitionNotAllowedError(_l("This visit found nothing non-conforming: go on to the return visit."))
    given = [row["item_id"] for row in values["rectifications"]]
    if sorted(given) != sorted(wanted):
        raise ValidationError({"rectifications": _l("Give exactly one rectification for each non-conforming "
                                                    "item (items %(items)s).", items=", ".join(map(str, sorted(wanted))))})
    today = calendar.local_now().date()
    for row in values["rectifications"]:
        if session.get(Department, row["department_id"]) is None:
            raise ValidationError({"rectifications": _l("This department does not exist.")})
        if row["deadline"] < today:
            raise ValidationError({"rectifications": _l("A deadline cannot lie in the past.")})


def _create_rectifications(session, visit, actor, values):
    for row in values["rectifications"]:
        session.add(Rectification(visit_id=visit.id, state=R.OPEN, round=1, **row))
    due = max(row["deadline"] for row in values["rectifications"]) + RETURN_VISIT_AFTER_DEADLINE
    session.add(ReturnVisit(kind=ReturnVisitKind.VISIT, customer_id=visit.customer_id, unit_id=visit.unit_id,
                            visit_id=visit.id, due_on=due, state="due"))


def _every_item_satisfied(session, visit, actor, values):
    if visit.state == S.VISITED and _non_conforming(session, visit):
        raise TransitionNotAllowedError(_l("Non-conforming items must be rectified before the return visit."))
    open_items = session.scalar(select(func.count()).select_from(Rectification).where(
        Rectification.visit_id == visit.id, Rectification.state != R.SATISFIED))
    if open_items:
        raise TransitionNotAllowedError(_l("%(n)s rectification item(s) still wait for the customer's "
                                           "satisfaction: the return visit comes after.", n=open_items))


def _file_return_visit(session, visit, actor, values):
    now = calendar.local_now()
    visit.return_visited_at = now
    record = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id,
                                                       ReturnVisit.state == "due")).first()
    if record is None:
        record = ReturnVisit(kind=ReturnVisitKind.VISIT, customer_id=visit.customer_id, unit_id=visit.unit_id,
                             visit_id=visit.id, due_on=now.date())
        session.add(record)
    record.state, record.method, record.record = "done", values["return_visit_method"], values["return_visit_record"]
    record.satisfaction, record.effect_confirmed = values["satisfaction"], values.get("effect_confirmed")
    record.done_by_name, record.done_at = actor.username, now


def _needs_effect_confirmed(session, visit, actor, values):
    _every_item_satisfied(session, visit, actor, values)
    had_rectifications = session.scalar(select(func.count()).select_from(Rectification)
                                        .where(Rectification.visit_id == visit.id))
    if had_rectifications and not values.get("effect_confirmed"):
        raise ValidationError({"effect_confirmed": _l("Confirm with the customer that the rectification worked.")})


def _forms_archived(session, visit, actor, values):
    """Both filled forms, printed once the visit's record was complete (after its return visit)."""
    filed = set(session.scalars(select(ArchiveRecord.form).where(
        ArchiveRecord.source_table == Visit.__table__.name, ArchiveRecord.source_id == visit.id,
        ArchiveRecord.printed_at >= visit.return_visited_at)))
    missing = [form for form in ARCHIVED_FORMS if form not in filed]
    if missing:
        raise TransitionNotAllowedError(_l("Print the filled 走访客户记录表 and 客户意见、建议征求表 first: "
                                           "they are what the archive keeps."))


def _stamp_archived(session, visit, actor, values):
    visit.archived_at = calendar.local_now()


VISIT_STEPS: tuple[Step, ...] = (
    Step("visit", _l("Record the visit"), frozenset({S.PLANNED}), S.VISITED, CS,
         required=("items",), optional=("visited_at", "opinions", "companions"), effect=_record_items),
    Step("rectify", _l("Assign the rectifications"), frozenset({S.VISITED}), S.RECTIFYING, CS,
         required=("rectifications",), guard=_rectifications_cover_items, effect=_create_rectifications),
    Step("return_visit", _l("Record the return visit"), frozenset({S.VISITED, S.RECTIFYING}), S.RETURN_VISITED, CS,
         required=("return_visit_method", "return_visit_record", "satisfaction"), optional=("effect_confirmed",),
         guard=_needs_effect_confirmed, effect=_file_return_visit),
    Step("archive", _l("File in the archive"), frozenset({S.SUMMARISED}), S.ARCHIVED, CS,
         guard=_forms_archived, effect=_stamp_archived),
)
VISIT_STEP_BY_ACTION = {step.action: step for step in VISIT_STEPS}


def _own_department(session, rectification, actor, values):
    if role_names(actor) & SEES_ALL_DEPARTMENTS:
        return
    if rectification.department_id != scope.department_id_of(session, actor):
        raise NotFoundError()


def _told_the_customer(session, rectification, actor, values):
    _own_department(session, rectification, actor, values)
    if not values.get("customer_told"):
        raise ValidationError({"customer_told": _l("Tell the customer the result before reporting it done.")})


def _new_round(session, rectification, actor, values):
    if values["deadline"] < calendar.local_now().date():
        raise ValidationError({"deadline": _l("A deadline cannot lie in the past.")})
    if "department_id" in values and session.get(Department, values["department_id"]) is None:
        raise ValidationError({"department_id": _l("This department does not exist.")})


def _apply_new_round(session, rectification, actor, values):
    rectification.round += 1
    for name in ("measure", "deadline", "responsible_person", "department_id", "tenant_consulted"):
        if name in values:
            setattr(rectification, name, values[name])
    rectification.completed_at = None
    due = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == rectification.visit_id,
                                                    ReturnVisit.state == "due")).first()
    if due is not None and due.due_on < values["deadline"] + RETURN_VISIT_AFTER_DEADLINE:
        due.due_on = values["deadline"] + RETURN_VISIT_AFTER_DEADLINE


def _stamp_completed(session, rectification, actor, values):
    rectification.completed_at = calendar.local_now()


def _stamp_satisfied(session, rectification, actor, values):
    rectification.satisfied_at = calendar.local_now()


RECTIFICATION_STEPS: tuple[Step, ...] = (
    Step("report_progress", _l("Report progress"), frozenset({R.OPEN}), R.OPEN, DEPARTMENT_WORK,
         required=("note", "customer_told"), optional=("told_how",), guard=_own_department),
    Step("complete", _l("Rectified: the customer was told"), frozenset({R.OPEN}), R.DONE, DEPARTMENT_WORK,
         required=("note", "customer_told"), optional=("told_how",), guard=_told_the_customer,
         effect=_stamp_completed),
    Step("accept", _l("The customer is satisfied"), frozenset({R.DONE}), R.SATISFIED, CS,
         optional=("note",), effect=_stamp_satisfied),
    Step("reject", _l("The customer is not satisfied: rectify again"), frozenset({R.DONE}), R.OPEN, CS,
         required=("note", "measure", "deadline"), optional=("responsible_person", "department_id", "tenant_consulted"),
         guard=_new_round, effect=_apply_new_round),
)
RECTIFICATION_STEP_BY_ACTION = {step.action: step for step in RECTIFICATION_STEPS}


# --- taking steps ------------------------------------------------------------------------------------

def _parse(step: Step, values_in: dict) -> dict:
    allowed = set(step.required) | set(step.optional)
    errors = {name: _l("%(field)s cannot be set by this action.", field=name) for name in sorted(set(values_in) - allowed)}
    values = {}
    for name in allowed & set(values_in):
        try:
            parsed = FIELDS[name](values_in[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
            continue
        if parsed is not None:
            values[name] = parsed
    for name in step.required:
        if name not in values and name not in errors:
            errors[name] = _l("This field is required.")
    if errors:
        raise ValidationError(errors)
    return values


def _check(step: Step | None, action: str, state: str, state_label: str, actor, what) -> Step:
    if step is None:
        raise ValidationError({"action": _l("Unknown action: %(action)s", action=action)})
    if state not in step.sources:
        raise TransitionNotAllowedError(_l("“%(action)s” is not possible while the %(what)s is “%(state)s”.",
                                           action=step.label, what=what, state=state_label))
    if not step.roles & role_names(actor):
        raise ForbiddenError(_l("Your role may not “%(action)s”.", action=step.label))
    return step


def transition(session, visit: Visit, action: str, actor, version, values: dict | None = None, comment=None) -> Visit:
    check_version(visit, version)
    step = _check(VISIT_STEP_BY_ACTION.get(action), action, visit.state, S.label_of(visit.state), actor, _l("visit"))
    parsed = _parse(step, dict(values or {}))
    if step.guard:
        step.guard(session, visit, actor, parsed)
    with audit.acting_as(session, actor), _transitioning(session):
        source = visit.state
        if step.effect:
            step.effect(session, visit, actor, parsed)
        for name in ("return_visit_method", "return_visit_record", "satisfaction", "effect_confirmed"):
            if action == "return_visit" and name in parsed:
                setattr(visit, name, parsed[name])
        _move(session, visit, None, action, source, step.target, actor, parsed, comment)
    return visit


def rectification_transition(session, rectification: Rectification, action: str, actor, version,
                             values: dict | None = None, comment=None) -> Rectification:
    check_version(rectification, version)
    step = _check(RECTIFICATION_STEP_BY_ACTION.get(action), action, rectification.state,
                  R.label_of(rectification.state), actor, _l("rectification item"))
    _own_department(session, rectification, actor, {})  # another department's item: as if it did not exist
    visit = session.get(Visit, rectification.visit_id)
    if visit.state != S.RECTIFYING:
        raise TransitionNotAllowedError(_l("The visit is no longer being rectified."))
    parsed = _parse(step, dict(values or {}))
    if step.guard:
        step.guard(session, rectification, actor, parsed)
    with audit.acting_as(session, actor), _transitioning(session):
        source = rectification.state
        if step.effect:
            step.effect(session, rectification, actor, parsed)
        rectification.state = step.target
        flag_modified(rectification, "state")  # always an UPDATE: a concurrent step on a stale read is refused
        _entry(session, visit, rectification, action, source, step.target, actor, parsed,
               comment or parsed.get("note"))
        flush(session)
    return rectification


def _offered(session, visit, step) -> bool:
    """Whether the step's guard would let it through now (the guards that need no input): no action that
    would be refused is offered."""
    try:
        if step.action == "rectify" and not _non_conforming(session, visit):
            return False
        if step.action == "return_visit":
            _every_item_satisfied(session, visit, None, {})
        if step.action == "archive":
            _forms_archived(session, visit, None, {})
    except TransitionNotAllowedError:
        return False
    return True


def allowed_steps(session, visit: Visit, actor) -> list[Step]:
    return [s for s in VISIT_STEPS
            if visit.state in s.sources and s.roles & role_names(actor) and _offered(session, visit, s)]


def allowed_rectification_steps(session, rectification: Rectification, actor) -> list[Step]:
    visit_state = session.scalar(select(Visit.state).where(Visit.id == rectification.visit_id))
    if visit_state != S.RECTIFYING:
        return []
    steps = []
    for step in RECTIFICATION_STEPS:
        if rectification.state in step.sources and step.roles & role_names(actor):
            try:
                _own_department(session, rectification, actor, {})
            except NotFoundError:
                continue
            steps.append(step)
    return steps


def _move(session, visit, rectification, action, source, target, actor, values, comment):
    """The one place a visit's state changes."""
    visit.state = target
    visit.state_changed_at = calendar.local_now()
    flag_modified(visit, "state_changed_at")  # always an UPDATE (version + 1): stale concurrent steps are refused
    _entry(session, visit, rectification, action, source, target, actor, values, comment)
    flush(session)


def _plain(value):
    """Step data as JSON: lists and dicts kept as such (the items, the rectifications), dates as ISO text."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return audit._jsonable(value)


def _entry(session, visit, rectification, action, source, target, actor, values, comment):
    stored = {k: v for k, v in values.items() if k not in ("note",)}
    session.add(VisitStep(
        visit_id=visit.id, rectification_id=getattr(rectification, "id", None),
        round=getattr(rectification, "round", None), action=action, from_state=source, to_state=target,
        actor_id=getattr(actor, "id", None), actor_name=getattr(actor, "username", "system"), at=calendar.local_now(),
        comment=fields.text(comment), customer_told=values.get("customer_told"),
        data=audit.canonical_json(_plain(stored)) if stored else None))


@contextmanager
def _transitioning(session) -> Iterator[None]:
    session.info["kefu_visit_transition"] = session.info.get("kefu_visit_transition", 0) + 1
    try:
        yield
    finally:
        session.info["kefu_visit_transition"] -= 1


def _in_transition(session, _ctx, _instances):
    """Visit and rectification states change only through their steps (and the summary's approval)."""
    if session.info.get("kefu_visit_transition"):
        return
    for obj in session.dirty:
        if isinstance(obj, Visit | Rectification) and inspect(obj).attrs.state.history.has_changes():
            raise TransitionNotAllowedError(_l("A visit's state changes only through its steps."))


def get_visit(session, visit_id, actor) -> Visit:
    visit = scope.restrict(session.query(Visit).filter(Visit.id == visit_id), Visit, actor, session).one_or_none()
    if visit is None:
        raise NotFoundError()
    return visit


def get_rectification(session, rectification_id, actor) -> Rectification:
    query = session.query(Rectification).filter(Rectification.id == rectification_id)
    found = scope.restrict(query, Rectification, actor, session).one_or_none()
    if found is None:
        raise NotFoundError()
    return found


# --- overdue -----------------------------------------------------------------------------------------

def rectification_overdue_clause(today: date | None = None):
    today = today or calendar.local_now().date()
    return and_(Rectification.state == R.OPEN, Rectification.deadline < today)


def rectification_overdue(rectification: Rectification, today: date | None = None) -> bool:
    today = today or calendar.local_now().date()
    return rectification.state == R.OPEN and rectification.deadline < today


def return_visit_overdue_clause(today: date | None = None):
    today = today or calendar.local_now().date()
    return and_(ReturnVisit.state == "due", ReturnVisit.due_on < today)


def return_visit_overdue(record: ReturnVisit, today: date | None = None) -> bool:
    today = today or calendar.local_now().date()
    return record.state == "due" and record.due_on < today


# --- the summary to the general manager's office --------------------------------------------------------

def _summary_visits(session, period_from: date, period_to: date, states=(S.RETURN_VISITED,)) -> list[Visit]:
    start, end = datetime.combine(period_from, datetime.min.time()), datetime.combine(period_to + timedelta(days=1),
                                                                                     datetime.min.time())
    return session.scalars(select(Visit).where(Visit.visited_at >= start, Visit.visited_at < end,
                                               Visit.state.in_(states)).order_by(Visit.visited_at)).all()


def summary_figures(session, period_from: date, period_to: date) -> dict:
    """What the summary reports: visits made, items by result and service item, open rectifications,
    rounds, satisfaction, and the service items found non-conforming most often (recurring problems)."""
    visited = _summary_visits(session, period_from, period_to, states=(S.VISITED, S.RECTIFYING, S.RETURN_VISITED,
                                                                       S.SUMMARISED, S.ARCHIVED))
    ids = [v.id for v in visited]
    by_result = {m.value: 0 for m in ItemResult}
    non_conforming = {}
    if ids:
        for service_item, result, n in session.execute(
                select(VisitItem.service_item, VisitItem.result, func.count()).where(VisitItem.visit_id.in_(ids))
                .group_by(VisitItem.service_item, VisitItem.result)):
            by_result[result] = by_result.get(result, 0) + n
            if result == ItemResult.NON_CONFORMING:
                non_conforming[service_item] = non_conforming.get(service_item, 0) + n
    rectifications = session.execute(select(Rectification.state, Rectification.round).where(
        Rectification.visit_id.in_(ids))).all() if ids else []
    scores = [v.satisfaction for v in visited if v.satisfaction]
    return {
        "visits": len(visited), "return_visited": sum(1 for v in visited if v.state == S.RETURN_VISITED),
        "items": by_result, "rectifications": len(rectifications),
        "open_rectifications": sum(1 for state, _round in rectifications if state != R.SATISFIED),
        "second_rounds": sum(1 for _state, rounds in rectifications if rounds > 1),
        "satisfaction": round(sum(scores) / len(scores), 2) if scores else None,
        "recurring": sorted(([k, n] for k, n in non_conforming.items() if n > 1), key=lambda kv: (-kv[1], kv[0])),
    }


def summary_text(figures: dict, period_from: date, period_to: date) -> str:
    items = figures["items"]
    lines = [f"{period_from:%Y-%m-%d} 至 {period_to:%Y-%m-%d} 共走访客户 {figures['visits']} 次，"
             f"其中已完成回访 {figures['return_visited']} 次。",
             f"检查项目：合格 {items.get('qualified', 0)} 项，不合格 {items.get('non_conforming', 0)} 项，"
             f"非管理范畴 {items.get('out_of_scope', 0)} 项。",
             f"整改项 {figures['rectifications']} 项，其中仍在整改 {figures['open_rectifications']} 项，"
             f"经第二轮及以上整改 {figures['second_rounds']} 项。",
             f"客户回访满意度平均 {figures['satisfaction'] if figures['satisfaction'] is not None else '—'}。"]
    if figures["recurring"]:
        lines.append("反复出现的问题：" + "；".join(f"{ServiceItem.label_of(k)} {n} 次" for k, n in figures["recurring"])
                     + "。建议制订相应工作规范，纠正和预防同类问题再次发生。")
    return "\n".join(lines)


def draft_summary(session, actor, period_from, period_to, title: str | None = None) -> VisitSummary:
    if CS_MANAGER not in role_names(actor):
        raise ForbiddenError(_l("Only the customer-service manager reports visits to the general manager."))
    errors = {}
    try:
        period_from = fields.a_date(period_from)
    except ValueError as exc:
        errors["period_from"] = exc.args[0]
    try:
        period_to = fields.a_date(period_to)
    except ValueError as exc:
        errors["period_to"] = exc.args[0]
    if not errors and period_to < period_from:
        errors["period_to"] = _l("The end of the period cannot lie before its start.")
    if errors:
        raise ValidationError(errors)
    figures = summary_figures(session, period_from, period_to)
    summary = VisitSummary(title=fields.text(title) or f"客户走访情况汇总（{period_from:%Y-%m-%d} 至 {period_to:%Y-%m-%d}）",
                           period_from=period_from, period_to=period_to,
                           content=summary_text(figures, period_from, period_to),
                           figures=audit.canonical_json(figures), state=SummaryState.DRAFT)
    with audit.acting_as(session, actor):
        session.add(summary)
        flush(session)
    return summary


def edit_summary(session, summary: VisitSummary, actor, version, content: str, title: str | None = None):
    check_version(summary, version)
    if CS_MANAGER not in role_names(actor):
        raise ForbiddenError(_l("Only the customer-service manager reports visits to the general manager."))
    if summary.state not in (SummaryState.DRAFT, SummaryState.RETURNED):
        raise TransitionNotAllowedError(_l("A submitted summary can no longer be edited."))
    if not fields.text(content):
        raise ValidationError({"content": _l("This field is required.")})
    with audit.acting_as(session, actor):
        summary.content = fields.text(content)
        if fields.text(title):
            summary.title = fields.text(title)
        flush(session)
    return summary


def submit_summary(session, summary: VisitSummary, actor, version) -> VisitSummary:
    check_version(summary, version)
    if CS_MANAGER not in role_names(actor):
        raise ForbiddenError(_l("Only the customer-service manager reports visits to the general manager."))
    if summary.state not in (SummaryState.DRAFT, SummaryState.RETURNED):
        raise TransitionNotAllowedError(_l("This summary has already been submitted."))
    pending = set()
    for ids in session.scalars(select(VisitSummary.visit_ids).where(VisitSummary.state == SummaryState.SUBMITTED,
                                                                    VisitSummary.id != summary.id)):
        pending.update(json.loads(ids or "[]"))
    visits = [v for v in _summary_visits(session, summary.period_from, summary.period_to) if v.id not in pending]
    if not visits:
        raise TransitionNotAllowedError(_l("No return-visited visit in this period is waiting to be summarised."))
    with audit.acting_as(session, actor):
        summary.visit_ids = json.dumps([v.id for v in visits])
        summary.figures = audit.canonical_json(summary_figures(session, summary.period_from, summary.period_to))
        summary.state = SummaryState.SUBMITTED
        flush(session)
    approvals.request(session, SUMMARY_KIND, summary, actor, summary=summary.title, detail=summary.content)
    return summary


def _summary_acknowledged(session, summary, approval, actor):
    summary.state, summary.comment = SummaryState.ACKNOWLEDGED, approval.comment
    with _transitioning(session):
        for visit in session.scalars(select(Visit).where(Visit.id.in_(json.loads(summary.visit_ids or "[]")))):
            if visit.state == S.RETURN_VISITED:
                visit.summary_id = summary.id
                _move(session, visit, None, "summarise", visit.state, S.SUMMARISED, actor, {}, approval.comment)
    flush(session)


def _summary_returned(session, summary, approval, actor):
    summary.state, summary.comment = SummaryState.RETURNED, approval.comment
    flush(session)


def case_from_summary(session, summary: VisitSummary, actor, *, title, stage, category, description,
                      lesson=None, cause=None, project_id=None, department_id=None) -> CaseEntry:
    """A recurring problem of the summary becomes a case-library entry (a lesson and a work standard note)."""
    if CS_MANAGER not in role_names(actor):
        raise ForbiddenError(_l("Only the customer-service manager adds to the case library."))
    entry = CaseEntry(title=fields.text(title), stage=stage, category=category, description=fields.text(description),
                      lesson=fields.text(lesson), cause=fields.text(cause), project_id=project_id,
                      department_id=department_id, source_table=VisitSummary.__table__.name, source_id=summary.id)
    errors = {}
    for name, enum in (("stage", CaseStage), ("category", CaseCategory)):
        try:
            fields.choice(enum)(getattr(entry, name))
        except ValueError as exc:
            errors[name] = exc.args[0]
    for name in ("title", "description"):
        if not getattr(entry, name):
            errors[name] = _l("This field is required.")
    for name, model in (("project_id", Project), ("department_id", Department)):
        value = getattr(entry, name)
        if value not in (None, "") and session.get(model, value) is None:
            errors[name] = _l("This record does not exist.")
    if errors:
        raise ValidationError(errors)
    with audit.acting_as(session, actor):
        session.add(entry)
        flush(session)
    return entry


# --- return visits of deliveries and move-ins -----------------------------------------------------------

def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def schedule_project_return_visits(session, project: Project, actor) -> int:
    """Due return visits for every customer holding a unit of the project: delivery (交房回访, within
    30 days of delivery) and move-in (入住回访, three months after the concentrated move-in date).
    Idempotent: a customer and unit already scheduled for a kind is not scheduled again."""
    if not role_names(actor) & CS:
        raise ForbiddenError(_l("Only customer service schedules return visits."))
    wanted = []
    if project.delivery_date:
        wanted.append((ReturnVisitKind.DELIVERY, project.delivery_date + DELIVERY_RETURN_VISIT))
    if project.move_in_date:
        wanted.append((ReturnVisitKind.MOVE_IN, _add_months(project.move_in_date, MOVE_IN_RETURN_VISIT_MONTHS)))
    if not wanted:
        raise ValidationError({"project": _l("Set the project's delivery or move-in date first.")})
    from app.models import Building

    holders = session.execute(select(CustomerUnit.customer_id, CustomerUnit.unit_id)
                              .join(Unit, Unit.id == CustomerUnit.unit_id)
                              .join(Building, Building.id == Unit.building_id)
                              .where(Building.project_id == project.id)).all()
    existing = set(session.execute(select(ReturnVisit.kind, ReturnVisit.customer_id, ReturnVisit.unit_id).where(
        ReturnVisit.project_id == project.id)).all())
    added = 0
    with audit.acting_as(session, actor):
        for kind, due in wanted:
            for customer_id, unit_id in holders:
                if (kind, customer_id, unit_id) not in existing:
                    session.add(ReturnVisit(kind=kind, customer_id=customer_id, unit_id=unit_id, project_id=project.id,
                                            due_on=due, state="due"))
                    added += 1
        flush(session)
    return added


RETURN_VISIT_FIELDS = {"method": fields.choice(VisitMethod), "record": fields.text, "satisfaction": fields.satisfaction,
                       "follow_up": fields.text, "effect_confirmed": fields.yes_no}


def record_return_visit(session, record: ReturnVisit, actor, version, values: dict) -> ReturnVisit:
    """A delivery or move-in return visit is made: method, record, satisfaction (by whom, when)."""
    check_version(record, version)
    if not role_names(actor) & CS:
        raise ForbiddenError(_l("Only customer service records return visits."))
    if record.kind == ReturnVisitKind.VISIT:
        raise TransitionNotAllowedError(_l("A visit's return visit is recorded as a step of the visit."))
    if record.state != "due":
        raise TransitionNotAllowedError(_l("This return visit has already been recorded."))
    errors, parsed = {}, {}
    for name, parse in RETURN_VISIT_FIELDS.items():
        if values.get(name) in (None, ""):
            continue
        try:
            parsed[name] = parse(values[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
    for name in ("method", "record", "satisfaction"):
        if name not in parsed and name not in errors:
            errors[name] = _l("This field is required.")
    unknown = sorted(set(values) - set(RETURN_VISIT_FIELDS) - {"version"})
    errors.update({name: _l("%(field)s cannot be set by this action.", field=name) for name in unknown})
    if errors:
        raise ValidationError(errors)
    with audit.acting_as(session, actor):
        for name, value in parsed.items():
            setattr(record, name, value)
        record.state, record.done_by_name, record.done_at = "done", actor.username, calendar.local_now()
        flush(session)
    return record


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _in_transition):
        event.listen(session_class, "before_flush", _in_transition)
    approvals.register(approvals.ApprovalKind(SUMMARY_KIND, _l("Summary of customer visits"), VisitSummary,
                                              _summary_acknowledged, _summary_returned))
