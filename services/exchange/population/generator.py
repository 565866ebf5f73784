"""The synthetic population: deterministic people in households, the same for the same seed on any machine.

One population feeds every register: identity enrols the people who hold a foundational ID, the civil registry
holds every birth, death and marriage, the social registry every household, and each banked adult has an account at
a simulated financial service provider. They are the same people everywhere because each is built once, here, with
a subject reference (`sub`) derived from the seed and the person's number.

Households are generated one after another from their own random stream (`seed:household:h`), so the population up
to any household is reproducible on its own and a load can resume after the last household it committed. A real
population's edge cases come in fixed shares (sandbox configuration, not statistics of any country):
no foundational ID (young children, most refugees and stateless people, some adults), refugees and stateless
households, no phone, a phone shared with the head of household, possible duplicate enrolments that identity must
adjudicate, unbanked adults, the deceased.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import Any, NamedTuple

from services.exchange.population.names import LOCALES, Locale

REFERENCE_DAY = date(2026, 1, 1)  # ages are counted to this day, not to the wall clock: the same seed, the same data
REGIONS = ("North", "South", "East", "West", "Central", "Coast")
INCOME_BANDS = (("none", 8), ("very_low", 27), ("low", 30), ("middle", 27), ("high", 8))
HOUSEHOLD_SIZES = ((1, 14), (2, 18), (3, 18), (4, 18), (5, 13), (6, 9), (7, 6), (8, 4))
RESIDENCY = (("citizen", 88), ("resident", 6), ("refugee", 4), ("stateless", 1.5), ("unknown", 0.5))
NATIONALITIES = ("SBX", "SBX", "SBX", "KEN", "TZA", "NGA", "GHA", "ZAF", "ETH", "SDN", "COD")
ETHNICITIES = ("group-a", "group-b", "group-c", "group-d", "group-e", "group-f")
FSPS = ("FSP-ALPHA", "FSP-BETA", "MOBILE-MONEY")
DUPLICATE_SHARE = 0.004


class Account(NamedTuple):
    fsp: str
    number: str


class Person(NamedTuple):  # a tuple: a million of them are made in a load
    number: int
    sub: str
    household_id: str
    relationship: str  # head | spouse | child | other
    given_name: str
    family_name: str
    sex: str | None
    date_of_birth: date
    place_of_birth: str
    ethnicity: str | None
    residency_status: str
    nationality: str | None
    preferred_language: str
    phone: str | None
    phone_shared: bool
    has_foundational_id: bool
    disability_flag: bool
    deceased_on: date | None
    account: Account | None
    # A second enrolment of this person under a variant of their name: identity should hold it for adjudication.
    duplicate_given_name: str | None
    mother_number: int | None
    father_number: int | None


@dataclass(frozen=True)
class Household:
    index: int
    id: str
    locale: str
    income_band: str
    district: str
    region: str
    residency_status: str
    members: list[Person]
    married: bool  # head and spouse are married


def subject_ref(seed: int, number: int) -> str:
    """The person's `sub` (`sub_` and 26 characters, as long as identity's), derived from seed and number."""
    return "sub_" + hashlib.sha256(f"dpi-synthetic-population:{seed}:{number}".encode()).hexdigest()[:26]


class _Draws:
    """The household's random stream, drawn exactly as `random.Random.choice`, `randrange` and `choices` would draw
    it (so the population is the one those calls made), without their per-call argument handling: a million people
    take some 25 million draws."""

    __slots__ = ("_bits", "random")

    def __init__(self, key: str) -> None:
        rng = random.Random(key)
        self.random = rng.random
        self._bits = rng.getrandbits

    def below(self, n: int) -> int:
        """Uniform in [0, n): CPython's `_randbelow_with_getrandbits`, by rejection on n.bit_length() bits."""
        k = n.bit_length()
        r = self._bits(k)
        while r >= n:
            r = self._bits(k)
        return r

    def pick(self, options: tuple[Any, ...]) -> Any:
        return options[self.below(len(options))]

    def weighted(self, table: _Weighted) -> Any:
        return table.values[bisect(table.cumulative, self.random() * table.total, 0, table.last)]


@dataclass(frozen=True)
class _Weighted:
    values: tuple[Any, ...]
    cumulative: tuple[float, ...]
    total: float
    last: int

    @classmethod
    def of(cls, table: Sequence[tuple[Any, float]]) -> _Weighted:
        cumulative = tuple(accumulate(weight for _, weight in table))
        return cls(tuple(value for value, _ in table), cumulative, cumulative[-1] + 0.0, len(table) - 1)


_LOCALES = _Weighted.of([(locale, locale.weight) for locale in LOCALES])
_SIZES = _Weighted.of(HOUSEHOLD_SIZES)
_RESIDENCY = _Weighted.of(RESIDENCY)
_INCOME = _Weighted.of(INCOME_BANDS)
_SEXES = _Weighted.of(
    (("female", 48), ("male", 48), ("intersex", 0.5), ("other", 0.5), ("undisclosed", 1.5), (None, 1.5))
)
_FOREIGN = NATIONALITIES[3:]
_DAYS = [timedelta(days=n) for n in range(95 * 365 + 365)]  # every age in days a person here can have


def households(seed: int, people: int, *, start_household: int = 0) -> Iterator[Household]:
    """Households until `people` people exist (the last one cut short), from `start_household` on.

    No two people share a name and a date of birth (identity would take the second for a duplicate of the first):
    a clash moves the later person's birthday by a day. That makes each household depend on the ones before it, so
    a resumed load generates (without storing) the households it skips."""
    number, index = 0, 0
    taken = _Taken()
    while number < people:
        household = _household(seed, index, number, people - number, taken)
        if index >= start_household:
            yield household
        number += len(household.members)
        index += 1


class _Taken:
    """Names and dates of birth already given, as the names' matching form and the day's ordinal, in one integer."""

    def __init__(self) -> None:
        self._written: dict[tuple[str, str], int] = {}  # as written -> the number of its matching form
        self._forms: dict[tuple[str, str], int] = {}
        self._taken: set[int] = set()

    def unique_birthday(self, given: str, family: str, born: date) -> date:
        name = self._written.get((given, family))
        if name is None:
            form = (unicodedata.normalize("NFKD", given).casefold(), unicodedata.normalize("NFKD", family).casefold())
            name = self._written[(given, family)] = self._forms.setdefault(form, len(self._forms))
        day = born.toordinal()
        while (name << 20) | day in self._taken:
            day += 1
        self._taken.add((name << 20) | day)
        return born if day == born.toordinal() else date.fromordinal(day)


def _household(  # noqa: C901, PLR0912, PLR0915 (one household drawn field by field, in a fixed order for determinism)
    seed: int, index: int, first: int, room: int, taken: _Taken
) -> Household:
    rng = _Draws(f"{seed}:household:{index}")
    chance, below, pick = rng.random, rng.below, rng.pick
    locale: Locale = rng.weighted(_LOCALES)
    size = min(rng.weighted(_SIZES), room)
    residency: str = rng.weighted(_RESIDENCY)
    district_number = 1 + below(60)
    district, region = f"District {district_number}", REGIONS[district_number % len(REGIONS)]
    family = pick(locale.family)
    ethnicity = pick(ETHNICITIES) if chance() < 0.7 else None
    nationality = None if residency == "stateless" else ("SBX" if residency == "citizen" else pick(_FOREIGN))
    household_id = f"hh_{seed}_{index:07d}"
    head_age = 18 + below(68)
    plan: list[tuple[str, int]] = [("head", head_age)]
    married = size >= 2 and head_age < 80 and chance() < 0.7
    if married:
        plan.append(("spouse", max(18, head_age - 8 + below(17))))
    while len(plan) < size:
        if head_age >= 30 and chance() < 0.85:
            plan.append(("child", below(min(head_age - 16, 35))))
        else:
            plan.append(("other", below(95)))
    head_phone = f"+000 {10**8 + below(9 * 10**8)}" if chance() < 0.85 else None
    head_sex = pick(("female", "male"))
    either = locale.female + locale.male
    born_of_place = district if residency in ("citizen", "resident") else "Outside the country"
    without_papers = residency in ("refugee", "stateless")
    members: list[Person] = []
    for offset, (relationship, age) in enumerate(plan):
        number = first + offset
        if relationship == "head":
            sex: str | None = head_sex
        elif relationship == "spouse":
            sex = "male" if head_sex == "female" else "female"
        else:
            sex = rng.weighted(_SEXES)
        names = locale.female if sex == "female" else locale.male if sex == "male" else either
        born = REFERENCE_DAY - _DAYS[age * 365 + below(365)]
        adult = age >= 18
        if relationship == "head":
            phone, shared = head_phone, False
        elif adult and chance() < 0.6:
            phone, shared = f"+000 {10**8 + below(9 * 10**8)}", False
        elif adult and head_phone and chance() < 0.6:
            phone, shared = head_phone, True
        else:
            phone, shared = None, False
        if without_papers:
            has_id = chance() < 0.35
        elif age < 5:
            has_id = chance() < 0.5
        else:
            has_id = chance() < 0.97
        banked = adult and chance() < 0.75
        fsp = pick(FSPS) if banked else None
        if fsp == "MOBILE-MONEY" and phone is None:
            fsp = pick(FSPS[:2])
        account = Account(fsp, f"{fsp[:3]}{number:09d}") if fsp else None
        deceased = age >= 60 and chance() < 0.03
        given = pick(names)
        born = taken.unique_birthday(given, family, born)
        mother = father = None
        if relationship == "child":  # the head and spouse come first, so a child's parents are already made
            for parent in members[:2]:
                if parent.relationship in ("head", "spouse") and (born - parent.date_of_birth).days > 16 * 365:
                    if parent.sex == "female" and mother is None:
                        mother = parent.number
                    elif parent.sex == "male" and father is None:
                        father = parent.number
        disabled = chance() < 0.06
        deceased_on = REFERENCE_DAY - _DAYS[1 + below(3649)] if deceased else None
        duplicate = given.upper() if has_id and chance() < DUPLICATE_SHARE else None
        members.append(
            Person(
                number,
                subject_ref(seed, number),
                household_id,
                relationship,
                given,
                family,
                sex,
                born,
                born_of_place,
                ethnicity,
                residency,
                nationality,
                locale.language,
                phone,
                shared,
                has_id,
                disabled,
                deceased_on,
                account,
                duplicate,
                mother,
                father,
            )
        )
    return Household(
        index, household_id, locale.code, rng.weighted(_INCOME), district, region, residency, members, married
    )


def people(seed: int, count: int) -> Iterator[Person]:
    for household in households(seed, count):
        yield from household.members
