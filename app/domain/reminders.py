"""What is due and overdue, per person: `flask --app run reminders` (SPEC §10), for a scheduler.

Who acts next on what, and by when, is app.domain.worklist's (read from the workflow tables): my-work
shows each person exactly their part of it. This module words it as text or JSON.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from app import labels

from . import calendar
from .workflow import WORKFLOWS
from .worklist import Item, Person, waiting

OTHER_DUE = {"approval": _l("approval"), "calendar": _l("calendar year")}
OTHER_KINDS = {"approval": _l("Approval"), "calendar": _l("Calendar")}


def due_and_overdue(session, at: datetime | None = None) -> list[Person]:
    return waiting(session, at)


def due_label(code: str) -> str:
    for workflow in WORKFLOWS.values():
        deadlines = workflow.deadline_labels()
        if code in deadlines:
            return str(deadlines[code])
    return str(OTHER_DUE.get(code, code))


# --- plain text ---------------------------------------------------------------------------------

def _when(moment) -> str:
    if moment is None:
        return "—"
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else f"{moment:%Y-%m-%d}"


def action_label(kind: str, code: str) -> str:
    step = WORKFLOWS[kind].step(code) if kind in WORKFLOWS else None
    return str(step.label) if step else labels.label(labels.WORK_ACTIONS, code)


def state_label(item: Item) -> str:
    if item.kind in WORKFLOWS:
        return WORKFLOWS[item.kind].label_of_state(item.state)
    return str(OTHER_KINDS.get(item.kind, item.kind))


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
            state = state_label(item)
            todo = " / ".join(action_label(item.kind, a) for a in item.actions) or "—"
            due = due_label(item.due) if item.due else ""
            late = ""
            if item.overdue:
                late = "  " + str(_l("OVERDUE: %(what)s", what=", ".join(due_label(r) for r in item.overdue)))
            lines.append(f"  {'!' if item.overdue else '·'} {item.number}  {state} → {todo}  "
                         f"{due} {_when(item.due_at)}{late}  | {item.summary}")
    return lines


def as_json(people: list[Person], at: datetime) -> dict:
    overdue = sum(p.overdue_count for p in people)
    total = sum(len(p.items) for p in people)
    return {"at": at.isoformat(sep=" ", timespec="minutes"), "timezone": str(calendar.LOCAL_ZONE),
            "overdue": overdue, "due": total - overdue, "people": [p.as_dict() for p in people]}
