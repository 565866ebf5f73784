"""The exchange's named dependencies: its runtime (clock, outbox, key, settings, provider client) and role gates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.common.assertion import Caller
from services.common.auth import require_roles
from services.common.clock import Clock
from services.common.keys import SigningKey
from services.common.outbox import Outbox
from services.exchange.config import ExchangeSettings
from services.exchange.members.cache import DirectoryCache
from services.exchange.registries.client import RegistriesClient


class LogAppender(Protocol):
    """Group commit for the message log (messagelog/service.py GroupAppender)."""

    async def append(self, entries: Mapping[str, Mapping[str, Any]]) -> None: ...


@dataclass
class Runtime:
    """What the domain services need besides the session and the caller."""

    clock: Clock
    outbox: Outbox
    settings: ExchangeSettings
    signing_key: SigningKey
    # The providers' information systems (the simulated registries), reached over HTTP.
    providers: RegistriesClient
    # PostgreSQL: fetches that write nothing else append to the message log together; None: in their transaction.
    log_appender: LogAppender | None = None
    # The app's engine and sessions, from the moment its resources open (for hot-path statements outside a request's
    # session, and for a fetch that opens a session only when it needs one).
    opened_engine: AsyncEngine | None = None
    opened_sessions: async_sessionmaker[AsyncSession] | None = None
    # The directory as fetches read it, kept while nothing in it changed (members/cache.py); opened with the engine.
    opened_directory: DirectoryCache | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self.opened_engine is None:
            raise RuntimeError("the exchange's database is open only while its lifespan runs")
        return self.opened_engine

    @property
    def directory(self) -> DirectoryCache:
        if self.opened_directory is None:
            raise RuntimeError("the exchange's database is open only while its lifespan runs")
        return self.opened_directory

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self.opened_sessions is None:
            raise RuntimeError("the exchange's database is open only while its lifespan runs")
        return self.opened_sessions


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.exchange
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# The exchange's operator (X-Road's central server administrator): registers members, services and access rights.
AdminDep = Annotated[Caller, Depends(require_roles("exchange_admin"))]
# Consumers: organisations fetching through the exchange, law enforcement under a court order.
CONSUMER_ROLES = ("relying_party", "law_enforcement")
ConsumerDep = Annotated[Caller, Depends(require_roles(*CONSUMER_ROLES))]
OversightDep = Annotated[Caller, Depends(require_roles("oversight"))]
AuditorDep = Annotated[Caller, Depends(require_roles("auditor"))]
OrderReaderDep = Annotated[Caller, Depends(require_roles("oversight", "auditor"))]
CivilRegistrarDep = Annotated[Caller, Depends(require_roles("civil_registrar"))]
SocialOfficerDep = Annotated[Caller, Depends(require_roles("social_registry_officer"))]
