"""Signed offline credentials: a compact ES256 JWS for a QR code, verifiable with nothing but the published JWKS."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common import jws
from services.common.keys import SigningKey
from services.identity.credentials.status_list import (
    STATUS_LIST_TYP,
    VALID,
    StatusListError,
    decode_list,
    status_at,
    status_claim,
)
from services.identity.persons.uin import find_uins

CREDENTIAL_TYP = "dpi-offline-id+jwt"
ALGORITHM = "ES256"
QR_PREFIX = "DPI1:"
DEFAULT_ISSUER = "dpi-sandbox-identity"
# The relying party id under which an offline credential carries its pairwise token (the "sub" claim).
OFFLINE_VERIFIER_ID = "offline-verifier"
RESERVED_CLAIMS = frozenset({"iss", "iat", "exp", "status"})

# Offline verifiers are often phones whose clocks drift; beyond this a future iat is a forgery or a broken clock.
MAX_CLOCK_SKEW = timedelta(minutes=5)


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
    # The same rule as everywhere a UIN is looked for (enrolment refuses names holding one): digits inside the
    # credential's own opaque values (the token, the photo hash's hex) are not a UIN, however they fall.
    return bool(find_uins(str(value)))


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
    return jws.sign_claims(signing_key, payload, typ=CREDENTIAL_TYP)


def _verified(token: str, jwks: Mapping[str, Any], policy: jws.TokenPolicy, *, now: datetime) -> dict[str, Any]:
    """The claims of a compact ES256 JWS signed by a key in `jwks` that meets `policy`; raises InvalidCredential."""
    try:
        return jws.verify(token, jwks, policy, now=now).claims
    except jws.InvalidToken as error:
        raise InvalidCredential(error.reason) from None


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
    policy = jws.TokenPolicy(
        typ=CREDENTIAL_TYP, issuer=issuer, future_leeway=MAX_CLOCK_SKEW, required=frozenset({"iat", "exp"})
    )
    claims = _verified(token, jwks, policy, now=now)
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
    listing = _verified(status_list_token, jwks, jws.TokenPolicy(typ=STATUS_LIST_TYP, required=frozenset()), now=now)
    if listing.get("sub") != uri:
        raise InvalidCredential("the status list is not the one the credential names")
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
