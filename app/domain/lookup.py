"""Finding the customer a complaint is about while it is being received: by name, full phone or full
ID-card number, as the receipt form's suggestions and its no-JavaScript fallback both do.

The privacy rules of app.domain.privacy hold here too: a phone or an ID-card number is matched only by
its full value (never a prefix, which would let someone recover a number digit by digit), and what is
answered shows them masked. The department scope (app.domain.scope) decides who sees customers at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select

from app.models import Building, Customer, CustomerUnit, Project, Unit

from . import scope
from .privacy import mask

CAP = 10  # suggestions at most: enough to pick from, never a way to list the customers
FULL_ID = re.compile(r"\d{17}[\dXx]")
FULL_MOBILE = re.compile(r"1\d{10}")
FULL_PHONE = re.compile(r"0\d{9,11}")
DIGITS = re.compile(r"[\d*Xx+]+")


@dataclass
class Found:
    id: int
    name: str
    mobile: str  # masked
    units: list[tuple[int, str]] = field(default_factory=list)  # (unit id, "项目 楼栋 房号")

    def as_json(self) -> dict:
        return {"id": self.id, "name": self.name, "mobile": self.mobile or "",
                "units": [{"id": pk, "label": text} for pk, text in self.units]}


def condition(text: str):
    """The search a text means: a full ID-card number, mobile or phone exactly; other digits (a part of a
    number) nothing at all (None); anything else the name (prefix or contained)."""
    compact = text.replace(" ", "").replace("-", "")
    if FULL_ID.fullmatch(compact):
        return Customer.id_number == compact.upper()
    if FULL_MOBILE.fullmatch(compact):
        return Customer.mobile == compact
    if FULL_PHONE.fullmatch(compact):
        return Customer.phone == compact
    if DIGITS.fullmatch(compact):
        return None
    return Customer.name.contains(text.strip(), autoescape=True)


def find_customers(session, actor, text, cap: int = CAP) -> list[Found]:
    """At most `cap` customers the actor may see that the text finds, each with its units."""
    text = (text or "").strip()[:100]
    where = condition(text) if text else None
    if where is None:
        return []
    query = scope.restrict(session.query(Customer.id, Customer.name, Customer.mobile).filter(where),
                           Customer, actor, session)
    rows = query.order_by(Customer.name, Customer.id).limit(cap).all()
    units = units_of(session, [r.id for r in rows])
    return [Found(r.id, r.name, mask("mobile", r.mobile), units.get(r.id, [])) for r in rows]


def find_by_ids(session, actor, ids) -> list[Found]:
    """The given customers, if the actor may see them (a choice made among suggestions, a customer number)."""
    query = scope.restrict(session.query(Customer.id, Customer.name, Customer.mobile)
                           .filter(Customer.id.in_(list(ids))), Customer, actor, session)
    rows = query.order_by(Customer.id).all()
    units = units_of(session, [r.id for r in rows])
    return [Found(r.id, r.name, mask("mobile", r.mobile), units.get(r.id, [])) for r in rows]


def units_of(session, customer_ids) -> dict[int, list[tuple[int, str]]]:
    """The units each customer holds, labelled "项目 楼栋 房号" (one query)."""
    found: dict[int, list[tuple[int, str]]] = {}
    if not customer_ids:
        return found
    rows = session.execute(
        select(CustomerUnit.customer_id, Unit.id, Project.name, Building.name, Unit.number)
        .join(Unit, Unit.id == CustomerUnit.unit_id).join(Building, Building.id == Unit.building_id)
        .join(Project, Project.id == Building.project_id)
        .where(CustomerUnit.customer_id.in_(customer_ids))
        .order_by(CustomerUnit.customer_id, Project.name, Building.name, Unit.number)).all()
    for customer_id, unit_id, project, building, number in rows:
        found.setdefault(customer_id, []).append((unit_id, f"{project} {building} {number}"))
    return found
