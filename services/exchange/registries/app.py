"""The simulated registries as one provider information system: the civil and the social registry, each with its
own tables and endpoints. The exchange reaches it over HTTP, in-process through an ASGI transport by default or at
`DPI_EXCHANGE_REGISTRIES_URL`, and every request must carry the exchange's signature. In-process, the record reads
of each fetch skip the HTTP layer (`inprocess.py`) and keep everything else: the signature check, the tables, the
service code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import heap
from services.common.clock import Clock, SystemClock
from services.common.db import create_engine, create_sessionmaker, is_sqlite
from services.common.keys import read_jwks_file
from services.common.logging import RequestIdMiddleware
from services.common.outbox import Outbox
from services.common.problems import install_problem_handlers
from services.exchange.config import ExchangeSettings
from services.exchange.models import metadata
from services.exchange.registries.civil.router import router as civil_router
from services.exchange.registries.credential import CredentialVerifier
from services.exchange.registries.deps import RegistryRuntime
from services.exchange.registries.inprocess import InProcessReads
from services.exchange.registries.social.router import router as social_router


@dataclass
class Registries:
    app: FastAPI
    engines: tuple[AsyncEngine, ...]
    reads: InProcessReads  # the record reads, for a caller in the same process

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()


def build_registries(settings: ExchangeSettings, *, clock: Clock, exchange_jwks: dict[str, Any]) -> Registries:
    url, schema = settings.resolved_database_url, settings.resolved_schema
    write_engine = create_engine(url, schema=schema)
    # SQLite: a deferred BEGIN for reads, so that a read never waits for the write lock the exchange holds while it
    # waits for this very answer (WAL readers and the writer do not block each other). PostgreSQL: reads in
    # autocommit, no BEGIN and no ROLLBACK around them (two round trips fewer a read); under READ COMMITTED each
    # statement saw its own snapshot inside a transaction too, so a read sees what it saw before.
    if is_sqlite(url):
        read_engine = create_engine(url, schema=schema, sqlite_begin="BEGIN")
        read_sessions = create_sessionmaker(read_engine)
    else:
        read_engine = write_engine
        read_sessions = create_sessionmaker(write_engine.execution_options(isolation_level="AUTOCOMMIT"))
    app = FastAPI(
        title="Simulated registries (providers behind the exchange)",
        version="0.1.0",
        description="SIMULATED civil and social registries. Each answers only requests the exchange signed "
        "(`X-DPI-Exchange-Request`), and releases only the fields asked for.",
    )
    write_sessions = create_sessionmaker(write_engine)
    app.state.sessionmaker = write_sessions
    runtime = RegistryRuntime(
        clock=clock,
        outbox=Outbox(metadata.tables["outbox"], clock),
        verifier=CredentialVerifier(exchange_jwks, clock),
        read_sessions=read_sessions,
        write_sessions=write_sessions,
    )
    app.state.registries = runtime
    app.add_middleware(RequestIdMiddleware, service="registries")
    install_problem_handlers(app)
    app.include_router(civil_router)
    app.include_router(social_router)
    engines = (write_engine,) if read_engine is write_engine else (write_engine, read_engine)
    return Registries(app, engines, InProcessReads(runtime))


def create_app() -> FastAPI:
    """The registries as their own process (`uvicorn --factory`), trusting the exchange's published key."""
    settings = ExchangeSettings()
    registries = build_registries(
        settings, clock=SystemClock(), exchange_jwks=read_jwks_file(settings.resolved_keys_dir / "exchange.jwks.json")
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        heap.settle()  # served alone, with nothing else to start: settled before the first request
        yield
        await registries.dispose()

    registries.app.router.lifespan_context = lifespan
    return registries.app
