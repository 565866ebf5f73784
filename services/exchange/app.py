"""The exchange service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.app import ServiceSpec, create_service_app
from services.common.db import create_engine, is_sqlite
from services.common.http import build_http_client
from services.exchange.config import ExchangeSettings
from services.exchange.deps import Runtime
from services.exchange.fetch.router import router as fetch_router
from services.exchange.members.builtin import ensure_builtin_directory
from services.exchange.members.cache import DirectoryCache
from services.exchange.members.router import public_router as directory_public_router
from services.exchange.members.router import router as directory_router
from services.exchange.messagelog.router import router as messagelog_router
from services.exchange.messagelog.service import GroupAppender, ensure_heads
from services.exchange.models import metadata
from services.exchange.orders.router import router as orders_router
from services.exchange.pubsub.bus import pubsub_lifespan
from services.exchange.pubsub.router import router as pubsub_router
from services.exchange.registries.app import Registries, build_registries
from services.exchange.registries.client import RegistriesClient
from services.exchange.registries.router import router as registries_router
from services.exchange.retention.router import router as retention_router
from services.exchange.retention.schedule import retention_lifespan

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="exchange",
    title="Data exchange service",
    description=(
        "An X-Road-like exchange: members, subsystems and services in a public directory, access rights denied by "
        "default, fetch under consent, statute or court order with only the permitted fields released, and "
        "simulated civil and social registries behind it as providers."
    ),
    metadata=metadata,
    routers=(
        directory_router,
        fetch_router,
        messagelog_router,
        orders_router,
        pubsub_router,
        registries_router,
        retention_router,
    ),
    public_routers=(directory_public_router,),
    openapi_tags=[
        {
            "name": "directory",
            "description": "Members, subsystems, services, access rights and agreements; "
            "readable by anyone (SG-TRANSP-1), written by the exchange operator.",
        },
        {
            "name": "fetch",
            "description": "Consumer → exchange → provider, every rule checked before the provider "
            "is called (SG-SEC-1, SG-CONSENT-1, SG-LAWFUL-1, SG-MIN-1, SG-NONDISC-1, SG-XBORDER-1).",
        },
        {
            "name": "court orders",
            "description": "The oversight role's registry of judicial authorisations (SG-LAWFUL-1, SG-ACCESS-2).",
        },
        {"name": "registries", "description": "SIMULATED civil and social registries: their officers' writes."},
    ],
)


def create_app(settings: ExchangeSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    settings = settings or ExchangeSettings()
    holder: dict[str, Registries] = {}
    engines: list[AsyncEngine] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with app.state.sessionmaker() as session, session.begin():
            await ensure_builtin_directory(session, app.state.clock.now())
            await ensure_heads(session)
        await rt.directory.open()
        try:
            async with retention_lifespan(app), pubsub_lifespan(app):
                yield
        finally:
            if appender is not None:
                await appender.drain()
            for engine in engines:
                await engine.dispose()
            await rt.providers.http.aclose()
            if "registries" in holder:
                await holder["registries"].dispose()

    def on_open(app: FastAPI) -> None:  # the runtime holds the engine and sessions, opened with the app's resources
        rt.opened_engine = app.state.engine
        rt.opened_sessions = app.state.sessionmaker
        rt.opened_directory = DirectoryCache(app.state.engine, app.state.redis)

    app = create_service_app(SPEC, settings, extra_lifespan=lifespan, on_open=on_open, **runtime)
    in_process = None
    if settings.registries_url:
        http = build_http_client(settings.registries_url)
    else:
        registries = build_registries(settings, clock=app.state.clock, exchange_jwks=app.state.signing_key.jwks())
        holder["registries"] = registries
        http = build_http_client("http://registries", transport=httpx.ASGITransport(app=registries.app))
        app.state.registries_app = registries.app
        in_process = registries.reads
    http.timeout = httpx.Timeout(settings.provider_timeout_seconds, connect=2.0)
    # SQLite has one connection and one writer: there the message log moves in each fetch's own transaction. On
    # PostgreSQL the group commit writes on a connection of its own: fetches waiting for it hold pool connections,
    # and a writer queueing behind them for one would wait for itself.
    appender = None
    if not is_sqlite(settings.resolved_database_url):
        log_engine = create_engine(
            settings.resolved_database_url, schema=settings.resolved_schema, pool_size=1, max_overflow=0
        )
        appender = GroupAppender(log_engine, app.state.signing_key, app.state.clock)
        engines.append(log_engine)
    rt = Runtime(
        clock=app.state.clock,
        outbox=app.state.outbox,
        settings=settings,
        signing_key=app.state.signing_key,
        providers=RegistriesClient(http, app.state.signing_key, app.state.clock, in_process=in_process),
        log_appender=appender,
    )
    app.state.exchange = rt
    return app
