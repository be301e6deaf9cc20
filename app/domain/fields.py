"""Parsers for the values a workflow step takes from a form or a JSON body: each returns the value to
store (None for blank) or raises ValueError with the message to show beside the field."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l

from app.domain.calendar import LOCAL_ZONE


def text(value):
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def choice(enum_class):
    def parse(value):
        if value not in {m.value for m in enum_class}:
            raise ValueError(_l("%(value)s is not one of the allowed values.", value=value))
        return value
    return parse


def yes_no(value):
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "y", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "n", "off", ""):
        return False
    raise ValueError(_l("Please answer yes or no."))


def satisfaction(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(_l("Satisfaction is a whole number from 1 to 5.")) from None
    if not 1 <= number <= 5:
        raise ValueError(_l("Satisfaction is a whole number from 1 to 5."))
    return number


def a_date(value):
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(_l("Please enter a date as YYYY-MM-DD.")) from None


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


def record_id(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(_l("Please choose a record.")) from None


def confirmed(value):
    if not yes_no(value):
        raise ValueError(_l("This must be confirmed before going on."))
    return True
