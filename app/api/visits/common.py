"""What the visit APIs share: small readers of a JSON body and writers of an answer."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l

from app.domain import fields
from app.domain.errors import ValidationError
from app.extensions import db

FALSE_WORDS = ("0", "false", "no", "n", "off")


def existing_id(name: str, value, model, message):
    """An optional id in a body: None when blank, else an existing record's id (422 otherwise)."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({name: message})
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: message}) from None
    if not 0 < value <= fields.MAX_ID or db.session.get(model, value) is None:
        raise ValidationError({name: message})
    return value


def refuse_unknown(data: dict, allowed) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: _l("%(field)s cannot be set here.", field=name) for name in unknown})


def iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


def is_false(value) -> bool:
    return str(value).strip().lower() in FALSE_WORDS

