"""Importing customers (and the unit each holds) from an Excel sheet (.xlsx).

The sheet is read twice, streaming (openpyxl read-only, values only): the first pass checks every row
(the field rules of app.domain.rules, applied to the row's values) and keeps only what the checks need
(the phones and ID numbers seen, with their row, and the units already looked up); the second pass, run
only when no row is wrong, writes every row in the caller's one transaction, in batches: new customers
and their unit links by executemany with the audit rows the flush hook would write (app.audit.append,
the same chain), updates through the ORM flush (its rules and its audit diff of old and new values).

A row whose ID number belongs to an existing customer updates that customer (its non-blank cells);
every other row creates one. A row naming a project, building and unit links the customer to it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app import audit
from app.labels import CUSTOMER, PROPERTY
from app.models import Building, Customer, CustomerUnit, Project, Unit
from app.models.choices import CustomerKind, CustomerStage, Gender

from . import records
from .errors import ValidationError
from .privacy import mask
from .rules import rules_for

MAX_BYTES = 50 * 1024 * 1024
BATCH = 500
LOOKUP_CHUNK = 500

# The columns of the template, in order: customer fields, then the unit (project, building, unit number).
CUSTOMER_COLUMNS = ("name", "kind", "stage", "gender", "id_number", "mobile", "phone", "email", "address",
                    "birthday", "certificate_number", "certificate_issued_on", "remarks")
UNIT_COLUMNS = ("project", "building", "number")
COLUMNS = CUSTOMER_COLUMNS + UNIT_COLUMNS
DATE_FIELDS = ("birthday", "certificate_issued_on")
CHOICES = {"kind": CustomerKind, "stage": CustomerStage, "gender": Gender}
# Headers people type for the same column in their own sheets.
ALIASES = {"姓名": "name", "客户姓名": "name", "客户名称": "name", "身份证": "id_number", "身份证号": "id_number",
           "身份证号码": "id_number", "手机号": "mobile", "手机号码": "mobile", "联系电话": "phone",
           "楼号": "building", "房间号": "number", "单元号": "number", "阶段": "stage", "客户类型": "kind"}

NOT_XLSX = _l("This is not an Excel workbook (.xlsx); please save the sheet as .xlsx and upload it again.")
TOO_LARGE = _l("The file is larger than 50 MB; please split it.")
NO_NAME_COLUMN = _l("The sheet has no Name column: the first row must hold the template's headers.")
EMPTY = _l("The sheet has no rows to import.")
INVALID = _l("%(count)s rows are not valid; nothing was imported. Correct them and upload the file again.")


def label(column: str) -> str:
    return str(PROPERTY[column] if column in UNIT_COLUMNS else CUSTOMER[column])


def headers() -> list[str]:
    return [label(c) for c in COLUMNS]


def template() -> bytes:
    """An empty sheet with the headers (in the current language) and one example row."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(str(_l("Customers")))
    sheet.append(headers())
    example = {"name": "张三", "kind": CustomerKind.label_of("person"), "stage": CustomerStage.label_of("owner"),
               "gender": Gender.label_of("male"), "id_number": "11010519491231002X", "mobile": "13800000000",
               "birthday": "1949-12-31", "project": "试验花园", "building": "1栋", "number": "101"}
    sheet.append([text_cell(sheet, example.get(c)) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def text_cell(sheet, value):
    """A cell that holds the value as text: openpyxl would write a string starting with "=" as a formula."""
    if value is None or isinstance(value, (int, float, date)):
        return value
    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"
    return cell


# --- reading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def as_json(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class Result:
    rows: int = 0
    created: int = 0
    updated: int = 0
    linked: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.rows > 0

    def as_json(self) -> dict:
        return {"rows": self.rows, "created": self.created, "updated": self.updated, "linked": self.linked,
                "error_count": len(self.errors), "errors": [e.as_json() for e in self.errors]}

    def errors_by_row(self) -> dict[int, str]:
        found: dict[int, list[str]] = {}
        for error in self.errors:
            found.setdefault(error.row, []).append(f"{error.column}：{error.message}")
        return {row: "；".join(messages) for row, messages in found.items()}


def open_sheet(data: bytes):
    """The workbook's first sheet, read-only; a file that is not an .xlsx is refused (422)."""
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": TOO_LARGE})
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValidationError({"file": NOT_XLSX})
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        return book, book.worksheets[0]
    except Exception:  # noqa: BLE001 - whatever openpyxl raises on a broken or foreign zip: not a workbook
        raise ValidationError({"file": NOT_XLSX}) from None


def _header_map() -> dict[str, str]:
    """Header text -> field: the labels in Chinese, in English and in the current language, the field
    codes, and the aliases people use."""
    names = {label(c): c for c in COLUMNS}
    for locale in ("zh", "en"):
        with force_locale(locale):
            names.update({label(c): c for c in COLUMNS})
    names.update({c: c for c in COLUMNS})
    names.update(ALIASES)
    return names


def read_rows(data: bytes) -> Iterator[tuple[int, dict[str, object]]]:
    """(row number as Excel shows it, {field: raw value}) for every non-empty row after the header."""
    book, sheet = open_sheet(data)
    try:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None) or ()
        known = _header_map()
        positions = {}
        for i, name in enumerate(header):
            column = known.get(str(name).strip()) if name is not None else None
            if column and column not in positions:
                positions[column] = i
        if "name" not in positions:
            raise ValidationError({"file": NO_NAME_COLUMN})
        for number, values in enumerate(rows, start=2):
            if not values or all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            yield number, {c: (values[i] if i < len(values) else None) for c, i in positions.items()}
    finally:
        book.close()


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed as a number
    if isinstance(value, datetime):
        value = value.date()
    text = str(value).strip()
    return text or None


def choice_maps() -> dict[str, dict[str, str]]:
    """{field: {text: code}}: each choice's code, its label in Chinese and in the current language."""
    maps = {}
    for column, enum_class in CHOICES.items():
        texts = {code: code for code in enum_class.LABELS}
        texts.update({str(shown): code for code, shown in enum_class.LABELS.items()})
        with force_locale("zh"):
            texts.update({str(shown): code for code, shown in enum_class.LABELS.items()})
        maps[column] = texts
    return maps


def _date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(part.zfill(2) for part in text.split("-")))
    except ValueError:
        return None


UNKNOWN_CHOICE = {
    "kind": _l("Unknown customer kind %(value)s (use 个人 or 公司)."),
    "stage": _l("Unknown customer stage %(value)s."),
    "gender": _l("Unknown gender %(value)s."),
}
BAD_DATE = _l("Not a date: %(value)s (use 2024-05-20).")


def parse(raw: dict[str, object], choices: dict | None = None) -> tuple[dict, dict[str, str], dict[str, str]]:
    """(customer fields, unit names, {field: message}) from one row's raw cells."""
    choices = choices or choice_maps()
    values, unit, errors = {}, {}, {}
    for column, cell in raw.items():
        if column in UNIT_COLUMNS:
            unit[column] = _text(cell)
        elif column in DATE_FIELDS:
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            parsed = _date(cell)
            if parsed is None:
                errors[column] = str(BAD_DATE % {"value": _text(cell)})
            else:
                values[column] = parsed
        elif column in CHOICES:
            text = _text(cell)
            if text is None:
                continue
            code = choices[column].get(text)
            if code is None:
                errors[column] = str(UNKNOWN_CHOICE[column] % {"value": text})
            else:
                values[column] = code
        else:
            text = _text(cell)
            if text is not None:
                values[column] = text
    return values, unit, errors


_RULES = rules_for(Customer)
_DEFAULTS = {c.key: c.default.arg for c in Customer.__table__.columns if c.default is not None and c.default.is_scalar}


def field_check(values: dict[str, object]) -> dict[str, str]:
    """{field: message} for every broken field rule of app.domain.rules, applied as records.validate
    applies them (a blank is no value, a column left out takes its default, normalise then check), to a
    row's values rather than to an ORM object: the check pass needs no object per row. `values` gets the
    normalised values back; the flush checks the same rules again on the objects it writes."""
    errors = {}
    for key, (normalise, checks) in _RULES.items():
        value = values.get(key, _DEFAULTS.get(key))
        if normalise is not None and value is not None:
            value = normalise(value)
        if isinstance(value, str) and not value.strip():
            value = None
        if key in values:
            values[key] = value
        for check in checks:
            message = check(value)
            if message:
                errors[key] = str(message)
                break
    return errors


# --- checking ----------------------------------------------------------------------------------

MISSING_NAME = _l("The name is missing.")
DUPLICATE_IN_FILE = _l("Same as row %(row)s of this file.")
DUPLICATE_IN_DB = _l("Already the mobile of another customer (%(name)s).")
UNIT_INCOMPLETE = _l("Give the project, the building and the unit number together.")
UNKNOWN_PROJECT = _l("Unknown project %(value)s.")
UNKNOWN_BUILDING = _l("Unknown building %(value)s in this project.")
UNKNOWN_UNIT = _l("Unknown unit %(value)s in this building.")


class UnitFinder:
    """Project, building and unit number -> unit id, one query per project named in the file."""

    def __init__(self, session: Session):
        self.session = session
        self.projects: dict[str, dict[tuple[str, str], int] | None] = {}

    def find(self, unit: dict[str, str | None]) -> tuple[int | None, dict[str, str]]:
        given = {c: unit.get(c) for c in UNIT_COLUMNS}
        if not any(given.values()):
            return None, {}
        missing = [c for c, v in given.items() if not v]
        if missing:
            return None, {missing[0]: str(UNIT_INCOMPLETE)}
        units = self._units(given["project"])
        if units is None:
            return None, {"project": str(UNKNOWN_PROJECT % {"value": given["project"]})}
        found = units.get((given["building"], given["number"]))
        if found is None:
            if not any(b == given["building"] for b, _n in units):
                return None, {"building": str(UNKNOWN_BUILDING % {"value": given["building"]})}
            return None, {"number": str(UNKNOWN_UNIT % {"value": given["number"]})}
        return found, {}

    def _units(self, project: str):
        if project not in self.projects:
            project_id = self.session.scalar(select(Project.id).where(Project.name == project))
            if project_id is None:
                self.projects[project] = None
            else:
                rows = self.session.execute(
                    select(Building.name, Unit.number, Unit.id).join(Unit, Unit.building_id == Building.id)
                    .where(Building.project_id == project_id))
                units = {(b, n): i for b, n, i in rows}
                # A building with no units yet is still a known building.
                for (name,) in self.session.execute(select(Building.name).where(Building.project_id == project_id)):
                    units.setdefault((name, ""), 0)
                self.projects[project] = units
        return self.projects[project]


def _chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check(session: Session, data: bytes) -> tuple[Result, dict[str, int]]:
    """Check every row; nothing is written. Returns the result and {ID number: customer id} of the
    customers the file updates (the write pass reuses it)."""
    result = Result()
    errors: dict[int, dict[str, str]] = {}
    mobiles: dict[str, int] = {}  # mobile -> first row
    ids: dict[str, int] = {}  # ID number -> first row
    finder, choices = UnitFinder(session), choice_maps()
    for number, raw in read_rows(data):
        result.rows += 1
        values, unit, row_errors = parse(raw, choices)
        if not values.get("name"):
            row_errors.setdefault("name", str(MISSING_NAME))
        for key, message in field_check(values).items():
            row_errors.setdefault(key, message)
        _unit_id, unit_errors = finder.find(unit)
        row_errors.update(unit_errors)
        for key, seen in (("mobile", mobiles), ("id_number", ids)):
            value = values.get(key)
            if value and key not in row_errors:
                if value in seen:
                    row_errors[key] = str(DUPLICATE_IN_FILE % {"row": seen[value]})
                else:
                    seen[value] = number
        if row_errors:
            errors[number] = row_errors
    existing = _existing_ids(session, list(ids))
    for mobile_chunk in _chunks(list(mobiles)):
        for mobile, id_number, name in session.execute(
                select(Customer.mobile, Customer.id_number, Customer.name)
                .where(Customer.mobile.in_(mobile_chunk))):
            row = mobiles[mobile]
            # The same customer (matched by the row's ID number) keeps its mobile; anyone else's is a duplicate.
            same = id_number is not None and ids.get(id_number) == row
            if not same:
                errors.setdefault(row, {})["mobile"] = str(DUPLICATE_IN_DB % {"name": name})
    for number in sorted(errors):
        for column, message in errors[number].items():
            result.errors.append(RowError(number, label(column), message))
    result.updated = len(existing)
    result.created = result.rows - result.updated
    if result.rows == 0:
        raise ValidationError({"file": EMPTY})
    return result, existing


def _existing_ids(session: Session, id_numbers: list[str]) -> dict[str, int]:
    found = {}
    for chunk in _chunks(id_numbers):
        found.update(tuple(row) for row in session.execute(
            select(Customer.id_number, Customer.id).where(Customer.id_number.in_(chunk))))
    return found


# --- writing ------------------------------------------------------------------------------------

def run(session: Session, data: bytes, actor, dry_run: bool = True, progress=None) -> Result:
    """Check the file; unless `dry_run` or a row is wrong, write every row in the caller's transaction.
    The caller commits (records.unit_of_work); `progress(done, total)` is called after each batch."""
    result, existing = check(session, data)
    if dry_run or result.errors:
        return result
    with audit.acting_as(session, actor):
        _write(session, data, existing, result, actor, progress)
    return result


def _write(session: Session, data: bytes, existing: dict[str, int], result: Result, actor, progress) -> None:
    finder, choices = UnitFinder(session), choice_maps()
    batch: list[tuple[dict, int | None]] = []
    done = 0
    for _number, raw in read_rows(data):
        values, unit, _errors = parse(raw, choices)
        if field_check(values):  # the check pass passed it: only a file changed in between gets here
            raise ValidationError({"file": _l("The file changed while it was imported; nothing was imported.")})
        unit_id, _unit_errors = finder.find(unit)
        batch.append((values, unit_id))
        if len(batch) >= BATCH:
            result.linked += _write_batch(session, batch, existing, actor)
            done += len(batch)
            batch = []
            if progress:
                progress(done, result.rows)
    if batch:
        result.linked += _write_batch(session, batch, existing, actor)
        if progress:
            progress(result.rows, result.rows)


def _write_batch(session: Session, batch: list[tuple[dict, int | None]], existing: dict[str, int], actor) -> int:
    updates = [(v, u) for v, u in batch if v.get("id_number") in existing]
    creates = [(v, u) for v, u in batch if v.get("id_number") not in existing]
    return (_update_batch(session, updates, existing) if updates else 0) + \
        (_insert_batch(session, creates, actor) if creates else 0)


def _update_batch(session: Session, batch: list[tuple[dict, int | None]], existing: dict[str, int]) -> int:
    """Update the customers matched by ID number (their non-blank cells) through the ORM: the flush checks
    the rules and writes the update's audit rows with the old and new values. Then forget them."""
    ids = [existing[v["id_number"]] for v, _u in batch]
    loaded = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
    links = {tuple(row) for row in session.execute(select(CustomerUnit.customer_id, CustomerUnit.unit_id)
                                                    .where(CustomerUnit.customer_id.in_(ids)))}
    made = []
    for values, unit_id in batch:
        customer = loaded[existing[values["id_number"]]]
        for key, value in values.items():
            if getattr(customer, key) != value:
                setattr(customer, key, value)
        if unit_id and (customer.id, unit_id) not in links:
            links.add((customer.id, unit_id))
            made.append(CustomerUnit(customer_id=customer.id, unit_id=unit_id))
    session.add_all(made)
    records.flush(session)
    for obj in (*made, *loaded.values()):
        session.expunge(obj)
    return len(made)


def _columns(model) -> list[str]:
    return [c.key for c in model.__table__.columns if c.key != "id"]


def _insert_rows(session: Session, model, rows: list[dict]) -> list[int]:
    """One executemany INSERT ... RETURNING id of full rows (every column, None where unset); the ids in order."""
    table = model.__table__
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.connection().execute(statement, rows).scalars())


def insert_changes(model, row: dict) -> dict:
    """The changes of an insert exactly as app.audit's flush hook records them (audit._diff): every set
    column but the id, personal data masked."""
    personal = getattr(model, "__personal_fields__", ())
    return {key: [None, mask(key, value) if key in personal else audit._jsonable(value)]
            for key, value in row.items() if value is not None and key != "id"}


def _insert_batch(session: Session, batch: list[tuple[dict, int | None]], actor) -> int:
    """New customers and their unit links as executemany INSERTs, with the audit rows the flush hook would
    have written, appended to the chain in the same transaction (app.audit.append). The values passed the
    field rules (field_check) just before; an ORM flush of 500 objects costs ten times as much (measured:
    docs/benchmarks.md), most of it in building each object's history for the audit diff."""
    at = audit.utcnow()
    stamp = dict(created_at=at, updated_at=at, created_by_id=actor.id, updated_by_id=actor.id, version=1)
    customer_columns = dict.fromkeys(_columns(Customer))
    rows = [{**customer_columns, **_DEFAULTS, **{k: v for k, v in values.items() if v is not None}, **stamp}
            for values, _unit in batch]
    ids = _insert_rows(session, Customer, rows)
    entries = []
    for customer_id, row in zip(ids, rows, strict=True):
        row["id"] = customer_id
        entries.append(dict(table_name="customer", record_id=str(customer_id), action="insert",
                            changes=insert_changes(Customer, row)))
    link_columns = dict.fromkeys(_columns(CustomerUnit))
    links = [{**link_columns, "customer_id": customer_id, "unit_id": unit_id, **stamp}
             for customer_id, (_values, unit_id) in zip(ids, batch, strict=True) if unit_id]
    if links:
        for link_id, row in zip(_insert_rows(session, CustomerUnit, links), links, strict=True):
            row["id"] = link_id
            entries.append(dict(table_name="customer_unit", record_id=str(link_id), action="insert",
                                changes=insert_changes(CustomerUnit, row)))
    audit.append(session, actor, entries)
    return len(links)


def error_sheet(data: bytes, result: Result) -> bytes:
    """The uploaded sheet again, streamed, with a last column «错误» naming what is wrong in each row."""
    by_row = result.errors_by_row()
    book, sheet = open_sheet(data)
    out_book = Workbook(write_only=True)
    out = out_book.create_sheet(sheet.title or "Sheet1")
    try:
        width = 0
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            values = list(values or ())
            width = max(width, len(values))
            values += [None] * (width - len(values))
            extra = str(_l("Errors")) if number == 1 else by_row.get(number)
            out.append([text_cell(out, v) for v in values] + [extra])
    finally:
        book.close()
    buffer = io.BytesIO()
    out_book.save(buffer)
    return buffer.getvalue()
