"""Citizens' credentials: ID tokens from the identity service's OIDC provider.

A citizen signs in at identity (authorization code + PKCE) through a citizen app registered there; the app presents
the ID token to the gateway as `Authorization: Bearer`. The gateway checks it as a relying party would (ES256 pinned,
signature by identity's published key, `iss` = identity's issuer, `aud` = one of the citizen apps it accepts, not
expired on the injected clock), then asks identity, under its own assertion, which internal `sub` the token's
pairwise `sub` stands for. That `sub` never leaves the sandbox's trusted services.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.errors import InvalidToken
from services.common import jws
from services.common.assertion import AssertionMinter, CallContext
from services.common.clock import Clock
from services.common.http import RemoteProblem
from services.common.problems import ServiceUnavailable
from services.identity.client import IdentityClient, ReferenceType, SubjectReference

ID_TOKEN_ALGORITHM = "ES256"  # noqa: S105 (an algorithm name)
GATEWAY_CLIENT_ID = "dpi-gateway"
LEEWAY_SECONDS = 5
KEYS_REFRESH_SECONDS = 30.0
SUBJECT_CACHE_SECONDS = 300.0
MAX_CACHED = 10_000


class CitizenTokens:
    def __init__(
        self,
        *,
        identity: IdentityClient,
        minter: AssertionMinter,
        clock: Clock,
        issuer: str,
        audiences: Sequence[str],
    ) -> None:
        self._identity = identity
        self._minter = minter
        self._clock = clock
        self._issuer = issuer.rstrip("/")
        self._audiences = frozenset(audiences)
        self._keys: dict[str, dict[str, Any]] = {}
        self._keys_fetched = -KEYS_REFRESH_SECONDS
        self._subjects: dict[tuple[str, str], tuple[float, str]] = {}
        self._policy = jws.TokenPolicy(
            algorithms=(ID_TOKEN_ALGORITHM,),
            issuer=self._issuer,
            audience=self._audiences,
            leeway=timedelta(seconds=LEEWAY_SECONDS),
            required=frozenset({"exp", "iat", "sub"}),
        )

    @property
    def issuer(self) -> str:
        return self._issuer

    async def key_for(self, kid: str) -> dict[str, Any] | None:
        """Identity's published key `kid` (a jws.KeySource), refetched on an unknown kid at most every 30 s."""
        if kid not in self._keys and time.monotonic() - self._keys_fetched >= KEYS_REFRESH_SECONDS:
            try:
                jwks = await self._identity.jwks()
            except (httpx.HTTPError, RemoteProblem) as error:
                raise ServiceUnavailable("The identity service's keys cannot be fetched right now.") from error
            self._keys = {k["kid"]: k for k in jwks.get("keys", []) if isinstance(k, dict) and "kid" in k}
            self._keys_fetched = time.monotonic()
        return self._keys.get(kid)

    async def authenticate(self, token: str) -> AuthenticatedCaller:
        try:
            verified = await jws.verify_with(token, self, self._policy, now=self._clock.now())
        except jws.InvalidToken as error:
            if error.reason == "the token has expired":
                raise InvalidToken("The ID token has expired: sign in again.") from None
            raise InvalidToken(f"The ID token is not valid: {error.reason}.") from None
        claims = verified.claims
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        accepted = [a for a in audiences if a in self._audiences]
        pairwise = claims.get("sub")
        if not isinstance(pairwise, str) or not 0 < len(pairwise) <= 100:
            raise InvalidToken("The ID token has no subject.")
        app = accepted[0]
        sub = await self._internal_sub(app, pairwise)
        return AuthenticatedCaller(
            client_id=app,
            kind="citizen",
            roles=("subject",),
            scopes=("openid",),
            subject_ref=sub,
            token_id="idt_" + hashlib.sha256(token.encode()).hexdigest()[:32],
        )

    async def _internal_sub(self, app: str, pairwise: str) -> str:
        now = time.monotonic()
        cached = self._subjects.get((app, pairwise))
        if cached is not None and cached[0] > now:
            return cached[1]
        context = CallContext(client_id=GATEWAY_CLIENT_ID, roles=("gateway_internal",), channel="internal")
        reference = SubjectReference(type=ReferenceType.pairwise_token, value=pairwise, relying_party_id=app)
        try:
            resolution = await self._identity.resolve_subject(
                reference, assertion=self._minter.mint("identity", context)
            )
            sub = resolution.sub
        except RemoteProblem as problem:
            if problem.status in (401, 404, 422):
                raise InvalidToken("The ID token's person is not (or no longer) enrolled.") from None
            raise ServiceUnavailable("The identity service could not resolve the ID token's subject.") from None
        except httpx.HTTPError as error:
            raise ServiceUnavailable("The identity service does not answer.") from error
        if len(self._subjects) >= MAX_CACHED:
            self._subjects = {k: v for k, v in self._subjects.items() if v[0] > now}
        self._subjects[(app, pairwise)] = (now + SUBJECT_CACHE_SECONDS, sub)
        return sub
