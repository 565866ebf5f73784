"""Authentication failures at the gateway: RFC 6749 errors of the token endpoint, RFC 6750 / RFC 9449 challenges of
protected routes (problem+json bodies, the OAuth error in `WWW-Authenticate`), and the rate limit."""

from __future__ import annotations

from collections.abc import Mapping

from services.common.problems import ProblemError, Unauthenticated

REALM = "dpi-sandbox"
DPOP_ALGORITHMS = ("ES256", "RS256")


def _quoted(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


def challenges(error: str | None = None, description: str | None = None, *, dpop: bool | None = None) -> str:
    """`WWW-Authenticate` for a protected route: the Bearer and DPoP schemes, the error on the one that applies."""
    suffix = ""
    if error is not None:
        suffix = f', error="{error}"'
        if description:
            suffix += f', error_description="{_quoted(description)}"'
    bearer = f'Bearer realm="{REALM}"' + (suffix if dpop is not True else "")
    dpop_challenge = f'DPoP realm="{REALM}", algs="{" ".join(DPOP_ALGORITHMS)}"' + (suffix if dpop is not False else "")
    return f"{bearer}, {dpop_challenge}"


class MissingCredentials(Unauthenticated):
    """RFC 6750 section 3.1: no credentials at all get a challenge without an error code."""

    code = "gateway.credentials_missing"
    type_slug = "gateway/credentials-missing"

    def __init__(self) -> None:
        super().__init__(
            "Send an access token from POST /oauth2/token (Authorization: Bearer or DPoP), or a citizen's ID token "
            "from the identity service's sign-in.",
            headers={"WWW-Authenticate": challenges()},
        )


class InvalidToken(Unauthenticated):
    title = "Missing, invalid or expired access token"
    code = "gateway.invalid_token"
    type_slug = "gateway/invalid-token"

    def __init__(self, detail: str, *, dpop: bool | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": challenges("invalid_token", detail, dpop=dpop)})


class InvalidDpopProof(Unauthenticated):
    title = "Missing or invalid DPoP proof"
    code = "gateway.invalid_dpop_proof"
    type_slug = "gateway/invalid-dpop-proof"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": challenges("invalid_dpop_proof", detail, dpop=True)})


class UseDpopNonce(Unauthenticated):
    """RFC 9449 section 9: retry the request with this nonce in the proof."""

    title = "A DPoP nonce is required"
    code = "gateway.use_dpop_nonce"
    type_slug = "gateway/use-dpop-nonce"

    def __init__(self, nonce: str) -> None:
        super().__init__(
            "Put the nonce from the DPoP-Nonce header in a new proof and send the request again.",
            headers={"WWW-Authenticate": challenges("use_dpop_nonce", None, dpop=True), "DPoP-Nonce": nonce},
        )


class RateLimited(ProblemError):
    status = 429
    title = "Too many requests"
    type_slug = "gateway/rate-limited"
    code = "gateway.rate_limited"
    rule_id = "SG-SEC-1"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error of the token endpoint (answered as its JSON shape, not problem+json)."""

    def __init__(
        self, error: str, description: str, *, status: int = 400, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)
