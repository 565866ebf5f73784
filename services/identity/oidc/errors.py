"""Problems of the OIDC provider, and the RFC 6749 error the token endpoint answers with instead of problem+json."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from services.common.problems import Conflict, InvalidInput, NotFound, ProblemError

BEARER_REALM = 'Bearer realm="dpi-sandbox-identity"'
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class UnknownClient(ProblemError):
    """RFC 6749 §4.1.2.1: an unknown client is told to the user agent, never redirected."""

    status = 400
    title = "Unknown or missing client_id"
    type_slug = "identity/oidc-unknown-client"
    code = "identity.oidc.unknown_client"


class RedirectUriNotRegistered(ProblemError):
    """RFC 6749 §4.1.2.1: a redirect URI that is not registered exactly is never redirected to."""

    status = 400
    title = "redirect_uri missing or not registered for this client"
    type_slug = "identity/oidc-redirect-uri-not-registered"
    code = "identity.oidc.redirect_uri_not_registered"


class ClientAlreadyRegistered(Conflict):
    title = "An OIDC client with this client_id exists"
    type_slug = "identity/oidc-client-exists"
    code = "identity.oidc.client_exists"


class InvalidClientRegistration(InvalidInput):
    title = "Invalid OIDC client registration"
    type_slug = "identity/oidc-invalid-client-registration"
    code = "identity.oidc.invalid_client_registration"


class ClientNotFound(NotFound):
    title = "No OIDC client with this client_id"
    type_slug = "identity/oidc-client-not-found"
    code = "identity.oidc.client_not_found"


class TransactionNotFound(NotFound):
    title = "No such sign-in transaction"
    type_slug = "identity/oidc-transaction-not-found"
    code = "identity.oidc.transaction_not_found"


class TransactionClosed(Conflict):
    title = "This sign-in is finished or has expired: start again at the client"
    type_slug = "identity/oidc-transaction-closed"
    code = "identity.oidc.transaction_closed"


class InvalidAccessToken(ProblemError):
    """RFC 6750 §3.1: the `WWW-Authenticate` header carries the OAuth error; the body is problem+json."""

    status = 401
    title = "Missing, invalid or expired access token"
    type_slug = "identity/oidc-invalid-token"
    code = "identity.oidc.invalid_token"

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        challenge = BEARER_REALM if error is None else f'{BEARER_REALM}, error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class OAuthError(ProblemError):
    """An RFC 6749 §5.2 error of the token endpoint: raised like any problem, answered in OAuth's JSON shape (OAuth
    clients require it), and committed first (a replayed code's revocation, a spent client assertion must stay)."""

    status = 400
    title = "OAuth token endpoint error"
    type_slug = "identity/oidc-token-error"
    code = "identity.oidc.token_error"
    commit_before_raise = True

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status  # type: ignore[misc]

    def response(self, request: Request) -> Response:
        headers = dict(NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = f'{BEARER_REALM}, error="{self.error}"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)
