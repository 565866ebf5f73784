"""The token endpoint and the authorization server metadata.

Errors of `POST /oauth2/token` use the RFC 6749 section 5.2 JSON shape (`{"error": "invalid_client", ...}`), not
problem+json: OAuth client libraries parse exactly that, so the RFC wins over the house style there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.auth.dpop import DPOP_TYPE
from gateway.auth.errors import DPOP_ALGORITHMS, REALM, OAuthError
from gateway.auth.tokens.schemas import AuthorizationServerMetadata, OAuthErrorBody, TokenRequest, TokenResponse
from gateway.auth.tokens.service import TOKEN_PATH, TokenIssuer
from gateway.config import GatewaySettings
from services.common.problems import ServiceUnavailable

router = APIRouter(tags=["oauth2"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16_384


@router.post(
    TOKEN_PATH,
    summary="Get an access token: OAuth 2.0 client credentials with private_key_jwt",
    description="Form-encoded (RFC 6749 section 4.4). The client authenticates with private_key_jwt (RFC 7523: "
    "ES256 or RS256, iss = sub = client_id, aud = this endpoint's URL, exp, single-use jti) and must be approved. "
    f"With a `DPoP` header (a `{DPOP_TYPE}` proof for POST and this URL; required for FSPs and programmes) the "
    "token is DPoP-bound (`token_type` DPoP). Errors use the RFC 6749 section 5.2 shape: 400 `invalid_request`, "
    "`invalid_scope`, `unsupported_grant_type`, `invalid_dpop_proof`, `use_dpop_nonce` (retry with the "
    "`DPoP-Nonce` header's value); 401 `invalid_client` (unknown, unapproved, bad signature, wrong aud, expired or "
    "replayed assertion); 429 `temporarily_unavailable` with `Retry-After`.",
    response_model=TokenResponse,
    responses={
        400: {"model": OAuthErrorBody, "description": "RFC 6749 section 5.2 error"},
        401: {"model": OAuthErrorBody, "description": "`invalid_client`: client authentication failed"},
        429: {"model": OAuthErrorBody, "description": "Rate limit: `temporarily_unavailable`, see Retry-After"},
        503: ServiceUnavailable.openapi(),
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": TokenRequest.model_json_schema()}}}
    },
)
async def token(request: Request) -> JSONResponse:
    issuer: TokenIssuer = request.app.state.token_issuer
    settings: GatewaySettings = request.app.state.settings
    # Parsed here rather than with Form(): python-multipart is not a dependency of the sandbox.
    form = await _read_form(request)
    urls = [settings.token_endpoint, str(request.url)]
    try:
        outcome = await issuer.issue(form, dpop_proof=request.headers.get("dpop"), urls=urls)
    except OAuthError as error:
        headers = {**NO_STORE, **error.headers}
        if error.status == 401:
            headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="{error.error}"'
        if error.error in ("invalid_dpop_proof", "use_dpop_nonce"):
            headers["WWW-Authenticate"] = f'DPoP algs="{" ".join(DPOP_ALGORITHMS)}", error="{error.error}"'
        body = OAuthErrorBody.model_validate({"error": error.error, "error_description": error.description})
        return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)
    return JSONResponse(outcome.model_dump(), headers=NO_STORE)


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="OAuth 2.0 authorization server metadata (RFC 8414)",
    response_model=AuthorizationServerMetadata,
)
async def authorization_server_metadata(request: Request) -> AuthorizationServerMetadata:
    settings: GatewaySettings = request.app.state.settings
    scopes: list[str] = getattr(request.app.state, "known_scopes", [])
    return AuthorizationServerMetadata(
        issuer=settings.issuer,
        token_endpoint=settings.token_endpoint,
        jwks_uri=settings.issuer + "/.well-known/jwks.json",
        grant_types_supported=["client_credentials"],
        token_endpoint_auth_methods_supported=["private_key_jwt"],
        token_endpoint_auth_signing_alg_values_supported=["ES256", "RS256"],
        dpop_signing_alg_values_supported=list(DPOP_ALGORITHMS),
        scopes_supported=scopes,
        response_types_supported=[],
        service_documentation=settings.issuer + "/docs",
        citizen_openid_configuration=settings.identity_issuer.rstrip("/") + "/.well-known/openid-configuration",
    )


async def _read_form(request: Request) -> dict[str, str] | None:
    """The form fields, or None if the body is not a well-formed form (a repeated field counts as malformed)."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        return None
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return None
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw), max_num_fields=30)
    except (UnicodeDecodeError, ValueError):
        return None
    fields: dict[str, Any] = {}
    for name, value in pairs:
        if name in fields or "\x00" in value:  # RFC 6749 section 3.2: parameters MUST NOT be repeated
            return None
        fields[name] = value
    return fields
