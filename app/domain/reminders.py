"""What is due and overdue, per person: `flask --app run reminders` (SPEC §10), for a scheduler.

For every open complaint, who must act next is read from the transition table (complaints.STEPS):
- a step the responsible department may take (investigating, handling) waits for the staff of the
  assigned department; when that department has no active staff, for the customer-service managers,
  whom the table also allows to take the department's step;
- a step of customer-service staff (confirm, assess, assign, return visit) waits for the complaint's
  first-responsible person (首问责任人), who owns it to the end; for the managers if that person's
  account is disabled;
- a step only managers take (close, feed back) waits for every customer-service manager;
- a complaint with a pending approval waits for the general manager: it is listed once, as the
  approval, under every general manager (except the requester, who may not decide it).
Every pending approval is listed, whatever its kind (the mechanism is not specific to complaints).
Visits wait for their visiting staff (record the visit, assign the rectifications, judge a rectified
item, the return visit); an open rectification item for its department's staff (the managers when
the department has nobody); a delivery or move-in return visit for every customer-service staff
member; a file lent outside and not back by its due date for every archivist.
A year missing from the working-day calendar (this year or next) is listed for every Admin: until
its holidays are entered, it counts as plain Monday to Friday.

What is due is the deadline of the step the complaint waits for; it is overdue by
complaints.overdue_reasons at the given moment (China local time). The work is done with a fixed
number of queries (complaints, approvals, users with their roles, departments of users, calendar
years), whatever the number of complaints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models import (
    Approval,
    ArchiveLoan,
    ArchiveRecord,
    CalendarYear,
    Complaint,
    Department,
    Rectification,
    ReturnVisit,
    UserDepartment,
    Visit,
)
from app.models.choices import ComplaintState, RectificationState, ReturnVisitKind, VisitState

from . import calendar, complaints, visits
from .roles import ADMIN, ARCHIVIST, CS_MANAGER, CS_STAFF, DEPARTMENT_STAFF, GENERAL_MANAGER

S = ComplaintState
OPEN_STATES = tuple(s.value for s in S if s not in (S.CLOSED_INVALID, S.FED_BACK))
APPROVAL_DUE_HOURS = 24  # an approval pending longer than this is overdue (as on the my-work page)
EXCERPT = 40

# The deadline each state waits for (a handling complaint: its handling deadline, if one was set).
DUE_OF_STATE = {
    S.RECEIVED: "assign", S.CONFIRMED: "assign", S.ASSESSED: "assign",
    S.INVESTIGATING: "investigate", S.HANDLING: "handling", S.REPLIED: "close", S.CLOSED: "return_visit",
}
DUE_COLUMN = {"assign": "assign_due_at", "investigate": "investigate_due_at", "close": "close_due_at",
              "handling": "handling_deadline", "return_visit": "return_visit_due_at"}
DUE_LABELS = {
    "assign": _l("assignment"), "investigate": _l("investigation"), "close": _l("closing"),
    "handling": _l("handling deadline"), "return_visit": _l("return visit"), "approval": _l("approval"),
    "calendar": _l("calendar year"), "visit": _l("visit"), "rectification": _l("rectification deadline"),
    "loan": _l("loan due back"),
}
# What a visit in each state waits for (its visiting staff), and which deadline that is.
VISIT_WORK = {VisitState.PLANNED: ("visit", "visit"), VisitState.VISITED: ("rectify", None),
              VisitState.RECTIFYING: ("return_visit", "return_visit")}
OTHER_ACTIONS = {"decide": _l("Approve or reject"), "calendar_seed": _l("Enter the year's holidays"),
                 "record": _l("Record the return visit"), "register_return": _l("Register the return"),
                 "judge": _l("Ask whether the customer is satisfied")}


@dataclass
class Item:
    kind: str  # "complaint" or "approval"
    record_id: int
    number: str
    state: str
    actions: list[str]  # what the person is to do (action codes, or "decide")
    due: str | None  # which deadline (a DUE_COLUMN key, or "approval")
    due_at: datetime | date | None
    overdue: list[str]  # overdue_reasons, plus "approval" for an approval pending too long
    summary: str
    complaint_id: int | None = None

    @property
    def sort_key(self):
        moment = self.due_at
        if isinstance(moment, date) and not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(23, 59))
        return (not self.overdue, moment is None, moment or datetime.max, self.number)

    def as_dict(self) -> dict:
        due_at = self.due_at.isoformat(sep=" ", timespec="minutes") if isinstance(self.due_at, datetime) \
            else (self.due_at.isoformat() if self.due_at else None)
        return {"kind": self.kind, "id": self.record_id, "number": self.number, "state": self.state,
                "actions": self.actions, "due": self.due, "due_at": due_at, "overdue": self.overdue,
                "is_overdue": bool(self.overdue), "summary": self.summary, "complaint_id": self.complaint_id}


@dataclass
class Person:
    user_id: int | None  # None: nobody could be found to act (shown first, so it is not lost)
    username: str
    name: str
    items: list[Item] = field(default_factory=list)

    @property
    def overdue_count(self) -> int:
        return sum(1 for item in self.items if item.overdue)

    def as_dict(self) -> dict:
        return {"user_id": self.user_id, "username": self.username, "name": self.name,
                "overdue": self.overdue_count, "due": len(self.items) - self.overdue_count,
                "items": [item.as_dict() for item in self.items]}


def _actions_of(state: str) -> tuple[list[str], frozenset[str]]:
    steps = [step for step in complaints.STEPS if state in step.sources]
    roles = frozenset().union(*(step.roles for step in steps)) if steps else frozenset()
    return [step.action for step in steps], roles


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


class _Directory:
    """Active users by role and department, read in two queries."""

    def __init__(self, session):
        self.users: dict[int, tuple[str, str, bool]] = {}
        self.by_role: dict[str, list[int]] = {}
        rows = session.execute(
            select(User.id, User.username, User.first_name, User.last_name, User.active, Role.name)
            .join(User.roles).order_by(User.username)
        ).all()
        for row in rows:
            name = f"{row.first_name or ''}{row.last_name or ''}".strip()
            self.users[row.id] = (row.username, name, bool(row.active))
            if row.active:
                self.by_role.setdefault(row.name, []).append(row.id)
        self.staff_of: dict[int, list[int]] = {}
        department_staff = set(self.by_role.get(DEPARTMENT_STAFF, ()))
        for user_id, department_id in session.execute(select(UserDepartment.user_id,
                                                             UserDepartment.department_id)):
            if user_id in department_staff:
                self.staff_of.setdefault(department_id, []).append(user_id)

    def active(self, user_id) -> bool:
        return user_id in self.users and self.users[user_id][2]

    def role(self, role: str) -> list[int]:
        return self.by_role.get(role, [])


def _who(complaint, roles: frozenset[str], directory: _Directory) -> list[int]:
    if DEPARTMENT_STAFF in roles and complaint.department_id is not None:
        return directory.staff_of.get(complaint.department_id) or directory.role(CS_MANAGER)
    if CS_STAFF in roles:
        if directory.active(complaint.first_responsible_id):
            return [complaint.first_responsible_id]
        return directory.role(CS_MANAGER)
    if CS_MANAGER in roles:
        return directory.role(CS_MANAGER)
    return []


def due_and_overdue(session, at: datetime | None = None) -> list[Person]:
    """Everyone with something waiting, nobody-found first, then by username; each person's items
    overdue first, then by deadline."""
    at = at or calendar.local_now()
    at_utc = at.replace(tzinfo=calendar.LOCAL_ZONE).astimezone(UTC).replace(tzinfo=None)
    C = Complaint
    rows = session.execute(
        select(C.id, C.received_at, C.state, C.severity, C.content, C.first_responsible_id, C.department_id,
               Department.name.label("department_name"), C.assign_due_at, C.investigate_due_at,
               C.close_due_at, C.handling_deadline, C.return_visit_due_at)
        .outerjoin(Department, Department.id == C.department_id)
        .where(C.state.in_(OPEN_STATES))
        .order_by(C.id)
    ).all()
    pending = session.scalars(select(Approval).where(Approval.state == "pending")
                              .order_by(Approval.requested_at, Approval.id)).all()
    directory = _Directory(session)

    people: dict[int | None, Person] = {}

    def give(user_ids, item):
        for user_id in user_ids or [None]:
            if user_id not in people:
                username, name, _active = directory.users.get(user_id, ("", str(_l("Nobody found")), False))
                people[user_id] = Person(user_id, username, name)
            people[user_id].items.append(item)

    complaint_table = Complaint.__table__.name
    waiting_for_gm = {a.subject_id for a in pending if a.subject_table == complaint_table}
    by_id = {}
    for row in rows:
        by_id[row.id] = row
        if row.id in waiting_for_gm:
            continue
        actions, roles = _actions_of(row.state)
        due = DUE_OF_STATE.get(row.state)
        if due == "handling" and row.handling_deadline is None:
            due = "close"
        item = Item("complaint", row.id, Complaint.number.fget(row), row.state, actions, due,
                    getattr(row, DUE_COLUMN[due]) if due else None, complaints.overdue_reasons(row, at),
                    _summary(row), complaint_id=row.id)
        give(_who(row, roles, directory), item)

    for approval in pending:
        subject = by_id.get(approval.subject_id) if approval.subject_table == complaint_table else None
        overdue = complaints.overdue_reasons(subject, at) if subject is not None else []
        if approval.requested_at < at_utc - timedelta(hours=APPROVAL_DUE_HOURS):
            overdue.append("approval")
        due_at = (approval.requested_at + timedelta(hours=APPROVAL_DUE_HOURS)).replace(tzinfo=UTC) \
            .astimezone(calendar.LOCAL_ZONE).replace(tzinfo=None)
        number = Complaint.number.fget(subject) if subject is not None \
            else f"{approval.subject_table}#{approval.subject_id}"
        item = Item("approval", approval.id, number, approval.kind, ["decide"], "approval", due_at, overdue,
                    approval.summary, complaint_id=subject.id if subject is not None else None)
        deciders = [u for u in directory.role(GENERAL_MANAGER) if u != approval.requested_by_id]
        give(deciders, item)

    _visit_work(session, at, directory, give)

    for year in missing_calendar_years(session, at):
        item = Item("calendar", year, str(year), "missing", ["calendar_seed"], "calendar",
                    datetime(year, 1, 1), ["calendar"] if year <= at.year else [],
                    str(_l("%(year)s is not in the working-day calendar: it counts as plain Monday to Friday.",
                           year=year)))
        give(directory.role(ADMIN), item)

    for person in people.values():
        person.items.sort(key=lambda item: item.sort_key)
    return sorted(people.values(), key=lambda p: (p.user_id is not None, p.username))


def _visit_work(session, at: datetime, directory: _Directory, give) -> None:
    """Visits, rectification items, return visits and loans: four queries, whatever their number."""
    today = at.date()
    due_visits = {v.visit_id: v.due_on for v in session.scalars(
        select(ReturnVisit).where(ReturnVisit.state == "due", ReturnVisit.kind == ReturnVisitKind.VISIT))}
    open_by_visit: dict[int, list] = {}
    for item in session.scalars(select(Rectification).where(Rectification.state != RectificationState.SATISFIED)
                                .order_by(Rectification.deadline, Rectification.id)):
        open_by_visit.setdefault(item.visit_id, []).append(item)
        if item.state == RectificationState.OPEN:
            late = ["rectification"] if visits.rectification_overdue(item, today) else []
            entry = Item("rectification", item.id, item.number, item.state, ["report_progress", "complete"],
                         "rectification", item.deadline, late, f"[{item.department.name}] {_excerpt(item.measure)}")
            give(directory.staff_of.get(item.department_id) or directory.role(CS_MANAGER), entry)
    for visit in session.scalars(select(Visit).where(Visit.state.in_(
            (VisitState.PLANNED, VisitState.VISITED, VisitState.RECTIFYING))).order_by(Visit.id)):
        action, due = VISIT_WORK[visit.state]
        waiting = open_by_visit.get(visit.id, [])
        if visit.state == VisitState.RECTIFYING:
            if any(r.state == RectificationState.DONE for r in waiting):
                action = "judge"  # rectified items wait for the customer's verdict
            elif waiting:
                continue  # the departments are at work on it (listed above)
        due_at = visit.planned_at if visit.state == VisitState.PLANNED else due_visits.get(visit.id)
        late = []
        if visit.state == VisitState.PLANNED and visit.planned_at < at:
            late = ["visit"]
        elif due_at is not None and not isinstance(due_at, datetime) and due_at < today:
            late = ["return_visit"]
        entry = Item("visit", visit.id, visit.number, visit.state, [action], due, due_at, late,
                     _excerpt(visit.customer.name))
        give([visit.staff_id] if directory.active(visit.staff_id) else directory.role(CS_MANAGER), entry)
    for record in session.scalars(select(ReturnVisit).where(ReturnVisit.state == "due",
                                                            ReturnVisit.kind != ReturnVisitKind.VISIT,
                                                            ReturnVisit.due_on <= today + timedelta(days=7))
                                  .order_by(ReturnVisit.due_on, ReturnVisit.id)):
        late = ["return_visit"] if visits.return_visit_overdue(record, today) else []
        entry = Item("return_visit", record.id, record.number, record.kind, ["record"], "return_visit",
                     record.due_on, late, _excerpt(record.customer.name))
        give(directory.role(CS_STAFF), entry)
    for loan, number in session.execute(select(ArchiveLoan, ArchiveRecord.number)
                                        .join(ArchiveRecord, ArchiveRecord.id == ArchiveLoan.archive_record_id)
                                        .where(ArchiveLoan.state == "out", ArchiveLoan.due_on < today)):
        entry = Item("loan", loan.id, number, loan.state, ["register_return"], "loan", loan.due_on, ["loan"],
                     f"{loan.borrower}（{loan.borrower_department}）")
        give(directory.role(ARCHIVIST), entry)


def missing_calendar_years(session, at: datetime) -> list[int]:
    """This year and next year, those not in the calendar table."""
    wanted = (at.year, at.year + 1)
    present = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(wanted))))
    return [year for year in wanted if year not in present]


def _summary(row) -> str:
    department = f"[{row.department_name}] " if row.department_name else ""
    return department + _excerpt(row.content)


# --- plain text ---------------------------------------------------------------------------------

def _when(moment) -> str:
    if moment is None:
        return "—"
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else f"{moment:%Y-%m-%d}"


def _action_label(code: str) -> str:
    step = (complaints.STEP_BY_ACTION.get(code) or visits.VISIT_STEP_BY_ACTION.get(code)
            or visits.RECTIFICATION_STEP_BY_ACTION.get(code))
    if step:
        return str(step.label)
    return str(OTHER_ACTIONS.get(code, code))


def _state_label(item: Item) -> str:
    labels = {"complaint": ComplaintState.label_of, "visit": VisitState.label_of,
              "rectification": RectificationState.label_of, "return_visit": ReturnVisitKind.label_of}
    if item.kind in labels:
        return labels[item.kind](item.state)
    return str({"approval": _l("Approval"), "loan": _l("Loan outside the company")}.get(item.kind, _l("Calendar")))


def as_text(people: list[Person], at: datetime) -> list[str]:
    """One line per person, then one per item: `!` marks an overdue item, `·` one still in time."""
    overdue = sum(p.overdue_count for p in people)
    total = sum(len(p.items) for p in people)
    lines = [str(_l("Reminders at %(at)s (China time): %(overdue)s overdue, %(due)s due, for %(people)s people.",
                    at=_when(at), overdue=overdue, due=total - overdue, people=len(people)))]
    for person in people:
        who = f"{person.username} ({person.name})" if person.username else person.name
        lines.append("")
        lines.append(str(_l("%(who)s: %(overdue)s overdue, %(due)s due",
                            who=who, overdue=person.overdue_count, due=len(person.items) - person.overdue_count)))
        for item in person.items:
            state = _state_label(item)
            todo = " / ".join(_action_label(a) for a in item.actions) or "—"
            due = str(DUE_LABELS.get(item.due, "")) if item.due else ""
            late = ""
            if item.overdue:
                late = "  " + str(_l("OVERDUE: %(what)s", what=", ".join(str(DUE_LABELS[r]) for r in item.overdue)))
            lines.append(f"  {'!' if item.overdue else '·'} {item.number}  {state} → {todo}  "
                         f"{due} {_when(item.due_at)}{late}  | {item.summary}")
    return lines


def as_json(people: list[Person], at: datetime) -> dict:
    overdue = sum(p.overdue_count for p in people)
    total = sum(len(p.items) for p in people)
    return {"at": at.isoformat(sep=" ", timespec="minutes"), "timezone": str(calendar.LOCAL_ZONE),
            "overdue": overdue, "due": total - overdue, "people": [p.as_dict() for p in people]}
