"""How log entries and heads are signed: the kit's compact ES256 JWS over the record's RFC 8785 canonical form
(`services.common.jws`), so a verifier recomputes the signed bytes from the stored record.

An entry's JWS is stored with its payload detached (RFC 7515 Appendix F, `header..signature`): the payload is the
stored record's canonical form, which the verifier computes again, so the record is stored once instead of a second
time in base64 inside its signature. Entries written before that carry their record attached; they still verify, and
their attached record is compared with the stored one. A head is small and keeps its record attached."""

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


def sign_entry(key: SigningKey, payload: bytes) -> str:
    """An entry's signature over its record's canonical bytes (`canonical(record)`), with the payload detached."""
    return jws.sign_detached(key, payload, typ=ENTRY_TYPE)


def verify(token: str, jwks: Mapping[str, Any], *, typ: str) -> bytes:
    """The signed record's canonical bytes, if `token` verifies with a key of `jwks` (ES256, typ pinned)."""
    try:
        verified = jws.verify_record(token, jwks, typ=typ)
    except jws.InvalidToken as error:
        raise BadSignature(str(error)) from error
    return canonical(verified.claims)


def verify_entry(token: str, stored: bytes, jwks: Mapping[str, Any]) -> bytes:
    """The canonical bytes an entry's signature was made over: `stored` (the stored record's canonical form) if its
    detached signature verifies over them; for an entry written with its record attached, that record."""
    if jws.is_detached(token):
        try:
            jws.verify_detached(token, stored, jwks, typ=ENTRY_TYPE)
        except jws.InvalidToken as error:
            raise BadSignature(f"{error}: the stored record or its signature was changed") from error
        return stored
    return verify(token, jwks, typ=ENTRY_TYPE)
