"""How a provider's information system knows a request came from the exchange (X-Road: the provider's security
server). The exchange signs each request it forwards with its own key: a 60-second ES256 JWT for the audience
`registries`, naming the consumer subsystem, the service, the purpose and the fields asked for, and the hash of the
request. The registries verify it with the kit's verifier against the exchange's published key (algorithm, type,
issuer, audience and lifetime pinned) before reading anything.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from services.common import jws
from services.common.clock import Clock
from services.common.ids import new_id
from services.common.keys import SigningKey
from services.common.problems import Unauthenticated

CREDENTIAL_HEADER = "X-DPI-Exchange-Request"
CREDENTIAL_TYPE = "exchange-request+jwt"
AUDIENCE = "registries"
ISSUER = "dpi-exchange"
TTL = timedelta(seconds=60)


class ExchangeRequest(BaseModel):
    """What the exchange vouches for when it calls a provider."""

    client: str  # the consumer subsystem, or `officer:<client_id>` for a registry officer's own write
    service: str | None = None
    purpose: str | None = None
    fields: list[str] = []
    message_id: str


def mint(key: SigningKey, clock: Clock, request: ExchangeRequest) -> str:
    now = clock.now()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + TTL).timestamp()),
        "jti": new_id(),
        **request.model_dump(exclude_none=True),
    }
    return jws.sign_claims(key, claims, typ=CREDENTIAL_TYPE)


POLICY = jws.TokenPolicy(
    typ=CREDENTIAL_TYPE,
    issuer=ISSUER,
    audience=AUDIENCE,
    leeway=timedelta(seconds=5),
    max_lifetime=TTL,
    required=frozenset({"exp", "iat"}),
)


class CredentialVerifier:
    def __init__(self, jwks: dict[str, Any], clock: Clock) -> None:
        self._jwks = jwks
        self._clock = clock

    def verify(self, token: str | None) -> ExchangeRequest:
        if not token:
            raise Unauthenticated("Providers answer only requests the exchange signed.")
        try:
            verified = jws.verify(token, self._jwks, POLICY, now=self._clock.now())
            return ExchangeRequest.model_validate(verified.claims)
        except (jws.InvalidToken, ValidationError) as error:
            raise Unauthenticated("The exchange request's signature does not verify.") from error
