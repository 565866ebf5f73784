"""The identity service's app factory."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.common.app import ServiceSpec, create_service_app
from services.common.idempotency import IdempotencyStore
from services.common.settings import Environment
from services.identity.adjudication.router import router as adjudication_router
from services.identity.authn.router import router as authn_router
from services.identity.config import IdentitySettings
from services.identity.corrections.router import router as corrections_router
from services.identity.corrections.schedule import escalation_lifespan
from services.identity.credentials.router import router as credentials_router
from services.identity.credentials.router import status_list_router
from services.identity.deps import Runtime
from services.identity.exceptions.router import router as identity_exceptions_router
from services.identity.keyring import Keyring, SealedResponses
from services.identity.kyc.router import router as kyc_router
from services.identity.models import metadata
from services.identity.notifications.router import notices_router
from services.identity.notifications.router import router as notifications_router
from services.identity.oidc.router import discovery_router as oidc_discovery_router
from services.identity.oidc.router import router as oidc_router
from services.identity.persons.errors import IdempotencyInProgress, IdempotencyKeyReused
from services.identity.persons.router import router as persons_router
from services.identity.tokens.router import router as tokens_router
from services.identity.vids.router import internal_router as vids_internal_router
from services.identity.vids.router import router as vids_router

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
    routers=(
        persons_router,
        adjudication_router,
        tokens_router,
        vids_router,
        vids_internal_router,
        corrections_router,
        identity_exceptions_router,
        authn_router,
        kyc_router,
        credentials_router,
        oidc_router,
        notices_router,
        notifications_router,
    ),
    public_routers=(oidc_discovery_router, status_list_router),
    openapi_tags=[
        {"name": "persons", "description": "Enrolment with deduplication (SG-ID-1) and the registrar's record view."},
        {"name": "adjudication", "description": "Human decisions on suspected duplicates (SG-ID-1)."},
        {"name": "tokens", "description": "Gateway-only: pairwise tokens and subject resolution (SG-TOKEN-1)."},
        {"name": "vids", "description": "A subject's revocable virtual IDs (SG-TOKEN-1)."},
        {"name": "corrections", "description": "Tracked corrections of identity data with an SLA (SG-GRIEV-3)."},
        {
            "name": "identity-exceptions",
            "description": "No foundational ID is never a dead end: 202 with a case an officer verifies by "
            "alternative evidence (SG-INCL-1, SG-INCL-3).",
        },
        {
            "name": "authentication",
            "description": "Yes/no authentication by OTP, PIN, simulated biometric, offline QR or assisted, with "
            "alternatives instead of lock-out (SG-INCL-2, SG-INCL-3); predicates (SG-MIN-2); the auth history.",
        },
        {"name": "kyc", "description": "eKYC: attributes only under a KYC purpose and consent (SG-MIN-2)."},
        {"name": "credentials", "description": "Signed offline credentials that verify with no network (SG-INCL-4)."},
        {
            "name": "oidc",
            "description": "OpenID Connect provider for citizens: discovery, authorize with PKCE S256, token with "
            "private_key_jwt, userinfo; pairwise subject identifiers.",
        },
        {
            "name": "notifications",
            "description": "Notices in the person's language (six UN languages): accesses to their data, breaches, "
            "their inbox (SG-NOTIFY-1, SG-BREACH-1, SG-GENDER-1).",
        },
        {
            "name": "simulator",
            "description": "SIMULATOR ONLY: the SMS/e-mail the sandbox would have sent (trainers).",
        },
    ],
)


def spec_for(settings: IdentitySettings) -> ServiceSpec:
    """The service as this environment may expose it: outside dev and test, no simulator endpoint, since it would
    let a trainer account read every one-time code the service sends."""
    if settings.environment in (Environment.dev, Environment.test):
        return SPEC
    return dataclasses.replace(
        SPEC,
        routers=tuple(router for router in SPEC.routers if router is not notifications_router),
        openapi_tags=[tag for tag in SPEC.openapi_tags if tag["name"] != "simulator"],
    )


def create_app(settings: IdentitySettings | None = None, **runtime: Any) -> FastAPI:
    """Build the app; `runtime` passes clock, bus and gateway_jwks through to the common factory."""
    settings = settings or IdentitySettings()
    keyring = Keyring.from_settings(settings)

    def on_open(app: FastAPI) -> None:
        idempotency: IdempotencyStore = app.state.idempotency
        idempotency.protector = SealedResponses(keyring)
        idempotency.reused, idempotency.in_progress = IdempotencyKeyReused, IdempotencyInProgress

    app = create_service_app(
        spec_for(settings), settings, extra_lifespan=escalation_lifespan, on_open=on_open, **runtime
    )
    app.state.identity = Runtime(keyring=keyring, clock=app.state.clock, outbox=app.state.outbox, settings=settings)
    return app
