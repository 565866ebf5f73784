"""Fixtures shared by the whole suite: databases on both backends, service apps, assertions, the embedded sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dpi_sandbox.registry import entry
from services.common import rules
from services.common.assertion import AssertionMinter, CallContext, StaticJwks
from services.common.bus import InProcessBus
from services.common.clock import FrozenClock
from services.common.db import create_all, create_engine
from services.common.keys import SigningKey
from services.common.settings import ReplayStore, ServiceSettings
from services.identity.client import find_uins
from tests.kit.callers import trust_test_callers, trusted_context
from tests.plugin import backend_unavailable

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
            backend_unavailable(reason)
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


@contextlib.asynccontextmanager
async def engine_on(database_url: str, tmp_path: Path, metadata: MetaData, name: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh database holding `metadata`'s tables (a SQLite file, or a PostgreSQL schema of its own
    that is dropped afterwards), for tests of the kit below the service apps."""
    if database_url == "sqlite":
        engine, schema = create_engine(f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}"), None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}_{name}"
        engine = create_engine(database_url, schema=schema)
    await create_all(engine, metadata, schema)
    try:
        yield engine
    finally:
        if schema:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


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
    leaks: list[str] = []
    mismatches: list[str] = []

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
        app.add_middleware(UinEgressScan, leaks=leaks)
        app.add_middleware(RuleReferenceCheck, mismatches=mismatches)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        started.append(lifespan)
        trust_test_callers(app)  # tests may name a caller without a real assertion (tests/kit/callers.py)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url=f"http://{name}")
        started.append(client)
        return ServiceUnderTest(app, client, settings, bus)

    yield build
    assert not leaks, f"a UIN left the identity service outside its registrar endpoints (SG-TOKEN-1): {leaks}"
    assert not mismatches, f"a denial's rule references differ from the rule catalogue's: {mismatches}"
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


REGISTRAR_PATHS = (re.compile(r"^/v1/enrolments$"), re.compile(r"^/v1/persons/[^/]+$"))


class UinEgressScan:
    """Every response of every service built by `service_factory`, in every test of the run, is scanned for a
    UIN (services.identity.client.find_uins: 12 digits, plain or in fours, with a valid Verhoeff check digit).
    Only the registrar endpoints may carry one (SG-TOKEN-1)."""

    def __init__(self, app: Any, *, leaks: list[str]) -> None:
        self.app = app
        self.leaks = leaks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    self._scan(scope, bytes(body))
            await send(message)

        await self.app(scope, receive, capture)

    def _scan(self, scope: Any, body: bytes) -> None:
        found = find_uins(body)  # knows the sandbox's own id formats: neither misses a UIN nor cries wolf
        if not found:
            return
        assertion = dict(scope["headers"]).get(b"x-gateway-assertion", b"").decode()
        trusted = trusted_context(assertion)
        if trusted is not None:
            roles = list(trusted.get("roles", []))
        else:
            roles = jwt.get_unverified_claims(assertion).get("roles", []) if assertion.count(".") == 2 else []
        if "registrar" in roles and any(p.match(scope["path"]) for p in REGISTRAR_PATHS):
            return
        self.leaks.append(f"{scope['method']} {scope['path']} (roles {roles})")


class RuleReferenceCheck:
    """Every problem+json answer of every service built by `service_factory` that names a rule must name one the
    catalogue has, with the catalogue's framework references and grievance channel (services/common/rules.py)."""

    def __init__(self, app: Any, *, mismatches: list[str]) -> None:
        self.app = app
        self.mismatches = mismatches

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        is_problem = False

        async def capture(message: Any) -> None:
            nonlocal is_problem
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                is_problem = headers.get(b"content-type", b"").startswith(b"application/problem+json")
            elif message["type"] == "http.response.body" and is_problem:
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    self._check(scope, bytes(body))
            await send(message)

        await self.app(scope, receive, capture)

    def _check(self, scope: Any, body: bytes) -> None:
        problem = json.loads(body)
        where = f"{scope['method']} {scope['path']}"
        if problem.get("grievance") != rules.catalogue().grievance.model_dump(exclude_none=True):
            self.mismatches.append(f"{where}: grievance channel {problem.get('grievance')}")
        rule_id = problem.get("rule_id")
        if rule_id is None:
            if "framework_refs" in problem:
                self.mismatches.append(f"{where}: framework_refs without a rule_id")
            return
        try:
            expected = list(rules.rule(rule_id).framework_refs)
        except rules.UnknownRule:
            self.mismatches.append(f"{where}: unknown rule {rule_id}")
            return
        if problem.get("framework_refs") != expected:
            self.mismatches.append(f"{where}: {rule_id} with {problem.get('framework_refs')}, catalogue {expected}")


def _metadata_of(name: str) -> Any:
    import importlib

    module = "gateway.app" if name == "gateway" else f"services.{name}.models"
    return importlib.import_module(module).metadata
