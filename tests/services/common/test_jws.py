"""services.common.jws: canonical JSON, signed records and the one strict JWS/JWT verifier."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk as jose_jwk
from jose import jwt

from services.common import jws
from services.common.assertion import MemoryReplayGuard, StaticJwks
from services.common.clock import FrozenClock
from services.common.keys import SigningKey, b64url, b64url_decode

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
T = int(NOW.timestamp())


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def _jose_key(key: SigningKey) -> Any:
    """The private key as python-jose's own key object: tokens made by jose, to compare with the kit's."""
    from jose.backends import ECKey

    return ECKey(key.private_key, "ES256")


def _jwt(key: SigningKey, claims: dict[str, Any], typ: str = "test+jwt", **headers: Any) -> str:
    return jws.sign_claims(key, claims, typ=typ, headers=headers or None)


class TestCanonicalJson:
    def test_rfc_8785_sorts_keys_drops_whitespace_and_normalises_numbers(self) -> None:
        assert jws.canonical_json({"b": 1, "a": [1.0, "x", None, True]}) == b'{"a":[1,"x",null,true],"b":1}'
        assert jws.canonical_json({"€": 1e21, "\u00e9": 0.1}) == '{"é":0.1,"€":1e+21}'.encode()

    def test_the_same_record_in_any_key_order_has_one_form(self) -> None:
        assert jws.canonical_json({"x": {"b": 2, "a": 1}}) == jws.canonical_json({"x": {"a": 1, "b": 2}})


class TestSignRecord:
    def test_the_payload_is_the_canonical_json_and_the_header_names_key_and_type(self, key: SigningKey) -> None:
        record = {"payment_id": "pay_1", "amount": "10.00", "steps": [2, 1]}
        token = jws.sign_record(key, record, typ="dpi-step+jws")
        header, payload, _ = token.split(".")
        assert b64url_decode(payload) == jws.canonical_json(record)
        assert json.loads(b64url_decode(header)) == {"alg": "ES256", "kid": key.kid, "typ": "dpi-step+jws"}
        verified = jws.verify(token, key.jwks(), jws.TokenPolicy(typ="dpi-step+jws", required=frozenset()), now=NOW)
        assert verified.claims == record

    def test_a_changed_record_does_not_verify(self, key: SigningKey) -> None:
        token = jws.sign_record(key, {"amount": "10.00"}, typ="t")
        header, _, signature = token.split(".")
        forged = f"{header}.{b64url(jws.canonical_json({'amount': '99.00'}))}.{signature}"
        with pytest.raises(jws.InvalidToken, match="signature"):
            jws.verify(forged, key.jwks(), jws.TokenPolicy(required=frozenset()), now=NOW)


class TestSignClaims:
    def test_a_jwt_names_its_key_and_type_and_carries_the_claims(self, key: SigningKey) -> None:
        token = jws.sign_claims(key, {"sub": "s", "exp": T + 60}, typ="at+jwt", headers={"x5": "extra"})
        assert jws.unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "at+jwt", "x5": "extra"}
        verified = jws.verify(token, key.jwks(), jws.TokenPolicy(typ="at+jwt"), now=NOW)
        assert verified.claims == {"sub": "s", "exp": T + 60}


class TestVerifyRecord:
    def test_a_signed_record_verifies_without_a_clock_however_old_its_dates(self, key: SigningKey) -> None:
        record = {"entry": 1, "exp": 0, "iat": 4_000_000_000, "amount": "10.00"}  # dates in a record are data
        token = jws.sign_record(key, record, typ="dpi-log+jws")
        assert jws.verify_record(token, key.jwks(), typ="dpi-log+jws").claims == record

    def test_another_type_a_stranger_s_key_or_a_changed_record_is_refused(self, key: SigningKey) -> None:
        token = jws.sign_record(key, {"amount": "10.00"}, typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="type"):
            jws.verify_record(token, key.jwks(), typ="dpi-other+jws")
        with pytest.raises(jws.InvalidToken, match="key"):
            jws.verify_record(token, SigningKey.generate().jwks(), typ="dpi-log+jws")
        header, _, signature = token.split(".")
        forged = f"{header}.{b64url(jws.canonical_json({'amount': '99.00'}))}.{signature}"
        with pytest.raises(jws.InvalidToken, match="signature"):
            jws.verify_record(forged, key.jwks(), typ="dpi-log+jws")

    def test_a_validly_signed_payload_that_is_not_canonical_json_is_refused(self, key: SigningKey) -> None:
        from jose import jws as jose_jws

        loose = json.dumps({"b": 1, "a": 2}).encode()  # spaces and unsorted keys: not RFC 8785
        token = jose_jws.sign(loose, _jose_key(key), headers={"kid": key.kid, "typ": "dpi-log+jws"}, algorithm="ES256")
        with pytest.raises(jws.InvalidToken, match="canonical"):
            jws.verify_record(token, key.jwks(), typ="dpi-log+jws")


class TestSigning:
    """The kit signs with the key object itself; its tokens are the ones jose makes (the same header and payload
    segments, byte for byte) and jose verifies them."""

    @pytest.mark.parametrize(
        ("claims", "headers"),
        [
            pytest.param({"iss": "gateway", "aud": "exchange", "exp": T + 60, "jti": "a"}, None, id="plain"),
            pytest.param({"sub": "sub_é", "exp": NOW, "iat": NOW, "nbf": NOW}, None, id="datetimes-and-unicode"),
            pytest.param({"n": 1}, {"cty": "JWT", "alg": "ES256"}, id="extra-headers"),
            pytest.param({"n": 1}, {"jwk": {"kty": "EC", "crv": "P-256"}}, id="unhashable-header"),
        ],
    )
    def test_claims_are_signed_as_jose_signs_them(
        self, key: SigningKey, claims: dict[str, Any], headers: dict[str, Any] | None
    ) -> None:
        from jose import jws as jose_jws

        for _ in range(2):  # the second time from the header cache
            token = jws.sign_claims(key, claims, typ="test+jwt", headers=headers)
            theirs = jwt.encode(
                dict(claims),
                _jose_key(key),
                algorithm="ES256",
                headers={"kid": key.kid, "typ": "test+jwt", **(headers or {})},
            )
            assert token.split(".")[:2] == theirs.split(".")[:2]
            assert json.loads(jose_jws.verify(token, key.public_jwk(), algorithms=["ES256"])) == json.loads(
                b64url_decode(theirs.split(".")[1])
            )
            assert len(b64url_decode(token.split(".")[2])) == 64

    def test_equal_header_values_of_different_types_keep_their_own_segments(self, key: SigningKey) -> None:
        """1, True and 1.0 are one key to a cache and three different JSON values: each token has its own header."""
        for value in (1, True, 1.0, "1", 0.0, -0.0):
            token = jws.sign_claims(key, {"n": 1}, typ="test+jwt", headers={"x": value})
            theirs = jwt.encode(
                {"n": 1}, _jose_key(key), algorithm="ES256", headers={"kid": key.kid, "typ": "test+jwt", "x": value}
            )
            assert token.split(".")[0] == theirs.split(".")[0], value

    def test_r_and_s_keep_their_leading_zeros(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        class SmallSignatures:  # a private key whose signature has a short R and S, as 1 in 256 do
            def sign(self, message: bytes, algorithm: object) -> bytes:
                return encode_dss_signature(1, 2**200)

        signer = SigningKey(SmallSignatures(), "kid")  # type: ignore[arg-type]
        assert signer.sign(b"m") == (1).to_bytes(32, "big") + (2**200).to_bytes(32, "big")

    def test_a_record_is_signed_as_jose_signs_it(self, key: SigningKey) -> None:
        from jose import jws as jose_jws

        record = {"b": [1.0, "ü"], "a": None}
        token = jws.sign_record(key, record, typ="dpi-log+jws")
        theirs = jose_jws.sign(
            jws.canonical_json(record),
            _jose_key(key),
            headers={"kid": key.kid, "typ": "dpi-log+jws"},
            algorithm="ES256",
        )
        assert token.split(".")[:2] == theirs.split(".")[:2]
        assert jose_jws.verify(token, key.public_jwk(), algorithms=["ES256"]) == jws.canonical_json(record)
        assert jws.verify_record(token, key.jwks(), typ="dpi-log+jws").claims == record
        detached = jws.sign_detached(key, jws.canonical_json(record), typ="dpi-log+jws")
        assert detached.split(".")[0] == theirs.split(".")[0] and detached.split(".")[1] == ""
        jws.verify_detached(detached, jws.canonical_json(record), key.jwks(), typ="dpi-log+jws")


class TestEncoding:
    """A JWS's header and payload are UTF-8 JSON (RFC 7515 §5.2): a validly signed token whose header or payload is
    JSON in another encoding, or carries a byte-order mark, is refused as malformed, as other JOSE libraries do."""

    @staticmethod
    def _signed(key: SigningKey, header: bytes, payload: bytes) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        signing_input = f"{b64url(header)}.{b64url(payload)}"
        r, s = decode_dss_signature(key.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    @pytest.mark.parametrize(
        "encode",
        [
            pytest.param(lambda text: text.encode("utf-16"), id="utf-16"),
            pytest.param(lambda text: text.encode("utf-32-le"), id="utf-32"),
            pytest.param(lambda text: b"\xef\xbb\xbf" + text.encode(), id="utf-8-bom"),
            pytest.param(
                lambda text: text.replace("dpi", "\udc80dpi").encode("utf-8", "surrogatepass"), id="surrogate"
            ),
        ],
    )
    def test_a_header_or_payload_not_in_utf_8_is_refused(self, key: SigningKey, encode: Any) -> None:
        header = json.dumps({"alg": "ES256", "kid": key.kid, "typ": "dpi-log+jws"}, separators=(",", ":"))
        payload = jws.canonical_json({"note": "dpi"})
        good = self._signed(key, header.encode(), payload)
        assert jws.verify_record(good, key.jwks(), typ="dpi-log+jws").claims == {"note": "dpi"}
        with pytest.raises(jws.InvalidToken, match="not JSON") as refused:
            jws.verify_record(self._signed(key, encode(header), payload), key.jwks(), typ="dpi-log+jws")
        assert refused.value.code == "malformed"
        with pytest.raises(jws.InvalidToken, match="not JSON"):
            jws.verify_record(
                self._signed(key, header.encode(), encode('{"note":"dpi"}')), key.jwks(), typ="dpi-log+jws"
            )


class TestDetachedPayload:
    """RFC 7515 Appendix F: the payload segment left empty, the verifier supplying the payload it holds."""

    def test_the_signature_is_the_attached_one_without_its_payload_and_verifies_over_the_record(
        self, key: SigningKey
    ) -> None:
        record = {"chain": "consumer", "seq": 1, "note": "één"}
        payload = jws.canonical_json(record)
        token = jws.sign_detached(key, payload, typ="dpi-log+jws")
        header, middle, signature = token.split(".")
        assert middle == ""
        assert json.loads(b64url_decode(header)) == {"alg": "ES256", "kid": key.kid, "typ": "dpi-log+jws"}
        assert len(b64url_decode(signature)) == 64
        assert jws.verify_detached(token, payload, key.jwks(), typ="dpi-log+jws").claims == record

    def test_another_payload_type_or_key_is_refused(self, key: SigningKey) -> None:
        payload = jws.canonical_json({"amount": "10.00"})
        token = jws.sign_detached(key, payload, typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="signature"):
            jws.verify_detached(token, jws.canonical_json({"amount": "99.00"}), key.jwks(), typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="signature"):
            jws.verify_detached(token, payload + b" ", key.jwks(), typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="type"):
            jws.verify_detached(token, payload, key.jwks(), typ="dpi-other+jws")
        with pytest.raises(jws.InvalidToken, match="key"):
            jws.verify_detached(token, payload, SigningKey.generate().jwks(), typ="dpi-log+jws")

    def test_a_payload_not_in_canonical_form_is_refused_even_when_signed(self, key: SigningKey) -> None:
        loose = json.dumps({"b": 1, "a": 2}).encode()
        token = jws.sign_detached(key, loose, typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="canonical"):
            jws.verify_detached(token, loose, key.jwks(), typ="dpi-log+jws")

    def test_an_attached_jws_is_not_taken_for_a_detached_one_nor_the_other_way_round(self, key: SigningKey) -> None:
        payload = jws.canonical_json({"amount": "10.00"})
        attached = jws.sign_canonical(key, payload, typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="detached"):
            jws.verify_detached(attached, payload, key.jwks(), typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="compact JWS"):
            jws.verify_record(jws.sign_detached(key, payload, typ="dpi-log+jws"), key.jwks(), typ="dpi-log+jws")
        with pytest.raises(jws.InvalidToken, match="detached"):
            jws.verify_detached("a..b.c", payload, key.jwks(), typ="dpi-log+jws")


class TestDpopProof:
    URL = "https://gw.example/v1/payments"
    MAX_AGE = timedelta(seconds=60)

    def proof(self, key: SigningKey, *, jwk: dict[str, Any] | None = None, **claims: Any) -> str:
        body = {"htm": "POST", "htu": self.URL, "iat": T, "jti": "p1", **claims}
        public = (
            jwk if jwk is not None else {k: v for k, v in key.public_jwk().items() if k in ("kty", "crv", "x", "y")}
        )
        return jws.sign_claims(
            key, {k: v for k, v in body.items() if v is not None}, typ="dpop+jwt", headers={"jwk": public}
        )

    def verify(self, proof: str, **options: Any) -> jws.DpopProof:
        return jws.verify_dpop_proof(proof, method="POST", urls=[self.URL], now=NOW, max_age=self.MAX_AGE, **options)

    def test_a_good_proof_names_its_key_thumbprint_and_jti(self, key: SigningKey) -> None:
        token = "an-access-token"
        proof = self.verify(self.proof(key, ath=jws.access_token_hash(token)), access_token=token, expected_jkt=key.kid)
        assert (proof.jkt, proof.jti, proof.issued_at) == (key.kid, "p1", NOW)  # the kid is the RFC 7638 thumbprint

    def test_htu_is_compared_without_query_fragment_default_port_or_case(self, key: SigningKey) -> None:
        assert self.verify(self.proof(key, htu="HTTPS://GW.example:443/v1/payments?x=1#f")).jti == "p1"

    def test_every_broken_promise_is_refused_with_its_reason(self, key: SigningKey) -> None:
        other = SigningKey.generate()
        for proof, options, reason in (
            ("not-a-jwt", {}, "not a JWT"),
            (self.proof(key, jwk={**key.public_jwk(), "d": "secret"}), {}, "public key of its algorithm"),
            (self.proof(key, jwk={k: v for k, v in other.public_jwk().items() if k != "kid"}), {}, "signature"),
            (self.proof(key), {"expected_jkt": other.kid}, "another key than the token is bound to"),
            (self.proof(key, htm="GET"), {}, "another method"),
            (self.proof(key, htu="https://gw.example/v1/other"), {}, "another URL"),
            (self.proof(key), {"access_token": "t"}, "ath"),
            (self.proof(key, ath=jws.access_token_hash("other")), {"access_token": "t"}, "ath"),
            (self.proof(key, iat=T - 61), {}, "iat is more than 60 s"),
            (self.proof(key, iat=T + 61), {}, "future"),
            (self.proof(key, jti=None), {}, "jti"),
            (jws.sign_claims(key, {"htm": "POST", "htu": self.URL, "iat": T, "jti": "p"}, typ="JWT"), {}, "jwk"),
        ):
            with pytest.raises(jws.InvalidToken, match=reason):
                self.verify(proof, **options)

    def test_at_hash_is_the_left_half_of_the_sha_256(self) -> None:
        digest = hashlib.sha256(b"token").digest()
        assert jws.at_hash("token") == b64url(digest[:16]) and jws.access_token_hash("token") == b64url(digest)


class TestVerify:
    POLICY = jws.TokenPolicy(typ="test+jwt", issuer="iss-1", audience="svc", leeway=timedelta(seconds=5))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        return {"iss": "iss-1", "aud": "svc", "iat": T, "exp": T + 60, "jti": "j1", **overrides}

    def test_a_good_token_passes_with_its_times(self, key: SigningKey) -> None:
        verified = jws.verify(_jwt(key, self.claims()), key.jwks(), self.POLICY, now=NOW)
        assert verified.claims["jti"] == "j1"
        assert verified.expires_at == NOW + timedelta(seconds=60)
        assert verified.issued_at == NOW
        assert verified.header["kid"] == key.kid

    @pytest.mark.parametrize("alg", ["none", "None", "HS256", "RS256", "ES512"])
    def test_the_algorithm_is_pinned_before_any_key_is_used(self, key: SigningKey, alg: str) -> None:
        header = _segment({"alg": alg, "typ": "test+jwt", "kid": key.kid})
        payload = _segment(self.claims())
        secret = json.dumps(key.public_jwk()).encode()
        signature = b64url(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        for token in (f"{header}.{payload}.", f"{header}.{payload}.{signature}"):
            with pytest.raises(jws.InvalidToken, match="ES256"):
                jws.verify(token, key.jwks(), self.POLICY, now=NOW)

    def test_type_issuer_and_audience_are_checked(self, key: SigningKey) -> None:
        cases = {
            "token type": _jwt(key, self.claims(), typ="other+jwt"),
            "issued by": _jwt(key, self.claims(iss="someone")),
            "audience": _jwt(key, self.claims(aud="another-svc")),
        }
        for reason, token in cases.items():
            with pytest.raises(jws.InvalidToken, match=reason):
                jws.verify(token, key.jwks(), self.POLICY, now=NOW)

    def test_an_audience_list_needs_one_expected_member(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims(aud=["x", "svc"]))
        assert jws.verify(token, key.jwks(), self.POLICY, now=NOW)
        policy = jws.TokenPolicy(typ="test+jwt", audience=("a", "b"))
        with pytest.raises(jws.InvalidToken, match="audience"):
            jws.verify(token, key.jwks(), policy, now=NOW)

    def test_expiry_counts_the_leeway_on_the_given_clock(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        assert jws.verify(token, key.jwks(), self.POLICY, now=NOW + timedelta(seconds=64))
        with pytest.raises(jws.InvalidToken, match="expired"):
            jws.verify(token, key.jwks(), self.POLICY, now=NOW + timedelta(seconds=65))

    def test_tokens_from_the_future_are_refused_beyond_the_leeway(self, key: SigningKey) -> None:
        for claim in ("iat", "nbf"):
            token = _jwt(key, self.claims(**{claim: T + 6}))
            with pytest.raises(jws.InvalidToken, match="future"):
                jws.verify(token, key.jwks(), self.POLICY, now=NOW)
        relaxed = jws.TokenPolicy(typ="test+jwt", future_leeway=timedelta(minutes=5))
        assert jws.verify(_jwt(key, self.claims(iat=T + 240)), key.jwks(), relaxed, now=NOW)

    def test_the_maximum_lifetime_is_enforced(self, key: SigningKey) -> None:
        policy = jws.TokenPolicy(typ="test+jwt", max_lifetime=timedelta(seconds=60))
        assert jws.verify(_jwt(key, self.claims()), key.jwks(), policy, now=NOW)
        with pytest.raises(jws.InvalidToken, match="longer than policy"):
            jws.verify(_jwt(key, self.claims(exp=T + 61)), key.jwks(), policy, now=NOW)
        with pytest.raises(jws.InvalidToken, match="too far"):
            jws.verify(_jwt(key, {"exp": T + 3600}), key.jwks(), policy, now=NOW)

    def test_required_claims_and_their_shapes(self, key: SigningKey) -> None:
        policy = jws.TokenPolicy(typ="test+jwt", required=frozenset({"exp", "iat", "jti"}))
        for claims, reason in (
            ({"exp": T + 60, "jti": "j"}, "lacks iat"),
            ({"exp": "soon", "iat": T, "jti": "j"}, "NumericDate"),
            ({"exp": True, "iat": T, "jti": "j"}, "NumericDate"),
            ({"exp": T + 60, "iat": T, "jti": ""}, "jti"),
            ({"exp": T + 60, "iat": T, "jti": "j" * 201}, "jti"),
        ):
            with pytest.raises(jws.InvalidToken, match=reason):
                jws.verify(_jwt(key, claims), key.jwks(), policy, now=NOW)

    def test_the_key_is_chosen_by_kid_and_must_fit_the_algorithm(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        other = SigningKey.generate()
        with pytest.raises(jws.InvalidToken, match="no key with id"):
            jws.verify(token, other.jwks(), self.POLICY, now=NOW)
        twice = {"keys": [key.public_jwk(), key.public_jwk()]}
        with pytest.raises(jws.InvalidToken, match="more than one"):
            jws.verify(token, twice, self.POLICY, now=NOW)
        wrong_use = {"keys": [{**key.public_jwk(), "use": "enc"}]}
        with pytest.raises(jws.InvalidToken, match="not a ES256 signing key"):
            jws.verify(token, wrong_use, self.POLICY, now=NOW)
        impostor = SigningKey(other.private_key, key.kid)
        with pytest.raises(jws.InvalidToken, match="signature"):
            jws.verify(_jwt(impostor, self.claims()), key.jwks(), self.POLICY, now=NOW)
        no_kid = jwt.encode(self.claims(), _jose_key(key), algorithm="ES256", headers={"typ": "test+jwt"})
        with pytest.raises(jws.InvalidToken, match="key id"):
            jws.verify(no_kid, key.jwks(), self.POLICY, now=NOW)

    def test_a_signature_of_the_wrong_length_is_refused(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        head, _, signature = token.rpartition(".")
        raw = b64url_decode(signature)
        for bad in (raw[:-1], raw + b"\x00", b"\x00" + raw, raw[:32]):
            with pytest.raises(jws.InvalidToken, match="signature"):
                jws.verify(f"{head}.{b64url(bad)}", key.jwks(), self.POLICY, now=NOW)

    def test_malformed_tokens_are_refused_as_such(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        header, payload, signature = token.split(".")
        crit = _jwt(key, self.claims(), crit=["exp"])
        for bad, reason in (
            ("not-a-jwt", "compact"),
            (f"{header}.{payload}", "compact"),
            (f"{header}=.{payload}.{signature}", "compact"),
            (f"{_segment({'alg': 'ES256'})[:-1]}.{payload}.{signature}", "compact|JSON"),
            (f"{b64url(b'[1]')}.{payload}.{signature}", "JSON object"),
            (crit, "critical"),
        ):
            with pytest.raises(jws.InvalidToken, match=reason):
                jws.verify(bad, key.jwks(), self.POLICY, now=NOW)

    @pytest.mark.parametrize("group", ["", "QUJD", "QUJDRA"])  # before the last group: nothing, 4 or 6 characters
    def test_a_segment_is_canonical_exactly_when_it_decodes_and_encodes_back_to_itself(self, group: str) -> None:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        for tail in ("", *alphabet, *(a + b for a in "AQgw_" for b in alphabet)):
            segment = group + tail
            if not segment:
                continue
            expected = len(segment) % 4 != 1 and b64url(b64url_decode(segment)) == segment
            assert jws._is_canonical_b64url(segment) is expected, segment
        with_padding_bits = b64url(b"\xff")[:-1] + "x"  # "_x": the low bits of the last character set
        assert not jws._is_canonical_b64url(with_padding_bits)

    def test_every_single_character_change_is_refused(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        for position, char in enumerate(token):
            replacement = "A" if char == "." else alphabet[alphabet.index(char) ^ 1]
            with pytest.raises(jws.InvalidToken):
                jws.verify(token[:position] + replacement + token[position + 1 :], key.jwks(), self.POLICY, now=NOW)

    async def test_verify_with_a_key_source_looks_the_kid_up(self, key: SigningKey) -> None:
        token = _jwt(key, self.claims())
        assert (await jws.verify_with(token, StaticJwks(key.jwks()), self.POLICY, now=NOW)).claims["jti"] == "j1"
        with pytest.raises(jws.InvalidToken, match="unknown key"):
            await jws.verify_with(token, StaticJwks({"keys": []}), self.POLICY, now=NOW)

    def test_a_naive_now_is_a_programming_error(self, key: SigningKey) -> None:
        with pytest.raises(ValueError):
            jws.verify(_jwt(key, self.claims()), key.jwks(), self.POLICY, now=NOW.replace(tzinfo=None))


class TestClientAssertion:
    ENDPOINT = "https://gw.example/oauth2/token"

    def assertion(self, private: Any, **overrides: Any) -> str:
        claims = {"iss": "rp-1", "sub": "rp-1", "aud": self.ENDPOINT, "exp": T + 60, "iat": T, "jti": "a1"}
        claims.update(overrides)
        headers = {"kid": overrides.pop("kid", "k1")} if "no_kid" not in overrides else {}
        claims.pop("no_kid", None)
        alg = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, jose_jwk.construct(_pem(private), alg), algorithm=alg, headers=headers)

    async def verify(self, token: str, keys: list[dict[str, Any]], guard: Any = None) -> dict[str, Any]:
        return await jws.verify_client_assertion(
            token,
            client_id="rp-1",
            keys=keys,
            audiences=[self.ENDPOINT],
            now=NOW,
            max_lifetime=timedelta(minutes=5),
            replay_guard=guard or MemoryReplayGuard(FrozenClock(NOW)),
        )

    async def test_a_good_assertion_passes_once(self, key: SigningKey) -> None:
        keys = [{**key.public_jwk(), "kid": "k1"}]
        guard = MemoryReplayGuard(FrozenClock(NOW))
        token = self.assertion(key.private_key)
        assert (await self.verify(token, keys, guard))["jti"] == "a1"
        with pytest.raises(jws.InvalidToken, match="replay"):
            await self.verify(token, keys, guard)

    async def test_rs256_and_assertions_without_kid_try_the_fitting_keys(self) -> None:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = jose_jwk.construct(_pem(private.public_key()), "RS256").to_dict()
        assert jws.check_public_jwk(public) is None
        other = SigningKey.generate().public_jwk()
        assert (await self.verify(self.assertion(private, no_kid=True), [other, public]))["sub"] == "rp-1"

    async def test_wrong_subject_audience_lifetime_or_expiry_is_refused(self, key: SigningKey) -> None:
        keys = [{**key.public_jwk(), "kid": "k1"}]
        for overrides, reason in (
            ({"sub": "rp-2"}, "iss = sub"),
            ({"iss": "rp-2"}, "issued by"),
            ({"aud": "https://elsewhere.example/token"}, "audience"),
            ({"exp": T + 86_400}, "longer than policy|too far"),
            ({"iat": T - 600, "exp": T - 300}, "expired"),
            ({"jti": None}, "jti"),
        ):
            token = self.assertion(key.private_key, **overrides)
            with pytest.raises(jws.InvalidToken, match=reason):
                await self.verify(token, keys)

    def test_only_public_signing_keys_of_the_accepted_kinds_register(self, key: SigningKey) -> None:
        assert jws.check_public_jwk(key.public_jwk()) is None
        assert "private" in str(jws.check_public_jwk({**key.public_jwk(), "d": "secret"}))
        assert "P-256" in str(jws.check_public_jwk({**key.public_jwk(), "crv": "P-384"}))
        assert "use=sig" in str(jws.check_public_jwk({**key.public_jwk(), "use": "enc"}))
        assert "EC (P-256) or RSA" in str(jws.check_public_jwk({"kty": "OKP", "crv": "Ed25519", "x": "AA"}))


def _pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
