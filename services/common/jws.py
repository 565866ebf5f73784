"""JOSE in one place: RFC 8785 canonical JSON, signing a record as a compact JWS, and verifying a compact JWS/JWT.

Everything that signs or verifies in the sandbox goes through here: the gateway assertion and access tokens,
identity's ID tokens, offline credentials and status lists, OIDC and gateway `private_key_jwt` client assertions,
DPoP proofs (RFC 9449), payments' signed steps, consent receipts and the exchange's message log.

Verification is strict and the same for every caller. The compact form must be three canonical base64url segments
(so a flipped padding bit cannot ride along with a valid signature); the algorithm is pinned by the policy and
checked before any key is touched (so `none` and HMAC-with-a-public-key confusions never reach a key); the key is
chosen by `kid` and must fit the algorithm; `typ`, `iss` and `aud` are checked when the policy names them; time is
judged against the `now` the caller passes (its injectable clock), with a leeway, and a token may not live longer
than the policy's maximum. Anything wrong raises `InvalidToken(reason)`, which each caller turns into its own answer
(401 problem+json, OAuth `invalid_client`, an offline "do not trust").

    from services.common import jws

    token = jws.sign_record(signing_key, {"payment_id": "pay_1", "amount": "10.00"}, typ="dpi-payment-step+jws")
    jws.canonical_json({"b": 1, "a": [1.0, "x"]})          # b'{"a":[1,"x"],"b":1}'
    record = jws.verify_record(token, signing_key.jwks(), typ="dpi-payment-step+jws").claims   # no clock: records
    id_token = jws.sign_claims(signing_key, {"iss": issuer, "sub": sub, "exp": exp}, typ="JWT")

    policy = jws.TokenPolicy(typ="dpi-payment-step+jws", issuer="payments", leeway=timedelta(seconds=5))
    verified = jws.verify(token, signing_key.jwks(), policy, now=clock.now())      # keys as a JWKS (sync)
    verified = await jws.verify_with(token, RemoteJwks(url, http), policy, now=clock.now())  # keys by kid (async)
    verified.claims["payment_id"]

    # private_key_jwt (RFC 7523 §3): iss = sub = client_id, aud = the endpoint, exp, a single-use jti
    claims = await jws.verify_client_assertion(
        assertion, client_id=client_id, keys=registered_jwks["keys"], audiences=[token_endpoint_url],
        now=clock.now(), max_lifetime=timedelta(minutes=5), replay_guard=guard_for(client_id),
    )

    # DPoP (RFC 9449): signed by the key in its own jwk header, for this method and URL, fresh, with ath
    proof = jws.verify_dpop_proof(dpop, method="GET", urls=[url], now=clock.now(), max_age=timedelta(seconds=60),
                                  access_token=token, expected_jkt=bound_jkt)
    proof.jkt, proof.jti, proof.claims.get("nonce")     # the caller checks its nonce and spends the jti
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import rfc8785
from jose import jwk
from jose.exceptions import JOSEError

from services.common.keys import SigningKey, b64url, b64url_decode, jwk_thumbprint, verification_key

# What each accepted algorithm needs of its key: key type and, for EC, the curve.
ALGORITHM_KEYS: dict[str, tuple[str, str | None]] = {"ES256": ("EC", "P-256"), "RS256": ("RSA", None)}
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_RSA_BITS = 2048
MAX_JTI_LENGTH = 200
CLIENT_ASSERTION_LEEWAY = timedelta(seconds=30)
DPOP_TYPE = "dpop+jwt"
_DEFAULT_PORTS = {"http": 80, "https": 443}

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The characters a canonical segment may end with: the last of a final group of 2 with its low 4 bits zero, of 3
# with its low 2 bits zero.
_CANONICAL_LAST_OF_2 = frozenset(c for n, c in enumerate(_B64URL_ALPHABET) if n % 16 == 0)
_CANONICAL_LAST_OF_3 = frozenset(c for n, c in enumerate(_B64URL_ALPHABET) if n % 4 == 0)


class InvalidToken(Exception):
    """A token that must not be trusted; `reason` says why, in words fit for an error description, and `code` which
    check failed (malformed, algorithm, type, key, signature, claims, expired, not_yet_valid, lifetime, replay), for
    callers that word their own answers."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class KeySource(Protocol):
    """Public keys by key id (a JWKS file, a fetched JWKS, a registry of clients' keys)."""

    async def key_for(self, kid: str) -> dict[str, Any] | None: ...


class ReplayGuard(Protocol):
    """Remembers single-use ids (`jti`) until they expire (see services.common.assertion for the implementations)."""

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        """Record `jti`; True if it had not been seen before."""
        ...


@dataclass(frozen=True)
class TokenPolicy:
    """What a verifier demands of a token besides a good signature."""

    typ: str | None = None  # the header's typ must be exactly this (None: not checked)
    algorithms: tuple[str, ...] = ("ES256",)
    issuer: str | None = None
    audience: str | Collection[str] | None = None  # the token's aud must name at least one of these
    leeway: timedelta = timedelta(0)  # allowed past exp
    future_leeway: timedelta | None = None  # allowed for iat/nbf in the future; default: leeway
    max_lifetime: timedelta | None = None  # exp - iat, and exp - now, at most this (plus leeway for the latter)
    required: frozenset[str] = field(default_factory=lambda: frozenset({"exp"}))  # of exp, iat, jti, iss, sub, ...
    require_kid: bool = True  # False: a token without kid is tried against every key that fits the algorithm


@dataclass(frozen=True)
class Verified:
    """A token that passed: its header, its claims and the times it carries."""

    header: dict[str, Any]
    claims: dict[str, Any]
    expires_at: datetime | None
    issued_at: datetime | None


@dataclass(frozen=True)
class DpopProof:
    """A DPoP proof that passed: the thumbprint of the key it proves (`jkt`), its single-use `jti` and its claims."""

    jkt: str
    jti: str
    issued_at: datetime
    claims: dict[str, Any]


_SAFE_INTEGER = 2**53 - 1  # beyond it RFC 8785 writes ECMAScript number forms, not digits


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON: sorted keys, no whitespace, ECMAScript number forms, UTF-8.

    For values made of strings, None, booleans, safe integers, lists and objects with ASCII keys (every signed
    record and request body of the sandbox so far), JCS is Python's compact JSON with sorted keys and non-ASCII left
    as it is (the same short escapes, other control characters as lowercase \\u00xx), byte for byte; that is some
    twenty times cheaper than the library's pure-Python walk, which answers everything else (floats, other keys)."""
    if _plain(value):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: the library's answer (or refusal) stands
            pass
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER <= value <= _SAFE_INTEGER)
    if kind is dict:
        return all(type(key) is str and key.isascii() and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def sign_record(
    key: SigningKey, record: Mapping[str, Any], *, typ: str, headers: Mapping[str, Any] | None = None
) -> str:
    """A compact ES256 JWS over the RFC 8785 canonical form of `record`, with `kid` and `typ` in the header.

    The payload bytes are the canonical JSON itself, so anyone can recompute them from the record and compare.
    """
    return sign_canonical(key, canonical_json(dict(record)), typ=typ, headers=headers)


def sign_canonical(key: SigningKey, payload: bytes, *, typ: str, headers: Mapping[str, Any] | None = None) -> str:
    """`sign_record` for a record whose canonical form the caller already holds (`payload = canonical_json(record)`,
    hashed or stored as well): the same JWS, without canonicalising the record a second time."""
    return _compact(key, {"kid": key.kid, "typ": typ, **(headers or {})}, payload)


def sign_detached(key: SigningKey, payload: bytes, *, typ: str) -> str:
    """`sign_canonical` with the payload detached (RFC 7515 Appendix F): the compact JWS with its payload segment
    left empty, `header..signature`, for a record kept beside its signature, so that the record is not stored twice.
    The verifier supplies the payload again (`verify_detached`)."""
    header, _, signature = sign_canonical(key, payload, typ=typ).split(".")
    return f"{header}..{signature}"


def sign_claims(
    key: SigningKey, claims: Mapping[str, Any], *, typ: str = "JWT", headers: Mapping[str, Any] | None = None
) -> str:
    """A compact ES256 JWT over `claims` with `kid` and `typ` (and any further `headers`) in its header."""
    payload = dict(claims)
    for name in _TIME_CLAIMS:  # as jose's jwt.encode: a datetime becomes its NumericDate
        if isinstance(payload.get(name), datetime):
            payload[name] = calendar.timegm(payload[name].utctimetuple())
    return _compact(
        key, {"kid": key.kid, "typ": typ, **(headers or {})}, json.dumps(payload, separators=(",", ":")).encode()
    )


_TIME_CLAIMS = ("exp", "iat", "nbf")


def _compact(key: SigningKey, header: Mapping[str, Any], payload: bytes) -> str:
    """The compact JWS that jose's `jws.sign` makes of `payload` under `header`, byte for byte in its first two
    segments (jose's header: `typ` JWT unless given, then `alg`, keys sorted, compact JSON), signed by the key object
    itself: through jose, the same signature took about a third longer (53 to 58 us against 39 to 46 on a 2-core
    AMD EPYC, where the curve arithmetic alone takes 30: the header built and encoded anew for every token, the
    signature converted from DER by a generic routine). The header's segment is built once for each
    key and header whose values are all strings (`_header_segment`), and for each token otherwise."""
    signing_input = f"{_header_segment(key.algorithm, tuple(header.items()))}.{b64url(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def _header_segment(algorithm: str, items: tuple[tuple[str, Any], ...]) -> str:
    # Cached only for string values: a cache compares keys by equality, and True, 1 and 1.0 are equal keys that JSON
    # writes differently. Any other header (a JWK, a number) is built for this token only.
    if all(type(value) is str for _, value in items):
        return _cached_header_segment(algorithm, items)
    return _built_header_segment(algorithm, items)


def _built_header_segment(algorithm: str, items: tuple[tuple[str, Any], ...]) -> str:
    header = {"typ": "JWT", "alg": algorithm, **dict(items)}
    return b64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


_cached_header_segment = functools.lru_cache(maxsize=256)(_built_header_segment)


def access_token_hash(token: str) -> str:
    """DPoP's `ath` (RFC 9449 §4.2): base64url of the SHA-256 of the access token."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def at_hash(token: str) -> str:
    """OIDC's `at_hash` for an ES256 ID token (OIDC Core §3.1.3.6): base64url of the left half of its SHA-256."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest()[:16])


def normalise_url(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no query or fragment (RFC 9449 §4.3, for `htu`)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host if parts.port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{parts.port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def unverified_header(token: str) -> dict[str, Any]:
    """The header of a strictly formed compact JWS, not yet trusted; raises InvalidToken."""
    segments = _segments(token)
    return _json_object(segments[0], "header")


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a strictly formed compact JWS as claims, not yet trusted (e.g. `iss` to find the keys)."""
    segments = _segments(token)
    return _json_object(segments[1], "payload")


def verify(
    token: str, keys: Mapping[str, Any] | Sequence[Mapping[str, Any]], policy: TokenPolicy, *, now: datetime
) -> Verified:
    """Verify `token` against `keys` (a JWKS or a list of JWKs) and `policy` at `now`; raises InvalidToken."""
    header = _checked_header(token, policy)
    candidates = _candidates(_key_list(keys), header, policy)
    return _verify_with_keys(token, header, candidates, policy, now)


async def verify_with(token: str, source: KeySource, policy: TokenPolicy, *, now: datetime) -> Verified:
    """Verify `token` with the key its `kid` names in `source`; raises InvalidToken (errors fetching keys pass)."""
    header = _checked_header(token, policy)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the token header has no key id", code="key")
    key = await source.key_for(kid)
    if key is None:
        raise InvalidToken("the token is signed by an unknown key", code="key")
    return _verify_with_keys(token, header, _candidates([key], header, policy), policy, now)


def verify_record(
    token: str,
    keys: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    typ: str,
    algorithms: tuple[str, ...] = ("ES256",),
) -> Verified:
    """A record signed by `sign_record`, if it verifies with the key its `kid` names in `keys`, has type `typ`, and
    its payload is exactly the RFC 8785 canonical form of the record it carries; raises InvalidToken.

    Records are evidence, not tokens: they do not expire, so no time claim is judged and no clock is needed.
    """
    policy = TokenPolicy(typ=typ, algorithms=algorithms, required=frozenset())
    header = _checked_header(token, policy)
    payload = _verified_payload(token, header, _candidates(_key_list(keys), header, policy))
    record = _payload_object(payload)
    if canonical_json(record) != payload:
        raise InvalidToken("the signed record is not in RFC 8785 canonical form", code="malformed")
    return Verified(header=header, claims=record, expires_at=None, issued_at=None)


def verify_detached(
    token: str,
    payload: bytes,
    keys: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    typ: str,
    algorithms: tuple[str, ...] = ("ES256",),
) -> Verified:
    """`verify_record` for a JWS signed by `sign_detached`, over `payload` (the record's canonical bytes, which the
    verifier holds): the payload is put back in its segment and the whole verified as a record; raises InvalidToken.
    A JWS that carries a payload of its own is refused: it would be verified over bytes other than `payload`."""
    if not is_detached(token):
        raise InvalidToken("not a compact JWS with a detached payload", code="malformed")
    header, _, signature = token.split(".")
    return verify_record(f"{header}.{b64url(payload)}.{signature}", keys, typ=typ, algorithms=algorithms)


def is_detached(token: str) -> bool:
    """Whether `token` has the form `sign_detached` writes: three segments, the payload's empty."""
    segments = token.split(".") if isinstance(token, str) else []
    return len(segments) == 3 and not segments[1]


def verify_dpop_proof(
    proof: str,
    *,
    method: str,
    urls: Collection[str],
    now: datetime,
    max_age: timedelta,
    access_token: str | None = None,
    expected_jkt: str | None = None,
) -> DpopProof:
    """A DPoP proof (RFC 9449 §4.3) for a request of `method` to one of `urls` at `now`; raises InvalidToken.

    Of type `dpop+jwt`, ES256 or RS256, signed by the public key in its own `jwk` header (and, with `expected_jkt`,
    that key must be the one the token is bound to); `htm` and `htu` name the request; `iat` within `max_age` of
    `now` either way; a `jti`; with `access_token`, `ath` is its hash. The nonce and the jti's single use are the
    caller's to check (they need its state).
    """
    try:
        header = unverified_header(proof)
    except InvalidToken:
        raise InvalidToken("the DPoP proof is not a JWT", code="malformed") from None
    algorithm = header.get("alg")
    key = header.get("jwk")
    if (
        not isinstance(key, dict)
        or algorithm not in ALGORITHM_KEYS
        or key.get("kty") != ALGORITHM_KEYS[algorithm][0]
        or PRIVATE_MEMBERS & key.keys()
    ):
        raise InvalidToken("the DPoP proof must carry the public key of its algorithm in its jwk header", code="key")
    # The proof names its own key: check the signature with it (under the proof's kid, if it gives one).
    candidate = {**key, **({"kid": header["kid"]} if isinstance(header.get("kid"), str) else {})}
    policy = TokenPolicy(
        typ=DPOP_TYPE,
        algorithms=tuple(ALGORITHM_KEYS),
        required=frozenset({"jti", "iat"}),
        require_kid=False,
        future_leeway=max_age,  # iat may be ahead by as much as it may lag (clock skew); the lag is checked below
    )
    try:
        jkt = jwk_thumbprint(key)
        verified = verify(proof, [candidate], policy, now=now)
    except InvalidToken as error:
        raise InvalidToken(f"the DPoP proof is not valid: {error.reason}", code=error.code) from None
    except (KeyError, ValueError, TypeError):
        raise InvalidToken("the DPoP proof's jwk is not a usable public key", code="key") from None
    _check_dpop_claims(verified, jkt, method=method, urls=urls, access_token=access_token, expected_jkt=expected_jkt)
    assert verified.issued_at is not None  # required above
    if now - verified.issued_at > max_age:
        raise InvalidToken(f"the DPoP proof's iat is more than {max_age.total_seconds():g} s from now", code="expired")
    return DpopProof(jkt=jkt, jti=str(verified.claims["jti"]), issued_at=verified.issued_at, claims=verified.claims)


def _check_dpop_claims(
    verified: Verified,
    jkt: str,
    *,
    method: str,
    urls: Collection[str],
    access_token: str | None,
    expected_jkt: str | None,
) -> None:
    claims = verified.claims
    if expected_jkt is not None and not hmac.compare_digest(jkt, expected_jkt):
        raise InvalidToken("the DPoP proof is signed with another key than the token is bound to", code="key")
    if claims.get("htm") != method:
        raise InvalidToken(f"the DPoP proof is for another method (htm must be {method})", code="claims")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalise_url(htu) not in {normalise_url(url) for url in urls}:
        raise InvalidToken("the DPoP proof is for another URL (htu)", code="claims")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise InvalidToken("the DPoP proof's ath is not the hash of the access token presented", code="claims")


def check_public_jwk(key: Mapping[str, Any]) -> str | None:
    """Why `key` cannot be registered as a client's signing key, or None if it can (ES256 P-256 or RS256 >= 2048)."""
    if PRIVATE_MEMBERS & key.keys():
        return "the JWKS holds private key material: register public keys only"
    kty = key.get("kty")
    if kty == "EC":
        if key.get("crv") != "P-256":
            return "EC keys must be on P-256 (ES256)"
        algorithm = "ES256"
    elif kty == "RSA":
        n = key.get("n")
        if not isinstance(n, str) or len(n) * 6 < MIN_RSA_BITS - 8:
            return f"RSA keys must have a modulus of at least {MIN_RSA_BITS} bits"
        algorithm = "RS256"
    else:
        return "keys must be EC (P-256) or RSA"
    if key.get("alg", algorithm) != algorithm:
        return f"a {kty} key must be used with {algorithm}"
    if key.get("use", "sig") != "sig":
        return "keys must be signing keys (use=sig)"
    try:
        jwk.construct(dict(key), algorithm)
    except (JOSEError, ValueError, TypeError) as error:
        return f"not a usable key: {error}"
    return None


async def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    keys: Sequence[Mapping[str, Any]],
    audiences: Collection[str],
    now: datetime,
    max_lifetime: timedelta,
    replay_guard: ReplayGuard | None,
    leeway: timedelta = CLIENT_ASSERTION_LEEWAY,
) -> dict[str, Any]:
    """The claims of a valid `private_key_jwt` client assertion (RFC 7523 §3, OIDC Core §9); raises InvalidToken.

    Signed ES256 or RS256 by one of the client's registered `keys` (by `kid`, or any fitting key without one);
    iss = sub = `client_id`; aud one of `audiences` (the endpoint, or the issuer); exp present, not passed, and not
    further away than `max_lifetime`; a `jti` that `replay_guard` has not seen (scope the guard to the client).
    With `replay_guard=None` the caller spends the jti itself, after checks of its own that must come first
    (`claims["jti"]`, kept until `claims["exp"]` plus the leeway).
    """
    policy = TokenPolicy(
        algorithms=tuple(ALGORITHM_KEYS),
        issuer=client_id,
        audience=audiences,
        leeway=leeway,
        max_lifetime=max_lifetime,
        required=frozenset({"exp", "jti", "sub"}),
        require_kid=False,
    )
    verified = verify(assertion, keys, policy, now=now)
    if verified.claims.get("sub") != client_id:
        raise InvalidToken("client_assertion must have iss = sub = client_id", code="claims")
    assert verified.expires_at is not None  # required above
    if replay_guard is not None and not await replay_guard.first_use(
        str(verified.claims["jti"]), verified.expires_at + leeway
    ):
        raise InvalidToken("this client assertion was already used (jti replay)", code="replay")
    return verified.claims


def _segments(token: str) -> list[str]:
    """Header, payload and signature; header and payload in canonical base64url (the signature is checked before
    verification, after the algorithm, so that an unsigned `alg: none` token is refused for its algorithm)."""
    segments = token.split(".") if isinstance(token, str) else []
    if len(segments) != 3 or not all(_is_canonical_b64url(segment) for segment in segments[:2]):
        raise InvalidToken("not a compact JWS in canonical base64url", code="malformed")
    return segments


def _is_canonical_b64url(segment: str) -> bool:
    # Without this, flipping the unused low bits of a segment's last character would leave a valid signature. The
    # canonical encoding (RFC 4648 §3.5) leaves them zero: a final group of 2 characters holds one byte, so its last
    # character has 4 unused bits; one of 3 holds two bytes, 2 unused bits. (A test holds this to decoding and
    # encoding again, for every last character.)
    if not _B64URL.fullmatch(segment):
        return False
    tail = len(segment) % 4
    if tail == 1:
        return False
    return tail == 0 or segment[-1] in (_CANONICAL_LAST_OF_2 if tail == 2 else _CANONICAL_LAST_OF_3)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        # UTF-8 only (RFC 7515 §5.2, RFC 8259 §8.1): json.loads would also take bytes in UTF-16 or UTF-32, or with a
        # byte-order mark, which other JOSE libraries refuse; a strict decode keeps the sandbox from accepting a
        # header they would not. A UnicodeDecodeError is a ValueError.
        value = json.loads(b64url_decode(segment).decode("utf-8"))
    except ValueError:
        raise InvalidToken(f"the token {what} is not JSON", code="malformed") from None
    if not isinstance(value, dict):
        raise InvalidToken(f"the token {what} is not a JSON object", code="malformed")
    return value


def _checked_header(token: str, policy: TokenPolicy) -> dict[str, Any]:
    header = unverified_header(token)
    algorithm = header.get("alg")
    # Pinned before any key is touched, so "none" and HMAC-with-the-public-key forgeries never reach verification.
    if algorithm not in policy.algorithms:
        raise InvalidToken(
            f"the token must be signed with {' or '.join(policy.algorithms)}, not {algorithm!r}", code="algorithm"
        )
    if policy.typ is not None and header.get("typ") != policy.typ:
        raise InvalidToken(f"the token type must be {policy.typ!r}", code="type")
    if "crit" in header:
        raise InvalidToken(
            "the token names critical header extensions this verifier does not support", code="malformed"
        )
    return header


def _key_list(keys: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    listed = keys.get("keys") if isinstance(keys, Mapping) else keys
    if not isinstance(listed, Sequence) or isinstance(listed, str):
        raise InvalidToken("the JWKS has no key list", code="key")
    return [key for key in listed if isinstance(key, Mapping)]


def _candidates(
    keys: Iterable[Mapping[str, Any]], header: Mapping[str, Any], policy: TokenPolicy
) -> list[dict[str, Any]]:
    """The keys the token may be checked against: the one its kid names, which must fit the algorithm."""
    algorithm = str(header["alg"])
    kid = header.get("kid")
    if kid is None and not policy.require_kid:
        return [dict(key) for key in keys if _fits(key, algorithm)]
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("the token header has no key id", code="key")
    matches = [key for key in keys if key.get("kid") == kid]
    if len(matches) != 1:
        raise InvalidToken(f"the keys hold {'no' if not matches else 'more than one'} key with id {kid!r}", code="key")
    if not _fits(matches[0], algorithm):
        raise InvalidToken(f"key {kid!r} is not a {algorithm} signing key", code="key")
    return [dict(matches[0])]


def _fits(key: Mapping[str, Any], algorithm: str) -> bool:
    kty, curve = ALGORITHM_KEYS[algorithm]
    return (
        key.get("kty") == kty
        and (curve is None or key.get("crv") == curve)
        and key.get("alg", algorithm) == algorithm
        and key.get("use", "sig") == "sig"
    )


def _verify_with_keys(
    token: str, header: dict[str, Any], keys: Sequence[dict[str, Any]], policy: TokenPolicy, now: datetime
) -> Verified:
    claims = _payload_object(_verified_payload(token, header, keys))
    return _check_claims(header, claims, policy, now)


def _verified_payload(token: str, header: Mapping[str, Any], keys: Sequence[dict[str, Any]]) -> bytes:
    """The payload bytes, if the signature verifies with one of `keys` under the header's (pinned) algorithm.

    `header` is the token's own, already parsed and judged (`_checked_header`, which also held the header and
    payload segments to canonical base64url), so the signature is checked by the jose key object itself over the
    signing input (RFC 7515 §5.2: the two first segments as they stand), instead of jose parsing the token again."""
    algorithm = str(header["alg"])
    signing_input, _, signature = token.rpartition(".")
    if not _is_canonical_b64url(signature):
        raise InvalidToken("not a compact JWS in canonical base64url", code="malformed")
    raw_signature, message = b64url_decode(signature), signing_input.encode("ascii")
    if any(_signature_matches(key, algorithm, message, raw_signature) for key in keys):
        return b64url_decode(signing_input.partition(".")[2])
    raise InvalidToken("the signature does not verify with the expected key", code="signature")


def _signature_matches(key: Mapping[str, Any], algorithm: str, message: bytes, signature: bytes) -> bool:
    """Whether `signature` over `message` verifies with the JWK `key`. As in jose's own check of a token's keys, any
    failure of a key to check it (a JWK it cannot build, a signature of the wrong length) is no match."""
    try:
        return bool(verification_key(key, algorithm).verify(message, signature))
    except Exception:
        return False


def _payload_object(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload.decode("utf-8"))  # UTF-8 only, as for the header (`_json_object`)
    except ValueError:
        raise InvalidToken("the token payload is not JSON", code="malformed") from None
    if not isinstance(claims, dict):
        raise InvalidToken("the token payload is not a JSON object", code="malformed")
    return claims


def _check_claims(header: dict[str, Any], claims: dict[str, Any], policy: TokenPolicy, now: datetime) -> Verified:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _check_named_claims(claims, policy)
    expires_at, issued_at = _check_times(claims, policy, now)
    return Verified(header=header, claims=claims, expires_at=expires_at, issued_at=issued_at)


def _check_named_claims(claims: dict[str, Any], policy: TokenPolicy) -> None:
    if missing := sorted(name for name in policy.required if name not in claims):
        raise InvalidToken(f"the token lacks {', '.join(missing)}", code="claims")
    if policy.issuer is not None and claims.get("iss") != policy.issuer:
        raise InvalidToken(f"the token is not issued by {policy.issuer!r}", code="claims")
    if policy.audience is not None:
        expected = {policy.audience} if isinstance(policy.audience, str) else set(policy.audience)
        audience = claims.get("aud")
        presented = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
        if not expected & {a for a in presented if isinstance(a, str)}:
            raise InvalidToken("the token is not meant for this audience", code="claims")
    if "jti" in claims or "jti" in policy.required:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            raise InvalidToken("the token's jti must be a non-empty string", code="claims")


def _check_times(claims: dict[str, Any], policy: TokenPolicy, now: datetime) -> tuple[datetime | None, datetime | None]:
    """exp, iat and nbf against `now` with the leeways, and the lifetime; (expires_at, issued_at)."""
    expires_at, issued_at, not_before = (_numeric_date(claims, name) for name in ("exp", "iat", "nbf"))
    future = policy.future_leeway if policy.future_leeway is not None else policy.leeway
    if expires_at is not None and now >= expires_at + policy.leeway:
        raise InvalidToken("the token has expired", code="expired")
    for moment, name in ((issued_at, "issued"), (not_before, "valid")):
        if moment is not None and moment > now + future:
            raise InvalidToken(f"the token is {name} only in the future", code="not_yet_valid")
    if policy.max_lifetime is not None and expires_at is not None:
        if issued_at is not None and expires_at - issued_at > policy.max_lifetime:
            raise InvalidToken("the token lives longer than policy allows", code="lifetime")
        if expires_at - now > policy.max_lifetime + policy.leeway:
            raise InvalidToken("the token expires too far in the future", code="lifetime")
    return expires_at, issued_at


def _numeric_date(claims: Mapping[str, Any], name: str) -> datetime | None:
    if name not in claims:
        return None
    value = claims[name]
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidToken(f"the token's {name} is not a NumericDate", code="claims")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidToken(f"the token's {name} is out of range", code="claims") from None
