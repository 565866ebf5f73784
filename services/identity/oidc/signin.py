"""The API-first sign-in: authorize opens a transaction bound to the client that opened it; the person's app sends a
one-time code to the VID they give (or uses their PIN) and completes, which sends them back with a code (303), or
cancels. Never commits.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.keys import SigningKey
from services.identity.authn import attempts, otp
from services.identity.authn.errors import IndividualMismatch, IndividualRequired
from services.identity.authn.factors import factors
from services.identity.authn.models import Factor, Operation
from services.identity.authn.schemas import Individual, IndividualType, OtpFactor, OtpRequested, PinFactor
from services.identity.authn.service import authn as authn_service
from services.identity.deps import Runtime
from services.identity.oidc.errors import (
    RedirectUriNotRegistered,
    TransactionClosed,
    TransactionNotFound,
    UnknownClient,
)
from services.identity.oidc.models import (
    OidcAuthorizationCode,
    OidcClient,
    OidcTransaction,
    TransactionStatus,
)
from services.identity.oidc.repository import OidcRepository
from services.identity.oidc.schemas import (
    SCOPE_CLAIMS,
    SCOPE_DESCRIPTIONS,
    AuthorizeQuery,
    LoginComplete,
    LoginHint,
    LoginRedirect,
    LoginTransaction,
    Scope,
    ScopeRequested,
)
from services.identity.oidc.service import (
    ACR_PREFIX,
    TRANSACTIONS_PATH,
    ErrorRedirect,
    oidc,
    secret_hash,
    with_query,
)
from services.identity.persons.models import Person
from services.identity.persons.service import person as person_service

_CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class SignInService:
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
            params = {"error": code, "error_description": description, "state": query.state, "iss": oidc.issuer(rt)}
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
        base = f"{oidc.issuer(rt)}{TRANSACTIONS_PATH}/{transaction.id}"
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
                code_hash=secret_hash(code),
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
            transaction.redirect_uri, {"code": code, "state": transaction.state, "iss": oidc.issuer(rt)}
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
            "iss": oidc.issuer(rt),
        }
        return LoginRedirect(redirect_to=with_query(transaction.redirect_uri, params))

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


signin = SignInService()
