"""Field rules: GB 11643 check digit, mainland phone formats, amounts, masking."""

import pytest

from app.domain import validation as v
from app.domain.privacy import mask


def valid_id(first17="11010119900307123"):
    return first17 + v.id_number_check_digit(first17)


def test_check_digit_of_the_standard_example():
    # The worked example of GB 11643-1999: 11010519491231002 -> X
    assert v.id_number_check_digit("11010519491231002") == "X"
    assert v.check_id_number("11010519491231002X") is None
    assert v.check_id_number("11010519491231002x".upper()) is None


@pytest.mark.parametrize("digit", "0123456789X")
def test_every_wrong_check_digit_is_refused(digit):
    first17 = "44030519850615123"
    right = v.id_number_check_digit(first17)
    message = v.check_id_number(first17 + digit)
    assert (message is None) == (digit == right)


@pytest.mark.parametrize("value", ["1234", "11010119900307123A", "110101199013071234", "110101180001011234"])
def test_malformed_id_numbers_are_refused(value):
    assert v.check_id_number(value) is not None


@pytest.mark.parametrize("value,ok", [
    ("13812345678", True), ("19912345678", True), ("12812345678", False), ("1381234567", False),
    ("138123456789", False), ("+8613812345678", False),
])
def test_mobile(value, ok):
    assert (v.check_mobile(value) is None) == ok


@pytest.mark.parametrize("value,ok", [
    ("010-12345678", True), ("0571-88886666", True), ("0571 8888666", True), ("021-12345678-123", True),
    ("400-820-8820", True), ("13812345678", True), ("12345678", False), ("abc", False),
])
def test_phone(value, ok):
    assert (v.check_phone(value) is None) == ok


def test_amounts_cannot_be_negative():
    assert v.check_not_negative("-0.01") is not None
    assert v.check_not_negative("0") is None
    assert v.check_not_negative("12.5") is None
    assert v.check_not_negative("abc") is not None


def test_masks_follow_the_spec_examples():
    assert mask("id_number", "110101199003071234") == "1101**********1234"
    assert mask("mobile", "13812345678") == "138****5678"
    assert mask("mobile", None) is None
    assert "*" in mask("phone", "12345")


def test_a_moment_is_kept_in_china_time_whatever_offset_it_came_with():
    """One parser for every date and time a client sends (API bodies, forms, `reminders --at`)."""
    from datetime import datetime

    from app.domain import fields

    assert fields.a_moment("2026-11-02T02:00:00Z") == datetime(2026, 11, 2, 10, 0)
    assert fields.a_moment("2026-11-02 02:00-08:00") == datetime(2026, 11, 2, 18, 0)
    assert fields.a_moment("2026-11-02T10:00") == datetime(2026, 11, 2, 10, 0)
    assert fields.a_moment(datetime(2026, 11, 2, 10, 0, 5, 123)) == datetime(2026, 11, 2, 10, 0, 5)
    with pytest.raises(ValueError):
        fields.a_moment("yesterday")
