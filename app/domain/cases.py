"""The case library (案例库): the company's knowledge, read by department staff, so it carries no
customer's name, phone, ID number or unit, and names its source record only to a reader who may see it.

Anonymising happens at flush (`install`), so every path that makes or changes an entry — the HTML form,
the API, a complaint's feedback step, a visit summary's "case" action, the demo loader — passes it.
The customer behind the source record is known, so their name, numbers and units are replaced where
they appear; numbers that look like a mobile, landline or ID number are replaced whoever they belong to.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import and_, event, false, inspect, or_, select

from app.models import (
    Building,
    CaseEntry,
    Complaint,
    Customer,
    CustomerUnit,
    Project,
    Unit,
    Visit,
    VisitSummary,
)

from . import scope

TEXT_FIELDS = ("title", "description", "cause", "lesson")
CUSTOMER_WORD = "某客户"
UNIT_WORD = "某户"
NUMBER_WORD = "***"
NUMBER_PATTERNS = (
    re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"),  # ID number, 18 digits
    re.compile(r"(?<!\d)\d{15}(?!\d)"),  # ID number, 15 digits
    re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),  # mobile
    re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)"),  # landline with area code
    re.compile(r"(?<!\d)[48]00[- ]?\d{3}[- ]?\d{4}(?!\d)"),  # 400 / 800 numbers
)
# Where a model keeps the customer and unit of a record a case entry can come from.
SOURCES = {"complaint": Complaint, "visit_summary": VisitSummary, "visit": Visit}


def redact(text: str | None, names=(), units=()) -> str | None:
    """The text with the given names and units and every phone or ID number replaced."""
    if not text:
        return text
    for unit in sorted({u for u in units if u}, key=len, reverse=True):  # "2栋 101" before "101"
        text = text.replace(unit, UNIT_WORD)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = text.replace(name, CUSTOMER_WORD)
    for pattern in NUMBER_PATTERNS:
        text = pattern.sub(NUMBER_WORD, text)
    return text


def _unit_labels(session, unit_ids) -> list[str]:
    """A unit as people write it: "翠湖 2栋 101" (its label), "翠湖2栋101室", "2栋101", "2栋 101室" ..."""
    rows = session.execute(select(Project.name, Building.name, Unit.number)
                           .join(Building, Building.id == Unit.building_id)
                           .join(Project, Project.id == Building.project_id)
                           .where(Unit.id.in_(unit_ids))).all() if unit_ids else []
    labels = []
    for project, building, number in rows:
        for text in (f"{project} {building} {number}", f"{project}{building}{number}", f"{building} {number}",
                     f"{building}{number}"):
            labels += [text + "室", text]
    return labels


def _people(session, source_table, source_id):
    """(customer ids, other names, other numbers, unit ids) behind a source record."""
    customers, names, unit_ids = set(), set(), set()
    model = SOURCES.get(source_table)
    record = session.get(model, source_id) if model is not None and source_id is not None else None
    visits = []
    if isinstance(record, Complaint):
        customers.add(record.customer_id)
        unit_ids.add(record.unit_id)
    elif isinstance(record, Visit):
        visits = [record]
    elif isinstance(record, VisitSummary):
        ids = json.loads(record.visit_ids or "[]")
        visits = session.scalars(select(Visit).where(Visit.id.in_(ids))).all() if ids else []
    for visit in visits:
        customers.add(visit.customer_id)
        unit_ids.add(visit.unit_id)
        names.add(visit.contact_name)
    return customers - {None}, names - {None}, unit_ids - {None}


def anonymise(session, entry: CaseEntry) -> None:
    """Replace the source's customers (names, contacts, units) and every phone or ID number in the text."""
    with session.no_autoflush:
        customer_ids, names, unit_ids = _people(session, entry.source_table, entry.source_id)
        for customer in session.scalars(select(Customer).where(Customer.id.in_(customer_ids))).all():
            names |= {customer.name, customer.main_contact, customer.property_contact}
            unit_ids |= set(session.scalars(select(CustomerUnit.unit_id)
                                            .where(CustomerUnit.customer_id == customer.id)))
        units = _unit_labels(session, unit_ids)
    for field in TEXT_FIELDS:
        value = getattr(entry, field)
        cleaned = redact(value, names, units)
        if cleaned != value:
            setattr(entry, field, cleaned)


def visible_sources(session, entries, actor) -> set[tuple[str, int]]:
    """The (table, id) sources of the entries that the actor may open (department scope)."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        table, source_id = _source_of(entry)
        if table in SOURCES and source_id is not None:
            wanted.setdefault(table, set()).add(source_id)
    visible = set()
    for table, ids in wanted.items():
        model = SOURCES[table]
        query = scope.restrict(session.query(model.id).filter(model.id.in_(ids)), model, actor, session)
        visible |= {(table, row.id) for row in query}
    return visible


def source_in_scope(session, actor):
    """SQL condition: the entry's source record is one the actor may open (the rule of
    `visible_sources`, for a query). A search by source is narrowed by it: otherwise a reader outside
    the source's department would learn, by filtering on `source_id`, which entries came from it."""
    return or_(false(), *(and_(CaseEntry.source_table == table,
                               CaseEntry.source_id.in_(scope.restrict(select(model.id), model, actor, session)))
                          for table, model in SOURCES.items()))


def _source_of(entry):
    if isinstance(entry, dict):
        return entry.get("source_table"), entry.get("source_id")
    return entry.source_table, entry.source_id


def _before_flush(session, _ctx, _instances) -> None:
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, CaseEntry) and (obj in session.new or _text_changed(obj)):
            anonymise(session, obj)


def _text_changed(entry) -> bool:
    state = inspect(entry)
    return any(state.attrs[f].history.has_changes() for f in (*TEXT_FIELDS, "source_table", "source_id"))


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
