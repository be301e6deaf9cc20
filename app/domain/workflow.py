"""One workflow engine (STYLE.md §3, after Frappe's workflow table): a process is data — its states,
its steps, what each state waits for — and this module is the only code that moves a record.

A `Workflow` declares, for one model:
- `steps`: rows of (action, label, source states, target state, roles, fields with their parsers,
  a condition on the record, a check of the input, an effect, the approval it needs, who alone may
  take it in some cases). A step that behaves differently says so in its row, never by its name here.
- `waits`: per state, which parties act next and which deadlines run (the first one set is "the"
  due, every one passed is overdue) — read by my-work, the reminders, the overdue filters and the
  one-line status text alike (app.domain.worklist). A wait with a `when` says, in `meanwhile`, what
  the record waits on while no party's step is due («待各部门整改»).
- `actions`: the label of each action, a table of app.labels (the only copy: each step gets its
  label from it); `reads`: the relationships the worklist reads on a waiting record.

A `Party` names its people twice, once per record (`people`, in Python) and once for one person in SQL
(`where`: everyone_of, person_or, department_or, through), so that my-work reads one person's records only.

`transition()` checks, in this order: the version read, the action, the state, the role, the
department scope, a pending approval, the record's condition, the fields (all errors at once), the
input check; then writes the record, a step entry and (through the flush hook) the audit rows, in the
caller's transaction. A refusal raises before anything is written. The flush refuses a state written
anywhere else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from flask_babel import lazy_gettext as _l
from sqlalchemy import Date, and_, event, false, inspect, or_, select, true
from sqlalchemy.orm.attributes import flag_modified

from app import audit

from . import approvals, calendar, scope
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import check_version, flush
from .roles import GENERAL_MANAGER, role_names

NO_FIELDS: Mapping = MappingProxyType({})


# --- the rows ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One input of a step: its parser (raises ValueError with the message), whether it is required
    (always, or only `when` the record and the other values say so), and whether it is a column of
    the record of the same name (`stored`) or kept in the step entry only."""
    parse: Callable[[object], object]
    required: bool = True
    when: Callable | None = None  # (record, values) -> bool: required only then
    stored: bool = True

    def is_required(self, record, values) -> bool:
        return self.required if self.when is None else self.when(record, values)


def required(parse, **kwargs) -> Field:
    return Field(parse, required=True, **kwargs)


def optional(parse, **kwargs) -> Field:
    return Field(parse, required=False, **kwargs)


@dataclass(frozen=True)
class Only:
    """Within a step's roles, only `roles` may take it `when` (record, values) says so (e.g. assessing
    a complaint as major is the manager's)."""
    roles: frozenset[str]
    when: Callable
    reason: object


@dataclass(frozen=True)
class ApprovalRule:
    """The general manager's approval a step needs (SPEC §7), and what the decision does.

    `hold`: the record stays where it is until the GM approves; approving then completes the step
    (its target, its effect). Otherwise the step moves now and approving takes the record to
    `approved_target` (None: it stays). Rejecting takes it to `rejected_target` (None: it stays).
    While an approval is pending the record takes no step."""
    kind: str
    label: object
    summary: Callable  # (record) -> str, what the GM reads in the queue
    detail: Callable = lambda record: None
    when: Callable | None = None  # (record, values) -> bool; None: always
    hold: bool = False
    approved_target: str | None = None
    on_approved: Callable | None = None  # (session, record, approval, actor) -> None
    rejected_target: str | None = None
    on_rejected: Callable | None = None
    actions: tuple[str, str] | None = None  # the step entries' actions (default approve_/reject_<step>)

    def applies(self, record, values) -> bool:
        return self.when is None or self.when(record, values)


@dataclass(frozen=True)
class Step:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the record stays in its state (a step that records, like a progress entry)
    roles: frozenset[str]
    fields: Mapping[str, Field] = field(default_factory=dict)
    condition: Callable | None = None  # (session, record, actor) -> None; raises: the step is not offered
    check: Callable | None = None  # (session, record, actor, values) -> None; raises to refuse the input
    effect: Callable | None = None  # (session, record, actor, values) -> None; what the step writes besides
    route: Callable | None = None  # (record, values) -> state, where it goes instead of `target`
    approval: ApprovalRule | None = None
    only: Only | None = None
    comment_field: str | None = None  # a field that is also the step entry's comment
    label: object = None  # set by its Workflow from the one table of action labels (app.labels)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.fields.items() if f.required)

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.fields.items() if not f.required)


@dataclass(frozen=True)
class Deadline:
    """A deadline a record in some states runs against: `column` holds it (a datetime or a date);
    once `met_by` is set the deadline no longer runs."""
    code: str
    label: object
    column: str | None
    met_by: str | None = None
    # A deadline kept in another table (a visit's due return visit): how to read it, and in SQL.
    value: Callable | None = None  # (record) -> datetime | date | None
    sql: Callable | None = None  # (now) -> a condition true when it has passed

    def moment(self, record):
        if self.met_by and getattr(record, self.met_by, None):
            return None
        return self.value(record) if self.value else getattr(record, self.column, None)


@dataclass(frozen=True)
class Party:
    """Who acts: a label for people ("the first-responsible person"), the roles whose steps are theirs,
    and who they are for one record (`people(record, directory)` -> user ids; `name(record, directory)`
    -> how the status text names them)."""
    code: str
    label: object
    roles: frozenset[str]
    people: Callable
    name: Callable | None = None
    # The same people in SQL, to read one person's work without reading everyone's (my-work):
    # (viewer) -> a condition on the model true for every record `people` may give the viewer (None: all).
    where: Callable | None = None


@dataclass(frozen=True)
class Wait:
    """What a state waits for: its parties and deadlines; `when` false, the record waits on no party's step
    now, and `meanwhile(session, record)` says on what (the status text: «待各部门整改»)."""
    parties: tuple[Party, ...]
    deadlines: tuple[Deadline, ...] = ()
    when: Callable | None = None  # (session, record, at) -> bool: waits only then (no actor needed)
    meanwhile: Callable | None = None  # (session, record) -> a label of what it waits on instead


@dataclass(frozen=True)
class Viewer:
    """One person as the parties' SQL sees them (app.domain.worklist builds it from its Directory)."""
    user_id: int
    roles: frozenset[str]  # the roles they act in (active only)
    departments: tuple[int, ...]  # where they act as department staff
    active_ids: tuple[int, ...]  # every active user (who may be named on a record)
    staffed_departments: tuple[int, ...]  # departments with active department staff

    def acts_as(self, role: str) -> bool:
        return role in self.roles


def everyone_of(role: str) -> Callable:
    """A party that is every active user of `role`."""
    return lambda viewer: true() if viewer.acts_as(role) else false()


def person_or(column, fallback_role: str) -> Callable:
    """A party that is the person named in `column`, or every `fallback_role` when nobody active is."""
    def where(viewer):
        found = [column == viewer.user_id] if viewer.user_id in viewer.active_ids else []
        if viewer.acts_as(fallback_role):
            found.append(or_(column.is_(None), column.not_in(viewer.active_ids)))
        return or_(false(), *found)
    return where


def department_or(column, fallback_role: str) -> Callable:
    """A party that is the staff of the department in `column`, or every `fallback_role` when it has none."""
    def where(viewer):
        found = [column.in_(viewer.departments)] if viewer.departments else []
        if viewer.acts_as(fallback_role):
            found.append(or_(column.is_(None), column.not_in(viewer.staffed_departments)))
        return or_(false(), *found)
    return where


def through(foreign_key, target_id, where: Callable) -> Callable:
    """A party of a related record (a rectification item's visiting staff, named on its visit)."""
    return lambda viewer: foreign_key.in_(select(target_id).where(where(viewer)))


@dataclass
class Workflow:
    code: str
    label: object
    model: type
    states: type  # a LabelledEnum
    steps: tuple[Step, ...]
    waits: Mapping[str, Wait] = field(default_factory=dict)
    entry: Callable | None = None  # (session, record, action, source, target, actor, values, comment) -> None
    context: Callable | None = None  # (session, record, actor) -> None; refuses any step (e.g. the visit moved on)
    path: tuple[str, ...] = ()  # the states of the main path, in order, for the stepper
    number: Callable = lambda record: f"#{record.id}"
    what: object = _l("record")
    approvals: tuple[ApprovalRule, ...] = ()  # approvals requested when a record is created (request_approval)
    actions: Mapping[str, object] = field(default_factory=dict)  # the label of each action: a table of app.labels, the only copy
    # The relationships the worklist reads on a waiting record (its parties, conditions, deadlines and
    # summary), loaded with the records; None: every relationship.
    reads: tuple[str, ...] | None = None

    def __post_init__(self):
        for step in self.steps:
            if step.action not in self.actions:
                raise LookupError(f"{self.code}: the action {step.action!r} has no label in app.labels")
            object.__setattr__(step, "label", self.actions[step.action])
        self.by_action = {step.action: step for step in self.steps}
        WORKFLOWS[self.code] = self
        for step in self.steps:
            if step.approval:
                _register_approval(self, step.approval, step)
        for rule in self.approvals:
            _register_approval(self, rule, None)

    def step(self, action) -> Step | None:
        return self.by_action.get(action)

    def label_of_state(self, state) -> str:
        return self.states.label_of(state)

    # --- deadlines ------------------------------------------------------------------------------------

    def deadline_of(self, record) -> tuple[Deadline | None, datetime | date | None]:
        """The deadline a record waits for now: the first of its state's that is set and not met."""
        wait = self.waits.get(record.state)
        for deadline in wait.deadlines if wait else ():
            moment = deadline.moment(record)
            if moment is not None:
                return deadline, moment
        return None, None

    def overdue_reasons(self, record, now: datetime) -> list[str]:
        wait = self.waits.get(record.state)
        reasons = []
        for deadline in wait.deadlines if wait else ():
            moment = deadline.moment(record)
            if moment is not None and moment < (now if isinstance(moment, datetime) else now.date()):
                reasons.append(deadline.code)
        return reasons

    def overdue_clause(self, now: datetime):
        """The same rule in SQL: a record in a state one of whose running deadlines has passed."""
        model, by_state = self.model, []
        for state, wait in self.waits.items():
            passed = []
            for deadline in wait.deadlines:
                if deadline.sql:
                    passed.append(deadline.sql(now))
                    continue
                column = getattr(model, deadline.column)
                moment = now.date() if isinstance(column.type, Date) else now
                condition = column < moment
                if deadline.met_by:
                    condition = and_(condition, getattr(model, deadline.met_by).is_(None))
                passed.append(condition)
            if passed:
                by_state.append(and_(model.state == state, or_(*passed)))
        return or_(*by_state) if by_state else false()

    def deadline_columns(self) -> tuple[str, ...]:
        """The columns overdue_reasons reads (to select just them for a page of records)."""
        names = ["state"]
        for wait in self.waits.values():
            for deadline in wait.deadlines:
                names += [n for n in (deadline.column, deadline.met_by) if n and n not in names]
        return tuple(names)

    def waiting_for(self, viewer: Viewer):
        """In SQL: the records in a waiting state one of whose parties may include `viewer`."""
        model, by_state = self.model, []
        for state, wait in self.waits.items():
            parties = [party.where(viewer) if party.where else true() for party in wait.parties]
            by_state.append(and_(model.state == state, or_(*parties)))
        return or_(false(), *by_state)

    def deadline_labels(self) -> dict[str, object]:
        return {d.code: d.label for wait in self.waits.values() for d in wait.deadlines}


WORKFLOWS: dict[str, Workflow] = {}


def workflow_of(record) -> Workflow:
    for workflow in WORKFLOWS.values():
        if isinstance(record, workflow.model):
            return workflow
    raise LookupError(type(record).__name__)


# --- what an actor may do -------------------------------------------------------------------------

def _refusal(workflow, record, step, actor, session, *, scope_checked=False, pending=None):
    """Why this actor may not take this step now (an exception), or None."""
    if record.state not in step.sources:
        return TransitionNotAllowedError(_l("“%(action)s” is not possible while the %(what)s is “%(state)s”.",
                                            action=step.label, what=workflow.what,
                                            state=workflow.label_of_state(record.state)))
    if not step.roles & role_names(actor):
        return ForbiddenError(_l("Your role may not “%(action)s”.", action=step.label))
    if not scope_checked and not _visible(session, record, actor):
        return NotFoundError()
    if pending if pending is not None else approvals.pending_for(session, record):
        return TransitionNotAllowedError(_l("This %(what)s waits for the general manager's decision.",
                                            what=workflow.what))
    try:
        if workflow.context:
            workflow.context(session, record, actor)
        if step.condition:
            step.condition(session, record, actor)
    except (ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError) as exc:
        return exc
    return None


def allowed_steps(session, workflow: Workflow, record, actor) -> list[Step]:
    """The steps this actor may take on this record now: drives every button, the stepper and my-work."""
    if not _visible(session, record, actor):
        return []
    pending = approvals.pending_for(session, record) is not None
    return [step for step in workflow.steps
            if _refusal(workflow, record, step, actor, session, scope_checked=True, pending=pending) is None]


def _visible(session, record, actor) -> bool:
    model = type(record)
    if not (getattr(model, "__department_column__", None) or getattr(model, "__customer_service_only__", False)):
        return True
    query = scope.restrict(session.query(model.id).filter(model.id == record.id), model, actor, session)
    return query.first() is not None


# --- taking a step --------------------------------------------------------------------------------

def transition(session, workflow: Workflow, record, action: str, actor, version, values: dict | None = None,
               comment=None):
    """Take one step; refuses (raises) before anything is written."""
    check_version(record, version)
    step = workflow.step(action)
    if step is None:
        raise ValidationError({"action": _l("Unknown action: %(action)s", action=action)})
    refusal = _refusal(workflow, record, step, actor, session)
    if refusal is not None:
        raise refusal
    parsed = parse(step, record, dict(values or {}))
    if step.only and step.only.when(record, parsed) and not step.only.roles & role_names(actor):
        raise ForbiddenError(step.only.reason)
    if step.check:
        step.check(session, record, actor, parsed)
    rule = step.approval if step.approval and step.approval.applies(record, parsed) else None
    with audit.acting_as(session, actor), _transitioning(session):
        source = record.state
        _store(step, record, parsed)
        if rule is not None and rule.hold:
            # Nothing of the step happens but the request: the GM's approval completes it.
            move(session, workflow, record, action, source, source, actor, parsed, comment)
        else:
            if step.effect:
                step.effect(session, record, actor, parsed)
            target = step.route(record, parsed) if step.route else (step.target or source)
            move(session, workflow, record, action, source, target, actor, parsed,
                 comment if comment is not None else parsed.get(step.comment_field))
        if rule is not None:
            approvals.request(session, rule.kind, record, actor, summary=rule.summary(record),
                              detail=rule.detail(record))
    return record


def parse(step: Step, record, raw: dict) -> dict:
    """The step's fields, parsed; every error at once; a field the step does not take is an error."""
    errors = {name: _l("%(field)s cannot be set by this action.", field=name)
              for name in sorted(set(raw) - set(step.fields))}
    values = {}
    for name in step.fields.keys() & raw.keys():
        try:
            parsed = step.fields[name].parse(raw[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
            continue
        if parsed is not None:
            values[name] = parsed
    for name, spec in step.fields.items():
        if name not in values and name not in errors and spec.is_required(record, values):
            errors[name] = _l("This field is required.")
    if errors:
        raise ValidationError(errors)
    return values


def _store(step: Step, record, values: dict) -> None:
    for name, value in values.items():
        if step.fields[name].stored and hasattr(type(record), name):
            setattr(record, name, value)


def move(session, workflow: Workflow, record, action, source, target, actor, values, comment):
    """The one place a record's state changes (steps and the GM's decisions)."""
    with _transitioning(session):
        record.state = target
        if hasattr(type(record), "state_changed_at"):
            record.state_changed_at = calendar.local_now()
        # Always an UPDATE (version + 1, row locked), even for a step that changes no other column: a
        # concurrent step on a stale read is then refused by the version check.
        flag_modified(record, "state")
        if workflow.entry:
            workflow.entry(session, record, action, source, target, actor, values, comment)
        flush(session)


def entry_data(values: dict) -> str | None:
    """A step's fields as canonical JSON (lists and dicts kept, dates as ISO text)."""
    return audit.canonical_json(_plain(values)) if values else None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return audit._jsonable(value)


def entry_values(data: str | None) -> dict:
    return json.loads(data) if data else {}


# --- the general manager's decisions ------------------------------------------------------------------

def request_approval(session, workflow: Workflow, kind: str, record, actor) -> None:
    """A record created waiting for the GM (a loan outside the company): the workflow's rule `kind`."""
    rule = next(rule for rule in workflow.approvals if rule.kind == kind)
    approvals.request(session, rule.kind, record, actor, summary=rule.summary(record), detail=rule.detail(record))


def _register_approval(workflow: Workflow, rule: ApprovalRule, step: Step | None) -> None:
    name = step.action if step else rule.kind
    approve_action, reject_action = rule.actions or (f"approve_{name}", f"reject_{name}")

    def approved(session, record, approval, actor):
        with _transitioning(session):
            if rule.hold and step is not None:
                if step.effect:
                    step.effect(session, record, actor, {})
                target = step.target
            else:
                target = rule.approved_target or record.state
            if rule.on_approved:
                rule.on_approved(session, record, approval, actor)
            move(session, workflow, record, approve_action, record.state, target, actor, {}, approval.comment)

    def rejected(session, record, approval, actor):
        with _transitioning(session):
            if rule.on_rejected:
                rule.on_rejected(session, record, approval, actor)
            move(session, workflow, record, reject_action, record.state, rule.rejected_target or record.state, actor,
                 {}, approval.comment)

    approvals.register(approvals.ApprovalKind(rule.kind, rule.label, workflow.model, approved, rejected))


# --- the flush guard ------------------------------------------------------------------------------------

@contextmanager
def _transitioning(session) -> Iterator[None]:
    session.info["kefu_transition"] = session.info.get("kefu_transition", 0) + 1
    try:
        yield
    finally:
        session.info["kefu_transition"] -= 1


def creating(session):
    """For a record's first state, written by the function that creates it (open_complaint, plan_visit)."""
    return _transitioning(session)


def _state_written_outside(session, _ctx, _instances):
    """A workflow record's state changes only through transition() and the GM's decisions."""
    if session.info.get("kefu_transition"):
        return
    models = tuple(w.model for w in WORKFLOWS.values())
    for obj in session.dirty:
        if isinstance(obj, models) and inspect(obj).attrs.state.history.has_changes():
            raise TransitionNotAllowedError(_l("A record's state changes only through its workflow steps."))


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _state_written_outside):
        event.listen(session_class, "before_flush", _state_written_outside)


# --- the general manager as a party -------------------------------------------------------------------

GM_ROLES = frozenset({GENERAL_MANAGER})


def states_in_path(workflow: Workflow, record) -> list[tuple[str, str, str]]:
    """The stepper: (state code, label, "done" | "current" | "todo" | "off") for each state of the main
    path; a record off the path (closed as invalid) shows its state as current after the done ones."""
    path = list(workflow.path)
    if record.state not in path:
        reached = {s for s in path if _reached(workflow, s, record.state)}
        return [(s, workflow.label_of_state(s), "done" if s in reached else "off") for s in path] + \
            [(record.state, workflow.label_of_state(record.state), "current")]
    here = path.index(record.state)
    return [(s, workflow.label_of_state(s), "done" if i < here else "current" if i == here else "todo")
            for i, s in enumerate(path)]


def _reached(workflow: Workflow, state: str, off_path_state: str) -> bool:
    """Whether `state` lies before the off-path state (some step from it leads there)."""
    path = list(workflow.path)
    for step in workflow.steps:
        if step.target == off_path_state and step.sources & set(path):
            last = max(path.index(s) for s in step.sources if s in path)
            return path.index(state) <= last
    return False


def select_open(workflow: Workflow, *columns):
    return select(*columns).where(workflow.model.state.in_(list(workflow.waits)))
