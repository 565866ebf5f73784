"""The token endpoint (the code exchange: private_key_jwt, PKCE, single use, exact redirect URI) and userinfo.
Never commits."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.keys import SigningKey
from services.identity.authn import attempts
from services.identity.authn.factors import Check
from services.identity.authn.models import Factor, Operation
from services.identity.authn.service import authn as authn_service
from services.identity.deps import Runtime
from services.identity.oidc.client_auth import unverified_issuer, verify_client_assertion
from services.identity.oidc.errors import (
    InvalidAccessToken,
    OAuthError,
)
from services.identity.oidc.models import (
    OidcAccessToken,
    OidcClient,
)
from services.identity.oidc.repository import OidcRepository
from services.identity.oidc.schemas import (
    JWT_BEARER,
    Address,
    Jwks,
    Scope,
    TokenResponse,
    UserInfo,
)
from services.identity.oidc.service import FORM_MEDIA_TYPE, TOKEN_PATH, oidc, s256, secret_hash
from services.identity.persons.service import display_name
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)

_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


# Used client-assertion ids are purged once every this many token requests per process, not on every one: the
# purge is a DELETE of its own, and a jti kept a little past its expiry only refuses a reuse that RFC 7523 forbids.
PURGE_ASSERTIONS_EVERY = 100


class TokenService:
    def __init__(self) -> None:
        self._token_requests = 0

    async def token(
        self,
        session: AsyncSession,
        caller: Caller,
        form: Mapping[str, str] | None,
        *,
        rt: Runtime,
        signing_key: SigningKey,
    ) -> TokenResponse:
        """Exchange a code for tokens (RFC 6749 §4.1.3): private_key_jwt, PKCE, single use, exact redirect URI."""
        try:
            if form is None:
                raise OAuthError("invalid_request", f"send {FORM_MEDIA_TYPE} with each parameter once")
            return await self._token(session, caller, form, rt=rt, signing_key=signing_key)
        except OAuthError as error:
            log.info("identity.oidc.token_refused", error=error.error, reason=error.description)
            raise

    async def userinfo(
        self, session: AsyncSession, caller: Caller, authorization: str | None, *, rt: Runtime
    ) -> UserInfo:
        """The claims of the scopes the person agreed to, for the access token's client."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.casefold() != "bearer" or not value.strip():
            raise InvalidAccessToken("Send the access token as `Authorization: Bearer <token>`.", error=None)
        now = rt.clock.now()
        row = await OidcRepository.from_session(session).access_token(secret_hash(value.strip()))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise InvalidAccessToken("The access token is unknown, revoked or expired.")
        person = await person_service.get_active(session, row.person_id)
        if person is None:
            raise InvalidAccessToken("The access token's person is no longer enrolled.")
        values = await person_service.read_attributes(session, person.id, rt=rt)
        released: dict[str, Any] = {}
        if Scope.profile.value in row.scopes:
            released["name"] = display_name(values) or None
        if Scope.birthdate.value in row.scopes:
            released["birthdate"] = values.get("date_of_birth")
        if Scope.address.value in row.scopes and values.get("address"):
            released["address"] = Address(formatted=values["address"])
        released = {k: v for k, v in released.items() if v is not None}
        await attempts.record(
            session,
            caller,
            person,
            operation=Operation.userinfo,
            factor=Factor.access_token,
            check=Check(True),
            client_id=row.client_id,
            attributes=sorted(released),
            rt=rt,
        )
        sub = await authn_service.subject_token(session, caller, person, row.client_id, rt=rt)
        return UserInfo(sub=sub, **released)

    async def _token(  # noqa: C901
        self,
        session: AsyncSession,
        caller: Caller,
        form: Mapping[str, str],
        *,
        rt: Runtime,
        signing_key: SigningKey,
    ) -> TokenResponse:
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required")
        client = await self._authenticate_client(session, form, rt=rt)
        if grant_type != "authorization_code":
            raise OAuthError("unsupported_grant_type", "only grant_type=authorization_code is supported")
        code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        if not code or not redirect_uri or not verifier:
            raise OAuthError("invalid_request", "code, redirect_uri and code_verifier are required")

        now = rt.clock.now()
        repository = OidcRepository.from_session(session)
        code_hash = secret_hash(code)
        grant = await repository.code_for_update(code_hash)
        if grant is None:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if grant.used_at is not None:
            # RFC 6749 §4.1.2: a replayed code may mean it leaked, so what it minted is revoked too.
            await repository.revoke_tokens_of_code(code_hash, now)
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "the authorization code was issued to another client")
        if grant.expires_at <= now:
            raise OAuthError("invalid_grant", "the authorization code has expired")
        if redirect_uri != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
        if not _CODE_VERIFIER.fullmatch(verifier) or not hmac.compare_digest(s256(verifier), grant.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        grant.used_at = now
        person = await person_service.get_active(session, grant.person_id)
        if person is None:
            raise OAuthError("invalid_grant", "the person is no longer enrolled")

        ttl = rt.settings.oidc_token_ttl_seconds
        access_token = secrets.token_urlsafe(32)
        session.add(
            OidcAccessToken(
                token_hash=secret_hash(access_token),
                code_hash=code_hash,
                client_id=client.client_id,
                person_id=person.id,
                scopes=list(grant.scopes),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        sub = await authn_service.subject_token(session, caller, person, client.client_id, rt=rt)
        claims: dict[str, Any] = {
            "iss": oidc.issuer(rt),
            "sub": sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "auth_time": int(grant.auth_time.timestamp()),
            "acr": grant.acr,
            "amr": list(grant.amr),
            "at_hash": jws.at_hash(access_token),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        await session.flush()
        log.info("identity.oidc.tokens_issued", client_id=client.client_id, person_id=person.id)
        return TokenResponse(
            access_token=access_token,
            expires_in=ttl,
            id_token=jws.sign_claims(signing_key, claims),
            scope=" ".join(grant.scopes),
        )

    async def _authenticate_client(self, session: AsyncSession, form: Mapping[str, str], *, rt: Runtime) -> OidcClient:
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise OAuthError(
                "invalid_client", f"authenticate with private_key_jwt (client_assertion_type={JWT_BEARER})", status=401
            )
        client_id = unverified_issuer(assertion)
        if form.get("client_id") not in (None, client_id):
            raise OAuthError("invalid_client", "client_id differs from the client assertion's issuer", status=401)
        repository = OidcRepository.from_session(session)
        client = await repository.client(client_id)
        if client is None:
            raise OAuthError("invalid_client", "unknown client", status=401)
        now = rt.clock.now()
        await verify_client_assertion(
            assertion,
            client_id=client.client_id,
            keys=Jwks.model_validate(client.jwks).keys,
            audiences=[oidc.issuer(rt) + TOKEN_PATH, oidc.issuer(rt)],
            now=now,
            max_lifetime_seconds=rt.settings.oidc_client_assertion_max_lifetime_seconds,
            repository=repository,
        )
        self._token_requests += 1
        if self._token_requests % PURGE_ASSERTIONS_EVERY == 1:
            await repository.forget_expired_assertions(client.client_id, now)
        return client


tokens = TokenService()
