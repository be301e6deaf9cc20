"""Who acts next, on what, by when — one function read from the workflow tables, used by my-work,
`flask --app run reminders` and the one-line status text, so they cannot disagree.

For every record of every workflow in a state that waits (`Workflow.waits`), each party of that state
(the first-responsible person, the responsible department, the visiting staff, the managers, …) gets an
item listing the steps of the state that are theirs and possible now (the step conditions read on the
record alone), with the state's running deadline and its overdue flags. A record with a pending
approval waits for the general manager instead: it is listed once, as the approval, under every
general manager except the requester. A year missing from the working-day calendar is listed for the
Admin. Times are China local time.

`for_user` (my-work) reads one person's part without reading everyone's: each workflow's query keeps the
records one of whose parties may be that person (`Party.where`, in SQL), and the same code as `waiting`
then decides, so both give the same items. `next_of` is the one reading of a record's wait: the items
and `status_text` both come from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import lazyload, selectinload

from app.models import Approval, CalendarYear, Department, UserDepartment

from . import approvals, calendar
from .errors import DomainError
from .roles import ADMIN, DEPARTMENT_STAFF, GENERAL_MANAGER
from .workflow import WORKFLOWS, Party, Viewer, Wait, Workflow

EXCERPT = 40


@dataclass
class Item:
    kind: str  # a workflow's code, "approval" or "calendar"
    record_id: int
    number: str
    state: str
    actions: list[str]  # the steps that are this person's now (action codes), or "decide"
    due: str | None  # the running deadline's code
    due_at: datetime | date | None
    overdue: list[str]  # the codes of the deadlines passed
    summary: str
    complaint_id: int | None = None
    subject: tuple[str, int] | None = None  # an approval's subject (table, id)
    who: str = ""  # the party this item is given to, in words («首责人 张三», «工程部»)

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


class Directory:
    """Active users by role and department, and how to name people and departments (three queries)."""

    def __init__(self, session):
        self.users: dict[int, tuple[str, str, bool]] = {}
        self.by_role: dict[str, list[int]] = {}
        for row in session.execute(select(User.id, User.username, User.first_name, User.last_name, User.active,
                                          Role.name).join(User.roles).order_by(User.username)):
            name = f"{row.first_name or ''}{row.last_name or ''}".strip() or row.username
            self.users[row.id] = (row.username, name, bool(row.active))
            if row.active:
                self.by_role.setdefault(row.name, []).append(row.id)
        self.staff_of: dict[int, list[int]] = {}
        department_staff = set(self.by_role.get(DEPARTMENT_STAFF, ()))
        for user_id, department_id in session.execute(select(UserDepartment.user_id, UserDepartment.department_id)):
            if user_id in department_staff:
                self.staff_of.setdefault(department_id, []).append(user_id)
        self.departments = dict(session.execute(select(Department.id, Department.name)).all())

    def active(self, user_id) -> bool:
        return user_id in self.users and self.users[user_id][2]

    def role(self, role: str) -> list[int]:
        return self.by_role.get(role, [])

    def name_of(self, user_id) -> str:
        return self.users[user_id][1] if user_id in self.users else ""

    def department_name(self, department_id) -> str:
        return self.departments.get(department_id, "")

    def viewer(self, user_id: int) -> Viewer:
        """One person as the parties' SQL (Party.where) sees them."""
        active = tuple(sorted(u for u, (_n, _name, on) in self.users.items() if on))
        return Viewer(user_id, frozenset(r for r, ids in self.by_role.items() if user_id in ids),
                      tuple(sorted(d for d, ids in self.staff_of.items() if user_id in ids)), active,
                      tuple(sorted(self.staff_of)))


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


def summary_of(record) -> str:
    """A short text saying what the record is about, for the lists of work."""
    department = getattr(record, "department", None)
    prefix = f"[{department.name}] " if department is not None and getattr(department, "name", None) else ""
    for name in ("content", "measure"):
        if getattr(record, name, None):
            return prefix + _excerpt(getattr(record, name))
    customer = getattr(record, "customer", None)
    if customer is not None:
        return _excerpt(customer.name)
    if getattr(record, "borrower", None):
        return f"{record.borrower}（{record.borrower_department}）"
    return _excerpt(getattr(record, "title", "") or "")


def possible_actions(session, workflow: Workflow, record, roles) -> list[str]:
    """The steps of the record's state taken by `roles` whose condition the record meets now."""
    found = []
    for step in workflow.steps:
        if record.state not in step.sources or not step.roles & roles:
            continue
        try:
            if workflow.context:
                workflow.context(session, record, None)
            if step.condition:
                step.condition(session, record, None)
        except DomainError:
            continue
        found.append(step.action)
    return found


def waiting(session, at: datetime | None = None) -> list[Person]:
    """Everyone with something waiting, nobody-found first, then by username; each person's items
    overdue first, then by deadline."""
    people = _gather(session, at or calendar.local_now())
    return sorted(people.values(), key=lambda p: (p.user_id is not None, p.username))


def for_user(session, user_id: int, at: datetime | None = None) -> list[Item]:
    """What waits for one person (my-work): exactly their part of `waiting`, read without reading
    everyone's: each workflow's query keeps the records one of whose parties may be them (Party.where)."""
    person = _gather(session, at or calendar.local_now(), user_id).get(user_id)
    return person.items if person else []


def _gather(session, at: datetime, user_id: int | None = None) -> dict[int | None, Person]:
    """The people with work, by user id (all of them, or the one `user_id` only), in a fixed number of
    statements: the directory, the pending approvals, a query per workflow (and its relationships)."""
    directory = Directory(session)
    viewer = directory.viewer(user_id) if user_id is not None else None
    people: dict[int | None, Person] = {}

    def give(user_ids, item):
        for uid in user_ids or [None]:
            if viewer is not None and uid != user_id:
                continue
            if uid not in people:
                username, name, _active = directory.users.get(uid, ("", str(_l("Nobody found")), False))
                people[uid] = Person(uid, username, name)
            people[uid].items.append(item)

    pending = session.scalars(select(Approval).where(Approval.state == "pending")
                              .order_by(Approval.requested_at, Approval.id)).all()
    waiting_for_gm = {(a.subject_table, a.subject_id) for a in pending}
    # The approvals go to the general managers, who read their subjects (number, overdue) too.
    deciding = viewer is None or viewer.acts_as(GENERAL_MANAGER)
    subjects = {}
    for workflow in WORKFLOWS.values():
        if not workflow.waits:
            continue
        model = workflow.model
        # What summary_of, the parties and the conditions read, in one query each (nothing below it).
        query = select(model).options(*_loads(workflow)).order_by(model.id)
        if viewer is None:
            query = query.where(model.state.in_(list(workflow.waits)))
        else:
            wanted = workflow.waiting_for(viewer)
            if deciding:
                ids = [i for table, i in waiting_for_gm if table == model.__tablename__]
                wanted = or_(wanted, and_(model.state.in_(list(workflow.waits)), model.id.in_(ids)))
            query = query.where(wanted)
        for record in session.scalars(query):
            subjects[(model.__tablename__, record.id)] = (workflow, record)
            if (model.__tablename__, record.id) in waiting_for_gm:
                continue
            for people_ids, item in items_of(session, workflow, record, directory, at):
                give(people_ids, item)

    if deciding:
        for approval in pending:
            give([u for u in directory.role(GENERAL_MANAGER) if u != approval.requested_by_id],
                 approval_item(approval, subjects.get((approval.subject_table, approval.subject_id)), at))

    for year in missing_calendar_years(session, at):
        give(directory.role(ADMIN), Item(
            "calendar", year, str(year), "missing", ["calendar_seed"], "calendar", datetime(year, 1, 1),
            ["calendar"] if year <= at.year else [],
            str(_l("%(year)s is not in the working-day calendar: it counts as plain Monday to Friday.", year=year))))

    for person in people.values():
        person.items.sort(key=lambda item: item.sort_key)
    return people


def _loads(workflow: Workflow) -> tuple:
    if workflow.reads is None:
        return (selectinload("*"),)
    model = workflow.model
    return (lazyload("*"), *(selectinload(getattr(model, name)).lazyload("*") for name in workflow.reads))


@dataclass
class Next:
    """What a record waits for now — one derivation for my-work, the reminders and the status text:
    the parties that act, each with their steps possible now; or, the state's `when` false, nobody's
    step but what `meanwhile` names."""
    wait: Wait | None
    parties: list[tuple[Party, list[str]]]
    meanwhile: object | None = None


def next_of(session, workflow: Workflow, record, at: datetime) -> Next:
    wait = workflow.waits.get(record.state)
    if wait is None:
        return Next(None, [])
    if wait.when and not wait.when(session, record, at):
        return Next(wait, [], wait.meanwhile(session, record) if wait.meanwhile else None)
    found = [(party, possible_actions(session, workflow, record, party.roles)) for party in wait.parties]
    return Next(wait, [(party, actions) for party, actions in found if actions])


def items_of(session, workflow: Workflow, record, directory: Directory, at: datetime):
    """(people, item) for each party the record waits for now."""
    parties = next_of(session, workflow, record, at).parties
    if not parties:
        return
    deadline, due_at = workflow.deadline_of(record)
    overdue = workflow.overdue_reasons(record, at)
    complaint_id = record.id if workflow.code == "complaint" else None
    for party, actions in parties:
        yield party.people(record, directory), Item(
            workflow.code, record.id, workflow.number(record), record.state, actions,
            deadline.code if deadline else None, due_at, list(overdue), summary_of(record), complaint_id,
            who=party_words(party, record, directory))


def party_words(party: Party, record, directory: Directory) -> str:
    """«首责人：张三», or the party's label alone when it names nobody in particular."""
    name = party.name(record, directory) if party.name else ""
    return f"{party.label}：{name}" if name and name != str(party.label) else str(party.label)


# --- approvals: when one is due, one definition (my-work, the approval list and page, reminders) --------

def approval_due_at(approval) -> datetime | None:
    """When a pending approval becomes overdue, in China local time (requested_at is stored in UTC)."""
    if approval.requested_at is None:
        return None
    return calendar.from_utc(approval.requested_at + timedelta(hours=approvals.APPROVAL_DUE_HOURS))


def approval_overdue(approval, at: datetime | None = None) -> bool:
    """A pending approval waiting longer than APPROVAL_DUE_HOURS at `at` (China local time, default now)."""
    due_at = approval_due_at(approval)
    return approval.state == "pending" and due_at is not None and due_at < (at or calendar.local_now())


def approval_item(approval, subject, at: datetime) -> Item:
    due_at = approval_due_at(approval)
    overdue = []
    number = f"{approval.subject_table}#{approval.subject_id}"
    complaint_id = None
    if subject is not None:
        workflow, record = subject
        overdue = workflow.overdue_reasons(record, at)
        number = workflow.number(record)
        complaint_id = record.id if workflow.code == "complaint" else None
    if approval_overdue(approval, at):
        overdue.append("approval")
    return Item("approval", approval.id, number, approval.kind, ["decide"], "approval", due_at, overdue,
                approval.summary, complaint_id=complaint_id, subject=(approval.subject_table, approval.subject_id),
                who=str(_l("General manager")))


def missing_calendar_years(session, at: datetime) -> list[int]:
    """This year and next year, those not in the calendar table."""
    wanted = (at.year, at.year + 1)
    present = set(session.scalars(select(CalendarYear.year).where(CalendarYear.year.in_(wanted))))
    return [year for year in wanted if year not in present]


# --- the one-line status, fit to read out on the phone (ISO 10002: the complainant can ask any time) ---------

def status_text(session, record, at: datetime | None = None) -> str:
    """«投诉 TS-2026-0001：处理中，待工程部添加进展、张三回复客户，期限 12月7日»."""
    from .workflow import workflow_of

    at = at or calendar.local_now()
    workflow = workflow_of(record)
    head = f"{workflow.label} {workflow.number(record)}：{workflow.label_of_state(record.state)}"
    pending = approvals.pending_for(session, record)
    if pending is not None:
        return head + "，" + str(_l("waiting for the general manager's decision"))
    following = next_of(session, workflow, record, at)
    if following.wait is None:
        return head
    whom = []
    if following.parties:
        directory = Directory(session)
        for party, actions in following.parties:
            name = (party.name(record, directory) if party.name else "") or str(party.label)
            whom.append(str(_l("%(who)s to %(what)s", who=name,
                               what="、".join(str(workflow.step(a).label) for a in actions))))
    elif following.meanwhile is not None:
        whom.append(str(following.meanwhile))
    text = head
    if whom:
        text += "，" + str(_l("waiting for %(whom)s", whom="；".join(whom)))
    deadline, due_at = workflow.deadline_of(record)
    if due_at is not None:
        text += "，" + str(_l("due %(when)s", when=f"{due_at.month}月{due_at.day}日"))
        if workflow.overdue_reasons(record, at):
            text += str(_l(" (overdue)"))
    return text
