"""The timeline of a visit and of its rectification items, for the workflow timeline partial: one entry
per step (app.views.workflow.step_entries: people by their names, China time), the visit's table-like
fields (the items inspected, the rectifications assigned) made readable here."""

from __future__ import annotations

import ast
import re

from flask_babel import lazy_gettext as _l

from app import labels
from app.domain import visits
from app.models.choices import ItemResult, ServiceItem, VisitMethod

from ..workflow import step_entries
from .common import RECTIFICATION, VISIT, item_label, yes_no_text


def visit_action_label(code: str) -> str:
    step = visits.VISIT_STEP_BY_ACTION.get(code) or visits.RECTIFICATION_STEP_BY_ACTION.get(code)
    return str(step.label if step else labels.label(labels.VISIT_ACTIONS, code))


def _stored_rows(value):
    """The rows of a table-like step field as stored: a list, or (how the domain's step entry keeps a list
    today, through audit._jsonable) its Python text, dates included; None when unreadable."""
    if isinstance(value, list):
        return value
    text = re.sub(r"datetime\.date\((\d+), (\d+), (\d+)\)",
                  lambda m: f"'{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}'", str(value))
    try:
        rows = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return rows if isinstance(rows, list) and all(isinstance(r, dict) for r in rows) else None


def _step_field_text(name, value, departments, items_by_id) -> str:
    """One field a step stored, readable."""
    if value is None or value == "":
        return ""
    if name in ("items", "rectifications"):
        value = _stored_rows(value)
        if value is None:
            return ""
    if name == "items":
        return "\n".join(
            f"{ServiceItem.label_of(i.get('service_item'))}：{ItemResult.label_of(i.get('result'))}"
            + (f" — {i['opinion']}" if i.get("opinion") else "") + (f"（{i['explanation']}）" if i.get("explanation") else "")
            for i in value)
    if name == "rectifications":
        lines = []
        for row in value:
            item = items_by_id.get(row.get("item_id"))
            what = item_label(item) if item else f"#{row.get('item_id')}"
            lines.append(f"{what} → {departments.get(row.get('department_id'), row.get('department_id'))}："
                         f"{row.get('measure')}（{row.get('responsible_person')}，{row.get('deadline')}）")
        return "\n".join(lines)
    if name == "department_id":
        return departments.get(value, str(value))
    if name == "return_visit_method":
        return VisitMethod.label_of(value)
    if isinstance(value, bool):
        return yes_no_text(value)
    if name in ("visited_at",) and isinstance(value, str):
        return value.replace("T", " ")[:16]
    return str(value)


STEP_FIELD_LABELS = {**VISIT, **RECTIFICATION, "items": VISIT["items"], "rectifications": VISIT["rectifications"],
                     "satisfaction": VISIT["satisfaction"], "department_id": RECTIFICATION["department_id"]}


def visit_timeline(session, steps, departments, items_by_id, rectification_numbers, state_label) -> list:
    """The entries of VisitStep rows: a rectification item's steps tagged with its number and round."""
    def order(row):
        table = visits.VISIT_STEP_BY_ACTION.get(row.action) if row.rectification_id is None \
            else visits.RECTIFICATION_STEP_BY_ACTION.get(row.action)
        return [*table.required, *table.optional] if table else []

    def extra(row, entry):
        if row.customer_told is not None:
            entry.data.insert(0, (str(RECTIFICATION["customer_told"]), yes_no_text(row.customer_told)))
        if row.rectification_id:
            entry.tag = f"{rectification_numbers.get(row.rectification_id, '')} · {_l('Round %(n)s', n=row.round)}"
            entry.attrs = {"rectification": row.rectification_id, "round": row.round}

    return step_entries(session, steps, action_label=visit_action_label, state_label=state_label,
                        field_label=lambda name: STEP_FIELD_LABELS.get(name, name), order=order, extra=extra,
                        field_text=lambda name, value: "" if name == "customer_told" else
                        _step_field_text(name, value, departments, items_by_id))
