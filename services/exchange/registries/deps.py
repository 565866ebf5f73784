"""The registries' dependencies: the exchange-signed request, a reading and a writing session, clock and outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.auth import SessionDep
from services.common.clock import Clock
from services.common.outbox import Outbox
from services.exchange.registries.credential import CREDENTIAL_HEADER, CredentialVerifier, ExchangeRequest

credential_scheme = APIKeyHeader(
    name=CREDENTIAL_HEADER,
    scheme_name="ExchangeRequest",
    description="A 60-second ES256 JWT the exchange signs for each request it forwards; nothing else reaches a "
    "provider.",
    auto_error=False,
)


@dataclass(frozen=True)
class RegistryRuntime:
    clock: Clock
    outbox: Outbox
    verifier: CredentialVerifier
    # On SQLite reads begin a deferred transaction: the exchange holds the write lock while it waits for this answer.
    read_sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]


async def get_runtime(request: Request) -> RegistryRuntime:
    runtime: RegistryRuntime = request.app.state.registries
    return runtime


RegistryRuntimeDep = Annotated[RegistryRuntime, Depends(get_runtime)]


async def exchange_request(
    rt: RegistryRuntimeDep, token: Annotated[str | None, Security(credential_scheme)]
) -> ExchangeRequest:
    return rt.verifier.verify(token)


ExchangeRequestDep = Annotated[ExchangeRequest, Depends(exchange_request)]


async def read_session(rt: RegistryRuntimeDep) -> AsyncIterator[AsyncSession]:
    """A session for reads only: nothing to commit, closed (and so rolled back) after the handler."""
    async with rt.read_sessions() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(read_session)]
# Writes use the common session dependency: the app's `sessionmaker` is the writing one.
WriteSessionDep = SessionDep
