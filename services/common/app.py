"""The shape every service app shares: factory, lifespan, health, JWKS, problem handlers, deny-by-default routers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy import MetaData, Table

from services.common.assertion import (
    AssertionVerifier,
    DatabaseReplayGuard,
    FileJwks,
    JwksSource,
    MemoryReplayGuard,
    RedisReplayGuard,
    RemoteJwks,
    ReplayGuard,
    seen_assertions_table,
)
from services.common.auth import CallerDep, verified_caller
from services.common.bus import Bus, InProcessBus, NatsJetStreamBus
from services.common.clock import Clock, SystemClock
from services.common.db import create_engine, create_sessionmaker, ping
from services.common.edge import ContentLengthGuard, install_edge
from services.common.http import build_http_client
from services.common.idempotency import TABLE_NAME as IDEMPOTENCY_TABLE
from services.common.idempotency import IdempotencyStore, idempotency_table
from services.common.keys import load_or_create_signing_key
from services.common.logging import RequestIdMiddleware, configure_logging
from services.common.outbox import Outbox, OutboxRelay, outbox_table
from services.common.problems import Problem, ServiceUnavailable, Unauthenticated, install_problem_handlers
from services.common.settings import BusKind, ReplayStore, ServiceSettings


@dataclass
class ServiceSpec:
    """What makes a service itself: its name, its words for the OpenAPI page, its tables and its routers."""

    name: str
    title: str
    description: str
    metadata: MetaData
    routers: Sequence[APIRouter] = ()
    public_routers: Sequence[APIRouter] = ()
    version: str = "0.1.0"
    openapi_tags: list[dict[str, Any]] = field(default_factory=list)
    sqlite_begin: str = "BEGIN IMMEDIATE"
    caller_echo: bool = True  # GET /v1/caller; the gateway, which mints assertions, has no use for it
    # A dependency (taking only the request) that authenticates the callers of routes depending on it, for apps
    # whose own routes are not called with a gateway assertion (the gateway: its client tokens). The edge runs it
    # before reading any body, as it does the assertion check, so a stranger learns nothing about the body's shape.
    edge_caller: Callable[[Request], Awaitable[Any]] | None = None


def infrastructure_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """The outbox, replay and idempotency tables every service keeps in its own database."""
    return outbox_table(metadata), seen_assertions_table(metadata), idempotency_table(metadata)


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    service: str
    version: str


class CallerView(BaseModel):
    """What the service learned from the gateway assertion (never a UIN: only the internal subject reference)."""

    client_id: str
    roles: list[str]
    subject_ref: str | None
    purpose: str | None
    consent_id: str | None
    legal_basis: str | None
    channel: str
    decision_id: str | None


def create_service_app(  # noqa: C901, PLR0915
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    bus: Bus | None = None,
    gateway_jwks: JwksSource | None = None,
    extra_lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    clock = clock or SystemClock()
    configure_logging(json_output=settings.log_format == "json", level=settings.log_level)
    pool: dict[str, int] = {} if settings.database_pool_size is None else {"pool_size": settings.database_pool_size}
    engine = create_engine(
        settings.resolved_database_url, schema=settings.resolved_schema, sqlite_begin=spec.sqlite_begin, **pool
    )
    sessionmaker = create_sessionmaker(engine)
    # The app's clock decides which retired keys are still published (tests run on a frozen one).
    signing_key = load_or_create_signing_key(settings.resolved_keys_dir, spec.name, now=clock.now())
    outbox_tbl = spec.metadata.tables["outbox"]
    replay_tbl = spec.metadata.tables["seen_assertions"]
    redis_client = aioredis.Redis.from_url(settings.redis_url) if settings.replay_store is ReplayStore.redis else None
    replay_guard: ReplayGuard
    if redis_client is not None:
        replay_guard = RedisReplayGuard(redis_client, clock, namespace=spec.name)
    elif settings.replay_store is ReplayStore.database:
        replay_guard = DatabaseReplayGuard(engine, replay_tbl, clock)
    else:
        replay_guard = MemoryReplayGuard(clock)
    jwks_http = build_http_client("http://jwks") if settings.gateway_jwks_url and gateway_jwks is None else None
    if gateway_jwks is None:
        gateway_jwks = (
            RemoteJwks(settings.gateway_jwks_url, jwks_http)  # type: ignore[arg-type]
            if settings.gateway_jwks_url
            else FileJwks(settings.resolved_keys_dir / "gateway.jwks.json")
        )
    verifier = AssertionVerifier(
        audience=spec.name,
        jwks=gateway_jwks,
        clock=clock,
        replay_guard=replay_guard,
        leeway=timedelta(seconds=settings.assertion_leeway_seconds),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned_bus: Bus | None = None
        active_bus = bus
        if active_bus is None:
            if settings.bus is BusKind.nats:
                owned_bus = active_bus = await NatsJetStreamBus(
                    settings.nats_url, stream=settings.nats_stream, prefix=settings.nats_prefix
                ).connect()
            else:
                owned_bus = active_bus = InProcessBus()
        relay = OutboxRelay(
            sessionmaker, outbox_tbl, active_bus, clock, retention=timedelta(seconds=settings.outbox_retention_seconds)
        )
        app.state.bus = active_bus
        app.state.relay = relay
        relay.start()
        try:
            if extra_lifespan is None:
                yield
            else:
                async with extra_lifespan(app):
                    yield
        finally:
            await relay.stop()
            if owned_bus is not None:
                await owned_bus.close()
            if jwks_http is not None:
                await jwks_http.aclose()
            if redis_client is not None:
                await redis_client.aclose()
            await engine.dispose()

    # Swagger UI and ReDoc from the installed fastapi-offline package: a workshop room without internet still gets
    # working docs pages (FastAPI's defaults load them from a CDN).
    app = FastAPIOffline(
        title=spec.title,
        version=spec.version,
        description=spec.description,
        lifespan=lifespan,
        openapi_tags=[*spec.openapi_tags, {"name": "operations", "description": "Health, readiness and keys."}],
    )
    app.state.settings = settings
    app.state.service_name = spec.name
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.signing_key = signing_key
    app.state.verifier = verifier
    app.state.replay_guard = replay_guard  # single-use ids; the gateway also keeps its own there (client assertions)
    app.state.outbox = Outbox(outbox_tbl, clock)
    app.state.idempotency = IdempotencyStore(
        engine,
        spec.metadata.tables[IDEMPOTENCY_TABLE],
        clock,
        retention=timedelta(seconds=settings.idempotency_retention_seconds),
        in_flight_timeout=timedelta(seconds=settings.idempotency_in_flight_seconds),
    )
    install_problem_handlers(app)
    operations = operations_router(spec)
    install_edge(
        [operations, *spec.public_routers, *spec.routers],
        authenticated=spec.routers,
        authenticate=verified_caller,
        caller=spec.edge_caller,
    )
    app.include_router(operations)
    for router in spec.public_routers:
        app.include_router(router)
    for router in spec.routers:
        app.include_router(router, dependencies=[Depends(verified_caller)], responses={401: Unauthenticated.openapi()})
    app.add_middleware(ContentLengthGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware, service=spec.name)  # outermost: every answer carries the request id
    _document_problem_schema(app)
    return app


def operations_router(spec: ServiceSpec) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok", service=spec.name, version=spec.version)

    @router.get(
        "/readyz",
        summary="Readiness: the service's own database answers",
        response_model=Health,
        responses={503: ServiceUnavailable.openapi()},
    )
    async def readyz(request: Request) -> Health:
        try:
            await ping(request.app.state.engine)
        except Exception as error:
            raise ServiceUnavailable(f"The {spec.name} database does not answer.") from error
        return Health(status="ready", service=spec.name, version=spec.version)

    @router.get("/.well-known/jwks.json", summary="The service's public signing keys (JWKS)")
    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(request.app.state.signing_key.jwks(), headers={"Cache-Control": "public, max-age=300"})

    if not spec.caller_echo:
        return router

    @router.get(
        "/v1/caller",
        summary="Who the gateway says is calling",
        description="Echoes the verified gateway assertion's context: a debugging aid for developers and trainers.",
        response_model=CallerView,
        responses={401: Unauthenticated.openapi()},
    )
    async def caller_view(caller: CallerDep) -> CallerView:
        return CallerView(**caller.model_dump(include=set(CallerView.model_fields)) | {"roles": list(caller.roles)})

    return router


def _document_problem_schema(app: FastAPI) -> None:
    """Register the Problem schema once so every `responses=` reference to it resolves."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
        for name, sub in (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items()
        ):
            components.setdefault(name, sub)
        components["Problem"].pop("$defs", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
