"""`dpi-sandbox seed --people N`: one synthetic population into every register that knows people.

Composition-root code: it may call each service's own loader. The exchange's population generator makes the people
and households once; identity's synthetic loader enrols those who hold a foundational ID (under the same `sub`),
and the exchange's loader fills the civil and social registries (COPY on PostgreSQL). Each batch of households goes
to identity first and then to the registries together with the load's progress row, so a load that is interrupted
resumes after its last complete batch, skipping people identity already holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dpi_sandbox.embedded import all_settings
from dpi_sandbox.registry import entry
from services.common.clock import SystemClock
from services.common.db import create_engine, create_sessionmaker
from services.common.migrations import upgrade_service_database
from services.exchange.population import loader
from services.exchange.population.generator import Household, Person, households
from services.identity.app import create_app as create_identity_app
from services.identity.persons.models import Person as IdentityPerson
from services.identity.persons.synthetic import SyntheticPerson, load_synthetic_registry


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
        source = households(seed, people, start_household=state.households_done)
        mark = time.perf_counter()
        for batch in batches(source, batch_households):
            timings["generate"] += time.perf_counter() - mark
            mark = time.perf_counter()
            report.enrolled += await _enrol(identity_sessions, identity_rt, batch, seed)
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
        await loader.finish(exchange_sessions, seed=seed, now=clock.now())
        await load_synthetic_registry(identity_sessions, identity_rt, seed=seed, count=0, people=[])  # statistics
        timings["statistics"] = time.perf_counter() - mark
    finally:
        await exchange_engine.dispose()
        await identity_app.state.engine.dispose()
        report.seconds = {**timings, "total": time.perf_counter() - started}
    return report


async def _enrol(sessions: Any, rt: Any, batch: Sequence[Household], seed: int) -> int:
    """Enrol the batch's people who hold a foundational ID, less any a previous, interrupted run already enrolled."""
    wanted = {f"per_syn_{seed}_{p.number:08d}": (p, h) for h in batch for p in h.members if p.has_foundational_id}
    async with sessions() as session:
        present = set(await session.scalars(select(IdentityPerson.id).where(IdentityPerson.id.in_(list(wanted)))))
    people = [identity_person(p, seed, h.district, h.region) for key, (p, h) in wanted.items() if key not in present]
    if not people:
        return 0
    return await load_synthetic_registry(sessions, rt, seed=seed, count=len(people), people=people, analyze=False)
