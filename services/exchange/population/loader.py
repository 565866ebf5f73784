"""Bulk-loading the synthetic population into the simulated registries: COPY on PostgreSQL, batched INSERTs on
SQLite, one transaction per batch of households together with the load's progress row, so an interrupted load
resumes after the last batch it committed and never writes a person twice. On PostgreSQL the tables' foreign keys,
unique constraints and secondary indexes are dropped for the load and built once at its end (services.common.bulk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import bulk
from services.common.db import table_of
from services.exchange.population.generator import Household
from services.exchange.population.models import PopulationLoad
from services.exchange.registries.civil.models import Birth, CivilPerson, Death, Marriage, ParentLink
from services.exchange.registries.social.models import Household as HouseholdRow
from services.exchange.registries.social.models import HouseholdMember

LOADER = "synthetic-loader"
TABLES: tuple[Table, ...] = tuple(
    table_of(model) for model in (CivilPerson, Birth, ParentLink, Death, Marriage, HouseholdRow, HouseholdMember)
)


class PopulationMismatch(Exception):
    """A seed already loaded (or being loaded) with another number of people."""


@dataclass(frozen=True)
class Progress:
    households_done: int
    people_done: int
    complete: bool


async def begin(sessions: async_sessionmaker[AsyncSession], *, seed: int, people: int, now: datetime) -> Progress:
    """Where a load of `people` people for `seed` stands: a fresh start, or where the last run stopped."""
    async with sessions() as session, session.begin():
        load = await session.get(PopulationLoad, seed)
        if load is None:
            session.add(
                PopulationLoad(
                    seed=seed,
                    people=people,
                    households_done=0,
                    people_done=0,
                    status="loading",
                    started_at=now,
                    updated_at=now,
                )
            )
            return Progress(0, 0, False)
        if load.people != people:
            raise PopulationMismatch(
                f"seed {seed} is already loaded with {load.people} people; use another seed for {people}"
            )
        return Progress(load.households_done, load.people_done, load.status == "complete")


def registry_rows(batch: Sequence[Household], *, seed: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {table.name: [] for table in TABLES}
    for household in batch:
        by_number = {p.number: p for p in household.members}
        rows["social_households"].append(
            {
                "id": household.id,
                "income_band": household.income_band,
                "district": household.district,
                "region": household.region,
                "updated_at": now,
            }
        )
        for person in household.members:
            married = household.married and person.relationship in ("head", "spouse")
            rows["civil_persons"].append(
                {
                    "sub": person.sub,
                    "given_name": person.given_name,
                    "family_name": person.family_name,
                    "date_of_birth": person.date_of_birth,
                    "sex": person.sex,
                    "place_of_birth": person.place_of_birth,
                    "ethnicity": person.ethnicity,
                    "vital_status": "deceased" if person.deceased_on else "alive",
                    "marital_status": "widowed"
                    if married and _spouse_died(household) and not person.deceased_on
                    else "married"
                    if married
                    else "never_married",
                    "registered_at": now,
                }
            )
            if person.place_of_birth != "Outside the country":
                rows["civil_births"].append(
                    {
                        "id": f"bir_syn_{seed}_{person.number:08d}",
                        "child_sub": person.sub,
                        "registered_by": LOADER,
                        "registered_at": now,
                    }
                )
            for relation, parent_number in (("mother", person.mother_number), ("father", person.father_number)):
                if parent_number is not None and parent_number in by_number:
                    rows["civil_parent_links"].append(
                        {"child_sub": person.sub, "relation": relation, "parent_sub": by_number[parent_number].sub}
                    )
            if person.deceased_on is not None:
                rows["civil_deaths"].append(
                    {
                        "id": f"dea_syn_{seed}_{person.number:08d}",
                        "sub": person.sub,
                        "date_of_death": person.deceased_on,
                        "place_of_death": household.district,
                        "registered_by": LOADER,
                        "registered_at": now,
                    }
                )
            rows["social_household_members"].append(
                {
                    "sub": person.sub,
                    "household_id": household.id,
                    "relationship": person.relationship,
                    "date_of_birth": person.date_of_birth,
                    "disability_flag": person.disability_flag,
                }
            )
        if household.married:
            head, spouse = household.members[0], household.members[1]
            younger = max(head.date_of_birth, spouse.date_of_birth)
            rows["civil_marriages"].append(
                {
                    "id": f"mar_syn_{seed}_{head.number:08d}",
                    "spouse_a_sub": head.sub,
                    "spouse_b_sub": spouse.sub,
                    "date_of_marriage": _marriage_day(younger),
                    "place": household.district,
                    "status": "in_force",
                    "registered_by": LOADER,
                    "registered_at": now,
                }
            )
    return rows


def _spouse_died(household: Household) -> bool:
    return any(p.deceased_on for p in household.members[:2])


def _marriage_day(younger_born: date) -> date:
    return younger_born + timedelta(days=21 * 365)


_COLUMNS = {table.name: tuple(c.name for c in table.columns) for table in TABLES}
_VALUES = {name: itemgetter(*columns) for name, columns in _COLUMNS.items()}


async def defer_constraints(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Before the first batch (PostgreSQL): the registries' foreign keys, unique constraints and secondary indexes
    wait for `finish`, which builds them once over every row (services.common.bulk)."""
    async with sessions() as session, session.begin():
        await bulk.defer_constraints(session, TABLES)


async def write_batch(
    session: AsyncSession, batch: Sequence[Household], *, seed: int, now: datetime, progress: Progress
) -> Progress:
    """The batch's rows and the advanced progress, in the caller's transaction."""
    rows = registry_rows(batch, seed=seed, now=now)
    for table in TABLES:
        values = _VALUES[table.name]
        await bulk.write_rows(session, table, _COLUMNS[table.name], [values(row) for row in rows[table.name]])
    done = Progress(
        progress.households_done + len(batch), progress.people_done + sum(len(h.members) for h in batch), False
    )
    load = await session.get(PopulationLoad, seed)
    assert load is not None
    load.households_done, load.people_done, load.updated_at = done.households_done, done.people_done, now
    return done


async def finish(sessions: async_sessionmaker[AsyncSession], *, seed: int, now: datetime) -> None:
    """The constraints and indexes built again over every row, fresh planner statistics, and the load complete."""
    async with sessions() as session, session.begin():
        await bulk.restore_constraints(session, TABLES)
        load = await session.get(PopulationLoad, seed)
        assert load is not None
        load.status, load.updated_at = "complete", now
        if bulk.is_postgresql(session):
            # Only the tables just filled: a bare ANALYZE takes the whole database.
            for table in TABLES:
                await session.execute(text(f'ANALYZE "{table.name}"'))
