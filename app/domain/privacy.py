"""Personal data (ID-card numbers, phones): masked for display, revealed only by an audited action."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app import audit

from .errors import ForbiddenError, ValidationError

REVEAL_PERMISSION = ("can_reveal", "PersonalData")


def mask(field: str, value: str | None) -> str | None:
    """`1101**********1234` for an ID number, `138****5678` for a phone; short values keep 1 char each end."""
    if not value:
        return value
    value = str(value)
    if field == "id_number":
        keep_head, keep_tail = 4, 4
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


def reveal(session, record, field: str, actor, may_reveal: bool) -> str | None:
    """Return the full value of one personal field and write the audit row that says who saw it."""
    if not may_reveal:
        raise ForbiddenError(_l("Your role may not reveal personal data."))
    if field not in getattr(type(record), "__personal_fields__", ()):
        raise ValidationError({"field": _l("%(field)s is not a personal-data field.", field=field)})
    audit.record_event(session, actor, record, "reveal", {"field": field})
    session.flush()
    return getattr(record, field)
