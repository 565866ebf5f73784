"""The consent service's app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.consent.config import ConsentSettings
from services.consent.models import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="consent",
    title="Consent service",
    description=(
        "Consent artefacts in the DEPA / ISO/IEC TS 27560 shape: purpose-bound, time-bound, revocable, with "
        "signed receipts."
    ),
    metadata=metadata,
)


def create_app(settings: ConsentSettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    return create_service_app(SPEC, settings or ConsentSettings(), **runtime)
