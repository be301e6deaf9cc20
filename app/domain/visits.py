"""The visit procedure (SPEC §4, seed 000): plan, visit, rectify round after round, return visit,
summary to the general manager's office, archive; and the return visits of deliveries and move-ins.
Four workflows declared on the engine (app.domain.workflow) — the visit's, each rectification item's,
each return visit's and each summary's — that forms, the REST API and commands all go through.

A rectification item belongs to a department: its staff see and work only their own items. An item
stays open until the customer is satisfied; "not satisfied" starts another round (counted). The
visit reaches `return_visited` only when every item is satisfied.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from app import audit, labels
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
    ItemResult,
    RectificationState,
    ReturnVisitKind,
    ReturnVisitState,
    ServiceItem,
    SummaryState,
    VisitMethod,
    VisitState,
)

from . import calendar, cases, fields, scope
from . import workflow as wf
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import flush
from .roles import CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, SEES_ALL_DEPARTMENTS, role_names
from .workflow import Deadline, Party, Step, Wait, optional, required

S, R, RV = VisitState, RectificationState, ReturnVisitState
CS = frozenset({CS_STAFF, CS_MANAGER})
DEPARTMENT_WORK = CS | {DEPARTMENT_STAFF}
SUMMARY_KIND = "visit_summary"
# The two permanent forms filed when a visit is archived (reports/forms, kept 永久: seed 000 §4).
ARCHIVED_FORMS = ("visit_record", "opinion_sheet")
RETURN_VISIT_AFTER_DEADLINE = timedelta(days=7)
DELIVERY_RETURN_VISIT = timedelta(days=30)
MOVE_IN_RETURN_VISIT_MONTHS = 3




# --- who acts, and the deadlines ------------------------------------------------------------------------

def _visitor(visit, directory):
    return [visit.staff_id] if directory.active(visit.staff_id) else directory.role(CS_MANAGER)


def _item_department(item, directory):
    return directory.staff_of.get(item.department_id) or directory.role(CS_MANAGER)


VISITOR = Party("visitor", _l("the visiting staff"), CS, _visitor, name=lambda v, d: d.name_of(v.staff_id),
                where=wf.person_or(Visit.staff_id, CS_MANAGER))
ITEM_VISITOR = Party("visitor", _l("the visiting staff"), CS, lambda item, d: _visitor(item.visit, d),
                     name=lambda item, d: d.name_of(item.visit.staff_id),
                     where=wf.through(Rectification.visit_id, Visit.id, wf.person_or(Visit.staff_id, CS_MANAGER)))
ITEM_DEPARTMENT = Party("department", _l("the responsible department"), DEPARTMENT_WORK, _item_department,
                        name=lambda item, d: d.department_name(item.department_id),
                        where=wf.department_or(Rectification.department_id, CS_MANAGER))
MANAGERS = Party("managers", _l("the customer-service manager"), frozenset({CS_MANAGER}),
                 lambda record, d: d.role(CS_MANAGER), where=wf.everyone_of(CS_MANAGER))
CUSTOMER_SERVICE = Party("customer_service", _l("customer service"), CS, lambda record, d: d.role(CS_STAFF),
                         where=wf.everyone_of(CS_STAFF))

VISIT_DUE = Deadline("visit", _l("visit"), "planned_at")
RECTIFICATION_DUE = Deadline("rectification", _l("rectification deadline"), "deadline")
RETURN_VISIT_DUE = Deadline("return_visit", _l("return visit"), "due_on")


def _own_return_visit_due(visit):
    due = [r.due_on for r in visit.return_visits if r.kind == ReturnVisitKind.VISIT and r.state == RV.DUE]
    return min(due) if due else None


# A visit's own return visit is due a week after its last rectification deadline (a row of return_visit).
VISIT_RETURN_VISIT_DUE = Deadline(
    "return_visit", _l("return visit"), None, value=_own_return_visit_due,
    sql=lambda now: exists().where(ReturnVisit.visit_id == Visit.id, ReturnVisit.kind == ReturnVisitKind.VISIT,
                                   ReturnVisit.state == RV.DUE, ReturnVisit.due_on < now.date()))


# --- the fields ------------------------------------------------------------------------------------------

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


# --- the visit's conditions, checks and effects -----------------------------------------------------------

def _record_items(session, visit, actor, values):
    for seq, item in enumerate(values["items"], start=1):
        visit.items.append(VisitItem(seq=seq, **item))
    visit.visited_at = values.get("visited_at") or calendar.local_now()


# The visit's items, rectifications and return visits are read through its relationships (loaded once for
# a whole list of visits by the worklist), never by a query per visit.

def _non_conforming(session, visit) -> list[VisitItem]:
    return sorted((item for item in visit.items if item.result == ItemResult.NON_CONFORMING), key=lambda i: i.seq)


def _found_non_conforming(session, visit, actor):
    if not _non_conforming(session, visit):
        raise TransitionNotAllowedError(_l("This visit found nothing non-conforming: go on to the return visit."))


def _rectifications_cover_items(session, visit, actor, values):
    wanted = {item.id for item in _non_conforming(session, visit)}
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
        visit.rectifications.append(Rectification(state=R.OPEN, round=1, **row))
    due = max(row["deadline"] for row in values["rectifications"]) + RETURN_VISIT_AFTER_DEADLINE
    session.add(ReturnVisit(kind=ReturnVisitKind.VISIT, customer_id=visit.customer_id, unit_id=visit.unit_id,
                            visit_id=visit.id, due_on=due, state=RV.DUE))


def _open_rectifications(session, visit) -> int:
    return sum(1 for item in visit.rectifications if item.state != R.SATISFIED)


def _rectifications_waiting(session, visit):
    """What a rectifying visit waits on before its return visit: the departments, then the customer's word."""
    if any(item.state == R.OPEN for item in visit.rectifications):
        return _l("the departments to rectify the items")
    return _l("the customer to be satisfied with the rectified items")


def _every_item_satisfied(session, visit, actor=None):
    if visit.state == S.VISITED and _non_conforming(session, visit):
        raise TransitionNotAllowedError(_l("Non-conforming items must be rectified before the return visit."))
    open_items = _open_rectifications(session, visit)
    if open_items:
        raise TransitionNotAllowedError(_l("%(n)s rectification item(s) still wait for the customer's "
                                           "satisfaction: the return visit comes after.", n=open_items))


def _effect_confirmed_if_rectified(session, visit, actor, values):
    if visit.rectifications and not values.get("effect_confirmed"):
        raise ValidationError({"effect_confirmed": _l("Confirm with the customer that the rectification worked.")})


def _file_return_visit(session, visit, actor, values):
    now = calendar.local_now()
    visit.return_visited_at = now
    record = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id,
                                                       ReturnVisit.state == RV.DUE)).first()
    if record is None:
        record = ReturnVisit(kind=ReturnVisitKind.VISIT, customer_id=visit.customer_id, unit_id=visit.unit_id,
                             visit_id=visit.id, due_on=now.date(), state=RV.DUE)
        session.add(record)
        flush(session)
    record.method, record.record = values["return_visit_method"], values["return_visit_record"]
    record.satisfaction, record.effect_confirmed = values["satisfaction"], values.get("effect_confirmed")
    record.done_by_name, record.done_at = actor.username, now
    wf.move(session, RETURN_VISIT_WORKFLOW, record, "record", RV.DUE, RV.DONE, actor, {}, None)


def _forms_archived(session, visit, actor=None):
    """Both filled forms, printed once the visit's record was complete (after its return visit)."""
    filed = set(session.scalars(select(ArchiveRecord.form).where(
        ArchiveRecord.source_table == Visit.__table__.name, ArchiveRecord.source_id == visit.id,
        ArchiveRecord.printed_at >= visit.return_visited_at)))
    if any(form not in filed for form in ARCHIVED_FORMS):
        raise TransitionNotAllowedError(_l("Print the filled 走访客户记录表 and 客户意见、建议征求表 first: "
                                           "they are what the archive keeps."))


def _stamp_archived(session, visit, actor, values):
    visit.archived_at = calendar.local_now()


VISIT_STEPS: tuple[Step, ...] = (
    Step("visit", frozenset({S.PLANNED}), S.VISITED, CS,
         {"items": required(_items, stored=False), "visited_at": optional(fields.a_moment, stored=False),
          "opinions": optional(fields.text), "companions": optional(fields.text)},
         effect=_record_items),
    Step("rectify", frozenset({S.VISITED}), S.RECTIFYING, CS,
         {"rectifications": required(_rectifications, stored=False)},
         condition=_found_non_conforming, check=_rectifications_cover_items, effect=_create_rectifications),
    Step("return_visit", frozenset({S.VISITED, S.RECTIFYING}), S.RETURN_VISITED, CS,
         {"return_visit_method": required(fields.choice(VisitMethod)), "return_visit_record": required(fields.text),
          "satisfaction": required(fields.satisfaction), "effect_confirmed": optional(fields.yes_no)},
         condition=_every_item_satisfied, check=_effect_confirmed_if_rectified, effect=_file_return_visit),
    Step("archive", frozenset({S.SUMMARISED}), S.ARCHIVED, CS,
         condition=_forms_archived, effect=_stamp_archived),
)


# --- a rectification item's conditions, checks and effects ------------------------------------------------

def _visit_rectifying(session, item, actor):
    if item.visit.state != S.RECTIFYING:
        raise TransitionNotAllowedError(_l("The visit is no longer being rectified."))


def _own_department(session, item, actor):
    if actor is None or role_names(actor) & SEES_ALL_DEPARTMENTS:
        return
    if item.department_id != scope.department_id_of(session, actor):
        raise NotFoundError()


def _told_the_customer(session, item, actor, values):
    if not values.get("customer_told"):
        raise ValidationError({"customer_told": _l("Tell the customer the result before reporting it done.")})


def _new_round_valid(session, item, actor, values):
    if values["deadline"] < calendar.local_now().date():
        raise ValidationError({"deadline": _l("A deadline cannot lie in the past.")})
    if "department_id" in values and session.get(Department, values["department_id"]) is None:
        raise ValidationError({"department_id": _l("This department does not exist.")})


def _new_round(session, item, actor, values):
    item.round += 1
    item.completed_at = None
    due = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == item.visit_id,
                                                    ReturnVisit.state == RV.DUE)).first()
    if due is not None and due.due_on < values["deadline"] + RETURN_VISIT_AFTER_DEADLINE:
        due.due_on = values["deadline"] + RETURN_VISIT_AFTER_DEADLINE


def _stamp_completed(session, item, actor, values):
    item.completed_at = calendar.local_now()


def _stamp_satisfied(session, item, actor, values):
    item.satisfied_at = calendar.local_now()


_PROGRESS = {"note": required(fields.text, stored=False), "customer_told": required(fields.yes_no, stored=False),
             "told_how": optional(fields.text, stored=False)}

RECTIFICATION_STEPS: tuple[Step, ...] = (
    Step("report_progress", frozenset({R.OPEN}), R.OPEN, DEPARTMENT_WORK, _PROGRESS,
         condition=_own_department, comment_field="note"),
    Step("complete", frozenset({R.OPEN}), R.DONE, DEPARTMENT_WORK, _PROGRESS,
         condition=_own_department, check=_told_the_customer, effect=_stamp_completed, comment_field="note"),
    Step("accept", frozenset({R.DONE}), R.SATISFIED, CS,
         {"note": optional(fields.text, stored=False)}, effect=_stamp_satisfied, comment_field="note"),
    Step("reject", frozenset({R.DONE}), R.OPEN, CS,
         {"note": required(fields.text, stored=False), "measure": required(fields.text),
          "deadline": required(fields.a_date), "responsible_person": optional(fields.text),
          "department_id": optional(fields.record_id), "tenant_consulted": optional(fields.yes_no)},
         check=_new_round_valid, effect=_new_round, comment_field="note"),
)


def _visit_entry(session, visit, action, source, target, actor, values, comment, item=None):
    stored = {k: v for k, v in values.items() if k != "note"}
    session.add(VisitStep(
        visit_id=visit.id, rectification_id=getattr(item, "id", None), round=getattr(item, "round", None),
        action=action, from_state=source, to_state=target, actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", "system"), at=calendar.local_now(), comment=fields.text(comment),
        customer_told=values.get("customer_told"), data=wf.entry_data(stored)))


def _item_entry(session, item, action, source, target, actor, values, comment):
    _visit_entry(session, item.visit, action, source, target, actor, values, comment, item=item)


def _record_return_visit(session, record, actor, values):
    record.done_by_name, record.done_at = actor.username, calendar.local_now()


def _not_a_visits(session, record, actor):
    if record.kind == ReturnVisitKind.VISIT:
        raise TransitionNotAllowedError(_l("A visit's return visit is recorded as a step of the visit."))


RETURN_VISIT_STEPS: tuple[Step, ...] = (
    Step("record", frozenset({RV.DUE}), RV.DONE, CS,
         {"method": required(fields.choice(VisitMethod)), "record": required(fields.text),
          "satisfaction": required(fields.satisfaction), "follow_up": optional(fields.text),
          "effect_confirmed": optional(fields.yes_no)},
         condition=_not_a_visits, effect=_record_return_visit),
)

VISIT_WORKFLOW = wf.Workflow(
    "visit", _l("Visit"), Visit, VisitState, VISIT_STEPS, entry=_visit_entry,
    waits={S.PLANNED: Wait((VISITOR,), (VISIT_DUE,)), S.VISITED: Wait((VISITOR,)),
           S.RECTIFYING: Wait((VISITOR,), (VISIT_RETURN_VISIT_DUE,),
                              when=lambda session, visit, at: not _open_rectifications(session, visit),
                              meanwhile=_rectifications_waiting),
           S.SUMMARISED: Wait((VISITOR,))},
    path=(S.PLANNED, S.VISITED, S.RECTIFYING, S.RETURN_VISITED, S.SUMMARISED, S.ARCHIVED),
    number=lambda v: v.number, what=_l("visit"), actions=labels.VISIT_ACTIONS,
    reads=("customer", "items", "rectifications", "return_visits"))
RECTIFICATION_WORKFLOW = wf.Workflow(
    "rectification", _l("Rectification item"), Rectification, RectificationState, RECTIFICATION_STEPS,
    waits={R.OPEN: Wait((ITEM_DEPARTMENT,), (RECTIFICATION_DUE,)), R.DONE: Wait((ITEM_VISITOR,))},
    entry=_item_entry, context=_visit_rectifying, path=(R.OPEN, R.DONE, R.SATISFIED),
    number=lambda r: r.number, what=_l("rectification item"), actions=labels.RECTIFICATION_ACTIONS,
    reads=("visit", "item", "department"))
RETURN_VISIT_WORKFLOW = wf.Workflow(
    "return_visit", _l("Return visit"), ReturnVisit, ReturnVisitState, RETURN_VISIT_STEPS,
    # Delivery and move-in return visits are listed a week ahead; a visit's own is a step of the visit.
    waits={RV.DUE: Wait((CUSTOMER_SERVICE,), (RETURN_VISIT_DUE,),
                        when=lambda session, r, at: r.kind != ReturnVisitKind.VISIT and
                        r.due_on <= at.date() + timedelta(days=7))},
    path=(RV.DUE, RV.DONE), number=lambda r: r.number, what=_l("return visit"), actions=labels.RETURN_VISIT_ACTIONS,
    reads=("customer",))

VISIT_STEP_BY_ACTION = VISIT_WORKFLOW.by_action
RECTIFICATION_STEP_BY_ACTION = RECTIFICATION_WORKFLOW.by_action
FIELDS = {name: spec.parse for step in (*VISIT_STEPS, *RECTIFICATION_STEPS) for name, spec in step.fields.items()}


def transition(session, visit: Visit, action: str, actor, version, values: dict | None = None, comment=None) -> Visit:
    return wf.transition(session, VISIT_WORKFLOW, visit, action, actor, version, values, comment)


def rectification_transition(session, item: Rectification, action: str, actor, version, values: dict | None = None,
                             comment=None) -> Rectification:
    return wf.transition(session, RECTIFICATION_WORKFLOW, item, action, actor, version, values, comment)


def allowed_steps(session, visit: Visit, actor) -> list[Step]:
    return wf.allowed_steps(session, VISIT_WORKFLOW, visit, actor)


def allowed_rectification_steps(session, item: Rectification, actor) -> list[Step]:
    return wf.allowed_steps(session, RECTIFICATION_WORKFLOW, item, actor)


def record_return_visit(session, record: ReturnVisit, actor, version, values: dict) -> ReturnVisit:
    """A delivery or move-in return visit is made: method, record, satisfaction (by whom, when)."""
    values = {k: v for k, v in dict(values or {}).items() if k != "version"}
    return wf.transition(session, RETURN_VISIT_WORKFLOW, record, "record", actor, version, values)


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


# --- overdue (the workflows' deadlines: one definition) ------------------------------------------------

def _at(today: date | None) -> datetime:
    return datetime.combine(today, datetime.min.time()) if today else calendar.local_now()


def rectification_overdue_clause(today: date | None = None):
    return RECTIFICATION_WORKFLOW.overdue_clause(_at(today))


def rectification_overdue(rectification: Rectification, today: date | None = None) -> bool:
    return bool(RECTIFICATION_WORKFLOW.overdue_reasons(rectification, _at(today)))


def return_visit_overdue_clause(today: date | None = None):
    return RETURN_VISIT_WORKFLOW.overdue_clause(_at(today))


def return_visit_overdue(record: ReturnVisit, today: date | None = None) -> bool:
    return bool(RETURN_VISIT_WORKFLOW.overdue_reasons(record, _at(today)))


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


def _summary_visits_waiting(session, summary) -> list[Visit]:
    pending = set()
    for ids in session.scalars(select(VisitSummary.visit_ids).where(VisitSummary.state == SummaryState.SUBMITTED,
                                                                    VisitSummary.id != summary.id)):
        pending.update(json.loads(ids or "[]"))
    return [v for v in _summary_visits(session, summary.period_from, summary.period_to) if v.id not in pending]


def _visits_waiting(session, summary, actor, values):
    if not _summary_visits_waiting(session, summary):
        raise TransitionNotAllowedError(_l("No return-visited visit in this period is waiting to be summarised."))


def _fix_the_visits(session, summary, actor, values):
    summary.visit_ids = json.dumps([v.id for v in _summary_visits_waiting(session, summary)])
    summary.figures = audit.canonical_json(summary_figures(session, summary.period_from, summary.period_to))


def _summarise_visits(session, summary, approval, actor):
    summary.comment = approval.comment
    for visit in session.scalars(select(Visit).where(Visit.id.in_(json.loads(summary.visit_ids or "[]")))):
        if visit.state == S.RETURN_VISITED:
            visit.summary_id = summary.id
            wf.move(session, VISIT_WORKFLOW, visit, "summarise", visit.state, S.SUMMARISED, actor, {}, approval.comment)


def _returned(session, summary, approval, actor):
    summary.comment = approval.comment


_MANAGER = frozenset({CS_MANAGER})
_UNSENT = frozenset({SummaryState.DRAFT, SummaryState.RETURNED})
SUMMARY_STEPS: tuple[Step, ...] = (
    Step("edit", _UNSENT, None, _MANAGER,
         {"content": required(fields.text), "title": optional(fields.text)}),
    Step("submit", _UNSENT, SummaryState.SUBMITTED, _MANAGER,
         check=_visits_waiting, effect=_fix_the_visits,
         approval=wf.ApprovalRule(SUMMARY_KIND, _l("Summary of customer visits"), lambda s: s.title,
                                  detail=lambda s: s.content, approved_target=SummaryState.ACKNOWLEDGED,
                                  on_approved=_summarise_visits, rejected_target=SummaryState.RETURNED,
                                  on_rejected=_returned, actions=("acknowledge", "return"))),
)
SUMMARY_WORKFLOW = wf.Workflow(
    "visit_summary", _l("Summary of customer visits"), VisitSummary, SummaryState, SUMMARY_STEPS,
    waits={SummaryState.DRAFT: Wait((MANAGERS,)), SummaryState.RETURNED: Wait((MANAGERS,))},
    path=(SummaryState.DRAFT, SummaryState.SUBMITTED, SummaryState.ACKNOWLEDGED),
    number=lambda s: s.title, what=_l("summary"), actions=labels.SUMMARY_ACTIONS, reads=())


def edit_summary(session, summary: VisitSummary, actor, version, content: str, title: str | None = None):
    values = {"content": content} if title in (None, "") else {"content": content, "title": title}
    return wf.transition(session, SUMMARY_WORKFLOW, summary, "edit", actor, version, values)


def submit_summary(session, summary: VisitSummary, actor, version) -> VisitSummary:
    return wf.transition(session, SUMMARY_WORKFLOW, summary, "submit", actor, version, {})


def case_from_summary(session, summary: VisitSummary, actor, *, title, stage, category, description,
                      lesson=None, cause=None, project_id=None, department_id=None) -> CaseEntry:
    """A recurring problem of the summary becomes a case-library entry (a lesson and a work standard note)."""
    return cases.new_entry(session, actor, title=title, stage=stage, category=category, description=description,
                           lesson=lesson, cause=cause, project_id=project_id, department_id=department_id,
                           source_table=VisitSummary.__table__.name, source_id=summary.id)


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
