"""The token endpoint's logic: authenticate the client (private_key_jwt), check its registration, mint a token.

Access tokens are RFC 9068 JWTs (`typ` at+jwt), ES256 with the gateway's key, short-lived, naming the client and
the scopes granted; a DPoP-bound token carries `cnf.jkt`, the thumbprint of the key that must sign every proof. The
only state written is the assertion's `jti` (single use, in the shared replay store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import structlog

from gateway.auth.clients.directory import ClientDirectory
from gateway.auth.dpop import DpopFailure, DpopVerifier
from gateway.auth.errors import OAuthError, RateLimited, invalid_client
from gateway.auth.keys import unverified_issuer, verify_client_assertion
from gateway.auth.ratelimit import RateLimits
from gateway.auth.replay import SingleUse
from gateway.auth.tokens.schemas import JWT_BEARER, TokenResponse
from gateway.config import GatewaySettings
from services.common import jws
from services.common.clock import Clock
from services.common.ids import new_id
from services.common.keys import SigningKey

log = structlog.get_logger(__name__)

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, RFC 9068)
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path)


class TokenIssuer:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        key: SigningKey,
        clock: Clock,
        directory: ClientDirectory,
        single_use: SingleUse,
        dpop: DpopVerifier,
        limits: RateLimits,
    ) -> None:
        self._settings = settings
        self._key = key
        self._clock = clock
        self._directory = directory
        self._single_use = single_use
        self._dpop = dpop
        self._limits = limits

    async def issue(  # noqa: C901, PLR0912
        self, form: Mapping[str, str] | None, *, dpop_proof: str | None, urls: Sequence[str]
    ) -> TokenResponse:
        if form is None:
            raise OAuthError("invalid_request", "send application/x-www-form-urlencoded with each parameter once")
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise invalid_client(f"authenticate with private_key_jwt (client_assertion_type={JWT_BEARER})")
        client_id = unverified_issuer(assertion)
        if form.get("client_id") not in (None, client_id):
            raise invalid_client("client_id differs from the client assertion's issuer")
        client = await self._directory.get(client_id)
        if client is None:
            raise invalid_client("unknown client")
        now = self._clock.now()
        claims = await verify_client_assertion(
            assertion,
            client_id=client_id,
            keys=client.keys,
            audiences=[self._settings.token_endpoint, self._settings.issuer],
            now=now,
            max_lifetime_seconds=self._settings.client_assertion_max_lifetime_seconds,
        )
        if not client.approved:
            raise invalid_client(f"the client is {client.status}: oversight must approve it before it gets tokens")
        try:
            await self._limits.check(client_id, TOKEN_PATH)
        except RateLimited as error:
            headers = error.headers or {}
            raise OAuthError("temporarily_unavailable", str(error.detail), status=429, headers=headers) from None
        expires_at = datetime.fromtimestamp(float(claims["exp"]), tz=now.tzinfo) + timedelta(seconds=30)
        if not await self._single_use.first_use("client-assertion", client_id, str(claims["jti"]), expires_at):
            raise invalid_client("this client assertion was already used (jti replay)")
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported")
        requested = list(dict.fromkeys((form.get("scope") or "").split()))
        not_granted = [s for s in requested if s not in client.scopes]
        if not_granted:
            raise OAuthError("invalid_scope", f"scopes not granted to this client: {' '.join(not_granted)}")
        scopes = requested or list(client.scopes)

        jkt: str | None = None
        if dpop_proof is not None or client.dpop_required:
            try:
                jkt = (await self._dpop.verify(dpop_proof, method="POST", urls=urls)).jkt
            except DpopFailure as failure:
                if failure.nonce is not None:
                    raise OAuthError(
                        "use_dpop_nonce", failure.description, headers={"DPoP-Nonce": failure.nonce}
                    ) from None
                description = failure.description
                if dpop_proof is None:
                    description = "this client moves money: its tokens are DPoP-bound; " + description
                raise OAuthError("invalid_dpop_proof", description) from None

        ttl = self._settings.access_token_ttl_seconds
        issued = int(now.timestamp())
        token_claims: dict[str, object] = {
            "iss": self._settings.issuer,
            "aud": self._settings.issuer,
            "sub": client_id,
            "client_id": client_id,
            "iat": issued,
            "exp": issued + ttl,
            "jti": new_id(),
            "scope": " ".join(scopes),
        }
        if jkt is not None:
            token_claims["cnf"] = {"jkt": jkt}
        token = jws.sign_claims(self._key, token_claims, typ=ACCESS_TOKEN_TYPE)
        log.info("gateway.token_issued", client_id=client_id, dpop=jkt is not None)
        return TokenResponse(
            access_token=token, token_type="DPoP" if jkt else "Bearer", expires_in=ttl, scope=" ".join(scopes)
        )
