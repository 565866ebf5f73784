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
from typing import Any

import httpx
from jose import jwt
from jose.exceptions import JOSEError

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.errors import InvalidToken
from services.common.assertion import AssertionMinter, CallContext
from services.common.clock import Clock
from services.common.http import RemoteProblem
from services.common.keys import verification_key
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

    @property
    def issuer(self) -> str:
        return self._issuer

    async def _key(self, kid: str) -> dict[str, Any] | None:
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
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise InvalidToken("The token is not a JWT.") from None
        if header.get("alg") != ID_TOKEN_ALGORITHM:
            raise InvalidToken(f"Citizens' ID tokens are signed with {ID_TOKEN_ALGORITHM}.")
        key = await self._key(str(header.get("kid", "")))
        if key is None:
            raise InvalidToken("The ID token is signed by a key the identity service does not publish.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                verification_key(key, ID_TOKEN_ALGORITHM),
                algorithms=[ID_TOKEN_ALGORITHM],
                issuer=self._issuer,
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False, "verify_at_hash": False},
            )
        except JOSEError:
            raise InvalidToken("The ID token's signature or issuer is not valid.") from None
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        accepted = [a for a in audiences if a in self._audiences]
        if not accepted:
            raise InvalidToken("The ID token was issued for another audience than the citizen apps the gateway serves.")
        now = self._clock.now().timestamp()
        expires, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expires, int | float) or expires + LEEWAY_SECONDS <= now:
            raise InvalidToken("The ID token has expired: sign in again.")
        if not isinstance(issued, int | float) or issued > now + LEEWAY_SECONDS:
            raise InvalidToken("The ID token is issued in the future.")
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
