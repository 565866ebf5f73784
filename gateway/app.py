"""The gateway's app factory: the only public entry point, the policy enforcement point of the sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from gateway.audit.log import create_audit_log
from gateway.audit.models import AUDIT_TABLES
from gateway.audit.router import router as audit_router
from gateway.auth.clients.router import router as clients_router
from gateway.auth.deps import current_caller
from gateway.auth.runtime import caller_authentication
from gateway.auth.tokens.router import router as token_router
from gateway.channels.wiring import ROUTERS as CHANNEL_ROUTERS
from gateway.config import GatewaySettings
from gateway.db import metadata
from gateway.governance.router import router as governance_router
from gateway.openapi import install_aggregated_openapi
from gateway.oversight.wiring import ROUTERS as OVERSIGHT_ROUTERS
from gateway.oversight.wiring import start_notices, start_oversight
from gateway.proxy.auth import CallerAuthenticator
from gateway.proxy.facts import UpstreamFacts
from gateway.proxy.router import router as proxy_router
from gateway.proxy.service import Proxy
from gateway.rules.catalogue import catalogue
from gateway.rules.routes import load_routes
from services.common.app import ServiceSpec, create_service_app
from services.common.assertion import AssertionMinter
from services.common.clock import Clock, SystemClock
from services.common.http import build_http_client

status_router = APIRouter(tags=["operations"])


class ServiceStatus(BaseModel):
    service: str
    healthy: bool
    ready: bool
    detail: str | None = None


class SandboxStatus(BaseModel):
    healthy: bool
    services: list[ServiceStatus]


@status_router.get(
    "/services",
    summary="Health and readiness of every service behind the gateway",
    response_model=SandboxStatus,
)
async def services_status(request: Request) -> SandboxStatus:
    proxy: Proxy = request.app.state.proxy
    statuses = await asyncio.gather(
        *(_probe(name, proxy.client_for(name)) for name in request.app.state.upstream_names)
    )
    return SandboxStatus(healthy=all(s.healthy and s.ready for s in statuses), services=list(statuses))


async def _probe(name: str, client: httpx.AsyncClient) -> ServiceStatus:
    try:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    except httpx.HTTPError as error:
        return ServiceStatus(service=name, healthy=False, ready=False, detail=type(error).__name__)
    return ServiceStatus(service=name, healthy=health.status_code == 200, ready=ready.status_code == 200)


SPEC = ServiceSpec(
    name="gateway",
    title="DPI sandbox gateway",
    description=(
        "The one public entry point. It authenticates every caller, applies the safeguard rule catalogue, and "
        "forwards to the identity, payments, consent and exchange services with a short-lived signed assertion. "
        "All data in this sandbox is synthetic."
    ),
    metadata=metadata,
    # Everything the gateway serves itself comes before the proxy's catch-all.
    public_routers=(
        status_router,
        token_router,
        clients_router,
        governance_router,
        audit_router,
        *OVERSIGHT_ROUTERS,
        *CHANNEL_ROUTERS,  # assisted desk, text-only menu, /me aliases of the services' subject routes
        proxy_router,
    ),
    caller_echo=False,
    edge_caller=current_caller,  # the gateway's own routes: the caller's token, before any body is read
)


def create_app(
    settings: GatewaySettings | None = None,
    *,
    clock: Clock | None = None,
    upstream_apps: Mapping[str, FastAPI] | None = None,
    upstream_transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    authenticator: CallerAuthenticator | None = None,
    **runtime: Any,
) -> FastAPI:
    """Build the gateway. With `upstream_apps` (embedded mode) it reaches the services in-process and runs their
    lifespans inside its own; with `upstream_transports` (tests) it reaches already running services through them;
    otherwise it calls the URLs in its settings."""
    settings = settings or GatewaySettings()
    clock = clock or SystemClock()

    @asynccontextmanager
    async def upstream_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            clients: dict[str, httpx.AsyncClient] = {}
            if upstream_apps is not None:
                for name, service_app in upstream_apps.items():
                    await stack.enter_async_context(service_app.router.lifespan_context(service_app))
                    transport = httpx.ASGITransport(app=service_app, raise_app_exceptions=False)
                    clients[name] = build_http_client(f"http://{name}", transport=transport)
            elif upstream_transports is not None:
                for name, upstream_transport in upstream_transports.items():
                    clients[name] = build_http_client(f"http://{name}", transport=upstream_transport)
            else:
                clients = {name: build_http_client(url) for name, url in settings.upstream_urls().items()}
            for client in clients.values():
                stack.push_async_callback(client.aclose)
            app.state.upstream_names = tuple(clients)
            # Callers: client registry, POST /oauth2/token, DPoP, citizens' ID tokens, rate limits (gateway.auth).
            await stack.enter_async_context(
                caller_authentication(app, settings, clock, clients, authenticator=authenticator)
            )
            # The audit log (gateway/audit): appends are group-committed by one writer task per process.
            app.state.audit = create_audit_log(app.state.engine, AUDIT_TABLES, clock, settings)
            await app.state.audit.start()
            stack.push_async_callback(app.state.audit.stop)
            await start_oversight(app, settings, clock, stack)  # grievances, statistics (gateway/oversight)
            # The rule engine in front of every forwarded request (gateway/rules, gateway/proxy).
            minter = AssertionMinter(app.state.signing_key, clock)
            # A gateway built with only some services in-process (tests) still reaches the others at their URLs.
            for name in ("identity", "consent"):
                if name not in clients:
                    clients[name] = build_http_client(settings.upstream_urls()[name])
                    stack.push_async_callback(clients[name].aclose)
            facts = UpstreamFacts(
                identity=clients.get("identity"), consent=clients.get("consent"), minter=minter,
                purpose_ttl_seconds=settings.purpose_cache_seconds,
            )  # fmt: skip
            # Notices and breaches (gateway/oversight): the proxy's audit sink wakes the notice timer on a release.
            audit = await start_notices(
                app, settings, clock, stack, identity=facts.identity, assertion=lambda: facts.assertion("identity")
            )
            app.state.proxy = Proxy(
                clients, minter, routes=load_routes(), catalogue=catalogue(), facts=facts, audit=audit
            )
            yield

    app = create_service_app(SPEC, settings, clock=clock, extra_lifespan=upstream_lifespan, **runtime)
    install_aggregated_openapi(app)  # /openapi.json and /docs: every service under its prefix (gateway/openapi.py)
    return app
