"""Signing keys: generated on first run into var/keys/ (never in the repo), published as a JWKS.

Each service has its own ES256 (P-256) key. The private key is written with mode 0600 and created atomically, so
processes that start together agree on one key; the public half is also written as `<name>.jwks.json` so the other
processes of a multi-process sandbox can verify without a network call.

Rotation (`rotate_signing_key`, `dpi-sandbox keys rotate`) replaces the private key and keeps the old public key
published beside the new one for a grace period (`<name>.retired.json`), so that what the old key signed (an ID
token, a printed offline credential) still verifies until it expires. Running processes sign with the new key once
they restart.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jose import jwk
from jose.backends.base import Key

_ES256 = ec.ECDSA(hashes.SHA256())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def ec_public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    size = (public_key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(size, "big")),
        "y": b64url(numbers.y.to_bytes(size, "big")),
    }


def jwk_thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def verification_key(key: Mapping[str, Any], algorithm: str) -> Key:
    """A published public JWK as a jose key object, built once per distinct key and algorithm: verifying with the
    JWK dict made jose rebuild the key for every token (the gateway's assertions, clients' private_key_jwt)."""
    return _built_key(json.dumps(dict(key), sort_keys=True), algorithm)


@functools.lru_cache(maxsize=1024)  # bounded: the keys come from other parties' JWKS
def _built_key(key_json: str, algorithm: str) -> Key:
    return jwk.construct(json.loads(key_json), algorithm)


@dataclass(frozen=True)
class SigningKey:
    """An ES256 private key with its key id (the RFC 7638 thumbprint of its public JWK)."""

    private_key: ec.EllipticCurvePrivateKey
    kid: str
    # Public JWKs of rotated-out keys still in their grace period: published and trusted, never used to sign.
    retired: tuple[dict[str, str], ...] = field(default=())

    @property
    def algorithm(self) -> str:
        return "ES256"

    @property
    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, str]:
        return {**ec_public_jwk(self.private_key.public_key()), "kid": self.kid, "alg": "ES256", "use": "sig"}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The current key first, then the retired ones still published."""
        return {"keys": [self.public_jwk(), *self.retired]}

    def sign(self, message: bytes) -> bytes:
        """An ES256 signature over `message` as JWS carries it (RFC 7518 §3.4): R and S, 32 bytes each, big-endian."""
        r, s = decode_dss_signature(self.private_key.sign(message, _ES256))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> SigningKey:
        return cls(private_key, jwk_thumbprint(ec_public_jwk(private_key.public_key())))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls.from_private_key(ec.generate_private_key(ec.SECP256R1()))


def load_or_create_signing_key(keys_dir: Path, name: str, *, now: datetime | None = None) -> SigningKey:
    """Load `<keys_dir>/<name>.es256.pem`, creating it (and its public JWKS file) on first use, with the retired
    keys whose grace period has not ended at `now` (default: the wall clock)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    path = keys_dir / f"{name}.es256.pem"
    if not path.exists():
        candidate = SigningKey.generate()
        temporary = keys_dir / f".{name}.{os.getpid()}.tmp"
        _write_private(temporary, candidate)
        try:
            os.link(temporary, path)  # atomic and fails if another process won the race; then we load theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} is not an EC private key")
    current = SigningKey.from_private_key(private_key)
    published = _still_published(keys_dir, name, now or datetime.now(tz=UTC))
    retired = tuple(entry["jwk"] for entry in published if entry["jwk"]["kid"] != current.kid)
    key = SigningKey(private_key, current.kid, retired)
    _write_public_jwks(keys_dir / f"{name}.jwks.json", key.jwks())
    return key


def rotate_signing_key(keys_dir: Path, name: str, *, publish_for: timedelta, now: datetime | None = None) -> SigningKey:
    """Replace `name`'s key with a new one; the old public key stays published for `publish_for`, then drops out.

    Returns the new key. Processes already running keep signing with the old key until they restart.
    """
    moment = now or datetime.now(tz=UTC)
    old = load_or_create_signing_key(keys_dir, name, now=moment)
    new = SigningKey.generate()
    entries = _still_published(keys_dir, name, moment)
    entries.append(
        {
            "jwk": old.public_jwk(),
            "retired_at": moment.isoformat(),
            "publish_until": (moment + publish_for).isoformat(),
        }
    )
    _replace_text(keys_dir / f"{name}.retired.json", json.dumps({"keys": entries}, indent=2, sort_keys=True))
    temporary = keys_dir / f".{name}.{os.getpid()}.rotate.tmp"
    _write_private(temporary, new)
    temporary.replace(keys_dir / f"{name}.es256.pem")  # atomic: a process starting now loads one key or the other
    return load_or_create_signing_key(keys_dir, name, now=moment)


def _write_private(path: Path, key: SigningKey) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_pem)


def _still_published(keys_dir: Path, name: str, moment: datetime) -> list[dict[str, Any]]:
    """The retired-key entries whose grace period has not ended at `moment`."""
    path = keys_dir / f"{name}.retired.json"
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text()).get("keys", [])
    return [entry for entry in entries if datetime.fromisoformat(entry["publish_until"]) > moment]


def _replace_text(path: Path, content: str) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(content)
    temporary.replace(path)


def _write_public_jwks(path: Path, jwks: dict[str, Any]) -> None:
    content = json.dumps(jwks, indent=2, sort_keys=True)
    if path.exists() and path.read_text() == content:
        return
    _replace_text(path, content)


def read_jwks_file(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
