"""What the workflow partials (templates/kefu/workflow/) show, read from a workflow's table: the buttons of
the steps the current user may take now, the form of one step built from its Field declarations, and
the timeline of step entries with people by their names, China time and every field labelled.

A page builds these and renders `_header.html`, `_step_buttons.html`, `_step_form.html` and
`_timeline.html`; no page hand-builds its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import flash, redirect, request, url_for
from flask_appbuilder.fieldwidgets import (
    BS3TextAreaFieldWidget,
    BS3TextFieldWidget,
    Select2ManyWidget,
    Select2Widget,
)
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import Input

from app import labels
from app.domain import approvals, fields
from app.domain.people import display_name, user_names
from app.models.choices import ApprovalState, Satisfaction

from .base import china_time

YES_NO = [("", "—"), ("yes", _l("Yes")), ("no", _l("No"))]
SCORES = [("", "—"), *Satisfaction.choices()]  # "5 非常满意" … "1 非常不满意"


# --- buttons --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Button:
    action: str
    label: str
    url: str
    confirm: str | None = None  # asked before a consequential step is sent
    post: bool = False  # a step without fields is taken by the button itself (a form with the version)
    version: int | None = None


def step_buttons(steps, endpoint: str, record, confirm=None, direct=()) -> list[Button]:
    """One button per allowed step: a link to the step's form, or (`direct` actions, steps without fields)
    a button that posts the step at once. `endpoint` takes (pk, action), or is {action: endpoint taking pk}.
    `confirm` {action: question} marks the consequential ones."""
    confirm = confirm or {}
    buttons = []
    for step in steps:
        question = str(confirm[step.action]) if step.action in confirm else None
        url = url_for(endpoint[step.action], pk=record.id) if isinstance(endpoint, dict) \
            else url_for(endpoint, pk=record.id, action=step.action)
        buttons.append(Button(step.action, str(step.label), url, question, post=step.action in direct,
                              version=record.version))
    return buttons


# --- a step's form ----------------------------------------------------------------------------------

class NativeInput(Input):
    """The browser's own date or date-and-time input, styled like the other fields. (FAB's date-time
    picker formats its input as a date only on blur, dropping the time; the browser's keeps it, and
    sends ISO values the domain parses.)"""

    validation_attrs = ["required", "disabled", "readonly", "min", "max", "step"]

    def __call__(self, field, **kwargs):
        kwargs.setdefault("class", "form-control")
        return super().__call__(field, **kwargs)


def _enum_of(parse):
    """The enum a `fields.choice(Enum)` / `fields.choices(Enum)` parser checks against (read from its closure)."""
    seen = set()
    todo = [parse]
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for cell in getattr(fn, "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, type) and hasattr(value, "choices"):
                return value
            if callable(value):
                todo.append(value)
        wrapped = getattr(fn, "__wrapped__", None)
        if wrapped is not None:
            todo.append(wrapped)
    return None


def field_kind(name: str, spec, ticks=()) -> str:
    """How a step field is typed in, from its parser: the parser is the one truth of what it takes."""
    parse = spec.parse
    if name in ticks or parse is fields.confirmed:
        return "tick"
    simple = {fields.text: "text", fields.yes_no: "yes_no", fields.satisfaction: "score",
              fields.a_date: "date", fields.a_moment: "moment", fields.record_id: "record"}
    if parse in simple:
        return simple[parse]
    if _enum_of(parse) is not None:
        # fields.choice(Enum) takes one value (wrapped by fields.scalar); fields.choices(Enum) takes a list.
        return "choice" if hasattr(parse, "__wrapped__") else "choices"
    raise LookupError(name)


@dataclass
class FormSpec:
    """How a workflow's step fields look on a form: labels, which text fields are long, which yes/no fields
    are a box to tick, the records a `record_id` field chooses from ({name: [(id, label)]}), help texts."""
    labels: object
    long_text: frozenset = frozenset()
    ticks: frozenset = frozenset()
    records: dict = field(default_factory=dict)
    descriptions: dict = field(default_factory=dict)
    comment: bool = True


def step_form(step, spec: FormSpec, names=None) -> type:
    """A WTForms form for one step: its fields (or `names` of them) as declared, a hidden version and,
    when the spec says so, a comment."""

    class StepForm(DynamicForm):
        version = HiddenField()

    if spec.comment:
        StepForm.comment = TextAreaField(_l("Comment"), widget=BS3TextAreaFieldWidget())
    for name in names if names is not None else field_names(step):
        setattr(StepForm, name, _field(name, step.fields[name], spec))
    return StepForm


def field_names(step) -> list[str]:
    return [*step.required, *step.optional]


def _field(name, declared, spec: FormSpec):
    label = spec.labels.get(name, name)
    description = spec.descriptions.get(name, "")
    kind = field_kind(name, declared, spec.ticks)
    if kind == "text" and name in spec.long_text:
        return TextAreaField(label, description=description, widget=BS3TextAreaFieldWidget())
    if kind == "text":
        return StringField(label, description=description, widget=BS3TextFieldWidget())
    if kind == "choice":
        return SelectField(label, choices=[("", "—"), *_enum_of(declared.parse).choices()], validate_choice=False,
                           description=description, widget=Select2Widget())
    if kind == "choices":
        return SelectMultipleField(label, choices=_enum_of(declared.parse).choices(), validate_choice=False,
                                   description=description, widget=Select2ManyWidget())
    if kind == "record":
        choices = [("", "—"), *((str(pk), text) for pk, text in spec.records.get(name, ()))]
        return SelectField(label, choices=choices, validate_choice=False, description=description,
                           widget=Select2Widget())
    if kind == "date":
        return StringField(label, description=description, widget=NativeInput("date"))
    if kind == "moment":
        return StringField(label, description=description or _l("China time"), widget=NativeInput("datetime-local"))
    if kind == "yes_no":
        return SelectField(label, choices=YES_NO, validate_choice=False, description=description,
                           widget=Select2Widget())
    if kind == "score":
        return SelectField(label, choices=SCORES, validate_choice=False, description=description,
                           widget=Select2Widget())
    return BooleanField(label, description=description)


def step_values(step, form, spec: FormSpec, names=None) -> dict:
    """The submitted values the domain parses; a blank field is not sent (the domain says if it is required)."""
    values = {}
    for name in names if names is not None else field_names(step):
        data, kind = form[name].data, field_kind(name, step.fields[name], spec.ticks)
        if kind == "tick":
            values[name] = bool(data)
        elif kind == "choices":
            if data:
                values[name] = list(data)
        elif data is not None and str(data).strip() != "":
            values[name] = data
    return values


def mark_required(form, step) -> None:
    for name, declared in step.fields.items():
        if name in form and declared.required:
            form[name].flags.required = True


def open_step_form(form_class, step, record, allowed, not_open):
    """The form of a step as posted, or (GET) empty with the version read: (form, None); or, when the step
    is not open to the user now (`allowed()` the steps that are), (form, a redirect to the record with
    `not_open` flashed)."""
    form = form_class(formdata=request.form if request.method == "POST" else None)
    mark_required(form, step)
    if request.method == "GET":
        if step not in allowed():
            flash(str(not_open), "warning")
            return form, redirect(url_for(".show", pk=record.id))
        form.version.data = record.version
    return form, None


# --- the timeline -----------------------------------------------------------------------------------

@dataclass
class Entry:
    at: str
    actor: str
    action: str
    code: str
    source: str = ""
    target: str = ""
    comment: str = ""
    data: list = field(default_factory=list)  # (label, text) of each field the step took
    tag: str = ""  # e.g. the rectification item and its round
    attrs: dict = field(default_factory=dict)  # data-* attributes of the entry


def minute(value) -> str:
    """A moment as China time to the minute (every record keeps China local time)."""
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def people(session, ids=(), logins=()) -> tuple[dict[int, str], dict[str, str]]:
    """Full names of users by id and by login, in at most two queries."""
    by_login = {}
    logins = {name for name in logins if name}
    if logins:
        rows = session.execute(select(User.username, User.first_name, User.last_name)
                               .where(User.username.in_(logins))).all()
        by_login = {r.username: display_name(r.first_name, r.last_name, r.username) for r in rows}
    return user_names(session, ids), by_login


SYSTEM = _l("System")


def person(by_id, by_login, user_id=None, login=None) -> str:
    """A person by name; someone the directory no longer knows stays anonymous, never a login name."""
    if user_id and user_id in by_id:
        return by_id[user_id]
    if login and login in by_login:
        return by_login[login]
    return str(SYSTEM) if not user_id and login in (None, "", "system") else str(_l("a former user"))


def step_entries(session, rows, *, action_label, state_label, field_label, field_text, order=None,
                 extra=None) -> list[Entry]:
    """The timeline of step-entry rows (ComplaintStep, VisitStep): `field_text(name, value)` makes a stored
    value readable, `order(row)` the fields of its step in form order, `extra(row, entry)` adds to an entry."""
    by_id, by_login = people(session, {r.actor_id for r in rows}, {r.actor_name for r in rows if not r.actor_id})
    entries = []
    for row in rows:
        try:
            data = json.loads(row.data) if row.data else {}
        except ValueError:
            data = {}
        known = order(row) if order else []
        names = sorted(data, key=lambda k: (known.index(k) if k in known else len(known), k))
        entry = Entry(
            at=minute(row.at), actor=person(by_id, by_login, row.actor_id, row.actor_name),
            action=action_label(row.action), code=row.action,
            source=state_label(row.from_state) if row.from_state else "", target=state_label(row.to_state),
            comment=row.comment or "",
            data=[(str(field_label(k)), text) for k in names if (text := field_text(k, data[k]))])
        if extra:
            extra(row, entry)
        entries.append(entry)
    return entries


def labelled(table):
    """A field label from one of app.labels' tables (the name itself when the table has none)."""
    return lambda name: labels.label(table, name)


# --- the general manager's decisions ------------------------------------------------------------------

@dataclass
class ApprovalRow:
    id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    requested_by: str
    requested_at: str
    decided_by: str
    comment: str


def approval_rows(session, found) -> list[ApprovalRow]:
    """The approvals of a record as its page lists them: people by their names, China time."""
    by_id, by_login = people(session, {a.requested_by_id for a in found} | {a.decided_by_id for a in found})
    return [ApprovalRow(a.id, a.kind, _kind_label(a.kind), a.state, ApprovalState.label_of(a.state),
                        person(by_id, by_login, a.requested_by_id, a.requested_by_name), china_time(a.requested_at),
                        person(by_id, by_login, a.decided_by_id, a.decided_by_name) if a.decided_at else "",
                        a.comment or "") for a in found]


def approval_entries(session, found) -> list[Entry]:
    """A record's requests to the general manager and the decisions, as timeline entries (for the records
    whose workflow keeps no step entries of its own: summaries, loans)."""
    by_id, by_login = people(session, {a.requested_by_id for a in found} | {a.decided_by_id for a in found})
    entries = []
    for a in sorted(found, key=lambda a: a.id):
        entries.append(Entry(china_time(a.requested_at), person(by_id, by_login, a.requested_by_id,
                                                                  a.requested_by_name),
                             str(_l("Submitted to the general manager: %(what)s", what=_kind_label(a.kind))),
                             "request_approval"))
        if a.decided_at:
            entries.append(Entry(china_time(a.decided_at), person(by_id, by_login, a.decided_by_id,
                                                                    a.decided_by_name),
                                 f"{_kind_label(a.kind)} · {ApprovalState.label_of(a.state)}", f"{a.state}_approval",
                                 comment=a.comment or ""))
    return entries


def _kind_label(code: str) -> str:
    kind = approvals.KINDS.get(code)
    return str(kind.label) if kind else code
