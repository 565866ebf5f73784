"""The payments service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.payments.bulk.router import router as bulk_router
from services.payments.bulk.worker import BulkWorker
from services.payments.config import PaymentsSettings
from services.payments.deps import Runtime
from services.payments.ledger.router import router as ledger_router
from services.payments.ledger.simulator import seed_network
from services.payments.mapper.repository import resolve_group
from services.payments.mapper.router import me_router as my_links_router
from services.payments.mapper.router import router as mapper_router
from services.payments.models import metadata
from services.payments.received.router import router as received_router
from services.payments.records.router import router as records_router
from services.payments.settlement.router import router as settlement_router
from services.payments.transfers.expiry import ExpiryTimer
from services.payments.transfers.router import router as transfers_router
from services.payments.transfers.simulator import SimulatedPayeeFsp

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="payments",
    title="Payments service",
    description=(
        "Digital payments: accounts at simulated FSPs, an ID-to-account mapper, a double-entry ledger, "
        "two-phase transfers, bulk G2P disbursement and settlement."
    ),
    metadata=metadata,
    # The mapper first: Starlette tries routes in order and every payment resolves someone, so the resolve should
    # not wait behind the ledger's routes (about 40 us of matching a request, measured; no path of one router is a
    # path of another, so the order decides nothing else).
    routers=(
        mapper_router,
        ledger_router,
        my_links_router,
        received_router,
        transfers_router,
        bulk_router,
        records_router,
        settlement_router,
    ),
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
        {
            "name": "transfers",
            "description": "Mojaloop-shaped single transfers: party lookup, quote (fee, expiry, condition), "
            "prepare (funds reserved), fulfil with the SHA-256 preimage (commit) or abort / expiry (release).",
        },
        {
            "name": "bulk",
            "description": "Bulk G2P disbursement: batches in JSON or ISO 20022 pain.001, each beneficiary resolved "
            "through the mapper and paid by a set-based background job with per-item status; pain.002 reports.",
        },
        {
            "name": "settlement",
            "description": "Deferred net settlement between FSPs in windows (open, closed, settled), the net "
            "positions computed from the ledger and posted to the settlement bank.",
        },
        {
            "name": "records",
            "description": "Every payment step signed as a JWS over its canonical record (SG-AUDIT-2); disputes "
            "linked to the signed record (SG-GRIEV-4).",
        },
    ],
)


@asynccontextmanager
async def payments_lifespan(app: FastAPI) -> AsyncIterator[None]:
    rt: Runtime = app.state.payments
    if rt.settings.seed_simulated_network:
        async with app.state.sessionmaker() as session, session.begin():
            await seed_network(session, rt.settings.network_currency, rt.clock.now())
    expiry = app.state.expiry = ExpiryTimer(app.state.sessionmaker, rt)
    worker = app.state.bulk_worker = BulkWorker(app.state.sessionmaker, rt)
    expiry.start()
    worker.start()
    try:
        yield
    finally:
        await worker.stop()
        await expiry.stop()


def create_app(settings: PaymentsSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    settings = settings or PaymentsSettings()

    def on_open(app: FastAPI) -> None:  # the runtime holds the engine, opened with the app's resources
        app.state.payments = Runtime(
            clock=app.state.clock,
            engine=app.state.engine,
            outbox=app.state.outbox,
            settings=settings,
            signing_key=app.state.signing_key,
            payee_fsps=SimulatedPayeeFsp.of_service_key(app.state.signing_key),
            resolves=resolve_group(app.state.engine),
        )

    return create_service_app(SPEC, settings, extra_lifespan=payments_lifespan, on_open=on_open, **runtime)
