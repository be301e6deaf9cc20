"""Field rules shared by every path: the flush check (records.validate), WTForms fields and the API.

Each check returns None when the value is acceptable, else a translatable message.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CODES = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
# Landline with area code (010-12345678, 0571 8888 6666, extension -123), or 400/800 service numbers.
_LANDLINE = re.compile(r"^0\d{2,3}[- ]?\d{7,8}(-\d{1,6})?$|^[48]00[- ]?\d{3}[- ]?\d{4}$")


def id_number_check_digit(first17: str) -> str:
    """GB 11643-1999: weighted sum of the first 17 digits, modulo 11, mapped to 1 0 X 9 8 7 6 5 4 3 2."""
    return _ID_CHECK_CODES[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def check_id_number(value: str | None):
    if not value:
        return None
    value = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return _l("An ID-card number has 18 characters: 17 digits and a digit or X.")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return _l("The date of birth in the ID-card number is not a real date.")
    if born > date.today() or born.year < 1900:
        return _l("The date of birth in the ID-card number is not plausible.")
    if id_number_check_digit(value[:17]) != value[17]:
        return _l("The ID-card number's check digit is wrong (GB 11643); please check the number.")
    return None


def check_mobile(value: str | None):
    if value and not _MOBILE.match(value.strip()):
        return _l("A mobile number has 11 digits and starts with 13–19.")
    return None


def check_phone(value: str | None):
    """A landline (with area code), a 400/800 number, or a mobile."""
    if value and not (_MOBILE.match(value.strip()) or _LANDLINE.match(value.strip())):
        return _l("A phone number is a landline with its area code (e.g. 010-12345678) or a mobile number.")
    return None


def check_not_negative(value):
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return _l("Please enter a number.")
    if number < 0:
        return _l("This amount cannot be negative.")
    return None


def check_not_future(value):
    if value and isinstance(value, date) and value > date.today():
        return _l("This date cannot be in the future.")
    return None


def check_choice(value, enum_class):
    if value not in {m.value for m in enum_class}:
        return _l("%(value)s is not one of the allowed values.", value=value)
    return None


def check_required(value):
    if value is None or (isinstance(value, str) and not value.strip()):
        return _l("This field is required.")
    return None
