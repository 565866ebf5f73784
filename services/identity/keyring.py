"""The identity service's keys: one master secret on disk, one derived subkey per purpose, field keys by id.

Nothing here is configured by value: the master secret is created on first run in keys_dir (mode 0600) and every
key is derived from it with HKDF under its own label, so no key ever serves two purposes. Field-encryption keys are
derived per key id, which is how rotation works: a new active id encrypts new values, retired ids still decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from services.identity.config import IdentitySettings
from services.identity.crypto import (
    LABEL_BLIND_INDEX,
    LABEL_FIELD_ENCRYPTION,
    LABEL_OTP_HASH,
    LABEL_PAIRWISE,
    BlindIndex,
    FieldCipher,
    derive_key,
    load_or_create_master_secret,
    pairwise_token,
)

LABEL_FINGERPRINT = "fingerprint/v1"
RELYING_PARTY_KEYS_CACHED = 4096  # derived keys kept in memory (an HKDF each otherwise); LRU beyond that


@dataclass(frozen=True)
class Keyring:
    cipher: FieldCipher
    blind: BlindIndex
    otp_key: bytes  # for the authentication domain's OTP and PIN hashes
    _fingerprint_key: bytes
    _pairwise_root: bytes
    _relying_party_key: Callable[[str], bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        root = self._pairwise_root

        @lru_cache(maxsize=RELYING_PARTY_KEYS_CACHED)
        def relying_party_key(relying_party_id: str) -> bytes:
            return derive_key(root, f"relying-party/{relying_party_id}")

        object.__setattr__(self, "_relying_party_key", relying_party_key)

    @classmethod
    def from_settings(cls, settings: IdentitySettings) -> Keyring:
        master = load_or_create_master_secret(settings.resolved_keys_dir, settings.master_secret_name)
        key_ids = dict.fromkeys([settings.field_key_id, *settings.field_key_ids_retired])
        field_keys = {key_id: derive_key(master, f"{LABEL_FIELD_ENCRYPTION}/{key_id}") for key_id in key_ids}
        return cls(
            cipher=FieldCipher(field_keys, settings.field_key_id),
            blind=BlindIndex(derive_key(master, LABEL_BLIND_INDEX)),
            otp_key=derive_key(master, LABEL_OTP_HASH),
            _fingerprint_key=derive_key(master, LABEL_FINGERPRINT),
            _pairwise_root=derive_key(master, LABEL_PAIRWISE),
        )

    def fingerprint(self, kind: str, value: str) -> str:
        """A keyed hash of an exact value (no normalisation): biometric templates, request bodies."""
        message = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def pairwise_token(self, relying_party_id: str, uin: str) -> str:
        """The relying party's own stable token for a UIN, under a key derived for that relying party alone."""
        return pairwise_token(self._relying_party_key(relying_party_id), relying_party_id, uin)


class SealedResponses:
    """The idempotency store's protector for identity (services.common.idempotency.Protector): request fingerprints
    are keyed hashes, and stored responses (an enrolment's carries the UIN) are encrypted under the field key."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def fingerprint(self, material: bytes) -> str:
        return self._keyring.fingerprint("idempotent-request", hashlib.sha256(material).hexdigest())

    def seal(self, body: bytes, *, context: str) -> bytes:
        key_id, ciphertext = self._keyring.cipher.encrypt(body.decode("utf-8"), context=context)
        return key_id.encode("ascii") + b"\x00" + ciphertext

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        key_id, _, ciphertext = sealed.partition(b"\x00")
        return self._keyring.cipher.decrypt(key_id.decode("ascii"), ciphertext, context=context).encode("utf-8")
