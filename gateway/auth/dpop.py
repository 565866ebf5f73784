"""DPoP (RFC 9449): proofs that the caller holds the key a token is bound to, checked on every request.

A proof is a JWT of type `dpop+jwt` signed with the key in its own `jwk` header (ES256 or RS256, public members only),
naming the request (`htm`, `htu` without query or fragment), fresh (`iat` within the allowed age on the injected
clock), used once (`jti`, remembered in the same replay store as client assertions, so every replica shares it),
with `ath` (the access token's SHA-256) on resource requests and, when the gateway asks for one, its `nonce`.

Nonces are stateless: an HMAC of the current five-minute window under a key derived from the gateway's signing key,
so every replica issues and accepts the same nonces without sharing state; the previous window's stays valid.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization

from gateway.auth.replay import SingleUse
from services.common import jws
from services.common.clock import Clock
from services.common.keys import SigningKey, b64url, jwk_thumbprint

DPOP_TYPE = "dpop+jwt"
NONCE_WINDOW_SECONDS = 300
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DpopFailure(Exception):
    """Why a proof was refused; `nonce` is set when the caller must retry with that server nonce."""

    def __init__(self, description: str, *, nonce: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.nonce = nonce


@dataclass(frozen=True)
class DpopProof:
    jkt: str
    jti: str


def access_token_hash(token: str) -> str:
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def normalise_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (RFC 9449 section 4.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host if parts.port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


class DpopNonces:
    def __init__(self, key: SigningKey, clock: Clock) -> None:
        secret = key.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._key = hashlib.sha256(b"dpi-sandbox dpop nonce\x00" + secret).digest()
        self._clock = clock

    def _for_window(self, window: int) -> str:
        mac = hmac.new(self._key, window.to_bytes(8, "big"), hashlib.sha256).digest()[:18]
        return f"{window:x}.{b64url(mac)}"

    def current(self) -> str:
        return self._for_window(int(self._clock.now().timestamp()) // NONCE_WINDOW_SECONDS)

    def is_valid(self, nonce: str) -> bool:
        window = int(self._clock.now().timestamp()) // NONCE_WINDOW_SECONDS
        return any(hmac.compare_digest(nonce, self._for_window(w)) for w in (window, window - 1))


class DpopVerifier:
    def __init__(
        self,
        *,
        clock: Clock,
        single_use: SingleUse,
        nonces: DpopNonces,
        max_age_seconds: int,
        nonce_required: bool,
    ) -> None:
        self._clock = clock
        self._single_use = single_use
        self._nonces = nonces
        self._max_age = max_age_seconds
        self._nonce_required = nonce_required
        # iat is judged below against the allowed age both ways (clock skew), so the policy lets it be ahead too.
        self._policy = jws.TokenPolicy(
            typ=DPOP_TYPE,
            algorithms=tuple(jws.ALGORITHM_KEYS),
            required=frozenset({"jti", "iat"}),
            require_kid=False,
            future_leeway=timedelta(seconds=max_age_seconds),
        )

    @property
    def nonces(self) -> DpopNonces:
        return self._nonces

    async def verify(  # noqa: C901, PLR0912
        self,
        proof: str | None,
        *,
        method: str,
        urls: Sequence[str],
        access_token: str | None = None,
        expected_jkt: str | None = None,
    ) -> DpopProof:
        if not proof:
            raise DpopFailure("send a DPoP proof in the DPoP header")
        try:
            header = jws.unverified_header(proof)
        except jws.InvalidToken:
            raise DpopFailure("the DPoP proof is not a JWT") from None
        algorithm = header.get("alg")
        key = header.get("jwk")
        if (
            not isinstance(key, dict)
            or algorithm not in jws.ALGORITHM_KEYS
            or key.get("kty") != jws.ALGORITHM_KEYS[algorithm][0]
            or jws.PRIVATE_MEMBERS & key.keys()
        ):
            raise DpopFailure("the DPoP proof must carry the public key of its algorithm in its jwk header")
        # The proof names its own key: check the signature with it (under the proof's kid, if it gives one).
        candidate = {**key, **({"kid": header["kid"]} if isinstance(header.get("kid"), str) else {})}
        try:
            jkt = jwk_thumbprint(key)
            claims = jws.verify(proof, [candidate], self._policy, now=self._clock.now()).claims
        except jws.InvalidToken as error:
            raise DpopFailure(f"the DPoP proof is not valid: {error.reason}") from None
        except (KeyError, ValueError, TypeError):
            raise DpopFailure("the DPoP proof's jwk is not a usable public key") from None
        if expected_jkt is not None and not hmac.compare_digest(jkt, expected_jkt):
            raise DpopFailure("the DPoP proof is signed with another key than the token is bound to")
        if claims.get("htm") != method:
            raise DpopFailure(f"the DPoP proof is for another method (htm must be {method})")
        htu = claims.get("htu")
        if not isinstance(htu, str) or normalise_url(htu) not in {normalise_url(url) for url in urls}:
            raise DpopFailure("the DPoP proof is for another URL (htu)")
        if access_token is not None:
            ath = claims.get("ath")
            if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
                raise DpopFailure("the DPoP proof's ath is not the hash of the access token presented")
        issued = claims.get("iat")
        now = self._clock.now()
        if not isinstance(issued, int | float) or isinstance(issued, bool):
            raise DpopFailure("the DPoP proof has no iat")
        if abs(now.timestamp() - issued) > self._max_age:
            raise DpopFailure(f"the DPoP proof's iat is more than {self._max_age} s from now")
        nonce = claims.get("nonce")
        if nonce is not None and (not isinstance(nonce, str) or not self._nonces.is_valid(nonce)):
            raise DpopFailure("the DPoP nonce is not (or no longer) valid", nonce=self._nonces.current())
        if nonce is None and self._nonce_required:
            raise DpopFailure("this server requires a DPoP nonce", nonce=self._nonces.current())
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= 200:
            raise DpopFailure("the DPoP proof needs a jti")
        keep_until = datetime.fromtimestamp(issued, tz=now.tzinfo) + timedelta(seconds=self._max_age * 2)
        if not await self._single_use.first_use("dpop", jkt, jti, keep_until):
            raise DpopFailure("this DPoP proof was already used (jti replay)")
        return DpopProof(jkt=jkt, jti=jti)
