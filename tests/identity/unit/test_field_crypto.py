"""Field encryption, blind indexes, pairwise tokens, key derivation and the master secret file."""

from __future__ import annotations

import os
import stat
import threading
import unicodedata
from pathlib import Path

import pytest

from services.identity.crypto import (
    LABEL_BLIND_INDEX,
    LABEL_FIELD_ENCRYPTION,
    LABEL_OTP_HASH,
    LABEL_PAIRWISE,
    BlindIndex,
    FieldCipher,
    FieldDecryptionError,
    derive_key,
    load_or_create_master_secret,
    pairwise_token,
)

MASTER = bytes(range(32))
CONTEXT = "person:7f3a:given_name"


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher({"k1": os.urandom(32)}, "k1")


def test_field_cipher_round_trip(cipher: FieldCipher) -> None:
    key_id, blob = cipher.encrypt("Amara Okafor", context=CONTEXT)
    assert key_id == "k1"
    assert b"Amara" not in blob
    assert cipher.decrypt(key_id, blob, context=CONTEXT) == "Amara Okafor"


def test_same_plaintext_encrypts_differently(cipher: FieldCipher) -> None:
    assert cipher.encrypt("x", context=CONTEXT)[1] != cipher.encrypt("x", context=CONTEXT)[1]


@pytest.mark.parametrize("other", ["person:7f3a:family_name", "person:9b21:given_name"])
def test_ciphertext_moved_to_another_field_or_row_fails(cipher: FieldCipher, other: str) -> None:
    key_id, blob = cipher.encrypt("Amara", context=CONTEXT)
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(key_id, blob, context=other)


def test_every_tampered_byte_fails(cipher: FieldCipher) -> None:
    key_id, blob = cipher.encrypt("Amara", context=CONTEXT)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(FieldDecryptionError):
            cipher.decrypt(key_id, bytes(tampered), context=CONTEXT)
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt(key_id, blob[:20], context=CONTEXT)
    with pytest.raises(FieldDecryptionError):
        cipher.decrypt("k9", blob, context=CONTEXT)


def test_key_rotation_keeps_old_ciphertexts_readable() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = FieldCipher({"k1": old_key}, "k1")
    old_id, old_blob = before.encrypt("Amara", context=CONTEXT)
    after = FieldCipher({"k1": old_key, "k2": new_key}, "k2")
    new_id, new_blob = after.encrypt("Amara", context=CONTEXT)
    assert (old_id, new_id) == ("k1", "k2")
    assert after.decrypt(old_id, old_blob, context=CONTEXT) == "Amara"
    assert after.decrypt(new_id, new_blob, context=CONTEXT) == "Amara"
    with pytest.raises(FieldDecryptionError):
        after.decrypt("k2", old_blob, context=CONTEXT)


def test_field_cipher_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError):
        FieldCipher({"k1": os.urandom(16)}, "k1")
    with pytest.raises(ValueError):
        FieldCipher({"k1": os.urandom(32)}, "k2")
    with pytest.raises(ValueError):
        FieldCipher({"k1": os.urandom(32)}, "k1").encrypt("x", context="")


def test_blind_index_normalises_names() -> None:
    index = BlindIndex(derive_key(MASTER, LABEL_BLIND_INDEX))
    expected = index.index("josé pérez", kind="name")
    assert index.index("José  Pérez", kind="name") == expected
    assert index.index(unicodedata.normalize("NFD", " JOSÉ\tPÉREZ. "), kind="name") == expected
    assert index.index("Jose Perez", kind="name") != expected
    assert len(expected) == 64
    assert int(expected, 16) >= 0


def test_blind_index_separates_kinds_and_keys() -> None:
    index = BlindIndex(derive_key(MASTER, LABEL_BLIND_INDEX))
    assert index.index("1990-01-01", kind="dob") != index.index("1990-01-01", kind="phone")
    other = BlindIndex(derive_key(bytes(32), LABEL_BLIND_INDEX))
    assert index.index("1990-01-01", kind="dob") != other.index("1990-01-01", kind="dob")
    with pytest.raises(ValueError):
        index.index(" ... ", kind="name")


@pytest.mark.rule("SG-TOKEN-1")
def test_pairwise_tokens_differ_per_relying_party_and_are_stable() -> None:
    key = derive_key(MASTER, LABEL_PAIRWISE)
    uin = "234567890124"
    bank = pairwise_token(key, "rp-bank", uin)
    clinic = pairwise_token(key, "rp-clinic", uin)
    assert bank != clinic
    assert bank == pairwise_token(key, "rp-bank", uin)
    assert bank != pairwise_token(key, "rp-bank", "234567890131")
    assert bank.startswith("tok_")
    assert len(bank) == 4 + 26
    assert set(bank[4:]) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert uin not in bank
    # The NUL separator keeps ("rp-a", "1...") and ("rp-a1", "...") from colliding.
    assert pairwise_token(key, "rp-a", "12") != pairwise_token(key, "rp-a1", "2")
    with pytest.raises(ValueError):
        pairwise_token(key, "rp\x00bank", uin)


def test_derive_key_separates_labels_and_is_deterministic() -> None:
    labels = [LABEL_FIELD_ENCRYPTION, LABEL_BLIND_INDEX, LABEL_PAIRWISE, LABEL_OTP_HASH]
    keys = [derive_key(MASTER, label) for label in labels]
    assert all(len(key) == 32 for key in keys)
    assert len(set(keys)) == len(labels)
    assert MASTER not in keys
    assert derive_key(MASTER, LABEL_OTP_HASH) == keys[3]
    with pytest.raises(ValueError):
        derive_key(b"short", LABEL_OTP_HASH)


def test_master_secret_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    secret = load_or_create_master_secret(keys_dir, "identity")
    path = keys_dir / "identity.secret"
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_secret(keys_dir, "identity") == secret
    assert load_or_create_master_secret(keys_dir, "other") != secret
    assert not list(keys_dir.glob("*.tmp")) and not list(keys_dir.glob(".*.tmp"))


def test_concurrent_creators_agree_on_one_master_secret(tmp_path: Path) -> None:
    results: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        results.append(load_or_create_master_secret(tmp_path, "race"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1
