"""Personal data (ID-card numbers, phones): masked for display, revealed only by an audited action.

Who may reveal is decided here, by the actor's roles: a role may when it holds the permission
REVEAL_PERMISSION (granted per role in app.security's table, applied by `roles sync`). Pages, the API
and printing ask `may_reveal` (to offer a button, or to print a full number) and call `reveal`, which
checks again itself: no caller decides for the domain.
"""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit

from .errors import DomainError, ForbiddenError, ValidationError

REVEAL_PERMISSION = ("can_reveal", "PersonalData")
# FAB's equality filter (`opr: eq`, FilterEqual): the only search a masked column allows. Any other
# operator (starts with, contains, ends with, in, greater, not equal ...) would let a role that may
# not reveal recover a full number one digit at a time.
EXACT_MATCH = "eq"


class PersonalDataSearchError(DomainError):
    status = 400
    default_message = _l("Personal data (ID-card numbers, phones) can be searched only by the full value.")


class PersonalDataOrderError(DomainError):
    status = 400
    default_message = _l("Lists cannot be sorted by personal data (ID-card numbers, phones).")


def personal_fields(model) -> tuple[str, ...]:
    return tuple(getattr(model, "__personal_fields__", ()))


def is_personal_column(model, column) -> bool:
    """`mobile`, or `customer.mobile` reaching a personal field of a related model."""
    if not isinstance(column, str) or not column:
        return False
    *path, name = column.split(".")
    for relation in path:
        prop = getattr(getattr(model, relation, None), "property", None)
        mapper = getattr(prop, "mapper", None)  # only relationships have a mapper
        if mapper is None:
            return False
        model = mapper.class_
    return name in personal_fields(model)


def check_search(model, column, operator) -> None:
    """Refuse any search on a masked column except equality with the full value."""
    if is_personal_column(model, column) and operator != EXACT_MATCH:
        raise PersonalDataSearchError()


def check_order(model, column) -> None:
    if is_personal_column(model, column):
        raise PersonalDataOrderError()


def mask(field: str, value: str | None) -> str | None:
    """`1101**********1234` for an ID number (the birth date, digits 7-14 of 18 or 7-12 of 15, hidden),
    `138****5678` for a phone; short values keep 1 char each end."""
    if not value:
        return value
    value = str(value)
    if field == "id_number":
        keep_head, keep_tail = 4, (3 if len(value) == 15 else 4)
    else:
        keep_head, keep_tail = 3, 4
    if len(value) <= keep_head + keep_tail:
        return value[0] + "*" * max(len(value) - 2, 1) + (value[-1] if len(value) > 1 else "")
    return value[:keep_head] + "*" * (len(value) - keep_head - keep_tail) + value[-keep_tail:]


def masked_copy(model, data: dict) -> dict:
    """Mask the personal fields of a serialised record in place and return it."""
    for field in getattr(model, "__personal_fields__", ()):
        if field in data:
            data[field] = mask(field, data[field])
    return data


def _role_ids(actor) -> set[int]:
    """The actor's roles, held directly or through a group (as Flask-AppBuilder counts them)."""
    roles = list(getattr(actor, "roles", None) or ())
    for group in getattr(actor, "groups", None) or ():
        roles += list(group.roles or ())
    return {role.id for role in roles}


def may_reveal(session, actor) -> bool:
    """Whether one of the actor's roles holds the permission to reveal personal data (one query)."""
    if actor is None or not getattr(actor, "is_active", False):
        return False
    role_ids = _role_ids(actor)
    if not role_ids:
        return False
    permission, view = REVEAL_PERMISSION
    granted = (select(PermissionView.id)
               .join(Permission, Permission.id == PermissionView.permission_id)
               .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
               .join(assoc_permissionview_role, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
               .where(Permission.name == permission, ViewMenu.name == view,
                      assoc_permissionview_role.c.role_id.in_(role_ids))
               .limit(1))
    return session.execute(granted).first() is not None


def reveal(session, record, field: str, actor) -> str | None:
    """Return the full value of one personal field and write the audit row that says who saw it.
    Refused (403, nothing written) unless the actor's role may reveal personal data."""
    if not may_reveal(session, actor):
        raise ForbiddenError(_l("Your role may not reveal personal data."))
    if field not in getattr(type(record), "__personal_fields__", ()):
        raise ValidationError({"field": _l("%(field)s is not a personal-data field.", field=field)})
    audit.record_event(session, actor, record, "reveal", {"field": field})
    session.flush()
    return getattr(record, field)
