"""The gateway's authenticator: who sent this request, proved, or 401 problem+json with a challenge.

- `Authorization: Bearer <gateway access token>`: an RFC 9068 JWT from POST /oauth2/token, ES256 by the gateway's
  key (current or still published), `iss` = `aud` = the gateway, unexpired on the injected clock, of a client that
  is still approved (else 403 SG-SEC-1). A DPoP-bound token (`cnf.jkt`) is accepted only as
  `Authorization: DPoP <token>` with a `DPoP` proof for this method and URL, `ath` of this token, signed by the
  bound key, fresh and used once.
- `Authorization: Bearer <citizen ID token>` from identity's OIDC provider (see `citizens`): a citizen, role
  `subject`, with identity's internal `sub`.
- Anything else: 401. Then the caller's rate limits are counted (429 with Retry-After).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.citizens import CitizenTokens
from gateway.auth.clients.directory import ClientDirectory
from gateway.auth.dpop import DpopFailure, DpopVerifier
from gateway.auth.errors import InvalidDpopProof, InvalidToken, MissingCredentials, UseDpopNonce
from gateway.auth.ratelimit import RateLimits
from gateway.auth.tokens.service import ACCESS_TOKEN_TYPE
from services.common import jws
from services.common.clock import Clock
from services.common.keys import SigningKey
from services.common.problems import PolicyDenied

ALGORITHM = "ES256"
LEEWAY_SECONDS = 5
MAX_TOKEN_LENGTH = 8192


class GatewayAuthenticator:
    def __init__(
        self,
        *,
        issuer: str,
        key: SigningKey,
        clock: Clock,
        directory: ClientDirectory,
        dpop: DpopVerifier,
        limits: RateLimits,
        citizens: CitizenTokens | None = None,
    ) -> None:
        self._issuer = issuer
        self._jwks = key.jwks()
        self._policy = jws.TokenPolicy(
            typ=ACCESS_TOKEN_TYPE,
            algorithms=(ALGORITHM,),
            issuer=issuer,
            audience=issuer,
            leeway=timedelta(seconds=LEEWAY_SECONDS),
            required=frozenset({"exp", "iat", "client_id"}),
        )
        self._clock = clock
        self._directory = directory
        self._dpop = dpop
        self._limits = limits
        self._citizens = citizens

    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        authorization = request.headers.get("authorization")
        if not authorization:
            raise MissingCredentials()
        scheme, _, token = authorization.partition(" ")
        scheme, token = scheme.lower(), token.strip()
        if scheme not in ("bearer", "dpop") or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("Send the token as `Authorization: Bearer <token>` or `Authorization: DPoP <token>`.")
        try:
            issuer = jws.unverified_claims(token).get("iss")
        except jws.InvalidToken:
            raise InvalidToken("The token is not a JWT.") from None
        if issuer == self._issuer:
            caller = await self._client_caller(request, scheme, token)
        elif self._citizens is not None and issuer == self._citizens.issuer and scheme == "bearer":
            caller = await self._citizens.authenticate(token)
        else:
            raise InvalidToken("The token was not issued by the gateway or by the identity service's sign-in.")
        await self._limits.check(caller.client_id, request.url.path)
        return caller

    async def _client_caller(self, request: Request, scheme: str, token: str) -> AuthenticatedCaller:
        try:
            claims = jws.verify(token, self._jwks, self._policy, now=self._clock.now()).claims
        except jws.InvalidToken as error:
            expired = error.reason == "the token has expired"
            raise InvalidToken(
                "The access token has expired: get a new one from POST /oauth2/token."
                if expired
                else f"The access token is not valid: {error.reason}."
            ) from None
        client_id = claims.get("client_id")
        client = await self._directory.get(client_id) if isinstance(client_id, str) else None
        if client is None:
            raise InvalidToken("The token's client is not registered.")
        if not client.approved:
            raise PolicyDenied("SG-SEC-1", f"The client is {client.status}: its tokens are no longer accepted.")
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if jkt is None:
            if client.dpop_required:
                raise InvalidToken("This client's tokens must be DPoP-bound.", dpop=True)
            if scheme != "bearer":
                raise InvalidToken("This token is not DPoP-bound: send it as `Authorization: Bearer`.")
        else:
            if scheme != "dpop":
                raise InvalidToken(
                    "This token is DPoP-bound: send it as `Authorization: DPoP` with a proof.", dpop=True
                )
            await self._proof(request, token, str(jkt))
        scope = claims.get("scope")
        scopes = tuple(scope.split()) if isinstance(scope, str) else ()
        token_id = claims.get("jti")
        return client.caller(scopes=scopes, token_id=str(token_id) if token_id else None, dpop_jkt=jkt)

    async def _proof(self, request: Request, token: str, jkt: str) -> None:
        proofs = request.headers.getlist("dpop")
        if len(proofs) > 1:
            raise InvalidDpopProof("Send exactly one DPoP header.")
        url = str(request.url.replace(query=None, fragment=None))
        # The path as the client wrote it, percent-escapes and all: a client signs the URL it sends (RFC 9449
        # §4.2), and a path holding `#`, `?`, `\` or a space reads otherwise once decoded.
        raw_path = request.scope.get("raw_path", b"").decode("latin-1")
        try:
            await self._dpop.verify(
                proofs[0] if proofs else None,
                method=request.method,
                urls=[url, self._issuer + request.url.path, *([self._issuer + raw_path] if raw_path else [])],
                access_token=token,
                expected_jkt=jkt,
            )
        except DpopFailure as failure:
            if failure.nonce is not None:
                raise UseDpopNonce(failure.nonce) from None
            raise InvalidDpopProof(failure.description[:1].upper() + failure.description[1:] + ".") from None
