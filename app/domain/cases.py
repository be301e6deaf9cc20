"""The case library (案例库): the company's knowledge, read by department staff, so it carries no
customer's name, phone, ID number or unit, and names its source record only to a reader who may see it.

The rules of an entry live here, once: who may write the library (`may_write`), which fields an entry
needs and which values they take (`entry_errors`; the choices of stage and category are those of
CHOICES, which the forms and the API's schema offer). Every path makes an entry through `new_entry`
(the API, a complaint's feedback step, a visit summary's "case" action) or `add_entry` (the HTML form,
whose fields are already typed), and changes one through `change_entry` / `save_entry`; the flush
checks the same rules again (`install`), so an entry made any other way cannot break them either.

Anonymising happens at flush too, so every path passes it. The customer behind the source record is
known, so their name, numbers and units are replaced where they appear; numbers that look like a
mobile, landline or ID number are replaced whoever they belong to.
"""

from __future__ import annotations

import json
import re
from types import MappingProxyType

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, event, false, inspect, or_, select

from app import audit
from app.models import (
    Building,
    CaseEntry,
    Complaint,
    Customer,
    CustomerUnit,
    Department,
    Project,
    Unit,
    Visit,
    VisitSummary,
)
from app.models.choices import CaseCategory, CaseStage

from . import fields, records, scope
from .errors import ForbiddenError, ValidationError
from .roles import CS_MANAGER, role_names

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

# --- the rules of an entry -----------------------------------------------------------------------------

WRITERS = frozenset({CS_MANAGER})  # SPEC §1: the case library is the customer-service manager's
FIELDS = ("title", "project_id", "stage", "category", "description", "photos", "cause", "lesson",
          "department_id", "source_table", "source_id")
REQUIRED = ("title", "stage", "category", "description")
CHOICES = MappingProxyType({"stage": CaseStage, "category": CaseCategory})
MAX_LENGTH = MappingProxyType({"title": 200})  # the column's size
TEXTS = ("title", "description", "photos", "cause", "lesson")
REFERENCES = MappingProxyType({  # field -> (model, relationship, message when it names nothing)
    "project_id": (Project, "project", _l("This project does not exist.")),
    "department_id": (Department, "department", _l("This department does not exist.")),
})
REQUIRED_MESSAGE = _l("This field is required.")


def may_write(actor) -> bool:
    """Whether the actor may add, change or delete entries of the case library."""
    return bool(role_names(actor) & WRITERS)


def choices(field: str, blank: bool = False) -> list[tuple[str, object]]:
    """(code, label) of a coded field (stage, category), for a form's select; `blank` puts "—" first."""
    return [*([("", "—")] if blank else []), *CHOICES[field].choices()]


def _check_writer(actor) -> None:
    if not may_write(actor):
        raise ForbiddenError(_l("Only the customer-service manager adds to the case library."))


@fields.scalar
def _text(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(_l("Please enter text."))
    return value.strip() or None


def _choice_or_blank(enum_class):
    @fields.scalar
    def parse(value):
        return None if value in (None, "") else fields.choice(enum_class)(value)
    return parse


@fields.scalar
def _id(value):
    """A record's id: a whole number (or its digits as text); true/false or 1.5 name no record."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(_l("Please choose a record."))
    return fields.record_id(value)


@fields.scalar
def _source_table(value):
    if value in (None, ""):
        return None
    if value not in SOURCES:
        raise ValueError(_l("%(value)s is not one of the allowed values.", value=value))
    return value


PARSERS = MappingProxyType({
    **{name: _text for name in TEXTS},
    "stage": _choice_or_blank(CaseStage), "category": _choice_or_blank(CaseCategory),
    "project_id": _id, "department_id": _id, "source_id": _id, "source_table": _source_table,
})


def parse(values) -> tuple[dict, dict]:
    """(parsed values, errors per field) of the values a client sent; unknown fields are errors."""
    parsed, errors = {}, {}
    for name, value in values.items():
        if name not in PARSERS:
            errors[name] = _l("%(field)s cannot be set here.", field=name)
            continue
        try:
            parsed[name] = PARSERS[name](value)
        except ValueError as exc:
            errors[name] = exc.args[0]
    return parsed, errors


def entry_errors(session, entry: CaseEntry) -> dict:
    """{field: message} for every rule the entry breaks (all of them at once; empty when it is valid)."""
    errors = {}
    for name in REQUIRED:
        value = getattr(entry, name)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[name] = REQUIRED_MESSAGE
    for name, enum_class in CHOICES.items():
        value = getattr(entry, name)
        if name not in errors and value not in {m.value for m in enum_class}:
            errors[name] = _l("%(value)s is not one of the allowed values.", value=value)
    for name in TEXTS:
        value = getattr(entry, name)
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL cannot store it
            errors[name] = _l("The text contains a character that cannot be stored (NUL).")
        elif isinstance(value, str) and len(value) > MAX_LENGTH.get(name, len(value)):
            errors[name] = _l("At most %(n)s characters.", n=MAX_LENGTH[name])
    with session.no_autoflush:
        for name, (model, relation, message) in REFERENCES.items():
            value, related = getattr(entry, name), getattr(entry, relation)
            # A form sets the related record itself (its id follows at flush); the API sets the id.
            if value is not None and getattr(related, "id", None) != value and session.get(model, value) is None:
                errors[name] = message
        table, source_id = entry.source_table, entry.source_id
        if table is not None and table not in SOURCES:
            errors["source_table"] = _l("%(value)s is not one of the allowed values.", value=table)
        elif (table is None) != (source_id is None):
            errors["source_id" if table else "source_table"] = _l(
                "Give both the source table and the source record, or neither.")
        elif table is not None and session.get(SOURCES[table], source_id) is None:
            errors["source_id"] = _l("This record does not exist.")
    return errors


def _save(session, entry: CaseEntry, actor) -> CaseEntry:
    errors = entry_errors(session, entry)
    if errors:
        raise ValidationError(errors)
    with audit.acting_as(session, actor):
        if entry not in session:
            session.add(entry)
        records.flush(session)
    return entry


def new_entry(session, actor, *, title=None, stage=None, category=None, description=None, lesson=None,
              cause=None, photos=None, project_id=None, department_id=None, source_table=None,
              source_id=None, names=None) -> CaseEntry:
    """A new entry of the case library from the values a client sent (text, codes, ids). Refused with
    403 unless the actor may write the library, with 422 naming every field that breaks a rule (a
    required one missing, a code not among the choices, an id naming nothing); nothing is written then.
    `names` renames fields in the errors to the caller's (a step's form calls the title `case_title`)."""
    _check_writer(actor)
    values, errors = parse(dict(title=title, stage=stage, category=category, description=description,
                                lesson=lesson, cause=cause, photos=photos, project_id=project_id,
                                department_id=department_id, source_table=source_table, source_id=source_id))
    entry = CaseEntry(**values)
    errors = {**entry_errors(session, entry), **errors}  # a parser's message says more than "required"
    if errors:
        raise ValidationError({(names or {}).get(name, name): message for name, message in errors.items()})
    return _save(session, entry, actor)


def change_entry(session, entry: CaseEntry, actor, version, **values) -> CaseEntry:
    """Change the given fields of an entry (the version read guards against a lost update)."""
    _check_writer(actor)
    records.check_version(entry, version)
    parsed, errors = parse(values)
    for name, value in parsed.items():
        setattr(entry, name, value)
    errors = {**entry_errors(session, entry), **errors}  # all at once; the caller's unit of work rolls back
    if errors:
        raise ValidationError(errors)
    return _save(session, entry, actor)


def add_entry(session, actor, entry: CaseEntry) -> CaseEntry:
    """A new entry whose fields a form has already set (the HTML page): the same rules as new_entry."""
    _check_writer(actor)
    for name in TEXTS:
        value = getattr(entry, name)
        if isinstance(value, str):
            setattr(entry, name, value.strip() or None)
    return _save(session, entry, actor)


def save_entry(session, entry: CaseEntry, actor, version) -> CaseEntry:
    """An entry a form has changed (the HTML page)."""
    _check_writer(actor)
    records.check_version(entry, version)
    return add_entry(session, actor, entry)


def delete_entry(session, entry: CaseEntry, actor, version) -> None:
    _check_writer(actor)
    records.delete(session, entry, actor, version)


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
        if isinstance(obj, CaseEntry) and (obj in session.new or session.is_modified(obj)):
            errors = entry_errors(session, obj)  # the rules hold whichever way an entry was made
            if errors:
                raise ValidationError(errors)


def _text_changed(entry) -> bool:
    state = inspect(entry)
    return any(state.attrs[f].history.has_changes() for f in (*TEXT_FIELDS, "source_table", "source_id"))


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
