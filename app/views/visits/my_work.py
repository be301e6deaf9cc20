"""The visit part of "my work": the visits the user is the visiting staff of, their department's open
rectification items, and the due delivery and move-in return visits (app.views.work shows them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select

from app.domain import scope, visits
from app.domain.roles import DEPARTMENT_STAFF, role_names
from app.models import Customer, Rectification, ReturnVisit, Visit, VisitItem
from app.models.choices import ItemResult, RectificationState, ReturnVisitKind, ServiceItem, VisitState

from ..work import MY_WORK_LIMIT, Row, Section
from .common import R, S, day_text, minute_text, overdue_text


def my_visit_work(session, actor, now: datetime) -> list[Section]:
    """The visit work waiting for this actor, overdue first, one query per section whatever the rows:
    the visits they are the visiting staff of, their department's open rectification items, and the
    due delivery and move-in return visits for customer service."""
    roles = role_names(actor)
    sections = []
    if roles & visits.CS:
        sections.append(_my_visits(session, actor, now))
        sections.append(_due_return_visits(session, now.date()))
    if DEPARTMENT_STAFF in roles:
        department_id = scope.department_id_of(session, actor)
        if department_id is not None:
            sections.append(_department_rectifications(session, department_id, now.date()))
    return sections


def _my_visits(session, actor, now) -> Section:
    today = now.date()

    def count(*where):
        return select(func.count()).select_from(Rectification).where(
            Rectification.visit_id == Visit.id, *where).correlate(Visit).scalar_subquery()

    done = count(Rectification.state == R.DONE)
    unsatisfied = count(Rectification.state != R.SATISFIED)
    non_conforming = select(func.count()).select_from(VisitItem).where(
        VisitItem.visit_id == Visit.id, VisitItem.result == ItemResult.NON_CONFORMING).correlate(Visit).scalar_subquery()
    due = and_(ReturnVisit.visit_id == Visit.id, ReturnVisit.state == "due", ReturnVisit.kind == ReturnVisitKind.VISIT)
    overdue = or_(and_(Visit.state == S.PLANNED, Visit.planned_at < now),
                  and_(ReturnVisit.due_on.is_not(None), ReturnVisit.due_on < today))
    query = (select(Visit, ReturnVisit.due_on, done.label("done"), unsatisfied.label("unsatisfied"),
                    non_conforming.label("non_conforming"))
             .outerjoin(ReturnVisit, due)
             .where(Visit.staff_id == actor.id,
                    or_(Visit.state.in_((S.PLANNED, S.VISITED)),
                        and_(Visit.state == S.RECTIFYING, or_(done > 0, unsatisfied == 0))))
             .order_by(case((overdue, 0), else_=1), case((ReturnVisit.due_on.is_(None), 1), else_=0),
                       ReturnVisit.due_on, Visit.planned_at, Visit.id)
             .limit(MY_WORK_LIMIT + 1))
    found = session.execute(query).unique().all()
    label = {a: str(s.label) for a, s in visits.VISIT_STEP_BY_ACTION.items()}
    rows = []
    for visit, due_on, n_done, _unsatisfied, n_nc in found[:MY_WORK_LIMIT]:
        if visit.state == S.PLANNED:
            next_step, detail = label["visit"], visit.contact_name
        elif visit.state == S.VISITED:
            next_step = label["rectify"] if n_nc else label["return_visit"]
            detail = str(_l("%(n)s non-conforming item(s)", n=n_nc)) if n_nc else ""
        elif n_done:
            next_step = str(_l("Ask whether the customer is satisfied"))
            detail = str(_l("%(n)s item(s) rectified", n=n_done))
        else:
            next_step, detail = label["return_visit"], str(_l("Every item is satisfied"))
        late = []
        if visit.state == S.PLANNED and visit.planned_at < now:
            late.append("visit")
        elif due_on is not None and due_on < today:
            late.append("return_visit")
        rows.append(Row(url=url_for("VisitView.show", pk=visit.id), number=visit.number, title=visit.customer.name,
                        detail=detail, next_step=f"{VisitState.label_of(visit.state)} → {next_step}",
                        due=minute_text(visit.planned_at) if visit.state == S.PLANNED else day_text(due_on),
                        overdue=overdue_text(late)))
    return Section("visits", str(_l("Visits I am the visiting staff of")), rows, more=len(found) > MY_WORK_LIMIT,
                   more_url=url_for("VisitView.list"))


def _department_rectifications(session, department_id, today) -> Section:
    overdue = visits.rectification_overdue_clause(today)
    found = session.execute(
        select(Rectification, Visit.id, Visit.planned_at, Customer.name)
        .join(Visit, Visit.id == Rectification.visit_id).join(Customer, Customer.id == Visit.customer_id)
        .where(Rectification.department_id == department_id, Rectification.state == R.OPEN)
        .order_by(case((overdue, 0), else_=1), Rectification.deadline, Rectification.id)
        .limit(MY_WORK_LIMIT + 1)).unique().all()
    steps = "、".join(str(visits.RECTIFICATION_STEP_BY_ACTION[a].label) for a in ("report_progress", "complete"))
    rows = []
    for item, _visit_id, _planned_at, customer in found[:MY_WORK_LIMIT]:
        round_text = f"（{_l('Round %(n)s', n=item.round)}）" if item.round > 1 else ""
        measure = item.measure if len(item.measure) <= 60 else item.measure[:60] + "…"
        rows.append(Row(url=url_for("RectificationView.show", pk=item.id), number=item.number, title=customer,
                        detail=f"{ServiceItem.label_of(item.item.service_item)}：{measure}{round_text}",
                        next_step=f"{RectificationState.label_of(item.state)} → {steps}", due=day_text(item.deadline),
                        overdue=overdue_text(["rectification"] if visits.rectification_overdue(item, today) else [])))
    return Section("rectifications", str(_l("Rectification items of my department")), rows,
                   more=len(found) > MY_WORK_LIMIT, more_url=url_for("RectificationView.list"))


RETURN_VISIT_LOOKAHEAD = timedelta(days=7)  # as the reminders: due within a week, or overdue


def _due_return_visits(session, today: date) -> Section:
    found = session.scalars(select(ReturnVisit).where(
        ReturnVisit.state == "due", ReturnVisit.kind != ReturnVisitKind.VISIT,
        ReturnVisit.due_on <= today + RETURN_VISIT_LOOKAHEAD)
        .order_by(ReturnVisit.due_on, ReturnVisit.id).limit(MY_WORK_LIMIT + 1)).unique().all()
    rows = [Row(url=url_for("ReturnVisitView.show", pk=r.id), number=r.number, title=r.customer.name,
                detail=ReturnVisitKind.label_of(r.kind), next_step=str(_l("Record the return visit")), due=day_text(r.due_on),
                overdue=overdue_text(["return_visit"] if visits.return_visit_overdue(r, today) else []))
            for r in found[:MY_WORK_LIMIT]]
    return Section("return_visits", str(_l("Delivery and move-in return visits due")), rows,
                   more=len(found) > MY_WORK_LIMIT, more_url=url_for("ReturnVisitView.list", _flt_0_state="due"))

