"""The registry as the hot path reads it: one client's registration, cached briefly in the process.

The token endpoint and every protected request need the caller's status, roles and keys. Reading them for each
request would add a database round trip to every call, so a process keeps each record for `client_cache_seconds`
(default 5 s): the longest a suspension or a role change takes to reach a running replica. Keys published at a
`jwks_uri` are fetched with the record.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.clients.models import Client, ClientStatus
from services.common.jws import check_public_jwk

log = structlog.get_logger(__name__)
MAX_CACHED = 10_000


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    kind: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    purposes: tuple[str, ...]
    jurisdiction: str | None
    processing_location: str | None
    keys: tuple[Mapping[str, Any], ...]
    dpop_required: bool
    status: str

    @property
    def approved(self) -> bool:
        return self.status == ClientStatus.approved

    def caller(self, *, scopes: tuple[str, ...], token_id: str | None, dpop_jkt: str | None) -> AuthenticatedCaller:
        return AuthenticatedCaller(
            client_id=self.client_id,
            kind="organisation",
            roles=self.roles,
            scopes=tuple(s for s in scopes if s in self.scopes),  # a scope withdrawn since issue no longer counts
            purposes=self.purposes,
            jurisdiction=self.jurisdiction,
            processing_location=self.processing_location,
            token_id=token_id,
            dpop_jkt=dpop_jkt,
        )


class ClientDirectory:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        *,
        cache_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._http = http
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ClientRecord | None]] = {}

    def forget(self, client_id: str | None = None) -> None:
        if client_id is None:
            self._cache.clear()
        else:
            self._cache.pop(client_id, None)

    async def get(self, client_id: str) -> ClientRecord | None:
        now = time.monotonic()
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessionmaker() as session:
            row = await session.get(Client, client_id)
            record = None if row is None else await self._record(row)
        if self._cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[client_id] = (now + self._cache_seconds, record)
        return record

    async def _record(self, row: Client) -> ClientRecord:
        keys: list[dict[str, Any]] = list((row.jwks or {}).get("keys", []))
        if row.jwks_uri:
            keys = await self._fetch_keys(row.client_id, row.jwks_uri)
        return ClientRecord(
            client_id=row.client_id,
            kind=row.kind,
            roles=tuple(row.roles),
            scopes=tuple(row.scopes),
            purposes=tuple(row.purposes),
            jurisdiction=row.jurisdiction,
            processing_location=row.processing_location,
            keys=tuple(keys),
            dpop_required=row.dpop_required,
            status=row.status,
        )

    async def _fetch_keys(self, client_id: str, uri: str) -> list[dict[str, Any]]:
        try:
            response = await self._http.get(uri)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError) as error:
            log.warning("gateway.client_jwks_unavailable", client_id=client_id, error=type(error).__name__)
            return []
        return [k for k in keys if isinstance(k, dict) and check_public_jwk(k) is None][:5]
