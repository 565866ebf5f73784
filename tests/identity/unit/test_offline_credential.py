"""Offline QR credentials: verifiable from the JWKS alone, and any tampering, expiry, forgery or UIN is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.keys import SigningKey, b64url, b64url_decode
from services.identity.credentials.offline import (
    CREDENTIAL_TYP,
    InvalidCredential,
    issue_offline_credential,
    parse_qr_payload,
    qr_payload,
    verify_offline_credential,
)
from services.identity.persons.uin import verhoeff_check_digit

pytestmark = pytest.mark.rule("SG-INCL-4")

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=30)
NOW = ISSUED + timedelta(days=1)
CLAIMS = {"sub": "tok_abc", "name": "Amara Okafor", "birth_year": 1990, "photo_hash": "sha256:ab12"}
B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
UIN = "23456789014" + verhoeff_check_digit("23456789014")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def token(key: SigningKey) -> str:
    return issue_offline_credential(key, CLAIMS, issued_at=ISSUED, expires_at=EXPIRES)


def segment(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":")).encode())


def test_verifies_with_the_published_jwks_only(key: SigningKey, token: str) -> None:
    jwks = json.loads(json.dumps(key.jwks()))  # only what a verifier could download
    claims = verify_offline_credential(token, jwks, now=NOW)
    assert {k: claims[k] for k in CLAIMS} == CLAIMS
    assert claims["iat"] == int(ISSUED.timestamp())
    assert claims["exp"] == int(EXPIRES.timestamp())
    assert claims["iss"]
    assert set(claims) == set(CLAIMS) | {"iss", "iat", "exp"}
    assert verify_offline_credential(token, jwks, now=NOW, issuer=claims["iss"]) == claims
    with pytest.raises(InvalidCredential):
        verify_offline_credential(token, jwks, now=NOW, issuer="someone-else")


def test_header_pins_es256_type_and_kid(key: SigningKey, token: str) -> None:
    header = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))
    assert header == {"alg": "ES256", "typ": CREDENTIAL_TYP, "kid": key.kid}


def test_tampering_any_single_character_fails(key: SigningKey, token: str) -> None:
    jwks = key.jwks()
    for position, char in enumerate(token):
        # Flipping the lowest bit also hits the unused trailing bits of a segment's last character.
        replacement = "A" if char == "." else B64URL_ALPHABET[B64URL_ALPHABET.index(char) ^ 1]
        tampered = token[:position] + replacement + token[position + 1 :]
        with pytest.raises(InvalidCredential):
            verify_offline_credential(tampered, jwks, now=NOW)


def test_expired_credential_fails(key: SigningKey, token: str) -> None:
    assert verify_offline_credential(token, key.jwks(), now=EXPIRES - timedelta(seconds=1))
    for when in (EXPIRES, EXPIRES + timedelta(days=1)):
        with pytest.raises(InvalidCredential, match="expired"):
            verify_offline_credential(token, key.jwks(), now=when)


def test_credential_from_the_future_fails(key: SigningKey, token: str) -> None:
    with pytest.raises(InvalidCredential, match="future"):
        verify_offline_credential(token, key.jwks(), now=ISSUED - timedelta(hours=1))


def test_unknown_key_fails(token: str) -> None:
    with pytest.raises(InvalidCredential, match="key"):
        verify_offline_credential(token, SigningKey.generate().jwks(), now=NOW)
    with pytest.raises(InvalidCredential):
        verify_offline_credential(token, {}, now=NOW)


def test_alg_none_forgery_fails(key: SigningKey, token: str) -> None:
    payload = token.split(".")[1]
    for alg in ("none", "None", "NONE"):
        forged = f"{segment({'alg': alg, 'typ': CREDENTIAL_TYP, 'kid': key.kid})}.{payload}."
        with pytest.raises(InvalidCredential):
            verify_offline_credential(forged, key.jwks(), now=NOW)


def test_hs256_forgery_with_the_public_key_as_secret_fails(key: SigningKey, token: str) -> None:
    payload = token.split(".")[1]
    header = segment({"alg": "HS256", "typ": CREDENTIAL_TYP, "kid": key.kid})
    jwk = key.public_jwk()
    for secret in (json.dumps(jwk).encode(), json.dumps(key.jwks()).encode(), jwk["x"].encode()):
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidCredential, match="ES256"):
            verify_offline_credential(f"{header}.{payload}.{b64url(signature)}", key.jwks(), now=NOW)


def test_signature_by_another_key_under_our_kid_fails(key: SigningKey) -> None:
    impostor = SigningKey(SigningKey.generate().private_key, key.kid)
    forged = issue_offline_credential(impostor, CLAIMS, issued_at=ISSUED, expires_at=EXPIRES)
    with pytest.raises(InvalidCredential, match="signature"):
        verify_offline_credential(forged, key.jwks(), now=NOW)


@pytest.mark.parametrize(
    "claims",
    [
        {"uin": "anything"},
        {"UIN ": None},
        {"id_number": UIN},
        {"id_number": int(UIN)},
        {"note": f"holder {UIN[:4]} {UIN[4:8]} {UIN[8:]}"},
        {"ids": [{"type": "national", "value": f"{UIN[:4]}-{UIN[4:8]}-{UIN[8:]}"}]},
    ],
)
def test_claims_carrying_a_uin_are_refused(key: SigningKey, claims: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="UIN"):
        issue_offline_credential(key, claims, issued_at=ISSUED, expires_at=EXPIRES)


def test_issue_refuses_bad_times_and_reserved_claims(key: SigningKey) -> None:
    with pytest.raises(ValueError):
        issue_offline_credential(key, CLAIMS, issued_at=EXPIRES, expires_at=ISSUED)
    with pytest.raises(ValueError):
        issue_offline_credential(key, CLAIMS, issued_at=ISSUED.replace(tzinfo=None), expires_at=EXPIRES)
    with pytest.raises(ValueError, match="exp"):
        issue_offline_credential(key, {**CLAIMS, "exp": 9_999_999_999}, issued_at=ISSUED, expires_at=EXPIRES)


def test_qr_payload_round_trip(key: SigningKey, token: str) -> None:
    payload = qr_payload(token)
    assert payload.startswith("DPI1:")
    assert parse_qr_payload(payload + "\n") == token
    assert verify_offline_credential(parse_qr_payload(payload), key.jwks(), now=NOW)
    with pytest.raises(InvalidCredential):
        parse_qr_payload(token)
