"""The gateway's rule-engine rig: real identity behind the gateway, consent's gateway-facing contract, every upstream
call counted, every answer scanned for a UIN, and the audit log read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.app import AUDIT_TABLES, create_app
from gateway.config import GatewaySettings
from gateway.db import metadata
from services.common.db import create_all, create_engine
from services.common.settings import ReplayStore
from tests.consent.consent_helpers import ConsentApi
from tests.gateway.consent_rig import ConsentRig
from tests.gateway.edge import CountingTransport, EgressWatch, HeaderAuthenticator
from tests.identity.access_helpers import Enrolled, enrolled, latest_otp
from tests.identity.identity_helpers import IdentityApi


@dataclass
class Edge:
    client: httpx.AsyncClient
    app: Any
    identity: IdentityApi
    consent: ConsentRig
    upstream: dict[str, CountingTransport]
    watch: EgressWatch
    services: dict[str, Any]  # each service under test (tests.conftest.ServiceUnderTest), to set up directly

    async def person(self) -> Enrolled:
        return await enrolled(self.identity)

    async def otp(self, person: Enrolled, caller: str = "bank") -> str:
        """The person receives a one-time code that `caller` asked identity (through the gateway) to send."""
        response = await self.client.post(
            "/identity/v1/authn/otp",
            json={"individual": {"type": "vid", "value": person.vid}},
            headers={"X-Test-Caller": caller},
        )
        assert response.status_code == 202, response.text
        return await latest_otp(self.identity, person.sub)

    async def audit_events(self) -> list[dict[str, Any]]:
        import json

        async with self.app.state.engine.connect() as conn:
            rows = (await conn.execute(select(AUDIT_TABLES.events.c.leaf).order_by(AUDIT_TABLES.events.c.idx))).all()
        return [json.loads(row.leaf)["record"] for row in rows]

    async def audit_event(self, event_id: str) -> dict[str, Any]:
        found = [e for e in await self.audit_events() if e["event_id"] == event_id]
        assert len(found) == 1, f"no single audit event {event_id}"
        return found[0]


async def _edge(
    service_factory: Any, gateway: Any, clock: Any, tmp_path: Path, extra: tuple[str, ...] = ()
) -> AsyncIterator[Edge]:
    identity = await service_factory("identity")
    consent_svc = await service_factory("consent")
    upstream = {
        "identity": CountingTransport(identity.app),
        "consent": CountingTransport(consent_svc.app),
    }
    services = {"identity": identity, "consent": consent_svc}
    for name in extra:
        services[name] = await service_factory(name)
        upstream[name] = CountingTransport(services[name].app)
    consent = ConsentRig(ConsentApi(consent_svc, gateway, clock), upstream["consent"])
    await consent.purpose("KYC_ACCOUNT_OPENING", ["full_name", "date_of_birth", "address", "phone"])
    var_dir = tmp_path / "gateway"
    settings = GatewaySettings(
        _env_file=None,  # type: ignore[call-arg]
        var_dir=var_dir,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        replay_store=ReplayStore.memory,
        notice_interval_seconds=0,  # notices go out when a test calls app.state.notices.run_once()
    )
    engine = create_engine(settings.resolved_database_url)
    await create_all(engine, metadata)
    await engine.dispose()
    app = create_app(settings, clock=clock, upstream_transports=upstream, authenticator=HeaderAuthenticator())
    app.state.signing_key = gateway.key  # the key the services under test trust
    watch = EgressWatch()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=watch.wrap(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Edge(client, app, IdentityApi(identity, gateway), consent, upstream, watch, services)
    assert not watch.leaks, f"a UIN left the gateway (SG-TOKEN-1): {watch.leaks}"


@pytest.fixture
async def edge(service_factory: Any, gateway: Any, clock: Any, tmp_path: Path) -> AsyncIterator[Edge]:
    """The gateway in front of identity and consent."""
    async for built in _edge(service_factory, gateway, clock, tmp_path):
        yield built


@pytest.fixture
async def full_edge(service_factory: Any, gateway: Any, clock: Any, tmp_path: Path) -> AsyncIterator[Edge]:
    """The gateway in front of every service."""
    async for built in _edge(service_factory, gateway, clock, tmp_path, ("payments", "exchange")):
        yield built
