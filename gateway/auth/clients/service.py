"""The client registry's logic: register (pending), approve (oversight), suspend. Never commits.

Deny by default: a client is usable only once approved. Relying parties, FSPs and programmes receive personal data,
so they cannot be registered or approved without a data-protection and a human-rights impact assessment on record
(SG-HRIA-1, 422). Clients that move money are always sender-constrained with DPoP.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.clients.errors import (
    ClientExists,
    ClientNotFound,
    ClientStatusConflict,
    InvalidClientRegistration,
)
from gateway.auth.clients.models import IMPACT_ASSESSED, KIND_ROLES, MONEY_MOVING, Client, ClientKind, ClientStatus
from gateway.auth.clients.repository import ClientRepository
from gateway.auth.clients.schemas import ClientCreate, ClientRead, Jwks
from services.common.jws import check_public_jwk
from services.common.problems import PolicyDenied


def _impact_assessments_missing(kind: ClientKind, dpia_ref: str | None, hria_ref: str | None) -> None:
    if kind in IMPACT_ASSESSED and not (dpia_ref and hria_ref):
        missing = " and ".join(name for name, ref in (("dpia_ref", dpia_ref), ("hria_ref", hria_ref)) if not ref)
        raise PolicyDenied(
            "SG-HRIA-1",
            f"A {kind.value} receives personal data: its registration needs a recorded data-protection and "
            f"human-rights impact assessment ({missing} missing) before it can go live.",
            status=422,
        )


def _validated(body: ClientCreate, jwks_uri_allowlist: list[str]) -> tuple[list[str], bool]:
    """The roles to grant and whether DPoP is required, or InvalidClientRegistration."""
    if (body.jwks is None) == (body.jwks_uri is None):
        raise InvalidClientRegistration("Give exactly one of jwks (the public keys) or jwks_uri.")
    if body.jwks is not None:
        for key in body.jwks.keys:
            problem = check_public_jwk(key)
            if problem:
                raise InvalidClientRegistration(f"jwks: {problem}.")
    if body.jwks_uri is not None and not any(body.jwks_uri.startswith(prefix) for prefix in jwks_uri_allowlist):
        raise InvalidClientRegistration(
            "jwks_uri is not on the gateway's allow-list (setting client_jwks_uri_allowlist); register the keys "
            "themselves as jwks instead."
        )
    allowed = KIND_ROLES[body.kind]
    roles = list(dict.fromkeys(body.roles)) if body.roles else [allowed[0]]
    extra = [role for role in roles if role not in allowed]
    if extra:
        raise InvalidClientRegistration(
            f"A {body.kind.value} may hold only the roles {', '.join(allowed)}; not {', '.join(extra)}."
        )
    _impact_assessments_missing(body.kind, body.dpia_ref, body.hria_ref)
    return roles, body.dpop_required or body.kind in MONEY_MOVING


def client_read(client: Client) -> ClientRead:
    return ClientRead(
        client_id=client.client_id,
        name=client.name,
        kind=ClientKind(client.kind),
        roles=list(client.roles),
        scopes=list(client.scopes),
        purposes=list(client.purposes),
        jurisdiction=client.jurisdiction,
        processing_location=client.processing_location,
        jwks=Jwks.model_validate(client.jwks) if client.jwks else None,
        jwks_uri=client.jwks_uri,
        dpop_required=client.dpop_required,
        dpia_ref=client.dpia_ref,
        hria_ref=client.hria_ref,
        status=ClientStatus(client.status),
        status_reason=client.status_reason,
        registered_by=client.registered_by,
        registered_at=client.registered_at,
        approved_by=client.approved_by,
        approved_at=client.approved_at,
    )


class ClientRegistry:
    async def register(
        self,
        session: AsyncSession,
        body: ClientCreate,
        *,
        registered_by: str,
        now: datetime,
        jwks_uri_allowlist: list[str],
    ) -> ClientRead:
        roles, dpop_required = _validated(body, jwks_uri_allowlist)
        repository = ClientRepository(session)
        if await repository.get(body.client_id) is not None:
            raise ClientExists(f"A client {body.client_id!r} is already registered.")
        client = Client(
            client_id=body.client_id,
            name=body.name,
            kind=body.kind.value,
            roles=roles,
            scopes=list(dict.fromkeys(body.scopes)),
            purposes=list(dict.fromkeys(body.purposes)),
            jurisdiction=body.jurisdiction,
            processing_location=body.processing_location,
            jwks=body.jwks.model_dump() if body.jwks else None,
            jwks_uri=body.jwks_uri,
            dpop_required=dpop_required,
            dpia_ref=body.dpia_ref,
            hria_ref=body.hria_ref,
            status=ClientStatus.pending.value,
            status_reason=None,
            registered_by=registered_by,
            registered_at=now,
            status_changed_at=now,
        )
        try:
            await repository.add(client)
        except IntegrityError:
            raise ClientExists(f"A client {body.client_id!r} is already registered.") from None
        return client_read(client)

    async def get(self, session: AsyncSession, client_id: str) -> ClientRead:
        client = await ClientRepository(session).get(client_id)
        if client is None:
            raise ClientNotFound(f"No client {client_id!r} is registered.")
        return client_read(client)

    async def list(self, session: AsyncSession, status: ClientStatus | None = None) -> list[ClientRead]:
        return [client_read(c) for c in await ClientRepository(session).list(status.value if status else None)]

    async def approve(
        self, session: AsyncSession, client_id: str, *, approved_by: str, now: datetime, reason: str | None = None
    ) -> ClientRead:
        """Oversight's approval: pending (or suspended) → approved, with the impact assessments on record."""
        client = await self._for_update(session, client_id)
        if client.status == ClientStatus.approved:
            raise ClientStatusConflict(f"The client {client_id!r} is already approved.")
        _impact_assessments_missing(ClientKind(client.kind), client.dpia_ref, client.hria_ref)
        client.status, client.status_reason, client.status_changed_at = ClientStatus.approved.value, reason, now
        client.approved_by, client.approved_at = approved_by, now
        await session.flush()
        return client_read(client)

    async def suspend(self, session: AsyncSession, client_id: str, *, now: datetime, reason: str | None) -> ClientRead:
        """Stops a client at once: no new tokens, and its live tokens are refused (within the cache time)."""
        client = await self._for_update(session, client_id)
        if client.status == ClientStatus.suspended:
            raise ClientStatusConflict(f"The client {client_id!r} is already suspended.")
        client.status, client.status_reason, client.status_changed_at = ClientStatus.suspended.value, reason, now
        await session.flush()
        return client_read(client)

    @staticmethod
    async def _for_update(session: AsyncSession, client_id: str) -> Client:
        client = await ClientRepository(session).get_for_update(client_id)
        if client is None:
            raise ClientNotFound(f"No client {client_id!r} is registered.")
        return client


registry = ClientRegistry()
