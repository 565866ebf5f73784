"""The OIDC provider's HTTP layer: discovery (public), clients, API-first sign-in, token and userinfo.

The token endpoint answers errors in the RFC 6749 §5.2 shape (`{"error": "invalid_grant", ...}`), not problem+json:
OAuth clients (authlib, oidc-client, AppAuth...) parse exactly that, so the RFC wins over the house style there.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query, Request, Security
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.auth import CallerDep, SessionDep
from services.common.edge import text_issue
from services.common.problems import PROBLEM_MEDIA_TYPE, PolicyDenied, problem_responses
from services.identity.authn.errors import (
    AuthenticationFailed,
    IndividualMismatch,
    IndividualRequired,
    OtpChannelUnavailable,
    OtpSendLimited,
    PinCeilingReached,
    PinPaused,
)
from services.identity.authn.schemas import OtpRequested
from services.identity.deps import OidcAdminDep, RuntimeDep, SigningKeyDep
from services.identity.oidc.clients import clients as oidc_clients
from services.identity.oidc.errors import (
    NO_STORE,
    ClientAlreadyRegistered,
    ClientNotFound,
    InvalidAccessToken,
    InvalidClientRegistration,
    RedirectUriNotRegistered,
    TransactionClosed,
    TransactionNotFound,
    UnknownClient,
)
from services.identity.oidc.schemas import (
    AuthorizeQuery,
    ClientCreate,
    ClientRead,
    LoginComplete,
    LoginHint,
    LoginRedirect,
    LoginTransaction,
    OAuthErrorBody,
    OpenIdConfiguration,
    TokenRequest,
    TokenResponse,
    UserInfo,
)
from services.identity.oidc.service import ErrorRedirect
from services.identity.oidc.service import oidc as oidc_service
from services.identity.oidc.signin import signin as signin_service
from services.identity.oidc.tokens import tokens as token_service
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked

router = APIRouter(prefix="/v1/oidc", tags=["oidc"])
discovery_router = APIRouter(tags=["oidc"])

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16_384
TransactionId = Annotated[str, Path(pattern=r"^otx_[0-9a-f]{32}$")]
access_token_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="OidcAccessToken",
    description="The access token from POST /v1/oidc/token (the gateway assertion travels in its own header).",
)


@discovery_router.get(
    "/.well-known/openid-configuration",
    summary="OpenID Provider metadata (OIDC Discovery)",
    description="Public. Endpoints derive from the `oidc_issuer` setting (the service's URL behind the gateway).",
    response_model=OpenIdConfiguration,
    response_model_exclude_none=True,
)
async def openid_configuration(rt: RuntimeDep) -> OpenIdConfiguration:
    return oidc_service.discovery(rt)


@router.post(
    "/clients",
    status_code=201,
    summary="Register an OIDC client (oidc_admin)",
    description="A relying party's exact redirect URIs, public JWKS (for private_key_jwt) and allowed scopes. Use its "
    "gateway client id as `client_id` so its pairwise tokens match across the sandbox's APIs.",
    response_model=ClientRead,
    responses=problem_responses(PolicyDenied, ClientAlreadyRegistered, InvalidClientRegistration),
)
async def register_client(body: ClientCreate, session: SessionDep, caller: OidcAdminDep, rt: RuntimeDep) -> ClientRead:
    return await oidc_clients.register(session, caller, body, rt=rt)


@router.get(
    "/clients/{client_id}",
    summary="Read an OIDC client (oidc_admin)",
    response_model=ClientRead,
    responses=problem_responses(PolicyDenied, ClientNotFound),
)
async def get_client(client_id: str, session: SessionDep, caller: OidcAdminDep) -> ClientRead:
    return await oidc_clients.get(session, caller, client_id)


@router.get(
    "/authorize",
    summary="Start a sign-in (authorization code + PKCE S256)",
    description="API-first: a valid request answers a JSON login transaction (who asks, which scopes, where to send "
    "the OTP and complete). An unknown client_id or an unregistered redirect_uri answers 400 and is never "
    "redirected (RFC 6749 §4.1.2.1); other errors redirect (302) to the redirect_uri with `error`, `state` and "
    "`iss`. PKCE with S256 is required; `plain` is refused.",
    response_model=LoginTransaction,
    responses={
        **problem_responses(UnknownClient, RedirectUriNotRegistered),
        302: {"description": "An RFC 6749 error redirect to the client's registered redirect_uri."},
    },
)
async def authorize(
    query: Annotated[AuthorizeQuery, Query()], session: SessionDep, caller: CallerDep, rt: RuntimeDep
) -> LoginTransaction | RedirectResponse:
    outcome = await signin_service.authorize(session, caller, query, rt=rt)
    if isinstance(outcome, ErrorRedirect):
        return RedirectResponse(outcome.location, status_code=302, headers=NO_STORE)
    return outcome


@router.post(
    "/transactions/{transaction_id}/otp",
    status_code=202,
    summary="Send a sign-in one-time code to the person with this VID",
    response_model=OtpRequested,
    responses=problem_responses(
        TransactionNotFound,
        TransactionClosed,
        ReferenceNotResolved,
        VidRevoked,
        VidExpired,
        OtpChannelUnavailable,
        OtpSendLimited,
    ),
)
async def send_login_otp(
    transaction_id: TransactionId, body: LoginHint, session: SessionDep, caller: CallerDep, rt: RuntimeDep
) -> OtpRequested:
    return await signin_service.send_login_otp(session, caller, transaction_id, body, rt=rt)


@router.post(
    "/transactions/{transaction_id}/complete",
    status_code=303,
    summary="Finish a sign-in with the OTP or PIN",
    description="On success: 303 to the client's redirect_uri with `code`, `state` and `iss` (the same URL is in "
    "the body). The code is single-use and short-lived. A wrong factor answers 401 and the sign-in stays open.",
    response_model=LoginRedirect,
    responses=problem_responses(
        TransactionNotFound,
        TransactionClosed,
        IndividualRequired,
        IndividualMismatch,
        ReferenceNotResolved,
        VidRevoked,
        VidExpired,
        AuthenticationFailed,
        PinPaused,
        PinCeilingReached,
    ),
)
async def complete_login(
    transaction_id: TransactionId,
    *,
    body: LoginComplete,
    session: SessionDep,
    caller: CallerDep,
    rt: RuntimeDep,
    signing_key: SigningKeyDep,
) -> JSONResponse:
    redirect = await signin_service.complete(session, caller, transaction_id, body, rt=rt, signing_key=signing_key)
    return _see_other(redirect)


@router.post(
    "/transactions/{transaction_id}/cancel",
    status_code=303,
    summary="Decline a sign-in",
    description="303 to the client's redirect_uri with `error=access_denied`.",
    response_model=LoginRedirect,
    responses=problem_responses(TransactionNotFound, TransactionClosed),
)
async def cancel_login(
    transaction_id: TransactionId, session: SessionDep, caller: CallerDep, rt: RuntimeDep
) -> JSONResponse:
    return _see_other(await signin_service.cancel(session, caller, transaction_id, rt=rt))


@router.post(
    "/token",
    summary="Exchange an authorization code for tokens (private_key_jwt)",
    description="Form-encoded (RFC 6749 §4.1.3). The client authenticates with private_key_jwt (RFC 7523; ES256 or "
    "RS256; single-use jti). Errors use the RFC 6749 §5.2 JSON shape, not problem+json, because OAuth clients "
    "require it: 400 `invalid_request`, `invalid_grant` (unknown, expired, reused or another client's code, other "
    "redirect_uri, wrong code_verifier), `unsupported_grant_type`; 401 `invalid_client`.",
    response_model=TokenResponse,
    responses={
        400: {"model": OAuthErrorBody, "description": "RFC 6749 §5.2 error"},
        401: {
            "description": "`invalid_client`: client authentication failed (RFC 6749 §5.2 JSON); or no valid gateway "
            "assertion (problem+json)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/OAuthErrorBody"}},
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}},
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {FORM_MEDIA_TYPE: {"schema": TokenRequest.model_json_schema()}},
        }
    },
)
async def token(
    *,
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    rt: RuntimeDep,
    signing_key: SigningKeyDep,
) -> TokenResponse:
    # Parsed here rather than with Form(): python-multipart is not a dependency of the sandbox.
    form = await _read_form(request)
    response.headers.update(NO_STORE)  # errors (OAuthError) carry their own
    return await token_service.token(session, caller, form, rt=rt, signing_key=signing_key)


@router.get(
    "/userinfo",
    summary="Claims about the signed-in person (OIDC UserInfo)",
    description="`Authorization: Bearer <access token>`. Returns the client's pairwise `sub` and the claims of the "
    "scopes the person agreed to (profile: name; birthdate; address). Recorded in the person's auth history.",
    response_model=UserInfo,
    response_model_exclude_none=True,
    responses=problem_responses(InvalidAccessToken),
)
async def userinfo(
    session: SessionDep,
    caller: CallerDep,
    rt: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(access_token_scheme)],
) -> UserInfo:
    authorization = f"Bearer {credentials.credentials}" if credentials is not None else None
    return await token_service.userinfo(session, caller, authorization, rt=rt)


def _see_other(redirect: LoginRedirect) -> JSONResponse:
    return JSONResponse(redirect.model_dump(), status_code=303, headers={"Location": redirect.redirect_to, **NO_STORE})


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
        if name in fields:  # RFC 6749 §3.2: parameters MUST NOT be repeated
            return None
        if text_issue([name], name, MAX_FORM_BYTES) or text_issue([name], value, MAX_FORM_BYTES):
            return None  # the edge rule for text (no NUL), answered in the RFC's shape
        fields[name] = value
    return fields
