"""Fixtures shared by the whole suite: databases on both backends, service apps, assertions, the embedded sandbox."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dpi_sandbox.registry import entry
from services.common.assertion import AssertionMinter, CallContext, StaticJwks
from services.common.bus import InProcessBus
from services.common.clock import FrozenClock
from services.common.db import create_all, create_engine
from services.common.keys import SigningKey
from services.common.settings import ReplayStore, ServiceSettings
from tests.plugin import backends_required

POSTGRES_URL = os.environ.get("DPI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
_postgres_state: dict[str, str | None] = {}


async def _probe_postgres() -> str | None:
    """None if PostgreSQL answers, else why not."""
    import asyncpg

    dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")
    try:
        connection = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
    except Exception as error:
        return f"PostgreSQL at {dsn} is not reachable ({type(error).__name__}: {error})"
    await connection.close()
    return None


@pytest.fixture
async def database_url(db_backend: str) -> AsyncIterator[str]:
    """A URL for a fresh database: the test gets its own SQLite file or its own PostgreSQL schema(s)."""
    if db_backend == "postgresql":
        if "reason" not in _postgres_state:
            _postgres_state["reason"] = await _probe_postgres()
        reason = _postgres_state["reason"]
        if reason:
            if backends_required():
                pytest.fail(f"DPI_REQUIRE_BACKENDS=1 but {reason}")
            pytest.skip(reason)
        yield POSTGRES_URL
    else:
        yield "sqlite"


@dataclass
class Gateway:
    """What a test needs to act as the gateway: its key and a minter on the test's clock."""

    key: SigningKey
    clock: FrozenClock

    @property
    def jwks(self) -> dict[str, Any]:
        return self.key.jwks()

    def assertion(self, audience: str, **context: Any) -> str:
        context.setdefault("client_id", "test-client")
        return AssertionMinter(self.key, self.clock).mint(audience, CallContext(**context))

    def headers(self, audience: str, **context: Any) -> dict[str, str]:
        return {"X-Gateway-Assertion": self.assertion(audience, **context)}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def gateway(clock: FrozenClock) -> Gateway:
    return Gateway(SigningKey.generate(), clock)


@dataclass
class ServiceUnderTest:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ServiceSettings
    bus: InProcessBus


ServiceFactory = Callable[..., Any]


@pytest.fixture
async def service_factory(
    database_url: str, tmp_path: Path, clock: FrozenClock, gateway: Gateway
) -> AsyncIterator[ServiceFactory]:
    """Builds a service app on a fresh database (tables from the models), runs its lifespan, gives an HTTP client."""
    schemas: list[tuple[Any, str]] = []
    started: list[Any] = []

    async def build(name: str, **settings_overrides: Any) -> ServiceUnderTest:
        service = entry(name)
        values: dict[str, Any] = {"var_dir": tmp_path, "replay_store": ReplayStore.database, **settings_overrides}
        if database_url == "sqlite":
            values.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}")
        else:
            values.setdefault("database_url", database_url)
            values.setdefault("database_schema", f"t_{uuid.uuid4().hex[:16]}_{name}")
        settings = service.settings_class(_env_file=None, **values)  # a developer's .env must not steer tests
        engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
        await create_all(engine, _metadata_of(name), settings.resolved_schema)
        await engine.dispose()
        if database_url != "sqlite":
            schemas.append((settings.resolved_database_url, settings.resolved_schema))
        bus = InProcessBus()
        app = service.factory(settings, clock=clock, bus=bus, gateway_jwks=StaticJwks(gateway.jwks))
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        started.append(lifespan)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        started.append(client)
        return ServiceUnderTest(app, client, settings, bus)

    yield build
    for resource in reversed(started):
        if isinstance(resource, httpx.AsyncClient):
            await resource.aclose()
        else:
            await resource.__aexit__(None, None, None)
    for url, schema in schemas:
        engine = create_engine(url)
        async with engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def _metadata_of(name: str) -> Any:
    import importlib

    module = "gateway.app" if name == "gateway" else f"services.{name}.models"
    return importlib.import_module(module).metadata
