"""OIDC clients: registering a relying party with exact redirect URIs and its public keys. Never commits."""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.identity.deps import Runtime
from services.identity.oidc.client_auth import check_public_jwk
from services.identity.oidc.errors import (
    ClientAlreadyRegistered,
    ClientNotFound,
    InvalidClientRegistration,
)
from services.identity.oidc.models import (
    OidcClient,
)
from services.identity.oidc.repository import OidcRepository
from services.identity.oidc.schemas import (
    ClientCreate,
    ClientRead,
    Jwks,
    Scope,
)

log = structlog.get_logger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def _redirect_uri_problem(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return f"{uri}: a redirect URI may not have a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return f"{uri}: use https (http only on a loopback host)"


class ClientService:
    async def register(self, session: AsyncSession, caller: Caller, body: ClientCreate, *, rt: Runtime) -> ClientRead:
        """Register a relying party as an OIDC client: exact redirect URIs and its public keys."""
        problems = [p for uri in body.redirect_uris if (p := _redirect_uri_problem(uri))]
        problems += [p for key in body.jwks.keys if (p := check_public_jwk(key))]
        if len(body.jwks.keys) > 1 and any(not key.get("kid") for key in body.jwks.keys):
            problems.append("with more than one key, every key needs a kid")
        if Scope.openid not in body.allowed_scopes:
            problems.append("allowed_scopes must include openid")
        if problems:
            raise InvalidClientRegistration("; ".join(problems))
        repository = OidcRepository.from_session(session)
        if await repository.client(body.client_id) is not None:
            raise ClientAlreadyRegistered(f"The OIDC client {body.client_id} is already registered.")
        client = OidcClient(
            client_id=body.client_id,
            name=body.name,
            redirect_uris=list(dict.fromkeys(body.redirect_uris)),
            jwks=body.jwks.model_dump(),
            allowed_scopes=[s.value for s in dict.fromkeys(body.allowed_scopes)],
            created_by=caller.client_id,
            created_at=rt.clock.now(),
        )
        try:
            async with session.begin_nested():
                session.add(client)
        except IntegrityError:
            raise ClientAlreadyRegistered(f"The OIDC client {body.client_id} is already registered.") from None
        log.info("identity.oidc.client_registered", client_id=client.client_id)
        return self._client_read(client)

    async def get(self, session: AsyncSession, caller: Caller, client_id: str) -> ClientRead:
        client = await OidcRepository.from_session(session).client(client_id)
        if client is None:
            raise ClientNotFound(f"No OIDC client {client_id}.")
        return self._client_read(client)

    @staticmethod
    def _client_read(client: OidcClient) -> ClientRead:
        return ClientRead(
            client_id=client.client_id,
            name=client.name,
            redirect_uris=list(client.redirect_uris),
            jwks=Jwks.model_validate(client.jwks),
            allowed_scopes=[Scope(s) for s in client.allowed_scopes],
            created_at=client.created_at,
        )


clients = ClientService()
