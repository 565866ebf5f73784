"""A deterministic synthetic registry: enrolled people made from a seed, loaded in bulk.

For benchmarks and workshops at scale (100 to 1,000,000 people). Rows are built with the same keyring, field
encryption, blind indexes and UIN generator as an enrolment, but written in batches without the per-request dedup
look-up; the loader keeps the registry free of duplicates itself (it skips any name + date-of-birth it already made).
No enrolment events are written: a bulk load is a migration of synthetic data, not a stream of enrolments.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import table_of
from services.identity.deps import Runtime
from services.identity.persons.models import Person, PersonAttribute, PersonStatus
from services.identity.persons.service import (
    UIN_ATTRIBUTE,
    PersonService,
    attribute_context,
    encrypted_attribute_rows,
    new_sub,
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
    analyze: bool = True,
) -> int:
    """Insert `count` active, biometric-consenting people; returns how many were written (duplicates skipped).

    `people` replaces this module's own generator (`count` and `start` are then unused); `analyze=False` leaves
    the statistics to a caller that loads in many calls."""
    seen: set[str] = set()
    uin_indexes: set[str] = set()
    written = 0
    people = iter(people) if people is not None else synthetic_people(seed, count, start=start)
    while True:
        batch = [p for _, p in zip(range(batch_size), people, strict=False)]
        if not batch:
            if not analyze:
                return written
            # Fresh statistics, or the planner keeps its empty-table estimates and scans the status index of a
            # million rows for every deduplication (measured: 65 ms instead of under 1 ms at 1,000,000 people).
            # Only the tables written here: a bare ANALYZE takes every table in the database, and deadlocked with a
            # parallel test's schema in CI.
            async with sessionmaker() as session, session.begin():
                for model in (Person, PersonAttribute):
                    await session.execute(text(f'ANALYZE "{table_of(model).name}"'))
            return written
        person_rows: list[dict[str, Any]] = []
        attribute_rows: list[dict[str, Any]] = []
        now = rt.clock.now()
        for synthetic in batch:
            name_dob_index = PersonService.name_dob_index(synthetic.values, rt)
            if name_dob_index in seen:
                continue
            seen.add(name_dob_index)
            person_id = f"per_syn_{seed}_{synthetic.number:08d}"
            # 8 x 10^10 possible UINs: a million draws collide a few times, so never reuse one (as enrolment does).
            uin, uin_index = _fresh_uin(rt, uin_indexes)
            person_rows.append(
                {
                    "id": person_id,
                    "sub": synthetic.sub or new_sub(),
                    "status": PersonStatus.active.value,
                    "uin_index": uin_index,
                    "name_dob_index": name_dob_index,
                    "phone_index": PersonService.phone_index(synthetic.values["phone"], rt),
                    "biometric_hash": rt.keyring.fingerprint("biometric", synthetic.biometric_template),
                    "consent_biometric": True,
                    "consent_notices": False,
                    "duplicate_of": None,
                    "enrolled_by": enrolled_by,
                    "created_at": now,
                    "updated_at": now,
                    "uin_issued_at": now,
                }
            )
            values = {**synthetic.values, UIN_ATTRIBUTE: uin}
            attribute_rows += encrypted_attribute_rows(person_id, [(n, v, now) for n, v in values.items()], rt)
        async with sessionmaker() as session, session.begin():
            batch_indexes = [row["uin_index"] for row in person_rows]
            existing = await session.scalars(select(Person.uin_index).where(Person.uin_index.in_(batch_indexes)))
            taken: set[str] = {index for index in existing if index is not None}
            for row in person_rows:  # a UIN some earlier load or enrolment already holds: draw again
                if row["uin_index"] in taken:
                    uin, row["uin_index"] = _fresh_uin(rt, uin_indexes | taken)
                    _replace_uin(attribute_rows, row["id"], uin, rt)
            if person_rows:
                await session.execute(insert(Person), person_rows)
                await session.execute(insert(PersonAttribute), attribute_rows)
        written += len(person_rows)


def _fresh_uin(rt: Runtime, taken: set[str]) -> tuple[str, str]:
    while True:
        uin = generate_uin()
        uin_index = rt.keyring.blind.index(uin, kind="uin")
        if uin_index not in taken:
            taken.add(uin_index)
            return uin, uin_index


def _replace_uin(attribute_rows: list[dict[str, Any]], person_id: str, uin: str, rt: Runtime) -> None:
    for row in attribute_rows:
        if row["person_id"] == person_id and row["name"] == UIN_ATTRIBUTE:
            row["key_id"], row["ciphertext"] = rt.keyring.cipher.encrypt(
                uin, context=attribute_context(person_id, "uin")
            )
