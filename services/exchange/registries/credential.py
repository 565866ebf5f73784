"""How a provider's information system knows a request came from the exchange (X-Road: the provider's security
server). The exchange signs each request it forwards with its own key: a 60-second ES256 JWT for the audience
`registries`, naming the consumer subsystem, the service, the purpose and the fields asked for, and the hash of the
request. The registries verify it against the exchange's published key, algorithm pinned, before reading anything.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jose import JWTError, jwt
from pydantic import BaseModel, ValidationError

from services.common.clock import Clock
from services.common.ids import new_id
from services.common.keys import SigningKey, verification_key
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
    return key.sign_jwt(claims, typ=CREDENTIAL_TYPE)


class CredentialVerifier:
    def __init__(self, jwks: dict[str, Any], clock: Clock) -> None:
        self._keys = {k["kid"]: k for k in jwks.get("keys", [])}
        self._clock = clock

    def verify(self, token: str | None) -> ExchangeRequest:
        if not token:
            raise Unauthenticated("Providers answer only requests the exchange signed.")
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(str(header.get("kid")))
            if header.get("alg") != "ES256" or header.get("typ") != CREDENTIAL_TYPE or key is None:
                raise Unauthenticated("The exchange request is not signed by the exchange's key.")
            claims = jwt.decode(
                token,
                verification_key(key, "ES256"),
                algorithms=["ES256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False},
            )
            now = self._clock.now().timestamp()
            if not (claims["iat"] - 5 <= now <= claims["exp"] + 5):
                raise Unauthenticated("The exchange request has expired.")
            return ExchangeRequest.model_validate(claims)
        except (JWTError, ValidationError, KeyError) as error:
            raise Unauthenticated("The exchange request's signature does not verify.") from error
