"""Checks on the public keys organisations register, and private_key_jwt (RFC 7523 section 3) verification, both
from services.common.jws (one JOSE verifier for the sandbox); this module words the failures as OAuth
`invalid_client` for the gateway's token endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from gateway.auth.errors import invalid_client
from services.common import jws

LEEWAY_SECONDS = 30
check_public_jwk = jws.check_public_jwk
ALGORITHM_KEY_TYPES = {algorithm: kty for algorithm, (kty, _curve) in jws.ALGORITHM_KEYS.items()}
PRIVATE_MEMBERS = jws.PRIVATE_MEMBERS
# What the token endpoint has always said for these; other failures name the check (jws's own reason).
_DESCRIPTIONS = {
    "expired": "client_assertion has expired",
    "signature": "client_assertion is not signed by a key registered for this client",
    "key": "client_assertion is not signed by a key registered for this client",
}


def key_algorithm(key: Mapping[str, Any]) -> str | None:
    return {"EC": "ES256", "RSA": "RS256"}.get(str(key.get("kty")))


def unverified_issuer(assertion: str) -> str:
    """The client_id the assertion claims to come from (to find the client's keys)."""
    try:
        issuer = jws.unverified_claims(assertion).get("iss")
    except jws.InvalidToken:
        raise invalid_client("client_assertion is not a JWT") from None
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 100:
        raise invalid_client("client_assertion has no iss")
    return issuer


async def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    keys: Sequence[Mapping[str, Any]],
    audiences: Sequence[str],
    now: datetime,
    max_lifetime_seconds: int,
) -> dict[str, Any]:
    """The verified claims of a client assertion; raises OAuthError(invalid_client) for anything wrong. The jti is
    left for the caller to spend, after its approval and rate checks."""
    try:
        return await jws.verify_client_assertion(
            assertion,
            client_id=client_id,
            keys=keys,
            audiences=audiences,
            now=now,
            max_lifetime=timedelta(seconds=max_lifetime_seconds),
            replay_guard=None,
            leeway=timedelta(seconds=LEEWAY_SECONDS),
        )
    except jws.InvalidToken as error:
        raise invalid_client(_DESCRIPTIONS.get(error.code, f"client_assertion: {error.reason}")) from None
