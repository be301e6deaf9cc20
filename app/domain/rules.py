"""Field rules per model: the one place they are declared. The flush check enforces them on every
path; the HTML forms show the same messages next to the field (app.views.base)."""

from __future__ import annotations

from functools import partial

from app.models import Building, Customer, CustomerUnit, Department, Project, Unit
from app.models.choices import CustomerKind, CustomerStage, Gender

from . import validation as v


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _id_number(value):
    return value.strip().upper() if isinstance(value, str) else value


def _optional_choice(enum_class, value):
    return None if value in (None, "") else v.check_choice(value, enum_class)


# model -> {field: (normaliser or None, [checks])}
FIELD_RULES: dict[type, dict[str, tuple]] = {
    Customer: {
        "name": (_strip, [v.check_required]),
        "kind": (None, [partial(v.check_choice, enum_class=CustomerKind)]),
        "stage": (None, [partial(v.check_choice, enum_class=CustomerStage)]),
        "gender": (None, [partial(_optional_choice, Gender)]),
        "id_number": (_id_number, [v.check_id_number]),
        "mobile": (_strip, [v.check_mobile]),
        "phone": (_strip, [v.check_phone]),
        "main_contact_phone": (_strip, [v.check_phone]),
        "property_contact_phone": (_strip, [v.check_phone]),
        "birthday": (None, [v.check_not_future]),
        "certificate_issued_on": (None, [v.check_not_future]),
    },
    CustomerUnit: {
        "area": (None, [v.check_not_negative]),
        "amount": (None, [v.check_not_negative]),
        "purchase_date": (None, [v.check_not_future]),
    },
    Unit: {"number": (_strip, [v.check_required]), "area": (None, [v.check_not_negative])},
    Building: {"name": (_strip, [v.check_required])},
    Project: {"name": (_strip, [v.check_required]), "code": (_strip, [v.check_required])},
    Department: {"name": (_strip, [v.check_required]), "code": (_strip, [v.check_required])},
}


def rules_for(model) -> dict[str, tuple]:
    return FIELD_RULES.get(model if isinstance(model, type) else type(model), {})


def field_errors(obj) -> dict[str, object]:
    """Normalise the object's fields in place and return {field: message} for every broken rule."""
    errors = {}
    for field, (normalise, checks) in rules_for(obj).items():
        value = getattr(obj, field)
        if normalise is not None and value is not None:
            value = normalise(value)
            if value == "":
                value = None
            if value != getattr(obj, field):
                setattr(obj, field, value)
        for check in checks:
            message = check(value)
            if message:
                errors[field] = message
                break
    return errors
