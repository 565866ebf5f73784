"""IETF Token Status List (draft-ietf-oauth-status-list): how an offline credential is revoked.

Each credential carries `status.status_list = {idx, uri}`. The service publishes, at `uri`, a Status List Token: a
JWT (`typ: statuslist+jwt`, signed with the same key as the credentials) whose `status_list` holds one bit per
credential (`bits: 1`; 0 valid, 1 revoked), packed least significant bit first, ZLIB-compressed and base64url-encoded
as `lst`. A verifier that fetched the list while online checks credentials against it offline; a credential's
index says nothing about its holder, and every verifier downloads the whole list, so the issuer does not learn which
credential was checked (the draft's "herd privacy").
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from services.common import jws
from services.common.keys import SigningKey, b64url, b64url_decode

STATUS_LIST_TYP = "statuslist+jwt"
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"
VALID, INVALID = 0, 1
# A bomb guard for verifiers: a list never needs more than this once inflated (8 million credentials at 1 bit).
MAX_LIST_BYTES = 1 << 20


class StatusListError(ValueError):
    """A Status List Token or list that cannot be trusted or read."""


def encode_list(revoked: Iterable[int], size: int) -> str:
    """`lst` for a 1-bit list of `size` entries with the `revoked` indices set."""
    if size <= 0 or size % 8:
        raise ValueError("the list size must be a positive multiple of 8")
    packed = bytearray(size // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a list of {size}")
        packed[index // 8] |= 1 << (index % 8)
    return b64url(zlib.compress(bytes(packed), level=9))


def decode_list(status_list: Mapping[str, Any]) -> bytes:
    """The inflated bytes of a `status_list` claim with `bits: 1`."""
    if status_list.get("bits") != 1:
        raise StatusListError("only 1-bit status lists are supported")
    encoded = status_list.get("lst")
    if not isinstance(encoded, str):
        raise StatusListError("the status list has no lst")
    try:
        inflater = zlib.decompressobj()
        packed = inflater.decompress(b64url_decode(encoded), MAX_LIST_BYTES)
    except (ValueError, zlib.error) as error:
        raise StatusListError(f"lst is not base64url ZLIB data: {error}") from None
    if inflater.unconsumed_tail:
        raise StatusListError(f"the status list inflates beyond {MAX_LIST_BYTES} bytes")
    return packed


def status_at(packed: bytes, index: int) -> int:
    """The status of entry `index` in an inflated 1-bit list."""
    if not 0 <= index < len(packed) * 8:
        raise StatusListError(f"index {index} is outside the status list")
    return (packed[index // 8] >> (index % 8)) & 1


def status_claim(index: int, uri: str) -> dict[str, Any]:
    """What a credential carries to point at its entry."""
    return {"status_list": {"idx": index, "uri": uri}}


def sign_status_list(
    signing_key: SigningKey, *, uri: str, revoked: Iterable[int], size: int, issued_at: datetime, ttl_seconds: int
) -> str:
    """The Status List Token for `uri`: `sub` is the list's own URI, `ttl` how long a verifier may rely on it."""
    payload = {
        "sub": uri,
        "iat": int(issued_at.timestamp()),
        "exp": int(issued_at.timestamp()) + 2 * ttl_seconds,
        "ttl": ttl_seconds,
        "status_list": {"bits": 1, "lst": encode_list(revoked, size)},
    }
    return jws.sign_claims(signing_key, payload, typ=STATUS_LIST_TYP)
