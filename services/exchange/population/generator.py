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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

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


@dataclass(frozen=True)
class Account:
    fsp: str
    number: str


@dataclass(frozen=True)
class Person:
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


def _weighted(rng: random.Random, table: tuple[tuple[object, float], ...]) -> object:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


_LOCALE_WEIGHTS = [locale.weight for locale in LOCALES]


def households(seed: int, people: int, *, start_household: int = 0) -> Iterator[Household]:
    """Households until `people` people exist (the last one cut short), from `start_household` on.

    No two people share a name and a date of birth (identity would take the second for a duplicate of the first):
    a clash moves the later person's birthday by a day. That makes each household depend on the ones before it, so
    a resumed load generates (without storing) the households it skips."""
    number, index = 0, 0
    taken: set[tuple[str, str, date]] = set()
    while number < people:
        household = _household(seed, index, number, people - number, taken)
        if index >= start_household:
            yield household
        number += len(household.members)
        index += 1


def _unique_birthday(taken: set[tuple[str, str, date]], given: str, family: str, born: date) -> date:
    key = (unicodedata.normalize("NFKD", given).casefold(), unicodedata.normalize("NFKD", family).casefold())
    while (*key, born) in taken:
        born += timedelta(days=1)
    taken.add((*key, born))
    return born


def _household(  # noqa: C901, PLR0912, PLR0915 (one household drawn field by field, in a fixed order for determinism)
    seed: int, index: int, first: int, room: int, taken: set[tuple[str, str, date]]
) -> Household:
    rng = random.Random(f"{seed}:household:{index}")
    locale: Locale = rng.choices(LOCALES, weights=_LOCALE_WEIGHTS)[0]
    size = min(int(_weighted(rng, HOUSEHOLD_SIZES)), room)  # type: ignore[call-overload]
    residency = str(_weighted(rng, RESIDENCY))
    district_number = rng.randrange(1, 61)
    district, region = f"District {district_number}", REGIONS[district_number % len(REGIONS)]
    family = rng.choice(locale.family)
    ethnicity = rng.choice(ETHNICITIES) if rng.random() < 0.7 else None
    nationality = (
        None if residency == "stateless" else ("SBX" if residency == "citizen" else rng.choice(NATIONALITIES[3:]))
    )
    household_id = f"hh_{seed}_{index:07d}"
    head_age = rng.randrange(18, 86)
    plan: list[tuple[str, int]] = [("head", head_age)]
    married = size >= 2 and head_age < 80 and rng.random() < 0.7
    if married:
        plan.append(("spouse", max(18, head_age + rng.randrange(-8, 9))))
    while len(plan) < size:
        if head_age >= 30 and rng.random() < 0.85:
            plan.append(("child", rng.randrange(0, min(head_age - 16, 35))))
        else:
            plan.append(("other", rng.randrange(0, 95)))
    head_phone = f"+000 {rng.randrange(10**8, 10**9)}" if rng.random() < 0.85 else None
    head_sex = rng.choice(("female", "male"))
    members: list[Person] = []
    for offset, (relationship, age) in enumerate(plan):
        number = first + offset
        if relationship == "head":
            sex: str | None = head_sex
        elif relationship == "spouse":
            sex = "male" if head_sex == "female" else "female"
        else:
            sex = rng.choices(
                ("female", "male", "intersex", "other", "undisclosed", None), weights=(48, 48, 0.5, 0.5, 1.5, 1.5)
            )[0]
        names = locale.female if sex == "female" else locale.male if sex == "male" else locale.female + locale.male
        born = REFERENCE_DAY - timedelta(days=age * 365 + rng.randrange(365))
        adult = age >= 18
        if relationship == "head":
            phone, shared = head_phone, False
        elif adult and rng.random() < 0.6:
            phone, shared = f"+000 {rng.randrange(10**8, 10**9)}", False
        elif adult and head_phone and rng.random() < 0.6:
            phone, shared = head_phone, True
        else:
            phone, shared = None, False
        if residency in ("refugee", "stateless"):
            has_id = rng.random() < 0.35
        elif age < 5:
            has_id = rng.random() < 0.5
        else:
            has_id = rng.random() < 0.97
        banked = adult and rng.random() < 0.75
        fsp = rng.choice(FSPS) if banked else None
        if fsp == "MOBILE-MONEY" and phone is None:
            fsp = rng.choice(FSPS[:2])
        account = Account(fsp, f"{fsp[:3]}{number:09d}") if fsp else None
        deceased = age >= 60 and rng.random() < 0.03
        given = rng.choice(names)
        born = _unique_birthday(taken, given, family, born)
        mother = father = None
        if relationship == "child":  # the head and spouse come first, so a child's parents are already made
            for parent in members[:2]:
                if parent.relationship in ("head", "spouse") and (born - parent.date_of_birth).days > 16 * 365:
                    if parent.sex == "female" and mother is None:
                        mother = parent.number
                    elif parent.sex == "male" and father is None:
                        father = parent.number
        members.append(
            Person(
                number=number,
                sub=subject_ref(seed, number),
                household_id=household_id,
                relationship=relationship,
                given_name=given,
                family_name=family,
                sex=sex,
                date_of_birth=born,
                place_of_birth=district if residency in ("citizen", "resident") else "Outside the country",
                ethnicity=ethnicity,
                residency_status=residency,
                nationality=nationality,
                preferred_language=locale.language,
                phone=phone,
                phone_shared=shared,
                has_foundational_id=has_id,
                disability_flag=rng.random() < 0.06,
                account=account,
                deceased_on=REFERENCE_DAY - timedelta(days=rng.randrange(1, 3650)) if deceased else None,
                duplicate_given_name=given.upper() if has_id and rng.random() < DUPLICATE_SHARE else None,
                mother_number=mother,
                father_number=father,
            )
        )
    return Household(
        index,
        household_id,
        locale.code,
        str(_weighted(rng, INCOME_BANDS)),
        district,
        region,
        residency,
        members,
        married,
    )


def people(seed: int, count: int) -> Iterator[Person]:
    for household in households(seed, count):
        yield from household.members
