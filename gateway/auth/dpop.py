"""DPoP (RFC 9449): proofs that the caller holds the key a token is bound to, checked on every request.

A proof is a JWT of type `dpop+jwt` signed with the key in its own `jwk` header (ES256 or RS256, public members only),
naming the request (`htm`, `htu` without query or fragment), fresh (`iat` within the allowed age on the injected
clock), with `ath` (the access token's SHA-256) on resource requests: all checked by `jws.verify_dpop_proof`. Here
the gateway adds what needs its state: the proof is used once (`jti`, remembered in the same replay store as client
assertions, so every replica shares it) and, when the gateway asks for one, carries its `nonce`.

Nonces are stateless: an HMAC of the current five-minute window under a key derived from the gateway's signing key,
so every replica issues and accepts the same nonces without sharing state; the previous window's stays valid.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives import serialization

from gateway.auth.replay import SingleUse
from services.common import jws
from services.common.clock import Clock
from services.common.keys import SigningKey, b64url

DPOP_TYPE = jws.DPOP_TYPE
NONCE_WINDOW_SECONDS = 300


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
    """The proof itself is checked by the kit (`jws.verify_dpop_proof`); the gateway adds its nonce and the jti's
    single use, which need its state."""

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
        self._max_age = timedelta(seconds=max_age_seconds)
        self._nonce_required = nonce_required

    @property
    def nonces(self) -> DpopNonces:
        return self._nonces

    async def verify(
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
        now = self._clock.now()
        try:
            verified = jws.verify_dpop_proof(
                proof,
                method=method,
                urls=urls,
                now=now,
                max_age=self._max_age,
                access_token=access_token,
                expected_jkt=expected_jkt,
            )
        except jws.InvalidToken as error:
            raise DpopFailure(error.reason) from None
        nonce = verified.claims.get("nonce")
        if nonce is not None and (not isinstance(nonce, str) or not self._nonces.is_valid(nonce)):
            raise DpopFailure("the DPoP nonce is not (or no longer) valid", nonce=self._nonces.current())
        if nonce is None and self._nonce_required:
            raise DpopFailure("this server requires a DPoP nonce", nonce=self._nonces.current())
        keep_until = verified.issued_at + self._max_age * 2
        if not await self._single_use.first_use("dpop", verified.jkt, verified.jti, keep_until):
            raise DpopFailure("this DPoP proof was already used (jti replay)")
        return DpopProof(jkt=verified.jkt, jti=verified.jti)
