"""The gateway assertion: how a service knows a request came through the gateway, and on whose behalf.

The gateway mints a short-lived ES256 JWT for one audience (the service), naming the authenticated client, its
roles, the internal subject reference, purpose, consent, legal basis, channel and the audit decision id. A service
accepts a request only with a valid assertion: signature by the gateway's published key, algorithm pinned to ES256
(`none`, HS256 and every other algorithm are refused before any key is touched), audience = this service, issuer =
the gateway, not expired by the injected clock, lifetime at most the policy maximum, and `jti` never seen before.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError
from sqlalchemy import Column, MetaData, String, Table, delete, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import jws
from services.common.clock import Clock
from services.common.db import UTCDateTime
from services.common.ids import new_id
from services.common.keys import SigningKey, read_jwks_file
from services.common.problems import ServiceUnavailable, Unauthenticated

ASSERTION_HEADER = "X-Gateway-Assertion"
ASSERTION_TYPE = "gateway-assertion+jwt"
ASSERTION_ISSUER = "dpi-gateway"
ASSERTION_TTL = timedelta(seconds=60)
PINNED_ALGORITHM = "ES256"

LegalBasis = Literal["consent", "statute", "court_order", "contract", "none"]
Channel = Literal["web", "app", "ussd", "sms", "assisted", "offline", "internal"]


class CallContext(BaseModel):
    """Who is calling and on what basis, as the gateway decided it."""

    model_config = ConfigDict(frozen=True)

    # Lengths match the columns services store these in (a longer claim is a malformed assertion: 401).
    client_id: str = Field(
        max_length=200, description="The authenticated client (relying party, operator console, citizen app)."
    )
    roles: tuple[str, ...] = Field(default=(), description="Roles granted to the caller for this request.")
    subject_ref: str | None = Field(
        default=None, max_length=64, description="Internal subject reference (`sub`), if any."
    )
    purpose: str | None = Field(default=None, max_length=100)
    consent_id: str | None = Field(default=None, max_length=100)
    consented_items: tuple[str, ...] | None = Field(
        default=None,
        description="The data items the consent artefact covers, as the gateway verified them with the consent "
        "service; a provider releases nothing beyond them.",
    )
    legal_basis: LegalBasis | None = None
    channel: Channel = "web"
    assisted_by: str | None = Field(default=None, max_length=200)
    decision_id: str | None = Field(
        default=None, max_length=100, description="The gateway's audit decision id for this request."
    )
    court_order_id: str | None = Field(
        default=None, max_length=100, description="With legal_basis court_order: the order the caller acts under."
    )
    processing_location: str | None = Field(
        default=None, description="Where the calling organisation processes data (ISO 3166-1 alpha-2)."
    )


class Caller(CallContext):
    """A verified caller inside a service: the context plus the assertion's own id and expiry."""

    assertion_id: str
    expires_at: datetime

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


class AssertionMinter:
    """Mints assertions in the gateway."""

    def __init__(self, key: SigningKey, clock: Clock, *, ttl: timedelta = ASSERTION_TTL) -> None:
        self._key = key
        self._clock = clock
        self._ttl = ttl

    def mint(self, audience: str, context: CallContext) -> str:
        now = self._clock.now()
        claims: dict[str, Any] = {
            "iss": ASSERTION_ISSUER,
            "aud": audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "jti": new_id(),
            **context.model_dump(exclude_none=True, mode="json"),
        }
        if context.subject_ref:
            claims["sub"] = claims.pop("subject_ref")
        return jws.sign_claims(self._key, claims, typ=ASSERTION_TYPE)


# The protocols live in services.common.jws; these names stay for existing importers.
JwksSource = jws.KeySource
ReplayGuard = jws.ReplayGuard


class StaticJwks:
    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = {k["kid"]: k for k in jwks.get("keys", [])}

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        return self._keys.get(kid)


class FileJwks:
    """The gateway's JWKS as written beside its key (embedded and multi-process modes); re-read on an unknown kid."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys: dict[str, dict[str, Any]] = {}

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        if kid not in self._keys and self._path.exists():
            self._keys = {k["kid"]: k for k in read_jwks_file(self._path).get("keys", [])}
        return self._keys.get(kid)


class RemoteJwks:
    """The gateway's JWKS fetched over HTTP (distributed mode); refetched on an unknown kid at most every 30 s."""

    def __init__(self, url: str, http: httpx.AsyncClient, *, min_refresh_seconds: float = 30.0) -> None:
        self._url = url
        self._http = http
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = -min_refresh_seconds
        self._min_refresh = min_refresh_seconds
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        if kid not in self._keys and time.monotonic() - self._fetched_at >= self._min_refresh:
            async with self._lock:
                response = await self._http.get(self._url)
                response.raise_for_status()
                self._keys = {k["kid"]: k for k in response.json().get("keys", [])}
                self._fetched_at = time.monotonic()
        return self._keys.get(kid)


class MemoryReplayGuard:
    """Remembers accepted ids in this process: correct only while one process serves the service."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._seen: dict[str, datetime] = {}

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        now = self._clock.now()
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
        if jti in self._seen:
            return False
        self._seen[jti] = expires_at
        return True


def seen_assertions_table(metadata: MetaData) -> Table:
    return Table(
        "seen_assertions",
        metadata,
        Column("jti", String(64), primary_key=True),
        Column("expires_at", UTCDateTime(), nullable=False, index=True),
    )


class DatabaseReplayGuard:
    """Remembers accepted ids in the service's own database, so every replica of the service shares them.

    On PostgreSQL each id is one autocommitted `INSERT ... ON CONFLICT DO NOTHING RETURNING`: one round trip instead
    of BEGIN, INSERT and COMMIT, and a replay is an empty result rather than an error. The unique key still decides
    between two replicas racing on one id. SQLite keeps the plain transaction (its engine begins IMMEDIATE).
    """

    def __init__(self, engine: AsyncEngine, table: Table, clock: Clock, *, purge_every: int = 1000) -> None:
        self._engine = engine
        self._table = table
        self._clock = clock
        self._purge_every = purge_every
        self._count = 0
        self._autocommit = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else None
        )
        self._insert_once = postgresql.insert(table).on_conflict_do_nothing().returning(table.c.jti)

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        self._count += 1
        if self._autocommit is not None:
            if self._count % self._purge_every == 0:
                async with self._engine.begin() as conn:
                    await conn.execute(delete(self._table).where(self._table.c.expires_at < self._clock.now()))
            async with self._autocommit.connect() as conn:
                result = await conn.execute(self._insert_once, {"jti": jti, "expires_at": expires_at})
                return result.first() is not None
        try:
            async with self._engine.begin() as conn:
                if self._count % self._purge_every == 0:
                    await conn.execute(delete(self._table).where(self._table.c.expires_at < self._clock.now()))
                await conn.execute(insert(self._table).values(jti=jti, expires_at=expires_at))
        except IntegrityError:
            return False
        return True


class RedisReplayGuard:
    """Remembers accepted ids in Redis, shared by every replica, each id kept as long as its assertion lives.

    One `SET key NX PX` per request: atomic, so two replicas racing on the same id cannot both accept it. The time
    to keep it is counted on the service's clock, not set as an absolute time on Redis's, so a clock skew between
    the two cannot drop an id early. Where Redis cannot be reached the request is refused with 503, never let
    through unchecked.
    """

    def __init__(self, client: aioredis.Redis, clock: Clock, *, namespace: str) -> None:
        self._client = client
        self._clock = clock
        self._prefix = f"dpi:seen-assertion:{namespace}:"

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        keep_ms = max(1, int((expires_at - self._clock.now()).total_seconds() * 1000))
        try:
            stored = await self._client.set(self._prefix + jti, b"1", nx=True, px=keep_ms)
        except RedisError as error:
            raise ServiceUnavailable("The replay store cannot be reached right now; try again shortly.") from error
        return bool(stored)


class AssertionVerifier:
    """Verifies assertions inside a service."""

    def __init__(
        self,
        *,
        audience: str,
        jwks: JwksSource,
        clock: Clock,
        replay_guard: ReplayGuard,
        leeway: timedelta = timedelta(seconds=5),
        max_lifetime: timedelta = ASSERTION_TTL,
    ) -> None:
        self._jwks = jwks
        self._clock = clock
        self._replay_guard = replay_guard
        self._leeway = leeway
        self._policy = jws.TokenPolicy(
            typ=ASSERTION_TYPE,
            algorithms=(PINNED_ALGORITHM,),
            issuer=ASSERTION_ISSUER,
            audience=audience,
            leeway=leeway,
            max_lifetime=max_lifetime,
            required=frozenset({"iat", "exp", "jti"}),
        )

    async def verify(self, token: str | None) -> Caller:
        """The caller `token` speaks for: signature, times and claims (`authenticate`), then its first use (`claim`)."""
        caller = await self.authenticate(token)
        await self.claim(caller)
        return caller

    async def authenticate(self, token: str | None) -> Caller:
        """The caller, once the signature, the times and the claims hold; not yet whether the assertion was used
        before: `claim` must pass before anything is answered or done on its strength."""
        if not token:
            raise _unauthenticated("No gateway assertion: services are reachable only through the gateway.")
        try:
            verified = await jws.verify_with(token, self._jwks, self._policy, now=self._clock.now())
        except jws.InvalidToken as error:
            raise _unauthenticated(f"The gateway assertion is not valid: {error.reason}.") from None
        except httpx.HTTPError as error:
            raise ServiceUnavailable("The gateway's signing keys cannot be fetched right now.") from error
        claims = verified.claims
        expires_at = verified.expires_at
        assert expires_at is not None  # required by the policy
        try:
            return Caller(
                **{k: v for k, v in claims.items() if k in _CONTEXT_FIELDS},
                subject_ref=claims.get("sub"),
                assertion_id=str(claims["jti"]),
                expires_at=expires_at,
            )
        except ValidationError:
            raise _unauthenticated("The gateway assertion's claims are malformed.") from None

    async def claim(self, caller: Caller) -> None:
        """The first use of the caller's assertion (shared by every replica), or 401: each is good for one request."""
        if not await self._replay_guard.first_use(caller.assertion_id, caller.expires_at + self._leeway):
            raise _unauthenticated("The gateway assertion was already used (replay).")


# Once: pydantic resolves the class attribute through a descriptor on every access.
_CONTEXT_FIELDS = frozenset(CallContext.model_fields)


def _unauthenticated(detail: str) -> Unauthenticated:
    return Unauthenticated(detail, headers={"WWW-Authenticate": f'GatewayAssertion header="{ASSERTION_HEADER}"'})
