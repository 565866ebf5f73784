"""UIN and VID generation and validation: Verhoeff vectors, error detection and the MOSIP-style filters."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from services.identity.persons.uin import (
    generate_uin,
    generate_vid,
    is_valid_uin,
    is_valid_vid,
    verhoeff_check_digit,
    verhoeff_validate,
)


def looks_patterned(number: str) -> bool:
    """Independent of the module's filter: three equal digits, or four consecutive digits up or down."""
    if any(number[i] == number[i + 1] == number[i + 2] for i in range(len(number) - 2)):
        return True
    for i in range(len(number) - 3):
        steps = {int(number[j + 1]) - int(number[j]) for j in range(i, i + 3)}
        if steps in ({1}, {-1}):
            return True
    return False


@pytest.mark.parametrize(("body", "check"), [("236", "3"), ("12345", "1"), ("142857", "0"), ("0", "4")])
def test_known_verhoeff_check_digits(body: str, check: str) -> None:
    assert verhoeff_check_digit(body) == check
    assert verhoeff_validate(body + check)


def test_known_valid_and_invalid_numbers() -> None:
    assert verhoeff_validate("2363")
    assert verhoeff_validate("123451")
    assert not verhoeff_validate("2364")
    assert not verhoeff_validate("123452")


@pytest.mark.parametrize("bad", ["", "12a4", "\uff11\uff12\uff13", "\u00b23"])
def test_check_digit_refuses_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        verhoeff_check_digit(bad)
    assert not verhoeff_validate(bad)


def test_uin_validation_checks_length_digits_and_check_digit() -> None:
    body = "23456789014"
    uin = body + verhoeff_check_digit(body)
    assert is_valid_uin(uin)
    wrong = str((int(uin[-1]) + 1) % 10)
    assert not is_valid_uin(uin[:-1] + wrong)
    assert not is_valid_uin(uin[:-1])
    assert not is_valid_uin(uin + "0")
    assert not is_valid_uin(" " + uin[1:])
    assert not is_valid_vid(uin)


def test_ten_thousand_generated_uins_are_valid_and_unpatterned() -> None:
    uins = [generate_uin() for _ in range(10_000)]
    assert all(is_valid_uin(uin) for uin in uins)
    assert all(uin[0] not in "01" for uin in uins)
    assert not [uin for uin in uins if looks_patterned(uin)]
    # Not sequential: consecutive draws share no long common prefix as a counter would.
    assert sum(a[:6] == b[:6] for a, b in itertools.pairwise(uins)) < 5


def test_ten_thousand_generated_uins_are_unique() -> None:
    # Seeded so the birthday bound (~6e-4 for one clash among 10k of ~8e10) cannot make the suite flaky.
    rng = random.Random(20260101)
    uins = [generate_uin(rng.randrange) for _ in range(10_000)]
    assert len(set(uins)) == len(uins)
    assert all(is_valid_uin(uin) for uin in uins)


def test_generated_vids_are_valid_and_not_uins() -> None:
    vids = [generate_vid() for _ in range(1_000)]
    assert all(is_valid_vid(vid) and not is_valid_uin(vid) for vid in vids)
    assert not [vid for vid in vids if looks_patterned(vid) or vid[0] in "01"]
    assert len(set(vids)) == len(vids)


uins = st.from_regex(r"[2-9][0-9]{10}", fullmatch=True).map(lambda body: body + verhoeff_check_digit(body))


@given(uin=uins, position=st.integers(0, 11), delta=st.integers(1, 9))
def test_any_single_digit_change_is_detected(uin: str, position: int, delta: int) -> None:
    changed = uin[:position] + str((int(uin[position]) + delta) % 10) + uin[position + 1 :]
    assert is_valid_uin(uin)
    assert not is_valid_uin(changed)


@given(uin=uins, position=st.integers(0, 10))
def test_any_adjacent_transposition_is_detected(uin: str, position: int) -> None:
    a, b = uin[position], uin[position + 1]
    assume(a != b)
    assert not is_valid_uin(uin[:position] + b + a + uin[position + 2 :])
