"""`dpi-sandbox seed --people N`: one synthetic population into every register that knows people.

Composition-root code: it may call each service's own loader. The exchange's population generator makes the people
and households once; identity's synthetic loader enrols those who hold a foundational ID (under the same `sub`),
and the exchange's loader fills the civil and social registries (COPY on PostgreSQL). Each batch of households goes
to identity first and then to the registries together with the load's progress row, so a load that is interrupted
resumes after its last complete batch, skipping people identity already holds. On PostgreSQL every table is written
with COPY, its foreign keys, unique constraints and secondary indexes built once at the end (services.common.bulk).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from dpi_sandbox.embedded import all_settings
from dpi_sandbox.registry import entry
from services.common.bulk import defer_constraints, restore_constraints
from services.common.clock import SystemClock
from services.common.db import create_engine, create_sessionmaker
from services.common.migrations import upgrade_service_database
from services.exchange.population import loader
from services.exchange.population.generator import Household, Person, households
from services.identity.app import create_app as create_identity_app
from services.identity.persons.models import Person as IdentityPerson
from services.identity.persons.synthetic import (
    ATTRIBUTES,
    PERSONS,
    SyntheticPerson,
    SyntheticRows,
    analyze,
    registry_keys,
    write_batch,
)

IDENTITY_TABLES = (PERSONS, ATTRIBUTES)


@dataclass
class SeedReport:
    people: int
    households: int = 0
    enrolled: int = 0
    resumed_from: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    already_complete: bool = False


def identity_person(person: Person, seed: int, district: str, region: str) -> SyntheticPerson:
    values: dict[str, str | None] = {
        "given_name": person.given_name,
        "family_name": person.family_name,
        "full_name": None,
        "date_of_birth": person.date_of_birth.isoformat(),
        "sex": person.sex,
        "residency_status": person.residency_status,
        "nationality": person.nationality,
        "address": f"{district}, {region}",
        "phone": person.phone,
        "email": None,
        "preferred_language": person.preferred_language,
    }
    return SyntheticPerson(person.number, values, f"synthetic-template:{seed}:{person.number}", sub=person.sub)


def batches(items: Iterator[Household], size: int) -> Iterator[list[Household]]:
    batch: list[Household] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def seed_population(
    *,
    people: int,
    seed: int,
    var_dir: Path | None,
    batch_households: int = 2000,
    progress: Callable[[int], None] | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> SeedReport:
    clock = SystemClock()
    settings = all_settings(var_dir, overrides)
    started = time.perf_counter()
    for name in ("identity", "exchange"):
        await upgrade_service_database(settings[name], entry(name).migrations_dir)
    identity_app = create_identity_app(settings["identity"])  # type: ignore[arg-type]  # keyring, clock, engine
    identity_rt, identity_sessions = identity_app.state.identity, identity_app.state.sessionmaker
    exchange_settings = settings["exchange"]
    exchange_engine = create_engine(exchange_settings.resolved_database_url, schema=exchange_settings.resolved_schema)
    exchange_sessions = create_sessionmaker(exchange_engine)
    report = SeedReport(people=people)
    timings = {"generate": 0.0, "identity": 0.0, "registries": 0.0}
    try:
        state = await loader.begin(exchange_sessions, seed=seed, people=people, now=clock.now())
        report.resumed_from = state.people_done
        if state.complete:
            report.already_complete = True
            return report
        if progress:
            progress(state.people_done)
        mark = time.perf_counter()
        enrolment = await _Enrolment.start(identity_sessions, identity_rt, seed)
        await loader.defer_constraints(exchange_sessions)
        timings["constraints"] = time.perf_counter() - mark
        source = households(seed, people, start_household=state.households_done)
        mark = time.perf_counter()
        for batch in batches(source, batch_households):
            timings["generate"] += time.perf_counter() - mark
            mark = time.perf_counter()
            report.enrolled += await enrolment.enrol(batch)
            timings["identity"] += time.perf_counter() - mark
            mark = time.perf_counter()
            async with exchange_sessions() as session, session.begin():
                state = await loader.write_batch(session, batch, seed=seed, now=clock.now(), progress=state)
            timings["registries"] += time.perf_counter() - mark
            report.households = state.households_done
            if progress:
                progress(sum(len(h.members) for h in batch))
            mark = time.perf_counter()
        mark = time.perf_counter()
        await enrolment.finish()
        await loader.finish(exchange_sessions, seed=seed, now=clock.now())
        timings["constraints"] += time.perf_counter() - mark
    finally:
        await exchange_engine.dispose()
        await identity_app.state.engine.dispose()
        report.seconds = {**timings, "total": time.perf_counter() - started}
    return report


class _Enrolment:
    """Identity's side of the load: the people who hold a foundational ID, built in bulk (`SyntheticRows`) and
    written with COPY on PostgreSQL, the persons' constraints and secondary indexes deferred to the end."""

    def __init__(self, sessions: Any, rows: SyntheticRows, seed: int, enrolled_until: int) -> None:
        self._sessions, self._rows, self._seed = sessions, rows, seed
        # A batch that identity committed and the registries did not (an interruption in between) comes again on
        # resuming: people up to this number may already be enrolled.
        self._enrolled_until = enrolled_until

    @classmethod
    async def start(cls, sessions: Any, rt: Any, seed: int) -> _Enrolment:
        async with sessions() as session, session.begin():
            # The registry's UINs and names + dates of birth, read once: the load checks no more as it goes.
            taken_uins, seen = await registry_keys(session)
            last = await session.scalar(
                select(func.max(IdentityPerson.id)).where(
                    IdentityPerson.id.startswith(f"per_syn_{seed}_", autoescape=True)
                )
            )
            await defer_constraints(session, IDENTITY_TABLES)
        rows = SyntheticRows(rt, seed=seed, enrolled_by=loader.LOADER, taken_uins=taken_uins, seen=seen)
        return cls(sessions, rows, seed, int(last.rsplit("_", 1)[1]) if last else -1)

    async def enrol(self, batch: Sequence[Household]) -> int:
        """Enrol the batch's people who hold a foundational ID, less any an interrupted run already enrolled."""
        wanted = [(p, h) for h in batch for p in h.members if p.has_foundational_id]
        if wanted and wanted[0][0].number <= self._enrolled_until:
            ids = [self._person_id(p) for p, _ in wanted]
            async with self._sessions() as session:
                present = set(await session.scalars(select(IdentityPerson.id).where(IdentityPerson.id.in_(ids))))
            wanted = [(p, h) for p, h in wanted if self._person_id(p) not in present]
        built = self._rows.build(identity_person(p, self._seed, h.district, h.region) for p, h in wanted)
        async with self._sessions() as session, session.begin():
            await write_batch(session, built)
        return len(built.persons)

    def _person_id(self, person: Person) -> str:
        return f"per_syn_{self._seed}_{person.number:08d}"

    async def finish(self) -> None:
        async with self._sessions() as session, session.begin():
            await restore_constraints(session, IDENTITY_TABLES)
            await analyze(session)
