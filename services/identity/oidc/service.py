"""The OIDC provider's logic: clients, API-first sign-in, code exchange, userinfo. Never commits.

The sign-in is API-first (no HTML): authorize validates the request and opens a transaction; the person's app sends
an OTP to the VID they give (or uses their PIN) and completes, which answers 303 to the client's redirect URI with
the code. The ID token's `sub` is the client's pairwise token, so two clients cannot link a person, and neither ever
sees the UIN or the internal `sub`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.keys import SigningKey, b64url
from services.identity.authn import attempts, otp
from services.identity.authn.errors import IndividualMismatch, IndividualRequired
from services.identity.authn.factors import Check, factors
from services.identity.authn.models import Factor, Operation
from services.identity.authn.schemas import Individual, IndividualType, OtpFactor, OtpRequested, PinFactor
from services.identity.authn.service import authn as authn_service
from services.identity.deps import Runtime
from services.identity.oidc.client_auth import check_public_jwk, unverified_issuer, verify_client_assertion
from services.identity.oidc.errors import (
    ClientAlreadyRegistered,
    ClientNotFound,
    InvalidAccessToken,
    InvalidClientRegistration,
    OAuthError,
    RedirectUriNotRegistered,
    TransactionClosed,
    TransactionNotFound,
    UnknownClient,
)
from services.identity.oidc.models import (
    OidcAccessToken,
    OidcAuthorizationCode,
    OidcClient,
    OidcTransaction,
    TransactionStatus,
)
from services.identity.oidc.repository import OidcRepository
from services.identity.oidc.schemas import (
    JWT_BEARER,
    SCOPE_CLAIMS,
    SCOPE_DESCRIPTIONS,
    Address,
    AuthorizeQuery,
    ClientCreate,
    ClientRead,
    Jwks,
    LoginComplete,
    LoginHint,
    LoginRedirect,
    LoginTransaction,
    OpenIdConfiguration,
    Scope,
    ScopeRequested,
    TokenResponse,
    UserInfo,
)
from services.identity.persons.models import Person
from services.identity.persons.service import display_name
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)

ID_TOKEN_ALGORITHM = "ES256"  # noqa: S105 (an algorithm name)
ACR_PREFIX = "urn:dpi-sandbox:acr:"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_CODE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")

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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` appended to its query (keeping what is there)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _redirect_uri_problem(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return f"{uri}: a redirect URI may not have a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return f"{uri}: use https (http only on a loopback host)"


# Used client-assertion ids are purged once every this many token requests per process, not on every one: the
# purge is a DELETE of its own, and a jti kept a little past its expiry only refuses a reuse that RFC 7523 forbids.
PURGE_ASSERTIONS_EVERY = 100


class OidcService:
    def __init__(self) -> None:
        self._token_requests = 0

    # --- clients ------------------------------------------------------------------------------------------------

    async def register_client(
        self, session: AsyncSession, caller: Caller, body: ClientCreate, *, rt: Runtime
    ) -> ClientRead:
        """Register a relying party as an OIDC client: exact redirect URIs and its public keys."""
        problems = [p for uri in body.redirect_uris if (p := _redirect_uri_problem(uri))]
        problems += [p for key in body.jwks.keys if (p := check_public_jwk(key))]
        if len(body.jwks.keys) > 1 and any(not key.get("kid") for key in body.jwks.keys):
            problems.append("with more than one key, every key needs a kid")
        if Scope.openid not in body.allowed_scopes:
            problems.append("allowed_scopes must include openid")
        if problems:
            raise InvalidClientRegistration("; ".join(problems))
        repository = OidcRepository.from_session(session)
        if await repository.client(body.client_id) is not None:
            raise ClientAlreadyRegistered(f"The OIDC client {body.client_id} is already registered.")
        client = OidcClient(
            client_id=body.client_id,
            name=body.name,
            redirect_uris=list(dict.fromkeys(body.redirect_uris)),
            jwks=body.jwks.model_dump(),
            allowed_scopes=[s.value for s in dict.fromkeys(body.allowed_scopes)],
            created_by=caller.client_id,
            created_at=rt.clock.now(),
        )
        try:
            async with session.begin_nested():
                session.add(client)
        except IntegrityError:
            raise ClientAlreadyRegistered(f"The OIDC client {body.client_id} is already registered.") from None
        log.info("identity.oidc.client_registered", client_id=client.client_id)
        return self._client_read(client)

    async def get_client(self, session: AsyncSession, caller: Caller, client_id: str) -> ClientRead:
        client = await OidcRepository.from_session(session).client(client_id)
        if client is None:
            raise ClientNotFound(f"No OIDC client {client_id}.")
        return self._client_read(client)

    # --- discovery ----------------------------------------------------------------------------------------------

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

    # --- sign-in ------------------------------------------------------------------------------------------------

    async def authorize(
        self, session: AsyncSession, caller: Caller, query: AuthorizeQuery, *, rt: Runtime
    ) -> LoginTransaction | ErrorRedirect:
        """Validate an authorization request (RFC 6749 §4.1.1, RFC 7636) and open a sign-in transaction."""
        client = await OidcRepository.from_session(session).client(query.client_id) if query.client_id else None
        if client is None:
            raise UnknownClient("The client_id is missing or not registered; nothing is redirected.")
        if query.redirect_uri is None or query.redirect_uri not in client.redirect_uris:
            raise RedirectUriNotRegistered(
                "The redirect_uri is missing or is not one the client registered (exact match); nothing is redirected."
            )

        redirect_uri = query.redirect_uri

        def error(code: str, description: str) -> ErrorRedirect:
            params = {"error": code, "error_description": description, "state": query.state, "iss": self.issuer(rt)}
            return ErrorRedirect(with_query(redirect_uri, params))

        if query.response_type != "code":
            return error("unsupported_response_type", "only response_type=code is supported")
        scopes = list(dict.fromkeys((query.scope or "").split()))
        if Scope.openid.value not in scopes:
            return error("invalid_scope", "scope must include openid")
        unknown = [s for s in scopes if s not in client.allowed_scopes]
        if unknown:
            return error("invalid_scope", f"scopes not allowed for this client: {' '.join(unknown)}")
        if not query.code_challenge:
            return error("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        if query.code_challenge_method != "S256":
            return error("invalid_request", "code_challenge_method must be S256 (plain is not supported)")
        if not _CODE_CHALLENGE.fullmatch(query.code_challenge):
            return error("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier")

        now = rt.clock.now()
        transaction = OidcTransaction(
            id=new_id("otx"),
            client_id=client.client_id,
            opened_by=caller.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=query.state,
            nonce=query.nonce,
            code_challenge=query.code_challenge,
            status=TransactionStatus.pending,
            created_at=now,
            expires_at=now + timedelta(seconds=rt.settings.oidc_transaction_ttl_seconds),
        )
        session.add(transaction)
        await session.flush()
        base = f"{self.issuer(rt)}{TRANSACTIONS_PATH}/{transaction.id}"
        return LoginTransaction(
            transaction_id=transaction.id,
            client_id=client.client_id,
            client_name=client.name,
            scopes=[
                ScopeRequested(
                    scope=Scope(s), description=SCOPE_DESCRIPTIONS[Scope(s)], claims=list(SCOPE_CLAIMS[Scope(s)])
                )
                for s in scopes
            ],
            factors=["otp", "pin"],
            expires_at=transaction.expires_at,
            otp_endpoint=f"{base}/otp",
            complete_endpoint=f"{base}/complete",
            cancel_endpoint=f"{base}/cancel",
        )

    async def send_login_otp(
        self, session: AsyncSession, caller: Caller, transaction_id: str, body: LoginHint, *, rt: Runtime
    ) -> OtpRequested:
        """Send a one-time code for this sign-in to the person whose VID is the login hint."""
        transaction = await self._open_transaction(session, caller, transaction_id, rt=rt)
        person = await authn_service.person_of(
            session, caller, Individual(type=IndividualType.vid, value=body.login_hint), rt=rt
        )
        transaction.person_id = person.id
        client = await self._client_of(session, transaction)
        return await otp.send_otp(
            session,
            person,
            client_id=client.client_id,
            scope=self._otp_scope(transaction),
            requester=client.name,
            rt=rt,
        )

    async def complete(
        self,
        session: AsyncSession,
        caller: Caller,
        transaction_id: str,
        body: LoginComplete,
        *,
        rt: Runtime,
        signing_key: SigningKey,
    ) -> LoginRedirect:
        """Check the OTP or PIN; on success issue a code and send the person back to the client (303)."""
        transaction = await self._open_transaction(session, caller, transaction_id, rt=rt)
        person = await self._login_person(session, caller, transaction, body.login_hint, rt=rt)
        factor = (
            OtpFactor(type="otp", otp=body.otp) if body.otp is not None else PinFactor(type="pin", pin=body.pin or "")
        )
        check = await factors.check_factor(
            session,
            person,
            factor,
            client_id=transaction.client_id,
            scope=self._otp_scope(transaction),
            rt=rt,
            signing_key=signing_key,
        )
        event = await attempts.record(
            session,
            caller,
            person,
            operation=Operation.oidc_login,
            factor=Factor(factor.type),
            check=check,
            client_id=transaction.client_id,
            attributes=list(transaction.scopes),
            rt=rt,
        )
        if not check.ok:
            raise check.refusal(Factor(factor.type))

        accepted = set(transaction.scopes) if body.accepted_scopes is None else {s.value for s in body.accepted_scopes}
        scopes = [s for s in transaction.scopes if s in accepted or s == Scope.openid.value]
        code = secrets.token_urlsafe(32)
        now = rt.clock.now()
        session.add(
            OidcAuthorizationCode(
                code_hash=_hash(code),
                transaction_id=transaction.id,
                client_id=transaction.client_id,
                redirect_uri=transaction.redirect_uri,
                person_id=person.id,
                scopes=scopes,
                nonce=transaction.nonce,
                code_challenge=transaction.code_challenge,
                acr=ACR_PREFIX + factor.type,
                amr=[factor.type],
                auth_time=event.occurred_at,
                created_at=now,
                expires_at=now + timedelta(seconds=rt.settings.oidc_code_ttl_seconds),
            )
        )
        transaction.status, transaction.person_id, transaction.completed_at = (
            TransactionStatus.completed,
            person.id,
            now,
        )
        await session.flush()
        location = with_query(
            transaction.redirect_uri, {"code": code, "state": transaction.state, "iss": self.issuer(rt)}
        )
        return LoginRedirect(redirect_to=location)

    async def cancel(self, session: AsyncSession, caller: Caller, transaction_id: str, *, rt: Runtime) -> LoginRedirect:
        """The person declines: back to the client with error=access_denied."""
        transaction = await self._open_transaction(session, caller, transaction_id, rt=rt)
        transaction.status, transaction.completed_at = TransactionStatus.cancelled, rt.clock.now()
        params = {
            "error": "access_denied",
            "error_description": "the person declined to sign in",
            "state": transaction.state,
            "iss": self.issuer(rt),
        }
        return LoginRedirect(redirect_to=with_query(transaction.redirect_uri, params))

    # --- token and userinfo -------------------------------------------------------------------------------------

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
        row = await OidcRepository.from_session(session).access_token(_hash(value.strip()))
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

    # --- internals ----------------------------------------------------------------------------------------------

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
        code_hash = _hash(code)
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
                token_hash=_hash(access_token),
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
            "iss": self.issuer(rt),
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
            audiences=[self.issuer(rt) + TOKEN_PATH, self.issuer(rt)],
            now=now,
            max_lifetime_seconds=rt.settings.oidc_client_assertion_max_lifetime_seconds,
            repository=repository,
        )
        self._token_requests += 1
        if self._token_requests % PURGE_ASSERTIONS_EVERY == 1:
            await repository.forget_expired_assertions(client.client_id, now)
        return client

    async def _open_transaction(
        self, session: AsyncSession, caller: Caller, transaction_id: str, *, rt: Runtime
    ) -> OidcTransaction:
        transaction = await OidcRepository.from_session(session).transaction_for_update(transaction_id)
        # Bound to the client that opened it: another client can neither complete nor cancel it, nor learn that it
        # exists (the same 404 as an unknown id).
        if transaction is None or transaction.opened_by is None or transaction.opened_by != caller.client_id:
            raise TransactionNotFound(f"No sign-in transaction {transaction_id}.")
        if transaction.status != TransactionStatus.pending:
            raise TransactionClosed(f"This sign-in is already {transaction.status}.")
        if transaction.expires_at <= rt.clock.now():
            raise TransactionClosed("This sign-in has expired: start again at the client.")
        return transaction

    async def _client_of(self, session: AsyncSession, transaction: OidcTransaction) -> OidcClient:
        client = await OidcRepository.from_session(session).client(transaction.client_id)
        if client is None:  # clients are never deleted; a foreign key keeps it so
            raise UnknownClient("The sign-in's client is no longer registered.")
        return client

    async def _login_person(
        self,
        session: AsyncSession,
        caller: Caller,
        transaction: OidcTransaction,
        login_hint: str | None,
        *,
        rt: Runtime,
    ) -> Person:
        hinted: Person | None = None
        if login_hint is not None:
            hinted = await authn_service.person_of(
                session, caller, Individual(type=IndividualType.vid, value=login_hint), rt=rt
            )
        if transaction.person_id is not None:
            if hinted is not None and hinted.id != transaction.person_id:
                raise IndividualMismatch("The login_hint is not the person the one-time code was sent to.")
            person = await person_service.get_active(session, transaction.person_id)
            if person is None:
                raise TransactionClosed("The person of this sign-in is no longer enrolled.")
            return person
        if hinted is None:
            raise IndividualRequired("Give the login_hint (a VID), or send a one-time code first.")
        transaction.person_id = hinted.id
        return hinted

    @staticmethod
    def _otp_scope(transaction: OidcTransaction) -> str:
        return f"oidc:{transaction.id}"

    @staticmethod
    def _client_read(client: OidcClient) -> ClientRead:
        return ClientRead(
            client_id=client.client_id,
            name=client.name,
            redirect_uris=list(client.redirect_uris),
            jwks=Jwks.model_validate(client.jwks),
            allowed_scopes=[Scope(s) for s in client.allowed_scopes],
            created_at=client.created_at,
        )


oidc = OidcService()
