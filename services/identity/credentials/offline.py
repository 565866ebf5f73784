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
from services.identity.credentials.status_list import (
    STATUS_LIST_TYP,
    VALID,
    StatusListError,
    decode_list,
    status_at,
    status_claim,
)
from services.identity.persons.uin import is_valid_uin

CREDENTIAL_TYP = "dpi-offline-id+jwt"
ALGORITHM = "ES256"
QR_PREFIX = "DPI1:"
DEFAULT_ISSUER = "dpi-sandbox-identity"
# The relying party id under which an offline credential carries its pairwise token (the "sub" claim).
OFFLINE_VERIFIER_ID = "offline-verifier"
RESERVED_CLAIMS = frozenset({"iss", "iat", "exp", "status"})

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
    status: tuple[int, str] | None = None,
) -> str:
    """Sign `claims` with iss, iat, exp and the (idx, uri) `status` entry as a compact ES256 JWS; refuses anything
    that carries a UIN."""
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
    if status is not None:
        payload["status"] = status_claim(*status)
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


def _verified_jws(token: str, jwks: Mapping[str, Any], typ: str) -> dict[str, Any]:
    """The claims of a compact ES256 JWS of type `typ` signed by a key in `jwks`; raises InvalidCredential."""
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
    if header.get("typ") != typ:
        raise InvalidCredential(f"token type must be {typ!r}")
    key = _find_key(jwks, header.get("kid"))
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"verify_exp": False, "verify_aud": False, "verify_sub": False}
        )
    except (JOSEError, ValueError) as error:
        raise InvalidCredential(f"signature or claims are invalid: {error}") from None
    return claims


def _integer(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidCredential(f"token lacks an integer {name} claim")
    return value


def verify_offline_credential(
    token: str,
    jwks: Mapping[str, Any],
    *,
    now: datetime,
    issuer: str | None = None,
    status_list_token: str | None = None,
) -> dict[str, Any]:
    """The claims of a valid, unexpired credential, checked against `jwks` alone; raises InvalidCredential.

    With `status_list_token` (the Status List Token fetched from the credential's status URI while online), a
    credential revoked by then is refused too, and so is one that names no status entry.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    claims = _verified_jws(token, jwks, CREDENTIAL_TYP)
    expires, issued = _integer(claims, "exp"), _integer(claims, "iat")
    if now.timestamp() >= expires:
        raise InvalidCredential("credential has expired")
    if issued > (now + MAX_CLOCK_SKEW).timestamp():
        raise InvalidCredential("credential is issued in the future")
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidCredential(f"credential is not issued by {issuer!r}")
    if status_list_token is not None:
        _check_status(claims, status_list_token, jwks, now=now)
    return claims


def status_entry(claims: Mapping[str, Any]) -> tuple[int, str] | None:
    """(idx, uri) of a credential's status entry, if it names a well-formed one."""
    status = claims.get("status")
    entry = status.get("status_list") if isinstance(status, Mapping) else None
    if not isinstance(entry, Mapping):
        return None
    index, uri = entry.get("idx"), entry.get("uri")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0 or not isinstance(uri, str):
        return None
    return index, uri


def _check_status(claims: Mapping[str, Any], status_list_token: str, jwks: Mapping[str, Any], *, now: datetime) -> None:
    entry = status_entry(claims)
    if entry is None:
        raise InvalidCredential("credential names no status list entry")
    index, uri = entry
    listing = _verified_jws(status_list_token, jwks, STATUS_LIST_TYP)
    if listing.get("sub") != uri:
        raise InvalidCredential("the status list is not the one the credential names")
    if "exp" in listing and now.timestamp() >= _integer(listing, "exp"):
        raise InvalidCredential("the status list has expired: fetch it again")
    status_list = listing.get("status_list")
    try:
        status = status_at(decode_list(status_list if isinstance(status_list, Mapping) else {}), index)
    except StatusListError as error:
        raise InvalidCredential(f"the status list cannot be read: {error}") from None
    if status != VALID:
        raise InvalidCredential("credential has been revoked")


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
    payload: str,
    jwks: Mapping[str, Any],
    *,
    now: datetime | None = None,
    issuer: str | None = DEFAULT_ISSUER,
    status_list_token: str | None = None,
) -> dict[str, Any]:
    """Verify a scanned QR string offline: the claims if valid, else InvalidCredential. Usable from a CLI.

    Needs nothing but the JWKS the identity service publishes at /.well-known/jwks.json (fetched once, earlier),
    and, to refuse revoked credentials, the Status List Token from the credential's status URI (fetched earlier too).
    """
    return verify_offline_credential(
        parse_qr_payload(payload),
        jwks,
        now=now or datetime.now(UTC),
        issuer=issuer,
        status_list_token=status_list_token,
    )
