"""Fixtures for the caller-authentication tests: the gateway (and, where a test needs them, services behind it) on a
fresh database of each backend, reached over HTTP through ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from dpi_sandbox.registry import entry
from gateway.app import create_app
from gateway.config import GatewaySettings
from services.common.assertion import StaticJwks
from services.common.bus import InProcessBus
from services.common.clock import FrozenClock
from services.common.db import create_all, create_engine
from services.common.keys import load_or_create_signing_key
from services.common.settings import Environment, ReplayStore
from tests.conftest import _metadata_of
from tests.gateway.auth.auth_helpers import PUBLIC_URL, GatewayUnderTest

GatewayFactory = Callable[..., Any]


@pytest.fixture
async def make_gateway(database_url: str, tmp_path: Path, clock: FrozenClock) -> AsyncIterator[GatewayFactory]:
    """`await make_gateway(services=("payments",), **gateway_settings)`: the gateway with those services (and always
    identity and consent, which the rule engine consults) behind it."""
    schemas: list[tuple[str, str]] = []
    started: list[Any] = []

    async def settings_for(name: str, overrides: dict[str, Any]) -> Any:
        values: dict[str, Any] = {
            "var_dir": tmp_path,
            "replay_store": ReplayStore.database,
            "environment": Environment.test,
            **overrides,
        }
        if database_url == "sqlite":
            values.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}")
        else:
            values.setdefault("database_url", database_url)
            values.setdefault("database_schema", f"t_{uuid.uuid4().hex[:16]}_{name}")
        settings = entry(name).settings_class(_env_file=None, **values)
        engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
        await create_all(engine, _metadata_of(name), settings.resolved_schema)
        await engine.dispose()
        if database_url != "sqlite":
            schemas.append((settings.resolved_database_url, settings.resolved_schema))
        return settings

    async def build(services: tuple[str, ...] = (), **overrides: Any) -> GatewayUnderTest:
        services = tuple(dict.fromkeys(("identity", "consent", *services)))  # the rule engine asks both
        overrides.setdefault("public_url", PUBLIC_URL)
        settings: GatewaySettings = await settings_for("gateway", overrides)
        gateway_key = load_or_create_signing_key(settings.resolved_keys_dir, "gateway", now=clock.now())
        bus = InProcessBus()
        upstream_apps = {
            name: entry(name).factory(
                await settings_for(name, {}), clock=clock, bus=bus, gateway_jwks=StaticJwks(gateway_key.jwks())
            )
            for name in services
        }
        app = create_app(settings, clock=clock, bus=bus, upstream_apps=upstream_apps)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        started.append(lifespan)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)
        started.append(client)
        return GatewayUnderTest(app, client, settings, clock, upstream_apps)

    yield build
    for resource in reversed(started):
        if isinstance(resource, httpx.AsyncClient):
            await resource.aclose()
        else:
            await resource.__aexit__(None, None, None)
    for url, schema in schemas:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
