"""The quick-search box of the lists (complaints, visits, rectification items, return visits): one parser,
one way to turn it into an indexed condition.

`parse` reads the text's shape alone:
- a record number «TS2026-000123» (its prefix must be the list's) or its numeric part «123» → the id;
- a mainland mobile (1 and 10 digits) or a landline (0 and 9–11 digits) → the customer's stored value;
- an 18-character ID-card number → the customer's stored value;
- three parts «翠湖花园 2栋 701» (or «翠湖花园2栋701») → possibly a unit: project name, building, unit number;
- anything else → a customer's name, or else words of the content.

Masked columns (phones, ID numbers) are matched by their full value only — a prefix never matches, or the
list would give a number back one digit at a time (docs/architecture.md, "Personal data"). `condition`
looks the customer or the unit up first (small indexed queries) and filters the list by their ids, so
each search is an index lookup on the list's table (`customer_id`, `unit_id`, the primary key); only
content words scan text, which PostgreSQL serves from a trigram index (migration 0013_search).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, false, or_, select

from app.models import Building, Customer, Project, Unit

MAX_ID = 2**31 - 1  # an INTEGER key: a longer number is nobody's (and must not reach PostgreSQL)
MAX_IDS = 500  # customers of one name or units of one text looked up; more is not a useful search

_NUMBER = re.compile(r"([A-Za-z]{2})[-\s]?(?:(\d{4})-)?0*(\d{1,10})")
_MOBILE = re.compile(r"1\d{10}")
_LANDLINE = re.compile(r"0\d{9,11}")
_ID_NUMBER = re.compile(r"\d{17}[\dXx]")
# «翠湖花园2栋701», «翠湖花园 2栋 701», «翠湖花园 2 栋 701室»
_UNIT_GLUED = re.compile(r"(.+?)\s*(\d+[A-Za-z]?\s*(?:栋|幢|号楼|座))\s*-?\s*(\w+?)室?")


@dataclass(frozen=True)
class Quick:
    kind: str  # number | mobile | landline | id_number | text
    value: str = ""
    prefix: str = ""  # a number's letters («TS»), upper case; "" for the numeric part alone
    unit: tuple[str, str, str] | None = None  # (project, building, number) when the text may name a unit
    words: tuple[str, ...] = ()


def parse(text: str | None) -> Quick | None:
    """What the search box holds; None for nothing."""
    text = " ".join((text or "").split())
    if not text:
        return None
    compact = text.replace(" ", "").replace("-", "")
    if _ID_NUMBER.fullmatch(compact):
        return Quick("id_number", compact.upper())
    if _MOBILE.fullmatch(compact):
        return Quick("mobile", compact)
    if _LANDLINE.fullmatch(compact):
        return Quick("landline", text)
    if compact.isdigit() and len(compact) <= 10 and not re.fullmatch(r"\d{4}-\d+", text):
        return Quick("number", str(int(compact)))
    if re.fullmatch(r"\d{4}-\d{1,10}", text):  # «2026-000123»: a number without its letters
        return Quick("number", str(int(text.split("-")[1])))
    number = _NUMBER.fullmatch(text)
    if number:
        return Quick("number", str(int(number.group(3))), prefix=number.group(1).upper())
    return Quick("text", text, unit=_unit_parts(text), words=tuple(text.split(" ")))


def _unit_parts(text: str) -> tuple[str, str, str] | None:
    parts = text.split(" ")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    glued = _UNIT_GLUED.fullmatch(text)
    if glued:
        return glued.group(1).strip(), glued.group(2).replace(" ", ""), glued.group(3)
    return None


@dataclass(frozen=True)
class Target:
    """How one list is searched: its model and number prefix, and conditions by customer ids, by unit ids
    and on its text columns (each a callable, None when the list has no such thing)."""
    model: type
    prefix: str
    by_customers: Callable | None = None  # (ids) -> condition
    by_units: Callable | None = None  # (ids) -> condition
    text_columns: tuple = ()


def customer_ids(session, quick: Quick) -> list[int] | None:
    """The customers the text names by a full phone, ID number or exact name; None when it names none
    that way (a name nobody has: the text is content words)."""
    if quick.kind == "mobile":
        condition = or_(Customer.mobile == quick.value, Customer.phone == quick.value)
    elif quick.kind == "landline":
        condition = Customer.phone.in_({quick.value, quick.value.replace(" ", "").replace("-", "")})
    elif quick.kind == "id_number":
        condition = Customer.id_number == quick.value
    elif quick.kind == "text":
        condition = Customer.name == quick.value
    else:
        return None
    ids = session.scalars(select(Customer.id).where(condition).limit(MAX_IDS)).all()
    return ids if ids or quick.kind != "text" else None


def unit_ids(session, quick: Quick) -> list[int]:
    if quick.unit is None:
        return []
    project, building, number = quick.unit
    return session.scalars(select(Unit.id).join(Building, Building.id == Unit.building_id)
                           .join(Project, Project.id == Building.project_id)
                           .where(Project.name == project, Building.name == building, Unit.number == number)
                           .limit(MAX_IDS)).all()


def condition(session, target: Target, text: str | None):
    """The list's condition for the search box's text (None: the box is empty)."""
    quick = parse(text)
    if quick is None:
        return None
    if quick.kind == "number":
        if (quick.prefix and quick.prefix != target.prefix) or int(quick.value) > MAX_ID:
            return false()
        return target.model.id == int(quick.value)
    if quick.kind == "text" and target.by_units is not None:
        units = unit_ids(session, quick)
        if units:
            return target.by_units(units)
    customers = customer_ids(session, quick)
    if customers is not None:
        return target.by_customers(customers) if customers and target.by_customers else false()
    if not target.text_columns:
        return false()
    return and_(*(or_(*(column.contains(word, autoescape=True) for column in target.text_columns))
                  for word in quick.words))
