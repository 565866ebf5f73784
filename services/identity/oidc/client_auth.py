"""private_key_jwt (RFC 7523 §3, OIDC Core §9) at identity's token endpoint, on services.common.jws.

The verification itself (algorithm pinned to ES256 or RS256 and fitting the key, iss = sub = client_id, aud, exp,
maximum lifetime, single-use jti, time by the injected clock) is `jws.verify_client_assertion`, shared with the
gateway's own token endpoint. This module only answers its failures as OAuth `invalid_client` and keeps the
accepted `jti`s in the OIDC tables, inside the request's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.common import jws
from services.identity.oidc.errors import OAuthError
from services.identity.oidc.repository import OidcRepository

check_public_jwk = jws.check_public_jwk


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


class _RememberedAssertions:
    """A replay guard over `oidc_client_assertions`, scoped to one client (jti values are the client's own)."""

    def __init__(self, repository: OidcRepository, client_id: str) -> None:
        self._repository = repository
        self._client_id = client_id

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        return await self._repository.remember_assertion(self._client_id, jti, expires_at)


def unverified_issuer(assertion: str) -> str:
    """The client_id the assertion claims to come from (to find the client's keys)."""
    try:
        issuer = jws.unverified_claims(assertion).get("iss")
    except jws.InvalidToken:
        raise _invalid_client("client_assertion is not a JWT") from None
    if not isinstance(issuer, str) or not issuer:
        raise _invalid_client("client_assertion has no iss")
    return issuer


async def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    keys: Sequence[Mapping[str, Any]],
    audiences: Sequence[str],
    now: datetime,
    max_lifetime_seconds: int,
    repository: OidcRepository,
) -> dict[str, Any]:
    """The verified claims of a client assertion, its jti now used up; raises OAuthError(invalid_client)."""
    try:
        return await jws.verify_client_assertion(
            assertion,
            client_id=client_id,
            keys=keys,
            audiences=audiences,
            now=now,
            max_lifetime=timedelta(seconds=max_lifetime_seconds),
            replay_guard=_RememberedAssertions(repository, client_id),
        )
    except jws.InvalidToken as error:
        raise _invalid_client(f"client_assertion: {error.reason}") from None
