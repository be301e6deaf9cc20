"""Why a record cannot be deleted: what still refers to it, counted and said in words
(«该客户有 3 件投诉，不能删除»), before the database would refuse with a bare integrity error.

What refers to what is read from the foreign keys of the schema, so a new table that points at a
customer, unit or department is counted without a change here; the words for each pair are the tables
below (a pair without words is still refused, in general words with its count).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from .errors import ConflictError

# "This customer" …: how a refused record is named (the subject of the sentence).
RECORDS = {
    "customer": _l("This customer"), "project": _l("This project"), "building": _l("This building"),
    "unit": _l("This unit"), "department": _l("This department"),
    "case_entry": _l("This case-library entry"),
}
# "%(count)s complaints" …: what refers to it, counted (in Chinese with its measure word).
REFERRERS = {
    "complaint": lambda n: _l("%(count)s complaints", count=n),
    "customer_unit": lambda n: _l("%(count)s customer-unit links", count=n),
    "visit": lambda n: _l("%(count)s visits", count=n),
    "return_visit": lambda n: _l("%(count)s return visits", count=n),
    "building": lambda n: _l("%(count)s buildings", count=n),
    "unit": lambda n: _l("%(count)s units", count=n),
    "case_entry": lambda n: _l("%(count)s case-library entries", count=n),
    "user_department": lambda n: _l("%(count)s staff members", count=n),
    "rectification": lambda n: _l("%(count)s rectification items", count=n),
}


class InUseError(ConflictError):
    """409: the record is still referred to; nothing was deleted."""


def referrers(session, obj) -> list[tuple[str, int]]:
    """(table, count) of every table whose rows still point at `obj`, in the schema's order."""
    table = type(obj).__table__
    found = []
    for other in table.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column.table is table and fk.column.name == "id":
                count = session.scalar(select(func.count()).select_from(other).where(fk.parent == obj.id))
                if count:
                    found.append((other.name, count))
    return found


def check_deletable(session, obj) -> None:
    """Refuse (409, with the reason and the count) to delete a record other records still point at."""
    found = referrers(session, obj)
    if not found:
        return
    name, count = found[0]
    record = RECORDS.get(type(obj).__tablename__, _l("This record"))
    words = REFERRERS.get(name, lambda n: _l("%(count)s other records", count=n))
    raise InUseError(_l("%(record)s has %(what)s; it cannot be deleted.", record=record, what=words(count)))
