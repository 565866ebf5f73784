"""Signed offline credentials: a compact ES256 JWS for a QR code, verifiable with nothing but the published JWKS."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

from services.common.keys import SigningKey, b64url, b64url_decode
from services.identity.persons.uin import is_valid_uin

CREDENTIAL_TYP = "dpi-offline-id+jwt"
ALGORITHM = "ES256"
QR_PREFIX = "DPI1:"
DEFAULT_ISSUER = "dpi-sandbox-identity"
# The relying party id under which an offline credential carries its pairwise token (the "sub" claim).
OFFLINE_VERIFIER_ID = "offline-verifier"
RESERVED_CLAIMS = frozenset({"iss", "iat", "exp"})

# Offline verifiers are often phones whose clocks drift; beyond this a future iat is a forgery or a broken clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
# A UIN written as "2345 6789 0123" or "2345-6789-0123" is still a UIN.
_SEPARATOR_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])[\s-](?=[0-9])")
_DIGIT_RUN = re.compile(r"[0-9]+")


class InvalidCredential(Exception):
    """An offline credential that must not be trusted; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _contains_uin(value: object) -> bool:
    if isinstance(value, Mapping):
        return any(
            (isinstance(key, str) and key.strip().casefold() == "uin") or _contains_uin(key) or _contains_uin(item)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return any(_contains_uin(item) for item in value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return False
    compact = _SEPARATOR_BETWEEN_DIGITS.sub("", str(value))
    return any(is_valid_uin(run) for run in _DIGIT_RUN.findall(compact))


def issue_offline_credential(
    signing_key: SigningKey,
    claims: Mapping[str, Any],
    *,
    issued_at: datetime,
    expires_at: datetime,
    issuer: str = DEFAULT_ISSUER,
) -> str:
    """Sign `claims` with iss, iat and exp as a compact ES256 JWS; refuses anything that carries a UIN."""
    if issued_at.tzinfo is None or expires_at.tzinfo is None:
        raise ValueError("issued_at and expires_at must be timezone-aware")
    if expires_at <= issued_at:
        raise ValueError("expires_at must be after issued_at")
    if reserved := RESERVED_CLAIMS & claims.keys():
        raise ValueError(f"claims may not set {', '.join(sorted(reserved))}: the issuer sets them")
    # A QR code is photographed, shared and kept; a UIN in it could never be withdrawn.
    if _contains_uin(claims):
        raise ValueError("an offline credential must not carry a UIN")
    payload = {**claims, "iss": issuer, "iat": int(issued_at.timestamp()), "exp": int(expires_at.timestamp())}
    return signing_key.sign_jwt(payload, typ=CREDENTIAL_TYP)


def _is_canonical_b64url(segment: str) -> bool:
    # Without this, flipping the unused low bits of a segment's last character would leave a valid signature.
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        return False
    return b64url(b64url_decode(segment)) == segment


def _find_key(jwks: Mapping[str, Any], kid: object) -> dict[str, Any]:
    if not isinstance(kid, str) or not kid:
        raise InvalidCredential("token header has no key id")
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise InvalidCredential("the JWKS has no key list")
    matches = [key for key in keys if isinstance(key, dict) and key.get("kid") == kid]
    if len(matches) != 1:
        raise InvalidCredential(f"the JWKS has {'no' if not matches else 'more than one'} key with id {kid!r}")
    key: dict[str, Any] = matches[0]
    if key.get("kty") != "EC" or key.get("crv") != "P-256" or key.get("alg", ALGORITHM) != ALGORITHM:
        raise InvalidCredential(f"key {kid!r} is not a P-256 ES256 key")
    if key.get("use", "sig") != "sig":
        raise InvalidCredential(f"key {kid!r} is not a signing key")
    return key


def verify_offline_credential(
    token: str, jwks: Mapping[str, Any], *, now: datetime, issuer: str | None = None
) -> dict[str, Any]:
    """The claims of a valid, unexpired credential, checked against `jwks` alone; raises InvalidCredential."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    segments = token.split(".")
    if len(segments) != 3 or not all(_is_canonical_b64url(segment) for segment in segments):
        raise InvalidCredential("not a compact JWS in canonical base64url")
    try:
        header = json.loads(b64url_decode(segments[0]))
    except ValueError:
        raise InvalidCredential("token header is not JSON") from None
    if not isinstance(header, dict):
        raise InvalidCredential("token header is not a JSON object")
    # Pinned before any key is touched, so "none" and HMAC-with-the-public-key forgeries never reach verification.
    if header.get("alg") != ALGORITHM:
        raise InvalidCredential(f"algorithm must be {ALGORITHM}, not {header.get('alg')!r}")
    if header.get("typ") != CREDENTIAL_TYP:
        raise InvalidCredential(f"token type must be {CREDENTIAL_TYP!r}")
    key = _find_key(jwks, header.get("kid"))
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"verify_exp": False, "verify_aud": False})
    except (JOSEError, ValueError) as error:
        raise InvalidCredential(f"signature or claims are invalid: {error}") from None
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int) or isinstance(expires, bool) or not isinstance(issued, int):
        raise InvalidCredential("token lacks integer exp and iat claims")
    if now.timestamp() >= expires:
        raise InvalidCredential("credential has expired")
    if issued > (now + MAX_CLOCK_SKEW).timestamp():
        raise InvalidCredential("credential is issued in the future")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidCredential(f"credential is not issued by {issuer!r}")
    return claims


def qr_payload(token: str) -> str:
    """The string to put in a QR code: the token behind a versioned prefix."""
    return QR_PREFIX + token


def parse_qr_payload(payload: str) -> str:
    """The token inside a scanned QR string; raises InvalidCredential if it is not ours."""
    text = payload.strip()
    if not text.startswith(QR_PREFIX):
        raise InvalidCredential(f"QR payload does not start with {QR_PREFIX!r}")
    return text[len(QR_PREFIX) :]


def verify_offline_qr(
    payload: str, jwks: Mapping[str, Any], *, now: datetime | None = None, issuer: str | None = DEFAULT_ISSUER
) -> dict[str, Any]:
    """Verify a scanned QR string offline: the claims if valid, else InvalidCredential. Usable from a CLI.

    Needs nothing but the JWKS the identity service publishes at /.well-known/jwks.json (fetched once, earlier).
    """
    return verify_offline_credential(parse_qr_payload(payload), jwks, now=now or datetime.now(UTC), issuer=issuer)
