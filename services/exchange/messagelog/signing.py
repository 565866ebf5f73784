"""How log entries and heads are signed: a compact ES256 JWS over the record's RFC 8785 canonical form, so a
verifier recomputes the signed bytes from the stored record. (Until the kit's services/common/jws.py reaches main,
the two calls below use python-jose and rfc8785 directly; then they become jws.sign_record and jws.verify.)"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785
from jose import jws
from jose.exceptions import JOSEError

from services.common.keys import SigningKey, verification_key

ENTRY_TYPE = "dpi-exchange-log-entry+jws"
HEAD_TYPE = "dpi-exchange-log-head+jws"


class BadSignature(Exception):
    pass


def canonical(record: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps(dict(record))


def digest(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def sign(key: SigningKey, record: Mapping[str, Any], *, typ: str) -> str:
    return str(jws.sign(canonical(record), key.jose_key, headers={"kid": key.kid, "typ": typ}, algorithm="ES256"))


def verify(token: str, jwks: Mapping[str, Any], *, typ: str) -> bytes:
    """The signed bytes, if `token` verifies with a key of `jwks` (ES256 only, typ pinned); else BadSignature."""
    try:
        header = jws.get_unverified_header(token)
    except JOSEError as error:
        raise BadSignature("not a compact JWS") from error
    if header.get("alg") != "ES256" or header.get("typ") != typ:
        raise BadSignature("wrong algorithm or type")
    keys = {k.get("kid"): k for k in jwks.get("keys", [])}
    key = keys.get(header.get("kid"))
    if key is None:
        raise BadSignature("signed by an unknown key")
    try:
        payload: bytes = jws.verify(token, verification_key(key, "ES256"), algorithms=["ES256"])
    except JOSEError as error:
        raise BadSignature("the signature does not verify") from error
    return payload
