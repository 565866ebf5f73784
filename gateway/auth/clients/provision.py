"""Clients set up by the operator rather than over HTTP: the CLI (`dpi-sandbox clients ...`) and the demo clients.

A client's private key is generated under `<keys_dir>/clients/<client_id>.es256.pem` (mode 0600, never in the
repository); only its public JWK is registered. In the dev environment the gateway starts with one approved demo
client per kind, so `dpi-sandbox token --client demo-agency` prints a working token straight away.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.clients.errors import ClientExists
from gateway.auth.clients.models import KIND_ROLES, ClientKind
from gateway.auth.clients.repository import ClientRepository
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.auth.clients.service import registry
from gateway.auth.scopes import SCOPES
from services.common.keys import SigningKey, load_or_create_signing_key

log = structlog.get_logger(__name__)
BOOTSTRAP = "sandbox-bootstrap"
# XS, a user-assigned ISO 3166 code, is the sandbox's own country, where the consent service lets requesters
# process data without a transfer basis (consent setting approved_jurisdictions).
_ASSESSED = {"dpia_ref": "DPIA-DEMO-2026-001", "hria_ref": "HRIA-DEMO-2026-001"}

DEMO_CLIENTS: tuple[ClientCreate, ...] = (
    ClientCreate(
        client_id="demo-agency",
        name="Demo Social Welfare Agency",
        kind=ClientKind.relying_party,
        scopes=["identity", "consent", "exchange"],
        purposes=["SOCIAL_CASH_TRANSFER", "ELIGIBILITY_CHECK"],
        jurisdiction="XS",
        processing_location="XS",
        **_ASSESSED,
    ),
    ClientCreate(
        client_id="demo-bank",
        name="Demo Bank (FSP)",
        kind=ClientKind.fsp,
        roles=["fsp", "relying_party"],
        scopes=["identity", "payments", "consent"],
        purposes=["KYC_ACCOUNT_OPENING"],
        jurisdiction="XS",
        processing_location="XS",
        **_ASSESSED,
    ),
    ClientCreate(
        client_id="demo-programme",
        name="Demo Cash Transfer Programme",
        kind=ClientKind.programme,
        roles=["programme", "relying_party"],
        scopes=["payments", "consent", "exchange"],
        purposes=["SOCIAL_CASH_TRANSFER"],
        jurisdiction="XS",
        processing_location="XS",
        **_ASSESSED,
    ),
    ClientCreate(
        client_id="demo-registrar",
        name="Demo Registrar's Office",
        kind=ClientKind.registrars_office,
        roles=list(KIND_ROLES[ClientKind.registrars_office]),
        scopes=["identity"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-police",
        name="Demo Law-Enforcement Unit",
        kind=ClientKind.law_enforcement,
        scopes=["exchange"],
        purposes=["CRIMINAL_INVESTIGATION"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-auditor",
        name="Demo Auditor",
        kind=ClientKind.auditor,
        scopes=["audit", "governance", "clients"],
        jurisdiction="XS",
    ),
    ClientCreate(
        client_id="demo-oversight",
        name="Demo Data Protection Authority (oversight)",
        kind=ClientKind.oversight,
        roles=list(KIND_ROLES[ClientKind.oversight]),
        scopes=["audit", "governance", "clients", "identity", "exchange"],
        jurisdiction="XS",
    ),
    ClientCreate(
        client_id="demo-trainer",
        name="Demo Workshop Trainer",
        kind=ClientKind.trainer,
        scopes=sorted(SCOPES),
        jurisdiction="XS",
    ),
    # The organisations that keep the registers and run the platforms; each holds its one administrative role.
    ClientCreate(
        client_id="demo-social-registry",
        name="Demo Social Registry Office (Ministry of Social Welfare)",
        kind=ClientKind.registry_office,
        roles=["social_registry_officer"],
        scopes=["exchange"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-civil-registry",
        name="Demo Civil Registration Office",
        kind=ClientKind.registry_office,
        roles=["civil_registrar"],
        scopes=["exchange"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-scheme",
        name="Demo Payment Scheme Operator",
        kind=ClientKind.scheme_operator,
        scopes=["payments"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-platform",
        name="Demo Data-Exchange Platform Operator",
        kind=ClientKind.platform_operator,
        roles=list(KIND_ROLES[ClientKind.platform_operator]),
        scopes=["exchange", "consent"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-grievance-desk",
        name="Demo Grievance Desk",
        kind=ClientKind.grievance_office,
        scopes=["governance"],
        jurisdiction="XS",
    ),
    ClientCreate(
        client_id="demo-field-agent",
        name="Demo Field Agent Console (assisted channel)",
        kind=ClientKind.assisted_operator,
        scopes=["identity", "consent"],
        jurisdiction="XS",
        processing_location="XS",
    ),
    ClientCreate(
        client_id="demo-ussd-aggregator",
        name="Demo USSD Aggregator (text-only channel)",
        kind=ClientKind.text_channel,
        scopes=["identity", "consent"],
        jurisdiction="XA",
        processing_location="XA",
    ),
)


def client_key(keys_dir: Path, client_id: str) -> SigningKey:
    """The client's private key under `<keys_dir>/clients/`, created on first use."""
    return load_or_create_signing_key(keys_dir / "clients", client_id)


async def add_client(
    session: AsyncSession,
    spec: ClientCreate,
    *,
    keys_dir: Path,
    now: datetime,
    registered_by: str = BOOTSTRAP,
    approve: bool = False,
    jwks_uri_allowlist: list[str] | None = None,
) -> None:
    """Register `spec`, generating its key pair under keys_dir unless it brings its own jwks or jwks_uri."""
    if spec.jwks is None and spec.jwks_uri is None:
        key = client_key(keys_dir, spec.client_id)
        spec = spec.model_copy(update={"jwks": Jwks(keys=[key.public_jwk()])})
    await registry.register(
        session, spec, registered_by=registered_by, now=now, jwks_uri_allowlist=jwks_uri_allowlist or []
    )
    if approve:
        await registry.approve(session, spec.client_id, approved_by=registered_by, now=now)


async def ensure_demo_clients(
    sessionmaker: async_sessionmaker[AsyncSession], *, keys_dir: Path, now: datetime
) -> list[str]:
    """Register and approve every demo client not yet registered; the ids added."""
    added = []
    for spec in DEMO_CLIENTS:
        try:
            async with sessionmaker() as session, session.begin():
                if await ClientRepository(session).get(spec.client_id) is not None:
                    continue
                await add_client(session, spec, keys_dir=keys_dir, now=now, approve=True)
        except ClientExists:  # another process registered it first
            continue
        added.append(spec.client_id)
    if added:
        log.info("gateway.demo_clients_registered", clients=added)
    return added
