"""The timeline of a visit and of its rectification items (one entry per step, fields labelled and
readable), shared by the visit's and the rectification item's detail pages."""

from __future__ import annotations

import ast
import json
import re

from app.domain import visits
from app.models.choices import ItemResult, ServiceItem, VisitMethod

from .common import EXTRA_ACTIONS, RECTIFICATION, VISIT, item_label, minute_text, yes_no_text


def visit_action_label(code: str) -> str:
    step = visits.VISIT_STEP_BY_ACTION.get(code) or visits.RECTIFICATION_STEP_BY_ACTION.get(code)
    return str(step.label if step else EXTRA_ACTIONS.get(code, code))


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


def timeline_entry(step, departments, items_by_id, rectification_numbers, state_label) -> dict:
    try:
        data = json.loads(step.data) if step.data else {}
    except ValueError:
        data = {}
    table = visits.VISIT_STEP_BY_ACTION.get(step.action) if step.rectification_id is None \
        else visits.RECTIFICATION_STEP_BY_ACTION.get(step.action)
    order = [*table.required, *table.optional] if table else []
    names = sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {
        "at": minute_text(step.at), "actor": step.actor_name, "action": visit_action_label(step.action),
        "code": step.action, "rectification": rectification_numbers.get(step.rectification_id, ""),
        "rectification_id": step.rectification_id, "round": step.round,
        "from": state_label(step.from_state) if step.from_state else "", "to": state_label(step.to_state),
        "comment": step.comment or "", "customer_told": step.customer_told,
        "data": [(str(STEP_FIELD_LABELS.get(k, k)), _step_field_text(k, data[k], departments, items_by_id))
                 for k in names if k != "customer_told"],
    }

