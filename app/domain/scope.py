"""Department scope (SPEC §1): a rule of the query layer, so that lists, detail pages, the REST API
and exports all obey it. Every query for records goes through `restrict`.

A model declares how it is scoped:
- `__department_column__ = "department_id"`: department staff see the rows of their own department;
- `__customer_service_only__ = True`: department staff see none of them (customers, their units).
"""

from __future__ import annotations

from sqlalchemy import false, select

from app.models import UserDepartment

from .roles import SEES_ALL_DEPARTMENTS, role_names


def department_id_of(session, actor) -> int | None:
    cache = session.info.setdefault("kefu_department_of", {})
    if actor.id not in cache:
        cache[actor.id] = session.execute(
            select(UserDepartment.department_id).where(UserDepartment.user_id == actor.id)
        ).scalar_one_or_none()
    return cache[actor.id]


def restrict(query, model, actor, session):
    """Narrow a query on `model` to what `actor` may see."""
    if actor is None:
        return query.filter(false())
    if role_names(actor) & SEES_ALL_DEPARTMENTS:
        return query
    if getattr(model, "__customer_service_only__", False):
        return query.filter(false())
    column = getattr(model, "__department_column__", None)
    if column:
        department_id = department_id_of(session, actor)
        if department_id is None:
            return query.filter(false())
        return query.filter(getattr(model, column) == department_id)
    return query
