"""Wire shapes of the token endpoint and the authorization server metadata."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenRequest(BaseModel):
    """The token endpoint's form fields (application/x-www-form-urlencoded), for documentation."""

    grant_type: Literal["client_credentials"]
    scope: str | None = Field(default=None, description="Space-separated; default: every scope the client holds.")
    client_id: str | None = Field(default=None, description="Optional; must equal the assertion's iss.")
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: str = Field(
        description="private_key_jwt (RFC 7523): iss = sub = client_id, aud = the token endpoint URL, exp, "
        "single-use jti; ES256 or RS256 with a key registered for the client."
    )


class TokenResponse(BaseModel):
    access_token: str = Field(description="An ES256 JWT (RFC 9068) signed with the key at /.well-known/jwks.json.")
    token_type: Literal["Bearer", "DPoP"] = Field(description="DPoP: send it as `Authorization: DPoP` with a proof.")
    expires_in: int
    scope: str


class OAuthErrorBody(BaseModel):
    """RFC 6749 section 5.2 (and RFC 9449): the token endpoint's mandated error shape (not problem+json)."""

    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_scope",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "temporarily_unavailable",
    ]
    error_description: str | None = None


class AuthorizationServerMetadata(BaseModel):
    """RFC 8414 metadata of the gateway's authorization server."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    dpop_signing_alg_values_supported: list[str]
    scopes_supported: list[str]
    response_types_supported: list[str]
    service_documentation: str
    citizen_openid_configuration: str = Field(
        description="Citizens sign in at the identity service's OpenID provider; its discovery document."
    )
