"""UIN and VID numbers: random digits with a Verhoeff check digit, filtered like MOSIP's generator."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from services.common.ids import OWN_ID

UIN_LENGTH = 12
VID_LENGTH = 16

# Verhoeff's dihedral group D5: multiplication, position permutation and inverse tables.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)

# A run this long of one digit, or of consecutive digits up or down, makes a number guessable or mistakable.
_MAX_IDENTICAL_RUN = 2
_MAX_SEQUENTIAL_RUN = 3


def _is_digits(value: str) -> bool:
    # str.isdigit alone accepts superscripts and other scripts' digits, which the tables cannot index.
    return bool(value) and value.isascii() and value.isdigit()


# One step of the check for each position (mod 8) and digit character: the next check from the current one,
# _D[check][_P[position][digit]] looked up as a single row (UINs are made a million at a time in bulk loads).
_STEPS = tuple(
    {str(digit): tuple(_D[check][_P[position][digit]] for check in range(10)) for digit in range(10)}
    for position in range(8)
)


def _checksum(digits: str, offset: int) -> int:
    check = 0
    for position, digit in enumerate(reversed(digits), offset):
        check = _STEPS[position % 8][digit][check]
    return check


def verhoeff_check_digit(body: str) -> str:
    """The Verhoeff check digit to append to `body`, a non-empty string of ASCII digits."""
    if not _is_digits(body):
        raise ValueError("a Verhoeff body must be a non-empty string of digits")
    return str(_INV[_checksum(body, 1)])


def verhoeff_validate(number: str) -> bool:
    """Whether `number` (body followed by its check digit) passes the Verhoeff check."""
    return _is_digits(number) and len(number) >= 2 and _checksum(number, 0) == 0


# A run longer than _MAX_IDENTICAL_RUN of one digit, or longer than _MAX_SEQUENTIAL_RUN of digits counting up or
# down by one.
_PATTERN = re.compile(
    "|".join(
        [
            rf"([0-9])\1{{{_MAX_IDENTICAL_RUN}}}",
            *("0123456789"[i : i + _MAX_SEQUENTIAL_RUN + 1] for i in range(10 - _MAX_SEQUENTIAL_RUN)),
            *("9876543210"[i : i + _MAX_SEQUENTIAL_RUN + 1] for i in range(10 - _MAX_SEQUENTIAL_RUN)),
        ]
    )
)


def _has_pattern(number: str) -> bool:
    return _PATTERN.search(number) is not None


def _generate(length: int, randbelow: Callable[[int], int]) -> str:
    while True:
        # A leading 0 or 1 is reserved, as in MOSIP: 0 gets lost in spreadsheets and 1 reads like a test number.
        # One draw for the whole body, uniform over its 8 x 10^(length-2) values: as random as a draw per digit.
        body = str(2 * 10 ** (length - 2) + randbelow(8 * 10 ** (length - 2)))
        number = body + verhoeff_check_digit(body)
        if not _has_pattern(number):
            return number


def generate_uin(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh random 12-digit UIN; `randbelow` exists for deterministic tests, production keeps `secrets`."""
    return _generate(UIN_LENGTH, randbelow)


def generate_vid(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh random 16-digit VID, generated and filtered like a UIN."""
    return _generate(VID_LENGTH, randbelow)


def is_valid_uin(value: str) -> bool:
    """Whether `value` is 12 ASCII digits ending in the right Verhoeff check digit."""
    return len(value) == UIN_LENGTH and verhoeff_validate(value)


def is_valid_vid(value: str) -> bool:
    """Whether `value` is 16 ASCII digits ending in the right Verhoeff check digit."""
    return len(value) == VID_LENGTH and verhoeff_validate(value)


# A UIN as people and programs write it: 12 digits, or three groups of four joined by one space, dot or hyphen;
# standalone (not part of a longer word, number or group run, such as a 16-digit VID written in fours).
_WRITTEN_UIN = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9][ .-])([0-9]{4})([ .-]?)([0-9]{4})\2([0-9]{4})(?![0-9A-Za-z])(?![ .-][0-9])"
)


def find_uins(text: str | bytes) -> list[str]:
    """Every UIN written in `text` (12 digits, plain or grouped in fours, with a right Verhoeff check digit), as
    12 plain digits, in order. The sandbox's own ids (services.common.ids) are set aside first: digits inside them are
    not a UIN, however they happen to fall. For egress scans and log redaction."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    masked = OWN_ID.sub(lambda m: "#" * len(m.group()), text)
    found = ("".join(m.group(1, 3, 4)) for m in _WRITTEN_UIN.finditer(masked))
    return [number for number in found if is_valid_uin(number)]
