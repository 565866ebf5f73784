"""`dpi-sandbox seed --people N`: one synthetic population into every register that knows people.

Composition-root code: it may call each service's own loader. The exchange's population generator makes the people
and households once; identity's synthetic loader enrols those who hold a foundational ID (under the same `sub`),
and the exchange's loader fills the civil and social registries (COPY on PostgreSQL). Each batch of households goes
to identity first and then to the registries together with the load's progress row, so a load that is interrupted
resumes after its last complete batch, skipping people identity already holds. On PostgreSQL every table is written
with COPY, its foreign keys, unique constraints and secondary indexes built once at the end (services.common.bulk).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.util
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, make_url, select

from dpi_sandbox.embedded import all_settings
from dpi_sandbox.registry import entry
from services.common.app import open_resources
from services.common.bulk import defer_constraints, restore_constraints
from services.common.clock import SystemClock
from services.common.db import create_engine, create_sessionmaker
from services.common.migrations import upgrade_service_database
from services.common.settings import ServiceSettings
from services.exchange.population import loader
from services.exchange.population.generator import Household, Person, households
from services.identity.app import create_app as create_identity_app
from services.identity.config import IdentitySettings
from services.identity.keyring import Keyring
from services.identity.persons.models import Person as IdentityPerson
from services.identity.persons.synthetic import (
    ATTRIBUTES,
    PERSONS,
    KeyedPerson,
    SyntheticBatch,
    SyntheticPerson,
    SyntheticRows,
    analyze,
    registry_keys,
    seal,
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
    workers: int | None = None,
) -> SeedReport:
    """`workers`: processes that seal and write identity's rows (default: one per core on PostgreSQL, none on
    SQLite, which has one writer)."""
    clock = SystemClock()
    settings = all_settings(var_dir, overrides)
    started = time.perf_counter()
    for name in ("identity", "exchange"):
        await upgrade_service_database(settings[name], entry(name).migrations_dir)
    identity_settings = settings["identity"]
    identity_app = create_identity_app(identity_settings)  # type: ignore[arg-type]  # keyring, clock
    identity_database = open_resources(identity_app)  # its database alone: no bus, outbox relay or timers
    await identity_database.__aenter__()
    identity_rt, identity_sessions = identity_app.state.identity, identity_app.state.sessionmaker
    exchange_settings = settings["exchange"]
    exchange_engine = create_engine(exchange_settings.resolved_database_url, schema=exchange_settings.resolved_schema)
    exchange_sessions = create_sessionmaker(exchange_engine)
    if workers is None:
        workers = (os.cpu_count() or 1) if identity_app.state.engine.dialect.name == "postgresql" else 0
    report = SeedReport(people=people)
    enrolment: _Enrolment | None = None
    run = _Run(report, exchange_sessions, seed, clock, progress)
    try:
        state = await loader.begin(exchange_sessions, seed=seed, people=people, now=clock.now())
        report.resumed_from = state.people_done
        if state.complete:
            report.already_complete = True
            return report
        if progress:
            progress(state.people_done)
        mark = time.perf_counter()
        enrolment = await _Enrolment.start(identity_sessions, identity_rt, seed, identity_settings, workers)
        await loader.defer_constraints(exchange_sessions)
        run.timings["constraints"] = time.perf_counter() - mark
        await run.load(
            households(seed, people, start_household=state.households_done), state, enrolment, batch_households, workers
        )
        mark = time.perf_counter()
        await enrolment.finish()
        await loader.finish(exchange_sessions, seed=seed, now=clock.now())
        run.timings["constraints"] += time.perf_counter() - mark
    finally:
        if enrolment is not None:
            enrolment.close()
        await exchange_engine.dispose()
        await identity_database.__aexit__(None, None, None)
        report.seconds = {**run.timings, "total": time.perf_counter() - started}
    return report


def destination(settings: ServiceSettings) -> str:
    """Where a service's rows go, for the operator to read before a load starts: the SQLite file, or the server,
    database and schema (never a password, nor anything else from the URL's query but the host)."""
    url = make_url(settings.resolved_database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"the SQLite file {url.database}" if url.database else "an in-memory SQLite database"
    hosts = url.query.get("host")  # a socket directory, or several hosts
    host = url.host.rpartition("@")[2] if url.host else ",".join([hosts] if isinstance(hosts, str) else hosts or [])
    server = f"{host}:{url.port}" if host and url.port else host or "the default server (PGHOST or the local socket)"
    name = {"postgresql": "PostgreSQL"}.get(backend, backend)
    return f"{name} at {server}, database {url.database or '(the default)'}, schema {settings.resolved_schema}"


def destinations(var_dir: Path | None) -> dict[str, str]:
    """`destination` of identity and of the exchange's registries, as `seed_population` would load them."""
    settings = all_settings(var_dir)
    return {name: destination(settings[name]) for name in ("identity", "exchange")}


@dataclass
class _Run:
    report: SeedReport
    exchange_sessions: Any
    seed: int
    clock: SystemClock
    progress: Callable[[int], None] | None
    timings: dict[str, float] = field(default_factory=lambda: {"generate": 0.0, "identity": 0.0, "registries": 0.0})
    pending: deque[tuple[list[Household], Awaitable[int]]] = field(default_factory=deque)

    async def load(
        self, source: Iterator[Household], state: loader.Progress, enrolment: _Enrolment, size: int, ahead: int
    ) -> None:
        """Identity's batches run up to `ahead` batches ahead (in the worker processes); each batch's registry rows
        and progress are committed once identity holds its people, so the progress row never counts people
        identity lacks."""
        mark = time.perf_counter()
        for batch in batches(source, size):
            self.timings["generate"] += time.perf_counter() - mark
            mark = time.perf_counter()
            self.pending.append((batch, await enrolment.submit(batch)))
            self.timings["identity"] += time.perf_counter() - mark
            while len(self.pending) > ahead:
                state = await self.commit_oldest(state)
            mark = time.perf_counter()
        while self.pending:
            state = await self.commit_oldest(state)

    async def commit_oldest(self, state: loader.Progress) -> loader.Progress:
        batch, enrolled = self.pending.popleft()
        mark = time.perf_counter()
        self.report.enrolled += await enrolled
        self.timings["identity"] += time.perf_counter() - mark
        mark = time.perf_counter()
        async with self.exchange_sessions() as session, session.begin():
            state = await loader.write_batch(session, batch, seed=self.seed, now=self.clock.now(), progress=state)
        self.timings["registries"] += time.perf_counter() - mark
        self.report.households = state.households_done
        if self.progress:
            self.progress(sum(len(h.members) for h in batch))
        return state


class _Enrolment:
    """Identity's side of the load: the people who hold a foundational ID. Their keys (no duplicate, no UIN given
    twice) are drawn here, in one place; their rows are sealed and written (COPY on PostgreSQL, the persons'
    constraints and secondary indexes deferred to the end) here or in worker processes, one per core."""

    def __init__(self, sessions: Any, rt: Any, rows: SyntheticRows, seed: int, enrolled_until: int) -> None:
        self._sessions, self._rt, self._rows, self._seed = sessions, rt, rows, seed
        # A batch that identity committed and the registries did not (an interruption in between) comes again on
        # resuming: people up to this number may already be enrolled.
        self._enrolled_until = enrolled_until
        self._pool: ProcessPoolExecutor | None = None

    @classmethod
    async def start(cls, sessions: Any, rt: Any, seed: int, settings: Any, workers: int) -> _Enrolment:
        async with sessions() as session, session.begin():
            # The registry's UINs and names + dates of birth, read once: the load checks no more as it goes.
            taken_uins, seen = await registry_keys(session)
            last = await session.scalar(
                select(func.max(IdentityPerson.id)).where(
                    IdentityPerson.id.startswith(f"per_syn_{seed}_", autoescape=True)
                )
            )
            await defer_constraints(session, IDENTITY_TABLES)
        rows = SyntheticRows(rt.keyring, seed=seed, taken_uins=taken_uins, seen=seen)
        enrolment = cls(sessions, rt, rows, seed, int(last.rsplit("_", 1)[1]) if last else -1)
        if workers:
            # Forked where the platform can (a worker starts at once, with what this process imported; it uses none
            # of this process's connections or its event loop), spawned elsewhere.
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            enrolment._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_worker_start,
                initargs=(settings,),
            )
        return enrolment

    async def submit(self, batch: Sequence[Household]) -> Awaitable[int]:
        """Draw the keys of the batch's people (less any an interrupted run already enrolled) and hand them to be
        sealed and written; what is returned gives how many were enrolled once they are committed."""
        wanted = [(p, h) for h in batch for p in h.members if p.has_foundational_id]
        if wanted and wanted[0][0].number <= self._enrolled_until:
            ids = [f"per_syn_{self._seed}_{p.number:08d}" for p, _ in wanted]
            async with self._sessions() as session:
                present = set(await session.scalars(select(IdentityPerson.id).where(IdentityPerson.id.in_(ids))))
            wanted = [(p, h) for p, h in wanted if f"per_syn_{self._seed}_{p.number:08d}" not in present]
        keyed = self._rows.keys(identity_person(p, self._seed, h.district, h.region) for p, h in wanted)
        now = self._rt.clock.now()
        if self._pool is not None:
            return asyncio.wrap_future(self._pool.submit(_worker_enrol, keyed, now))
        return asyncio.ensure_future(
            _write(self._sessions, seal(self._rt.keyring, keyed, now=now, enrolled_by=loader.LOADER))
        )

    async def finish(self) -> None:
        self.close()
        async with self._sessions() as session, session.begin():
            await restore_constraints(session, IDENTITY_TABLES)
            await analyze(session)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


async def _write(sessions: Any, batch: SyntheticBatch) -> int:
    async with sessions() as session, session.begin():
        await write_batch(session, batch)
    return len(batch.persons)


# --- in each worker process: its own keyring (from the same keys directory), engine and event loop -----------------
_worker: dict[str, Any] = {}


def _worker_start(settings: IdentitySettings) -> None:
    loop = asyncio.new_event_loop()
    engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema, pool_size=1)
    _worker.update(loop=loop, keyring=Keyring.from_settings(settings), sessions=create_sessionmaker(engine))
    # Run as the worker exits (a forked process ends with os._exit, which skips atexit).
    multiprocessing.util.Finalize(None, lambda: loop.run_until_complete(engine.dispose()), exitpriority=10)


def _worker_enrol(keyed: list[KeyedPerson], now: datetime) -> int:
    batch = seal(_worker["keyring"], keyed, now=now, enrolled_by=loader.LOADER)
    written: int = _worker["loop"].run_until_complete(_write(_worker["sessions"], batch))
    return written
