"""The shape every service app shares: factory, lifespan, health, JWKS, problem handlers, deny-by-default routers.

`create_service_app` is a few small builders: the typed state (`ServiceState`), the lifespan and the routes. The
factory opens nothing: the database, the Redis replay store and the HTTP client for the gateway's JWKS are opened by
`open_resources` at the start of the lifespan (the database must answer there, or the service does not start, with
a message that says so), then the replay guard, the gateway-assertion verifier and the idempotency store are built
on them; then the bus, the outbox relay and the service's own work. On the way out everything is closed again, in
reverse order. A tool that needs only the database (the seed, a CLI command) enters `open_resources(app)` alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.datastructures import State

from services.common import heap
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
from services.common.db import create_engine, create_sessionmaker, ping, shown_url
from services.common.edge import ContentLengthGuard, install_edge
from services.common.http import build_http_client
from services.common.idempotency import TABLE_NAME as IDEMPOTENCY_TABLE
from services.common.idempotency import IdempotencyStore, idempotency_table
from services.common.keys import SigningKey, load_or_create_signing_key
from services.common.logging import RequestIdMiddleware, configure_logging
from services.common.outbox import Outbox, OutboxRelay, outbox_table
from services.common.problems import Problem, ServiceUnavailable, Unauthenticated, install_problem_handlers
from services.common.settings import BusKind, ReplayStore, ServiceSettings

log = structlog.get_logger(__name__)


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


# What the lifespan opens (open_resources) or starts: not there before it runs, nor after it ends.
OPENED_IN_LIFESPAN = frozenset(
    {"engine", "sessionmaker", "replay_guard", "redis", "verifier", "idempotency", "bus", "relay"}
)


class ServiceState(State):
    """What `create_service_app` puts on `app.state`, typed: read it with `service_state(app)`. Services add their
    own runtime beside it (identity's `app.state.identity`, ...). The factory sets the settings, clock, key and
    outbox; `open_resources` (the lifespan's first step) the database handles, replay guard, verifier and
    idempotency store; the lifespan the bus and relay."""

    spec: ServiceSpec
    settings: ServiceSettings
    service_name: str
    clock: Clock
    gateway_jwks: JwksSource | None  # given by the caller (embedded mode, tests); else fetched or read when opened
    on_open: Callable[[FastAPI], None] | None  # the service's own step once the handles are open
    signing_key: SigningKey
    outbox: Outbox
    engine: AsyncEngine  # from open_resources on
    sessionmaker: async_sessionmaker[AsyncSession]  # from open_resources on
    replay_guard: ReplayGuard  # single-use ids; the gateway also keeps its own there (client assertions)
    redis: aioredis.Redis | None  # from open_resources on: the replay store's client, where it is Redis
    verifier: AssertionVerifier  # from open_resources on
    idempotency: IdempotencyStore  # from open_resources on
    bus: Bus  # from the lifespan on
    relay: OutboxRelay  # from the lifespan on

    def __getattr__(self, key: str) -> Any:
        try:
            return super().__getattr__(key)
        except AttributeError:
            if key in OPENED_IN_LIFESPAN:
                raise AttributeError(
                    f"app.state.{key} exists only while the app's lifespan runs (the factory opens nothing): enter "
                    "`app.router.lifespan_context(app)`, or `open_resources(app)` for the database alone"
                ) from None
            raise


class ServiceStartupError(RuntimeError):
    """A service could not open what it needs to serve (its database): it does not start."""


def service_state(app: FastAPI) -> ServiceState:
    """The app's typed state (an app built by `create_service_app`)."""
    state = app.state
    if not isinstance(state, ServiceState):
        raise TypeError("this app was not built by create_service_app")
    return state


def create_service_app(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    clock: Clock | None = None,
    bus: Bus | None = None,
    gateway_jwks: JwksSource | None = None,
    extra_lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    on_open: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """The app for `spec`: its state, routes, edge rules and problem handlers. Nothing is opened here: the lifespan
    opens the database (which must answer), Redis and the JWKS client, builds what needs them, starts the bus, the
    outbox relay and the service's own background work, and closes every handle again on the way out. `on_open`
    builds the service's own runtime on the opened handles (consent's and payments' hold the engine), each time
    they are opened, by the lifespan or by a tool that opens them alone."""
    configure_logging(json_output=settings.log_format == "json", level=settings.log_level)
    app = FastAPIOffline(
        title=spec.title,
        version=spec.version,
        description=spec.description,
        lifespan=_lifespan(spec, settings, bus=bus, extra_lifespan=extra_lifespan),
        openapi_tags=[*spec.openapi_tags, {"name": "operations", "description": "Health, readiness and keys."}],
    )
    # Swagger UI and ReDoc come from the installed fastapi-offline package: a workshop room without internet still
    # gets working docs pages (FastAPI's defaults load them from a CDN).
    app.state = _service_state(spec, settings, clock or SystemClock(), gateway_jwks, on_open)
    install_problem_handlers(app)
    _install_routes(app, spec)
    app.add_middleware(ContentLengthGuard, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware, service=spec.name)  # outermost: every answer carries the request id
    _document_problem_schema(app)
    return app


def _service_state(
    spec: ServiceSpec,
    settings: ServiceSettings,
    clock: Clock,
    gateway_jwks: JwksSource | None,
    on_open: Callable[[FastAPI], None] | None,
) -> ServiceState:
    """What needs no connection: settings, clock, the signing key and the outbox. open_resources adds the rest."""
    state = ServiceState()
    state.spec, state.settings, state.service_name, state.clock = spec, settings, spec.name, clock
    state.gateway_jwks, state.on_open = gateway_jwks, on_open
    # The app's clock decides which retired keys are still published (tests run on a frozen one).
    state.signing_key = load_or_create_signing_key(settings.resolved_keys_dir, spec.name, now=clock.now())
    state.outbox = Outbox(spec.metadata.tables["outbox"], clock)
    return state


@asynccontextmanager
async def open_resources(app: FastAPI) -> AsyncIterator[ServiceState]:
    """Open the app's database (and check that it answers: a service that cannot reach it does not start, with a
    ServiceStartupError naming the database), the Redis replay store and the JWKS client; build the replay guard,
    the assertion verifier and the idempotency store on them; close them all on the way out."""
    state = service_state(app)
    spec, settings = state.spec, state.settings
    async with AsyncExitStack() as stack:
        state.engine = await _open_database(spec, settings)
        stack.push_async_callback(state.engine.dispose)
        state.sessionmaker = create_sessionmaker(state.engine)
        state.redis = redis_client = _redis_client(settings)
        if redis_client is not None:
            stack.push_async_callback(redis_client.aclose)
        state.replay_guard = _replay_guard(spec, settings, state, redis_client)
        jwks_http = None
        if state.gateway_jwks is None and settings.gateway_jwks_url:
            jwks_http = build_http_client("http://jwks")
            stack.push_async_callback(jwks_http.aclose)
        state.verifier = _assertion_verifier(spec, settings, state, jwks_http)
        state.idempotency = _idempotency_store(spec, settings, state)
        if state.on_open is not None:
            state.on_open(app)
        try:
            yield state
        finally:  # closed handles are not left for anyone to use
            for key in ("idempotency", "verifier", "replay_guard", "redis", "sessionmaker", "engine"):
                with suppress(AttributeError):
                    delattr(state, key)


async def _open_database(spec: ServiceSpec, settings: ServiceSettings) -> AsyncEngine:
    pool: dict[str, int] = {} if settings.database_pool_size is None else {"pool_size": settings.database_pool_size}
    url = settings.resolved_database_url
    engine = create_engine(url, schema=settings.resolved_schema, sqlite_begin=spec.sqlite_begin, **pool)
    try:
        await ping(engine)
    except Exception as error:
        await engine.dispose()
        where = shown_url(url)
        log.error("service.database_unreachable", service=spec.name, database=where, error=type(error).__name__)
        raise ServiceStartupError(
            f"The {spec.name} service cannot reach its database at {where} ({type(error).__name__}: {error}). "
            f"Check DPI_{spec.name.upper()}_DATABASE_URL and that the server is up; the service does not start."
        ) from error
    return engine


def _idempotency_store(spec: ServiceSpec, settings: ServiceSettings, state: ServiceState) -> IdempotencyStore:
    return IdempotencyStore(
        state.engine,
        spec.metadata.tables[IDEMPOTENCY_TABLE],
        state.clock,
        retention=timedelta(seconds=settings.idempotency_retention_seconds),
        in_flight_timeout=timedelta(seconds=settings.idempotency_in_flight_seconds),
    )


def _redis_client(settings: ServiceSettings) -> aioredis.Redis | None:
    return aioredis.Redis.from_url(settings.redis_url) if settings.replay_store is ReplayStore.redis else None


def _replay_guard(
    spec: ServiceSpec, settings: ServiceSettings, state: ServiceState, redis_client: aioredis.Redis | None
) -> ReplayGuard:
    """Where single-use ids are remembered: Redis, the service's own database, or (one process) memory."""
    if redis_client is not None:
        return RedisReplayGuard(redis_client, state.clock, namespace=spec.name)
    if settings.replay_store is ReplayStore.database:
        return DatabaseReplayGuard(state.engine, spec.metadata.tables["seen_assertions"], state.clock)
    return MemoryReplayGuard(state.clock)


def _assertion_verifier(
    spec: ServiceSpec, settings: ServiceSettings, state: ServiceState, jwks_http: httpx.AsyncClient | None
) -> AssertionVerifier:
    """The gateway-assertion verifier, with the gateway's keys given, fetched over HTTP, or read from its file."""
    gateway_jwks = state.gateway_jwks
    if gateway_jwks is None:
        gateway_jwks = (
            RemoteJwks(settings.gateway_jwks_url, jwks_http)
            if settings.gateway_jwks_url and jwks_http is not None
            else FileJwks(settings.resolved_keys_dir / "gateway.jwks.json")
        )
    return AssertionVerifier(
        audience=spec.name,
        jwks=gateway_jwks,
        clock=state.clock,
        replay_guard=state.replay_guard,
        leeway=timedelta(seconds=settings.assertion_leeway_seconds),
    )


def _lifespan(
    spec: ServiceSpec,
    settings: ServiceSettings,
    *,
    bus: Bus | None,
    extra_lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the resources, then the bus (unless one is given) and the outbox relay, then the service's own
    lifespan; on the way out stop them and close every handle, in reverse order."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            with heap.starting():  # once the outermost lifespan has started, the heap is settled
                state = await stack.enter_async_context(open_resources(app))
                if bus is not None:
                    state.bus = bus
                elif settings.bus is BusKind.nats:
                    state.bus = await NatsJetStreamBus(
                        settings.nats_url, stream=settings.nats_stream, prefix=settings.nats_prefix
                    ).connect()
                    stack.push_async_callback(state.bus.close)
                else:
                    state.bus = InProcessBus()
                    stack.push_async_callback(state.bus.close)
                state.relay = OutboxRelay(
                    state.sessionmaker,
                    spec.metadata.tables["outbox"],
                    state.bus,
                    state.clock,
                    retention=timedelta(seconds=settings.outbox_retention_seconds),
                )
                state.relay.start()
                stack.push_async_callback(state.relay.stop)
                await stack.enter_async_context(extra_lifespan(app) if extra_lifespan is not None else nullcontext())
            yield

    return lifespan


def _install_routes(app: FastAPI, spec: ServiceSpec) -> None:
    """Operations, public and authenticated routers, with the edge rules on every operation (deny by default)."""
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
