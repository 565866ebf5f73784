"""The payments service's app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.payments.config import PaymentsSettings
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
)


def create_app(settings: PaymentsSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    return create_service_app(SPEC, settings or PaymentsSettings(), **runtime)
