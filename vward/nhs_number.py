"""NHS number validation: ten digits whose last is a modulus-11 check digit (NHS Data Dictionary)."""

from __future__ import annotations

import random


class InvalidNhsNumber(ValueError):
    """The text is not a valid NHS number."""


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when the remainder gives 10 (such numbers are never issued)."""
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    return None if digit == 10 else digit


def normalise(text: str) -> str:
    """The ten digits of a valid NHS number, accepting the usual 3-3-4 spacing; raises InvalidNhsNumber."""
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        raise InvalidNhsNumber("an NHS number has ten digits")
    if check_digit(digits[:9]) != int(digits[9]):
        raise InvalidNhsNumber("the NHS number's check digit is wrong")
    return digits


def random_valid(rng: random.Random) -> str:
    """A valid NHS number in the 999 range, which is reserved for test data and never issued to patients."""
    while True:
        first_nine = "999" + "".join(str(rng.randrange(10)) for _ in range(6))
        digit = check_digit(first_nine)
        if digit is not None:
            return first_nine + str(digit)


def formatted(digits: str) -> str:
    """Ten digits shown the way the NHS prints them, 3-3-4 with spaces, so a nurse can read them back."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else digits
