"""The consent service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.consent.config import ConsentSettings
from services.consent.consents.router import router as consents_router
from services.consent.consents.schedule import expiry_lifespan
from services.consent.decisions.router import router as decisions_router
from services.consent.decisions.service import permit_group
from services.consent.deps import Runtime
from services.consent.models import metadata
from services.consent.purposes.router import router as purposes_router
from services.consent.receipts.router import router as receipts_router

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="consent",
    title="Consent service",
    description=(
        "Consent artefacts in the DEPA / ISO/IEC TS 27560 shape: a public purpose registry with W3C DPV terms, "
        "purpose-bound and time-bound artefacts the subject grants, denies and revokes on any channel, a signed "
        "receipt for every change, and the decisions the gateway asks before any provider is called."
    ),
    metadata=metadata,
    routers=(decisions_router, purposes_router, consents_router, receipts_router),
    openapi_tags=[
        {
            "name": "decisions",
            "description": "Gateway-only: is this use covered? Permit with the covered items, or deny naming the rule.",
        },
        {
            "name": "purposes",
            "description": "The public purpose registry (SG-PURPOSE-1): drafts become active only after oversight "
            "approves their impact assessments (SG-HRIA-1); protected attributes only with a legal reference "
            "(SG-NONDISC-1); notices in the six UN languages with visible fallback.",
        },
        {
            "name": "consents",
            "description": "Artefacts: requested → granted | denied → revoked | expired, every change with who, when "
            "and channel (SG-CONSENT-2..6, SG-XBORDER-1, SG-RETAIN-1).",
        },
        {"name": "receipts", "description": "Signed ISO/IEC TS 27560 receipts, verifiable offline with the JWKS."},
    ],
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The expiry timer while the app runs; on the way out, the permits still committing finish before the
    database closes."""
    async with expiry_lifespan(app):
        try:
            yield
        finally:
            await app.state.consent.permits.drain()


def create_app(settings: ConsentSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    settings = settings or ConsentSettings()

    def on_open(app: FastAPI) -> None:  # the runtime holds the engine, opened with the app's resources
        app.state.consent = Runtime(
            clock=app.state.clock,
            outbox=app.state.outbox,
            signing_key=app.state.signing_key,
            settings=settings,
            engine=app.state.engine,
            permits=permit_group(app.state.engine),
        )

    return create_service_app(SPEC, settings, extra_lifespan=_lifespan, on_open=on_open, **runtime)
