"""SIMULATED payee FSPs: what a real payee FSP would do when asked for a quote, in ILP's manner.

A payee FSP that accepts a quote generates a 32-byte fulfilment and hands out only its SHA-256, the condition; it
reveals the fulfilment when it accepts the transfer, and the switch commits only on a fulfilment that hashes to the
condition. The sandbox's simulated FSPs derive the fulfilment from a secret (HMAC over the quote id), so a test or
the benchmark, playing the payee FSP, can produce it; no real FSP's system is involved.
"""

from __future__ import annotations

import hashlib
import hmac

from services.common.keys import SigningKey, b64url, b64url_decode


def condition_of(fulfilment: str) -> str:
    """The ILP condition of a base64url fulfilment: base64url(SHA-256(preimage))."""
    return b64url(hashlib.sha256(b64url_decode(fulfilment)).digest())


class SimulatedPayeeFsp:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def of_service_key(cls, key: SigningKey) -> SimulatedPayeeFsp:
        """Derived from the service's own key (under var/keys, never in the repository)."""
        return cls(hashlib.sha256(b"dpi-sandbox simulated payee FSPs\x00" + key.private_pem).digest())

    def fulfilment(self, payee_fsp: str, quote_id: str) -> str:
        return b64url(hmac.new(self._secret, f"{payee_fsp}\x00{quote_id}".encode(), hashlib.sha256).digest())

    def condition(self, payee_fsp: str, quote_id: str) -> str:
        return condition_of(self.fulfilment(payee_fsp, quote_id))
