"""The identity service's app factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.identity.config import IdentitySettings
from services.identity.models import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

SPEC = ServiceSpec(
    name="identity",
    title="Identity service",
    description=(
        "Digital legal identity: enrolment with deduplication, UINs that never leave this service, pairwise "
        "tokens and VIDs, yes/no authentication, eKYC under consent, an OIDC provider and signed offline "
        "credentials."
    ),
    metadata=metadata,
)


def create_app(settings: IdentitySettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    return create_service_app(SPEC, settings or IdentitySettings(), **runtime)
