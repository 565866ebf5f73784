"""Field-level encryption at rest, blind indexes, pairwise tokens and the subkeys they use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
PAIRWISE_TOKEN_CHARS = 26

# One label per purpose, so that no derived key ever serves two of them; bump the version to rotate all at once.
LABEL_FIELD_ENCRYPTION = "field-encryption/v1"
LABEL_BLIND_INDEX = "blind-index/v1"
LABEL_PAIRWISE = "pairwise-token/v1"
LABEL_OTP_HASH = "otp-hash/v1"

_HKDF_INFO_PREFIX = b"dpi-sandbox/identity/"


class FieldDecryptionError(Exception):
    """A ciphertext that is unknown, malformed, tampered with or moved to another context."""


def _require_key(key: bytes, what: str) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"{what} must be {KEY_BYTES} bytes, got {len(key)}")


def _require_label(value: str, what: str) -> None:
    # The NUL byte separates inputs inside MACs, so letting it into one would make two inputs collide.
    if not value or "\x00" in value:
        raise ValueError(f"{what} must be non-empty and free of NUL characters")


class FieldCipher:
    """AES-256-GCM for single fields, with the field's context as associated data and rotation by key id."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise ValueError(f"active key id {active_key_id!r} is not among the configured keys")
        for key_id, key in keys.items():
            _require_label(key_id, "a key id")
            _require_key(key, f"field key {key_id!r}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    def encrypt(self, plaintext: str, *, context: str) -> tuple[str, bytes]:
        """Encrypt under the active key, returning (key id, nonce || ciphertext || tag)."""
        _require_label(context, "an encryption context")
        # Random 96-bit nonces stay safe far beyond a sandbox's volume per key (NIST's limit is 2**32 messages).
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.active_key_id].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return self.active_key_id, nonce + sealed

    def encrypt_many(self, items: Sequence[tuple[str, str]]) -> tuple[str, list[bytes]]:
        """`encrypt` for many (plaintext, context) pairs: the same sealing, the nonces drawn in one call."""
        for _, context in items:
            _require_label(context, "an encryption context")
        cipher = self._ciphers[self.active_key_id]
        nonces = os.urandom(NONCE_BYTES * len(items))
        sealed = []
        for at, (plaintext, context) in enumerate(items):
            nonce = nonces[at * NONCE_BYTES : (at + 1) * NONCE_BYTES]
            sealed.append(nonce + cipher.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8")))
        return self.active_key_id, sealed

    def decrypt(self, key_id: str, blob: bytes, *, context: str) -> str:
        """Decrypt a blob from `encrypt`; any tampering or a different context raises FieldDecryptionError."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise FieldDecryptionError(f"unknown field key id {key_id!r}")
        if len(blob) < NONCE_BYTES + 16:
            raise FieldDecryptionError("ciphertext is too short to be valid")
        try:
            plaintext = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise FieldDecryptionError("ciphertext failed authentication: tampered, or not for this context") from None
        return plaintext.decode("utf-8")


def normalise(value: str, *, kind: str) -> str:
    """The form a value is indexed in: NFKC, casefolded, whitespace collapsed, and for names no punctuation."""
    text = unicodedata.normalize("NFKC", value).casefold()
    if kind == "name":
        text = "".join(char for char in text if not unicodedata.category(char).startswith("P"))
    return " ".join(text.split())


class BlindIndex:
    """Keyed HMAC-SHA256 over normalised values, so equal values can be found without storing them in clear."""

    def __init__(self, key: bytes) -> None:
        _require_key(key, "the blind index key")
        self._key = key

    def index(self, value: str, *, kind: str) -> str:
        """The hex blind index of `value`, domain-separated by `kind` (e.g. "name", "dob", "phone")."""
        _require_label(kind, "a blind index kind")
        normalised = normalise(value, kind=kind)
        if not normalised:
            # Every empty value would share one index and so link unrelated records.
            raise ValueError("cannot index an empty value")
        message = kind.encode("utf-8") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def pairwise_token(key: bytes, relying_party_id: str, uin: str) -> str:
    """A stable per-relying-party pseudonym for a UIN: `tok_` and 26 lowercase base32 characters of an HMAC."""
    _require_key(key, "the pairwise token key")
    _require_label(relying_party_id, "a relying party id")
    _require_label(uin, "a UIN")
    digest = hmac.new(key, relying_party_id.encode("utf-8") + b"\x00" + uin.encode("utf-8"), hashlib.sha256).digest()
    return "tok_" + base64.b32encode(digest).decode("ascii").lower()[:PAIRWISE_TOKEN_CHARS]


def derive_key(master: bytes, label: str) -> bytes:
    """A 32-byte subkey of `master` for one purpose, by HKDF-SHA256 with `label` as the info."""
    if len(master) < KEY_BYTES:
        raise ValueError(f"the master secret must be at least {KEY_BYTES} bytes")
    _require_label(label, "a key label")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_HKDF_INFO_PREFIX + label.encode())
    return hkdf.derive(master)


def load_or_create_master_secret(keys_dir: Path, name: str) -> bytes:
    """Load `<keys_dir>/<name>.secret`, creating it with 32 random bytes and mode 0600 on first use."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    path = keys_dir / f"{name}.secret"
    if not path.exists():
        # The random suffix keeps two threads of one process from sharing a temporary file.
        temporary = keys_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(temporary, path)  # atomic and fails if another process won the race; then we load theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    secret = path.read_bytes()
    _require_key(secret, f"the master secret in {path}")
    return secret
