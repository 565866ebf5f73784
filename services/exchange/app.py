"""The exchange service's app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.exchange.config import ExchangeSettings
from services.exchange.models import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="exchange",
    title="Data exchange service",
    description=(
        "An X-Road-like exchange: members, services, deny-by-default access rights, consent-gated fetch and a "
        "signed message log, with simulated registries."
    ),
    metadata=metadata,
)


def create_app(settings: ExchangeSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    return create_service_app(SPEC, settings or ExchangeSettings(), **runtime)
