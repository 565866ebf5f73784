"""Wiring of caller authentication into the gateway's lifespan: registry, token issuer, DPoP, citizens, limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from gateway.auth.authenticator import GatewayAuthenticator
from gateway.auth.citizens import CitizenTokens
from gateway.auth.clients.directory import ClientDirectory
from gateway.auth.clients.provision import ensure_demo_clients
from gateway.auth.deps import Authenticator
from gateway.auth.dpop import DpopNonces, DpopVerifier
from gateway.auth.ratelimit import Counter, MemoryCounter, RateLimits, RedisCounter
from gateway.auth.replay import SingleUse
from gateway.auth.tokens.service import TokenIssuer
from gateway.config import GatewaySettings, RateLimitStore
from services.common.assertion import AssertionMinter
from services.common.clock import Clock
from services.common.http import build_http_client
from services.common.settings import Environment
from services.identity.client import IdentityClient

log = structlog.get_logger(__name__)


@asynccontextmanager
async def caller_authentication(
    app: FastAPI,
    settings: GatewaySettings,
    clock: Clock,
    upstreams: Mapping[str, httpx.AsyncClient],
    *,
    authenticator: Authenticator | None = None,
) -> AsyncIterator[None]:
    """Sets `app.state.client_directory`, `token_issuer` and `authenticator` (the given one, in tests, if any)."""
    async with AsyncExitStack() as stack:
        key = app.state.signing_key
        jwks_http = build_http_client("http://client-jwks")
        stack.push_async_callback(jwks_http.aclose)
        counter: Counter = MemoryCounter()
        if settings.rate_limit_store is RateLimitStore.redis:
            redis_client = aioredis.Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis_client.aclose)
            counter = RedisCounter(redis_client)
        limits = RateLimits(
            counter,
            clock,
            window_seconds=settings.rate_limit_window_seconds,
            per_client=settings.rate_limit_per_client,
            routes=settings.rate_limit_routes,
        )
        single_use = SingleUse(app.state.replay_guard)
        directory = ClientDirectory(app.state.sessionmaker, jwks_http, cache_seconds=settings.client_cache_seconds)
        dpop = DpopVerifier(
            clock=clock,
            single_use=single_use,
            nonces=DpopNonces(key, clock),
            max_age_seconds=settings.dpop_proof_max_age_seconds,
            nonce_required=settings.dpop_nonce_required,
        )
        citizens = None
        if "identity" in upstreams:
            citizens = CitizenTokens(
                identity=IdentityClient(upstreams["identity"]),
                minter=AssertionMinter(key, clock),
                clock=clock,
                issuer=settings.identity_issuer,
                audiences=settings.citizen_audiences,
            )
        app.state.client_directory = directory
        app.state.rate_limits = limits
        app.state.token_issuer = TokenIssuer(
            settings=settings,
            key=key,
            clock=clock,
            directory=directory,
            single_use=single_use,
            dpop=dpop,
            limits=limits,
        )
        app.state.authenticator = authenticator or GatewayAuthenticator(
            issuer=settings.issuer,
            key=key,
            clock=clock,
            directory=directory,
            dpop=dpop,
            limits=limits,
            citizens=citizens,
        )
        if settings.environment is Environment.dev and settings.demo_clients:
            try:
                await ensure_demo_clients(app.state.sessionmaker, keys_dir=settings.resolved_keys_dir, now=clock.now())
            except DBAPIError as error:  # the gateway database is not migrated yet: `dpi-sandbox db upgrade`
                log.warning("gateway.demo_clients_skipped", error=type(error).__name__)
        yield
