"""Checks on the public keys organisations register, and private_key_jwt (RFC 7523 section 3) verification.

The algorithm is pinned to ES256 or RS256 and must fit the key type before any key is used, so `none`, HMAC with a
public key and other algorithm confusions are refused. Time is judged by the injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jose import jwk, jwt
from jose.exceptions import JOSEError

from gateway.auth.errors import invalid_client
from services.common.keys import verification_key

ALGORITHM_KEY_TYPES = {"ES256": "EC", "RS256": "RSA"}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
LEEWAY_SECONDS = 30


def key_algorithm(key: Mapping[str, Any]) -> str | None:
    return {"EC": "ES256", "RSA": "RS256"}.get(str(key.get("kty")))


def check_public_jwk(key: Mapping[str, Any]) -> str | None:
    """Why `key` cannot be a client's signing key, or None if it can."""
    if PRIVATE_MEMBERS & key.keys():
        return "the JWKS holds private key material: register public keys only"
    kty = key.get("kty")
    if kty == "EC":
        if key.get("crv") != "P-256":
            return "EC keys must be on P-256 (ES256)"
    elif kty == "RSA":
        n = key.get("n")
        if not isinstance(n, str) or len(n) * 6 < MIN_RSA_BITS - 8:
            return f"RSA keys must have a modulus of at least {MIN_RSA_BITS} bits"
    else:
        return "keys must be EC (P-256) or RSA"
    algorithm = key_algorithm(key)
    if key.get("alg", algorithm) != algorithm:
        return f"a {kty} key must be used with {algorithm}"
    if key.get("use", "sig") != "sig":
        return "keys must be signing keys (use=sig)"
    try:
        jwk.construct(dict(key), algorithm)
    except (JOSEError, ValueError, TypeError) as error:
        return f"not a usable key: {error}"
    return None


def unverified_issuer(assertion: str) -> str:
    """The client_id the assertion claims to come from (to find the client's keys)."""
    try:
        claims = jwt.get_unverified_claims(assertion)
    except JOSEError:
        raise invalid_client("client_assertion is not a JWT") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not 0 < len(issuer) <= 100:
        raise invalid_client("client_assertion has no iss")
    return issuer


_SKIP_CLAIM_CHECKS = {
    "verify_aud": False,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "verify_at_hash": False,
}


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    keys: Sequence[Mapping[str, Any]],
    audiences: Sequence[str],
    now: datetime,
    max_lifetime_seconds: int,
) -> dict[str, Any]:
    """The verified claims of a client assertion; raises OAuthError(invalid_client) for anything wrong."""
    try:
        header = jwt.get_unverified_header(assertion)
    except JOSEError:
        raise invalid_client("client_assertion is not a JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHM_KEY_TYPES:
        raise invalid_client(f"client_assertion must be signed with ES256 or RS256, not {algorithm!r}")
    kid = header.get("kid")
    candidates = [
        key
        for key in keys
        if key.get("kty") == ALGORITHM_KEY_TYPES[algorithm]
        and key.get("alg", algorithm) == algorithm
        and (kid is None or key.get("kid") == kid)
    ]
    claims: dict[str, Any] | None = None
    for key in candidates:
        try:
            claims = jwt.decode(
                assertion, verification_key(key, algorithm), algorithms=[algorithm], options=_SKIP_CLAIM_CHECKS
            )
            break
        except JOSEError:
            continue
    if claims is None:
        raise invalid_client("client_assertion is not signed by a key registered for this client")
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise invalid_client("client_assertion must have iss = sub = client_id")
    audience = claims.get("aud")
    presented = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    if not set(audiences) & {a for a in presented if isinstance(a, str)}:
        raise invalid_client(f"client_assertion aud must be the token endpoint ({audiences[0]})")
    moment = now.timestamp()
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise invalid_client("client_assertion has no exp")
    if moment >= expires + LEEWAY_SECONDS:
        raise invalid_client("client_assertion has expired")
    if expires - moment > max_lifetime_seconds + LEEWAY_SECONDS:
        raise invalid_client("client_assertion expires too far in the future")
    for claim in ("iat", "nbf"):
        value = claims.get(claim)
        if value is not None and (not isinstance(value, int | float) or value > moment + LEEWAY_SECONDS):
            raise invalid_client(f"client_assertion {claim} is in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 200:
        raise invalid_client("client_assertion needs a jti")
    return claims
