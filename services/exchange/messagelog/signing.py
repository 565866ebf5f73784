"""How log entries and heads are signed: the kit's compact ES256 JWS over the record's RFC 8785 canonical form
(`services.common.jws`), so a verifier recomputes the signed bytes from the stored record."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from services.common import jws
from services.common.keys import SigningKey

ENTRY_TYPE = "dpi-exchange-log-entry+jws"
HEAD_TYPE = "dpi-exchange-log-head+jws"


class BadSignature(Exception):
    pass


def canonical(record: Mapping[str, Any]) -> bytes:
    return jws.canonical_json(dict(record))


def digest(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def sign(key: SigningKey, record: Mapping[str, Any], *, typ: str) -> str:
    return jws.sign_record(key, record, typ=typ)


def sign_canonical(key: SigningKey, payload: bytes, *, typ: str) -> str:
    """`sign` for a record whose canonical bytes (`canonical(record)`) are already at hand."""
    return jws.sign_canonical(key, payload, typ=typ)


def verify(token: str, jwks: Mapping[str, Any], *, typ: str) -> bytes:
    """The signed record's canonical bytes, if `token` verifies with a key of `jwks` (ES256, typ pinned)."""
    try:
        verified = jws.verify_record(token, jwks, typ=typ)
    except jws.InvalidToken as error:
        raise BadSignature(str(error)) from error
    return canonical(verified.claims)
