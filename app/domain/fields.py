"""Parsers for the values a workflow step takes from a form or a JSON body: each returns the value to
store (None for blank) or raises ValueError with the message to show beside the field."""

from __future__ import annotations

from datetime import date, datetime
from functools import wraps

from flask_babel import lazy_gettext as _l

from app.domain.calendar import LOCAL_ZONE

MAX_ID = 2**31 - 1  # the largest key an INTEGER id column holds on PostgreSQL (beyond it the driver fails)


def scalar(parse):
    """A parser of one value: a JSON list or object in its place (a careless or hostile client) is
    refused with the message beside the field, never passed on to crash a comparison or a query."""

    @wraps(parse)
    def parse_scalar(value):
        if isinstance(value, (dict, list, tuple, set)):
            raise ValueError(_l("Please give a single value, not a list or an object."))
        return parse(value)

    return parse_scalar


@scalar
def text(value):
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def choice(enum_class):
    @scalar
    def parse(value):
        if value not in {m.value for m in enum_class}:
            raise ValueError(_l("%(value)s is not one of the allowed values.", value=value))
        return value
    return parse


@scalar
def yes_no(value):
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "y", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(_l("Please answer yes or no."))


@scalar
def satisfaction(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(_l("Satisfaction is a whole number from 1 to 5.")) from None
    if not 1 <= number <= 5:
        raise ValueError(_l("Satisfaction is a whole number from 1 to 5."))
    return number


@scalar
def a_date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(_l("Please enter a date as YYYY-MM-DD.")) from None


@scalar
def a_moment(value):
    """A date and time: ISO text or a datetime. One with an offset (+08:00, Z: a client elsewhere) is
    converted to China local time, the time every record keeps."""
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).strip().replace("T", " "))
        except ValueError:
            raise ValueError(_l("Please enter a date and time as YYYY-MM-DD HH:MM.")) from None
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_ZONE).replace(tzinfo=None)
    return value.replace(microsecond=0)


@scalar
def record_id(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(_l("Please choose a record.")) from None
    if not 0 < number <= MAX_ID:
        raise ValueError(_l("Please choose a record."))
    return number


@scalar
def confirmed(value):
    if not yes_no(value):
        raise ValueError(_l("This must be confirmed before going on."))
    return True


def choices(enum_class):
    """Several of an enum's codes: a JSON list, or text with commas (a form's multiple select);
    stored as the codes joined by commas, in the enum's order."""
    def parse(value):
        if value in (None, "", []):
            return None
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(_l("Please choose one or more of the allowed values."))
        allowed = [m.value for m in enum_class]
        wrong = [v for v in value if v not in allowed]
        if wrong:
            raise ValueError(_l("%(value)s is not one of the allowed values.", value=", ".join(wrong)))
        return ",".join(code for code in allowed if code in value) or None
    return parse
