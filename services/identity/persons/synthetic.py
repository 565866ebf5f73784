"""A deterministic synthetic registry: enrolled people made from a seed, loaded in bulk.

For benchmarks and workshops at scale (100 to 1,000,000 people). Rows are built with the same keyring, field
encryption, blind indexes and UIN generator as an enrolment, but written in batches without the per-request dedup
look-up; the loader keeps the registry free of duplicates itself (it skips any name + date-of-birth it already made).
No enrolment events are written: a bulk load is a migration of synthetic data, not a stream of enrolments.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.bulk import write_rows
from services.common.db import table_of
from services.identity.deps import Runtime
from services.identity.keyring import Keyring
from services.identity.persons.models import Person, PersonAttribute, PersonStatus
from services.identity.persons.service import (
    UIN_ATTRIBUTE,
    attribute_context,
    dedup_name,
    name_dob_index_of,
    new_sub,
    phone_index_of,
)
from services.identity.persons.uin import generate_uin

GIVEN_NAMES = (
    "Amara", "Chidi", "Fatima", "Kwame", "Nia", "Tariq", "Leila", "Mateo", "Sofia", "Aroha", "Ivan", "Mei", "Ravi",
    "Anaïs", "Jomo", "Yusuf", "Zainab", "Thandiwe", "Ana", "Luis", "Priya", "Arjun", "Hana", "Kenji", "Olga",
    "Tomasz", "Amina", "Bilal", "Efua", "Kofi", "Lindiwe", "Sipho", "Nadia", "Omar", "Rosa", "Diego", "Aiko",
    "Sung-min", "Ji-woo", "Farah", "Hamid", "Esi", "Abena", "Mariam", "Yaw", "Ngozi", "Emeka", "Wanjiru", "Otieno",
    "Aisha", "Bongani", "Carmen", "Dmitri", "Elif", "Emre", "Gabriela", "Hiroshi", "Ingrid", "Jamal", "Kateryna",
    "Lucía", "Malik", "Noor", "Oluwaseun", "Pedro", "Qiu", "Rania", "Samir", "Tendai", "Uzma", "Vusi", "Xolani",
    "Yara", "Zodwa", "Мария", "Алексей", "أحمد", "فاطمة", "राहुल", "सीता", "美玲", "伟", "ሰላም", "ትግስት",
)  # fmt: skip
FAMILY_NAMES = (
    "Okafor", "Mensah", "Haddad", "Nguyen", "Silva", "Kowalski", "Tanaka", "Kim", "Patel", "Sharma", "Ali", "Khan",
    "Mwangi", "Odhiambo", "Dlamini", "Nkosi", "García", "Rodríguez", "Ivanova", "Petrov", "Hassan", "Ibrahim",
    "Boateng", "Asante", "Mahlangu", "Banda", "Phiri", "Tembo", "Chen", "Wang", "Li", "Yilmaz", "Demir", "Kaya",
    "Rossi", "Bianchi", "Dubois", "Moreau", "Schmidt", "Müller", "Novak", "Horvat", "Kovač", "Santos", "Costa",
    "Oliveira", "Pereira", "Fernández", "López", "Mohammed", "Abdi", "Yusuf", "Osei", "Owusu", "Adeyemi", "Bello",
    "Eze", "Nwosu", "Kariuki", "Njoroge", "Wambui", "Sithole", "Zulu", "Moyo", "Ncube", "Mutasa", "Chikwanha",
    "Иванов", "Смирнова", "حسن", "علي", "शर्मा", "वर्मा", "王", "李", "ተስፋዬ", "በቀለ",
)  # fmt: skip
RESIDENCY = (("citizen", 80), ("resident", 12), ("refugee", 4), ("stateless", 2), ("unknown", 2))
SEXES = ("female", "male", "intersex", "other", "undisclosed", None)


@dataclass(frozen=True)
class SyntheticPerson:
    """One generated person; `biometric_template` is the sandbox's synthetic stand-in for a template."""

    number: int
    values: dict[str, str | None]
    biometric_template: str
    # Given when another generator made the person (the exchange's population, through `dpi-sandbox seed`), so that
    # every register knows them by the same reference; otherwise a fresh one is drawn.
    sub: str | None = None


def synthetic_people(seed: int, count: int, *, start: int = 0) -> Iterator[SyntheticPerson]:
    """The same people for the same seed, in the same order; `start` skips the first ones."""
    for number in range(start, start + count):
        rng = random.Random(f"{seed}:{number}")  # per-person stream: any slice is reproducible on its own
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        residency = rng.choices([r for r, _ in RESIDENCY], weights=[w for _, w in RESIDENCY])[0]
        values: dict[str, str | None] = {
            "given_name": rng.choice(GIVEN_NAMES),
            "family_name": rng.choice(FAMILY_NAMES),
            "full_name": None,
            "date_of_birth": born.isoformat(),
            "sex": rng.choice(SEXES),
            "residency_status": residency,
            "nationality": None if residency == "stateless" else rng.choice(("TZA", "KEN", "GHA", "NGA", "ZAF")),
            "address": f"{rng.randrange(1, 999)} Synthetic Road, District {rng.randrange(1, 60)}",
            "phone": f"+000 {rng.randrange(10**8, 10**9)}",
            "email": None,
            "preferred_language": rng.choice(("en", "fr", "sw", "ar", "pt", "es")),
        }
        yield SyntheticPerson(number, values, f"synthetic-template:{seed}:{number}")


PERSONS = table_of(Person)
ATTRIBUTES = table_of(PersonAttribute)
PERSON_COLUMNS = (
    "id", "sub", "status", "uin_index", "name_dob_index", "phone_index", "biometric_hash", "consent_biometric",
    "consent_notices", "duplicate_of", "enrolled_by", "created_at", "updated_at", "uin_issued_at",
)  # fmt: skip
ATTRIBUTE_COLUMNS = ("person_id", "name", "key_id", "ciphertext", "updated_at")
_PERSON_ID, _UIN_INDEX = PERSON_COLUMNS.index("id"), PERSON_COLUMNS.index("uin_index")


@dataclass
class SyntheticBatch:
    """One batch's rows, values in the order of PERSON_COLUMNS and ATTRIBUTE_COLUMNS."""

    persons: list[tuple[Any, ...]]
    attributes: list[tuple[Any, ...]]
    uin_rows: dict[int, int]  # person row -> its UIN's attribute row


class KeyedPerson(NamedTuple):
    """A synthetic person with the keys that make them unique in the registry, before their fields are sealed."""

    person_id: str
    sub: str
    uin: str
    uin_index: str
    name_dob_index: str
    values: dict[str, str | None]
    biometric_template: str


class SyntheticRows:
    """Builds the rows of synthetic people as an enrolment would store them (the same keyring, field encryption,
    blind indexes and UIN generator), in bulk: the names' matching forms computed once per name, the fields of a
    batch sealed in one go.

    In two steps, so that a load can seal in several processes: `keys` keeps the load free of duplicates (it skips
    a name and date of birth already made) and never gives a UIN twice (`taken_uins` holds the UIN blind indexes
    already given, in the database or in this load; `registry_keys` reads both from the database), in one place;
    `seal` (any process with the keyring) makes the rows."""

    def __init__(
        self, keyring: Keyring, *, seed: int, taken_uins: set[str] | None = None, seen: set[str] | None = None
    ) -> None:
        self._keyring, self._seed = keyring, seed
        self.taken_uins = taken_uins if taken_uins is not None else set()
        self._seen = seen if seen is not None else set()
        self._matching: dict[str, str] = {}

    def keys(self, people: Iterable[SyntheticPerson]) -> list[KeyedPerson]:
        keyed = []
        for synthetic in people:
            values = synthetic.values
            name_key = f"{values.get('full_name')}\x00{values.get('given_name')}\x00{values.get('family_name')}"
            matching = self._matching.get(name_key)
            if matching is None:
                matching = self._matching[name_key] = dedup_name(values)
            name_dob_index = name_dob_index_of(matching, str(values["date_of_birth"]), self._keyring)
            if name_dob_index in self._seen:
                continue
            self._seen.add(name_dob_index)
            # 8 x 10^10 possible UINs: a million draws collide a few times, so never reuse one (as enrolment does).
            uin, uin_index = self.fresh_uin()
            keyed.append(
                KeyedPerson(
                    f"per_syn_{self._seed}_{synthetic.number:08d}",
                    synthetic.sub or new_sub(),
                    uin,
                    uin_index,
                    name_dob_index,
                    values,
                    synthetic.biometric_template,
                )
            )
        return keyed

    def fresh_uin(self) -> tuple[str, str]:
        while True:
            uin = generate_uin()
            uin_index = self._keyring.blind.index(uin, kind="uin")
            if uin_index not in self.taken_uins:
                self.taken_uins.add(uin_index)
                return uin, uin_index

    def redraw(self, batch: SyntheticBatch, taken: set[str]) -> None:
        """Draw again the UINs of `batch` that `taken` (found in the database) holds."""
        self.taken_uins |= taken
        for row, attribute_row in batch.uin_rows.items():
            person = batch.persons[row]
            if person[_UIN_INDEX] in taken:
                uin, uin_index = self.fresh_uin()
                batch.persons[row] = (*person[:_UIN_INDEX], uin_index, *person[_UIN_INDEX + 1 :])
                person_id, name, _, _, updated_at = batch.attributes[attribute_row]
                key_id, ciphertext = self._keyring.cipher.encrypt(
                    uin, context=attribute_context(person_id, UIN_ATTRIBUTE)
                )
                batch.attributes[attribute_row] = (person_id, name, key_id, ciphertext, updated_at)


def seal(keyring: Keyring, people: Sequence[KeyedPerson], *, now: datetime, enrolled_by: str) -> SyntheticBatch:
    """The rows of `people`: active, biometric-consenting, every field encrypted under the active key."""
    persons: list[tuple[Any, ...]] = []
    fields: list[tuple[str, str, str]] = []  # (person id, field, value)
    uin_rows: dict[int, int] = {}
    for person in people:
        persons.append(
            (
                person.person_id,
                person.sub,
                PersonStatus.active.value,
                person.uin_index,
                person.name_dob_index,
                phone_index_of(person.values["phone"], keyring),
                keyring.fingerprint("biometric", person.biometric_template),
                True,
                False,
                None,
                enrolled_by,
                now,
                now,
                now,
            )
        )
        fields += [(person.person_id, name, value) for name, value in person.values.items() if value is not None]
        uin_rows[len(persons) - 1] = len(fields)
        fields.append((person.person_id, UIN_ATTRIBUTE, person.uin))
    key_id, sealed = keyring.cipher.encrypt_many(
        [(value, attribute_context(person_id, name)) for person_id, name, value in fields]
    )
    attributes = [
        (person_id, name, key_id, ciphertext, now)
        for (person_id, name, _), ciphertext in zip(fields, sealed, strict=True)
    ]
    return SyntheticBatch(persons, attributes, uin_rows)


async def write_batch(session: AsyncSession, batch: SyntheticBatch) -> None:
    """The batch's rows, in the caller's transaction (COPY on PostgreSQL)."""
    await write_rows(session, PERSONS, PERSON_COLUMNS, batch.persons)
    await write_rows(session, ATTRIBUTES, ATTRIBUTE_COLUMNS, batch.attributes)


async def analyze(session: AsyncSession) -> None:
    """Fresh statistics, or the planner keeps its empty-table estimates and scans the status index of a million
    rows for every deduplication (measured: 65 ms instead of under 1 ms at 1,000,000 people). Only the tables
    written here: a bare ANALYZE takes every table in the database, and deadlocked with a parallel test's schema."""
    for table in (PERSONS, ATTRIBUTES):
        await session.execute(text(f'ANALYZE "{table.name}"'))


async def load_synthetic_registry(
    sessionmaker: async_sessionmaker[AsyncSession],
    rt: Runtime,
    *,
    seed: int,
    count: int,
    start: int = 0,
    batch_size: int = 2000,
    enrolled_by: str = "synthetic-loader",
    people: Iterable[SyntheticPerson] | None = None,
) -> int:
    """Insert `count` active, biometric-consenting people; returns how many were written (duplicates skipped).

    `people` replaces this module's own generator (`count` and `start` are then unused)."""
    rows = SyntheticRows(rt.keyring, seed=seed)
    written = 0
    source = iter(people) if people is not None else synthetic_people(seed, count, start=start)
    while chunk := list(islice(source, batch_size)):
        batch = seal(rt.keyring, rows.keys(chunk), now=rt.clock.now(), enrolled_by=enrolled_by)
        async with sessionmaker() as session, session.begin():
            wanted = [person[_UIN_INDEX] for person in batch.persons]
            rows.redraw(batch, set(await session.scalars(select(Person.uin_index).where(Person.uin_index.in_(wanted)))))
            await write_batch(session, batch)
        written += len(batch.persons)
    async with sessionmaker() as session, session.begin():
        await analyze(session)
    return written


async def registry_keys(session: AsyncSession) -> tuple[set[str], set[str]]:
    """The UIN and the name and date-of-birth blind indexes already in the registry (for `SyntheticRows`)."""
    uins: set[str] = set()
    names: set[str] = set()
    for uin_index, name_dob_index in await session.execute(select(Person.uin_index, Person.name_dob_index)):
        if uin_index is not None:
            uins.add(uin_index)
        names.add(name_dob_index)
    return uins, names
