"""Wire shapes of the OIDC provider (field names follow OpenID Connect and RFC 6749, hence snake_case as is)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from services.identity.persons.uin import is_valid_vid
from services.identity.tokens.schemas import RelyingPartyId

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _vid(value: str) -> str:
    if not is_valid_vid(value):
        raise ValueError("not a VID: 16 digits with a valid check digit")
    return value


class Scope(StrEnum):
    openid = "openid"
    profile = "profile"  # name
    birthdate = "birthdate"  # birthdate
    address = "address"  # address


SCOPE_CLAIMS: dict[Scope, tuple[str, ...]] = {
    Scope.openid: ("sub",),
    Scope.profile: ("name",),
    Scope.birthdate: ("birthdate",),
    Scope.address: ("address",),
}
SCOPE_DESCRIPTIONS: dict[Scope, str] = {
    Scope.openid: "Sign you in with an identifier that only this service sees (never your UIN)",
    Scope.profile: "Your name",
    Scope.birthdate: "Your date of birth",
    Scope.address: "Your address",
}


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(min_length=1, max_length=10)


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: RelyingPartyId = Field(
        description="Use the relying party's gateway client id, so its pairwise tokens are the same across APIs."
    )
    name: str = Field(min_length=1, max_length=200, description="Shown to people when they sign in.")
    redirect_uris: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(
        min_length=1,
        max_length=10,
        description="Exact-match redirect URIs: https, or http only on a loopback host; no fragment.",
    )
    jwks: Jwks = Field(description="The client's PUBLIC signing keys (EC P-256 for ES256, RSA >= 2048 for RS256).")
    allowed_scopes: list[Scope] = Field(default_factory=lambda: [Scope.openid, Scope.profile], min_length=1)


class ClientRead(BaseModel):
    client_id: str
    name: str
    redirect_uris: list[str]
    jwks: Jwks
    allowed_scopes: list[Scope]
    token_endpoint_auth_method: Literal["private_key_jwt"] = "private_key_jwt"  # noqa: S105
    created_at: datetime


class AuthorizeQuery(BaseModel):
    """RFC 6749 §4.1.1 and RFC 7636; all optional here so that errors can be answered the RFC's way."""

    # Bounded like the columns they are kept in (oidc_clients, oidc_transactions); longer is a 422 at the edge.
    response_type: str | None = Field(default=None, max_length=100)
    client_id: str | None = Field(default=None, max_length=100)
    redirect_uri: str | None = Field(default=None, max_length=2000)
    scope: str | None = Field(default=None, max_length=1000)
    state: str | None = Field(default=None, max_length=1000)
    nonce: str | None = Field(default=None, max_length=1000)
    code_challenge: str | None = Field(default=None, max_length=128)
    code_challenge_method: str | None = Field(default=None, max_length=16)


class ScopeRequested(BaseModel):
    scope: Scope
    description: str
    claims: list[str]


class LoginTransaction(BaseModel):
    """An API-first sign-in: show the person who is asking and for what, then send an OTP and complete."""

    transaction_id: str
    client_id: str
    client_name: str
    scopes: list[ScopeRequested]
    factors: list[Literal["otp", "pin"]] = Field(description="How the person can complete the sign-in.")
    expires_at: datetime
    otp_endpoint: str = Field(
        description="POST here (an absolute URL under the issuer) with a `login_hint` (a VID) to send a one-time code."
    )
    complete_endpoint: str = Field(description="POST here with the OTP or PIN to finish; answers 303 to the client.")
    cancel_endpoint: str


class LoginHint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_hint: str = Field(max_length=64, description="The person's VID.", examples=["2345678901234567"])

    @field_validator("login_hint")
    @classmethod
    def _is_vid(cls, value: str) -> str:
        return _vid(value)


class LoginComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("login_hint")
    @classmethod
    def _is_vid(cls, value: str | None) -> str | None:
        return None if value is None else _vid(value)

    @model_validator(mode="after")
    def _one_factor(self) -> LoginComplete:
        if (self.otp is None) == (self.pin is None):
            raise ValueError("give exactly one of otp or pin")
        return self

    otp: str | None = Field(default=None, pattern=r"^[0-9]{6}$", repr=False)
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,12}$", repr=False)
    login_hint: str | None = Field(
        default=None, max_length=64, description="The VID; needed with a PIN if no OTP was sent."
    )
    accepted_scopes: list[Scope] | None = Field(
        default=None,
        description="The scopes the person agrees to share (a subset of those requested; `openid` is implied). "
        "Omitted: all requested scopes.",
    )


class LoginRedirect(BaseModel):
    redirect_to: str = Field(description="Also in the Location header of the 303.")


class TokenRequest(BaseModel):
    """The token endpoint's form fields (application/x-www-form-urlencoded), for documentation."""

    grant_type: Literal["authorization_code"]
    code: str = Field(max_length=200)
    redirect_uri: str = Field(max_length=2000)
    code_verifier: str = Field(max_length=128, description="RFC 7636: 43-128 characters of [A-Za-z0-9-._~].")
    client_id: str | None = Field(default=None, max_length=100, description="Optional; must equal the assertion's iss.")
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: str = Field(
        max_length=8192,
        description="private_key_jwt (RFC 7523): iss = sub = client_id, aud = the token endpoint or issuer, exp, "
        "single-use jti; ES256 or RS256 with a key registered for the client.",
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    id_token: str
    scope: str


class OAuthErrorBody(BaseModel):
    """RFC 6749 §5.2: the OAuth token endpoint's mandated error shape (not problem+json)."""

    error: Literal[
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type"
    ]
    error_description: str | None = None


class Address(BaseModel):
    formatted: str


class UserInfo(BaseModel):
    """The pairwise `sub` and the claims of the scopes the person agreed to; nothing else."""

    sub: str = Field(description="This client's pairwise token for the person; never the UIN or internal sub.")
    name: str | None = None
    birthdate: str | None = None
    address: Address | None = None


class OpenIdConfiguration(BaseModel):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    registration_endpoint: str | None = None
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    code_challenge_methods_supported: list[str]
    scopes_supported: list[str]
    claims_supported: list[str]
    acr_values_supported: list[str]
    authorization_response_iss_parameter_supported: bool
