"""The OIDC provider: its constants, discovery and issuer, and the helpers its parts share. Never commits.

The sign-in is API-first (no HTML): authorize validates the request and opens a transaction; the person's app sends
an OTP to the VID they give (or uses their PIN) and completes, which answers 303 to the client's redirect URI with
the code. The ID token's `sub` is the client's pairwise token, so two clients cannot link a person, and neither ever
sees the UIN or the internal `sub`.

The parts: `clients` (registration), `signin` (authorize, one-time code, complete, cancel) and `tokens` (the code
exchange and userinfo).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from services.common.keys import b64url
from services.identity.deps import Runtime
from services.identity.oidc.schemas import (
    SCOPE_CLAIMS,
    OpenIdConfiguration,
    Scope,
)

ID_TOKEN_ALGORITHM = "ES256"  # noqa: S105 (an algorithm name)
ACR_PREFIX = "urn:dpi-sandbox:acr:"

# Paths under the issuer (the identity service's public base URL behind the gateway).
AUTHORIZE_PATH = "/v1/oidc/authorize"
TOKEN_PATH = "/v1/oidc/token"  # noqa: S105 (a path)
USERINFO_PATH = "/v1/oidc/userinfo"
JWKS_PATH = "/.well-known/jwks.json"
TRANSACTIONS_PATH = "/v1/oidc/transactions"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class ErrorRedirect:
    """An authorize error the RFC sends back to the client's (verified) redirect URI."""

    location: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` appended to its query (keeping what is there)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class OidcService:
    def discovery(self, rt: Runtime) -> OpenIdConfiguration:
        issuer = self.issuer(rt)
        return OpenIdConfiguration(
            issuer=issuer,
            authorization_endpoint=issuer + AUTHORIZE_PATH,
            token_endpoint=issuer + TOKEN_PATH,
            userinfo_endpoint=issuer + USERINFO_PATH,
            jwks_uri=issuer + JWKS_PATH,
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=["authorization_code"],
            subject_types_supported=["pairwise"],
            id_token_signing_alg_values_supported=[ID_TOKEN_ALGORITHM],
            token_endpoint_auth_methods_supported=["private_key_jwt"],
            token_endpoint_auth_signing_alg_values_supported=["ES256", "RS256"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=[s.value for s in Scope],
            claims_supported=sorted(
                {c for claims in SCOPE_CLAIMS.values() for c in claims}
                | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash"}
            ),
            acr_values_supported=[ACR_PREFIX + "otp", ACR_PREFIX + "pin"],
            authorization_response_iss_parameter_supported=True,
        )

    @staticmethod
    def issuer(rt: Runtime) -> str:
        return rt.settings.oidc_issuer.rstrip("/")


oidc = OidcService()
