"""C2SP signed notes, tlog checkpoints and tlog cosignatures, with Ed25519 keys.

- signed-note: a text (UTF-8, ending in a newline) + a blank line + one line per signature,
  `— <key name> <base64(key hash (4 bytes) || signature)>`. The Ed25519 key hash is the first four bytes of
  SHA-256(name || 0x0A || 0x01 || public key); a verifier key is written `name+hex(hash)+base64(0x01 || public key)`.
- tlog-checkpoint: the note text is `<origin>\n<tree size>\n<base64 root hash>\n`.
- tlog-cosignature (cosignature/v1): a witness signs `cosignature/v1\ntime <unix seconds>\n<checkpoint text>`; its
  line carries key hash (type 0x04) || 8-byte big-endian time || signature.

The log's key and the in-sandbox witness's key are generated on first run under the keys directory (mode 0600,
created atomically like the services' signing keys); the public verifier key is written beside it (`.vkey`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04
DASH = "\u2014 "
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A note, key or signature that does not parse or does not verify."""


def _key_hash(name: str, alg: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"invalid key name {name!r}")


@dataclass(frozen=True)
class VerifierKey:
    """A public key with its name: what a log or witness publishes (`name+hash+base64`)."""

    name: str
    alg: int
    public: bytes

    @property
    def key_hash(self) -> bytes:
        return _key_hash(self.name, self.alg, self.public)

    def __str__(self) -> str:
        material = base64.b64encode(bytes([self.alg]) + self.public).decode()
        return f"{self.name}+{self.key_hash.hex()}+{material}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key is name+hash+key")
        name, hash_hex, material = parts
        _check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            expected = bytes.fromhex(hash_hex)
        except (binascii.Error, ValueError) as error:
            raise NoteError("malformed verifier key") from error
        if len(raw) != 33 or raw[0] not in (ALG_ED25519, ALG_COSIGNATURE_V1) or len(hash_hex) != 8:
            raise NoteError("only Ed25519 verifier keys (types 0x01 and 0x04) are supported")
        key = cls(name, raw[0], raw[1:])
        if key.key_hash != expected:
            raise NoteError("verifier key hash does not match its name and key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 private key with its name; `alg` 0x01 signs notes, 0x04 signs cosignatures."""

    name: str
    private: Ed25519PrivateKey
    alg: int = ALG_ED25519

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> VerifierKey:
        public = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return VerifierKey(self.name, self.alg, public)

    def sign_note(self, text: str) -> str:
        """The signed note: the text, a blank line and this key's signature line."""
        _check_text(text)
        signature = self.private.sign(text.encode())
        return f"{text}\n{DASH}{self.name} {base64.b64encode(self.verifier.key_hash + signature).decode()}\n"

    def cosign(self, checkpoint_text: str, timestamp: int) -> str:
        """A cosignature/v1 signature line over a checkpoint text, at `timestamp` (unix seconds)."""
        _check_text(checkpoint_text)
        signature = self.private.sign(cosignature_message(checkpoint_text, timestamp))
        payload = self.verifier.key_hash + struct.pack(">Q", timestamp) + signature
        return f"{DASH}{self.name} {base64.b64encode(payload).decode()}\n"


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or any(c < " " and c != "\n" for c in text):
        raise NoteError("note text must be lines without control characters, ending in a newline, no blank line")


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_hash: bytes
    payload: bytes  # what follows the key hash: a signature, or timestamp || signature for a cosignature


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """The note's text and its signature lines (not yet verified)."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, and signature lines")
    text, block = note[: cut + 1], note[cut + 2 :]
    signatures: list[NoteSignature] = []
    for line in block.splitlines():
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        name, _, material = line[len(DASH) :].partition(" ")
        try:
            raw = base64.b64decode(material, validate=True)
        except binascii.Error as error:
            raise NoteError("malformed signature") from error
        if len(raw) < 5 or not name:
            raise NoteError("malformed signature")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise NoteError("a signed note has between 1 and 100 signatures")
    _check_text(text)
    return text, signatures


def open_note(note: str, key: VerifierKey) -> tuple[str, list[NoteSignature]]:
    """The text of `note` if `key` signed it (else NoteError), with all its signature lines."""
    text, signatures = split_note(note)
    for signature in signatures:
        if signature.name == key.name and signature.key_hash == key.key_hash:
            if key.verify(text.encode(), signature.payload):
                return text, signatures
            raise NoteError(f"the signature of {key.name} does not verify")
    raise NoteError(f"the note carries no signature of {key.name}")


def verify_cosignature(checkpoint_text: str, signature: NoteSignature, key: VerifierKey) -> int | None:
    """The cosignature's timestamp if `key` made it over `checkpoint_text`, else None."""
    if signature.name != key.name or signature.key_hash != key.key_hash or len(signature.payload) != 72:
        return None
    (timestamp,) = struct.unpack(">Q", signature.payload[:8])
    if key.verify(cosignature_message(checkpoint_text, timestamp), signature.payload[8:]):
        return int(timestamp)
    return None


# ---- checkpoints --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is origin, size and root hash, one per line")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not size.isdigit() or (len(size) > 1 and size[0] == "0"):
            raise NoteError("malformed checkpoint origin or size")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error as error:
            raise NoteError("malformed checkpoint root hash") from error
        if len(root_hash) != 32:
            raise NoteError("a checkpoint root hash has 32 bytes")
        return cls(origin, int(size), root_hash)


def open_checkpoint(note: str, key: VerifierKey, origin: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, if the log's key signed it (and its origin is the expected one)."""
    text, _ = open_note(note, key)
    checkpoint = Checkpoint.parse(text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


# ---- keys on disk ---------------------------------------------------------------------------------------------------


def load_or_create_note_signer(keys_dir: Path, file_stem: str, name: str, *, alg: int = ALG_ED25519) -> NoteSigner:
    """`<keys_dir>/<file_stem>.ed25519.pem`, generated on first use (atomically: processes starting together agree
    on one key), and its public verifier key written to `<file_stem>.vkey`."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / f"{file_stem}.ed25519.pem"
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = keys_dir / f".{file_stem}.{os.getpid()}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    signer = NoteSigner(name, private, alg)
    vkey = keys_dir / f"{file_stem}.vkey"
    if not vkey.exists() or vkey.read_text().strip() != str(signer.verifier):
        temporary = keys_dir / f".{file_stem}.{os.getpid()}.vkey.tmp"
        temporary.write_text(f"{signer.verifier}\n")
        temporary.replace(vkey)
    return signer


def signer_from_go_private_key(text: str) -> NoteSigner:
    """A signer from the Go `PRIVATE+KEY+name+hash+base64(0x01 || seed)` encoding (used for test vectors)."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("not a Go note private key")
    raw = base64.b64decode(parts[4])
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("not an Ed25519 note private key")
    signer = NoteSigner(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.verifier.key_hash.hex() != parts[3]:
        raise NoteError("private key hash does not match")
    return signer
