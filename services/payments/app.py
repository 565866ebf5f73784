"""The payments service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.payments.config import PaymentsSettings
from services.payments.deps import Runtime
from services.payments.ledger.router import router as ledger_router
from services.payments.ledger.simulator import seed_network
from services.payments.mapper.router import me_router as my_links_router
from services.payments.mapper.router import router as mapper_router
from services.payments.models import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="payments",
    title="Payments service",
    description=(
        "Digital payments: accounts at simulated FSPs, an ID-to-account mapper, a double-entry ledger, "
        "two-phase transfers, bulk G2P disbursement and settlement."
    ),
    metadata=metadata,
    routers=(ledger_router, mapper_router, my_links_router),
    openapi_tags=[
        {
            "name": "ledger",
            "description": "Double-entry ledger of the SIMULATED network: participants, accounts, balanced postings "
            "(one- or two-phase), limits enforced by the database, and the zero-sum check.",
        },
        {
            "name": "mapper",
            "description": "ID-to-account mapper: a person reference (`sub` or a payments-sector token) to payment "
            "addresses at FSPs, one of them the default; a person sees and changes their own links.",
        },
    ],
)


@asynccontextmanager
async def payments_lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: Runtime = app.state.payments
    if rt.settings.seed_simulated_network:
        async with app.state.sessionmaker() as session, session.begin():
            await seed_network(session, rt.settings.network_currency, rt.clock.now())
    yield


def create_app(settings: PaymentsSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    settings = settings or PaymentsSettings()
    app = create_service_app(SPEC, settings, extra_lifespan=payments_lifespan, **runtime)
    app.state.payments = Runtime(
        clock=app.state.clock, outbox=app.state.outbox, settings=settings, signing_key=app.state.signing_key
    )
    return app
