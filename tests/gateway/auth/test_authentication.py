"""The authentication columns of the authorisation matrix, over HTTP against protected routes: the gateway's own
client registry (`GET /clients`, oversight) and a money-moving service behind the proxy (`/payments/v1/caller`,
the payments service's caller echo: no payment route exists on main yet)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

from gateway.auth.clients.models import ClientKind
from services.common import jws
from services.common.keys import SigningKey
from tests.gateway.auth.auth_helpers import PUBLIC_URL

PROTECTED = "/clients"
MONEY = "/payments/v1/caller"


@pytest.fixture
async def gw(make_gateway):  # type: ignore[no-untyped-def]
    return await make_gateway(services=("payments",))


@pytest.fixture
async def oversight(gw):  # type: ignore[no-untyped-def]
    return await gw.register("data-authority", ClientKind.oversight, roles=["oversight"], scopes=["clients"])


@pytest.fixture
async def bank(gw):  # type: ignore[no-untyped-def]
    return await gw.register("first-bank", ClientKind.fsp, roles=["fsp"], scopes=["payments"])


def _problem(response, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["grievance"]["href"]
    return body  # type: ignore[no-any-return]


@pytest.mark.rule("SG-SEC-1")
async def test_a_valid_token_reaches_the_protected_route(gw, oversight):
    token = await gw.access_token(oversight)
    response = await gw.call(oversight, "GET", PROTECTED, token)
    assert response.status_code == 200
    assert "data-authority" in [c["client_id"] for c in response.json()["items"]]


@pytest.mark.rule("SG-SEC-1")
async def test_no_token_is_401_with_a_challenge_for_both_schemes(gw):
    for path in (PROTECTED, MONEY):
        response = await gw.http.get(path)
        body = _problem(response, 401)
        assert body["code"] == "gateway.credentials_missing"
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="dpi-sandbox"') and 'DPoP realm="dpi-sandbox", algs=' in challenge
        assert "error=" not in challenge, "RFC 6750 section 3.1: no error code when no credentials were sent"


@pytest.mark.rule("SG-SEC-1")
async def test_an_expired_token_is_401_invalid_token(gw, oversight, clock):
    token = await gw.access_token(oversight)
    clock.advance(timedelta(seconds=300 + 6))  # past exp and the 5 s leeway
    response = await gw.call(oversight, "GET", PROTECTED, token)
    assert _problem(response, 401)["code"] == "gateway.invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_token_for_another_audience_is_401(gw, oversight):
    forged = jws.sign_claims(
        gw.app.state.signing_key,
        {"iss": PUBLIC_URL, "aud": "http://elsewhere", "client_id": oversight.client_id, "sub": oversight.client_id,
         "iat": int(gw.clock.now().timestamp()), "exp": int(gw.clock.now().timestamp()) + 60, "scope": "clients"},
        typ="at+jwt",
    )  # fmt: skip
    assert _problem(await gw.call(oversight, "GET", PROTECTED, forged), 401)["code"] == "gateway.invalid_token"


@pytest.mark.rule("SG-SEC-1")
async def test_a_token_signed_by_another_key_or_with_another_algorithm_is_401(gw, oversight):
    token = await gw.access_token(oversight)
    from jose import jwt

    claims = jwt.get_unverified_claims(token)
    for forged in (
        jws.sign_claims(SigningKey.generate(), claims, typ="at+jwt"),
        jwt.encode(claims, "secret", algorithm="HS256", headers={"typ": "at+jwt"}),
        "not-a-jwt",
    ):
        assert _problem(await gw.call(oversight, "GET", PROTECTED, forged), 401)["code"] == "gateway.invalid_token"


@pytest.mark.rule("SG-SEC-1")
async def test_a_replayed_client_assertion_gets_no_token_and_so_no_access(gw, oversight):
    assertion = oversight.assertion()
    assert (await gw.token(oversight, assertion=assertion)).status_code == 200
    replay = await gw.token(oversight, assertion=assertion)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"


@pytest.mark.rule("SG-SEC-1")
async def test_a_dpop_bound_token_reaches_the_money_moving_route_with_a_proof(gw, bank):
    token = await gw.access_token(bank, dpop=True)
    response = await gw.call(bank, "GET", MONEY, token, dpop=True)
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == "first-bank" and response.json()["roles"] == ["fsp"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_dpop_bound_token_without_a_proof_is_401(gw, bank):
    token = await gw.access_token(bank, dpop=True)
    as_bearer = await gw.call(bank, "GET", MONEY, token)
    assert _problem(as_bearer, 401)["code"] == "gateway.invalid_token"
    assert (
        'DPoP realm="dpi-sandbox", algs="ES256 RS256", error="invalid_token"' in as_bearer.headers["www-authenticate"]
    )
    no_proof = await gw.http.get(MONEY, headers={"Authorization": f"DPoP {token}"})
    assert _problem(no_proof, 401)["code"] == "gateway.invalid_dpop_proof"
    assert 'error="invalid_dpop_proof"' in no_proof.headers["www-authenticate"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_dpop_proof_names_the_url_as_sent_even_when_its_path_holds_escaped_characters(gw, bank):
    """A path parameter with `#`, `?`, a backslash or a space travels percent-encoded; the client signs that URL
    (RFC 9449 §4.2), and the gateway takes it (the fuzz through the gateway found such calls refused with 401)."""
    token = await gw.access_token(bank, dpop=True)
    path = "/payments/v1/transfers/" + quote("tr#1?x\\y z", safe="")
    proof = bank.dpop_proof("GET", PUBLIC_URL + path, access_token=token)
    response = await gw.http.get(path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code != 401, response.text


@pytest.mark.rule("SG-SEC-1")
async def test_a_dpop_proof_for_another_url_or_method_is_401(gw, bank):
    token = await gw.access_token(bank, dpop=True)
    for proof in (
        bank.dpop_proof("GET", PUBLIC_URL + "/payments/v1/other", access_token=token),
        bank.dpop_proof("POST", PUBLIC_URL + MONEY, access_token=token),
        bank.dpop_proof("GET", "http://evil.test" + MONEY, access_token=token),
    ):
        response = await gw.http.get(MONEY, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
        assert _problem(response, 401)["code"] == "gateway.invalid_dpop_proof"


@pytest.mark.rule("SG-SEC-1")
async def test_a_dpop_proof_replayed_signed_by_another_key_or_for_another_token_is_401(gw, bank):
    token = await gw.access_token(bank, dpop=True)
    proof = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert (await gw.http.get(MONEY, headers=headers)).status_code == 200
    replay = await gw.http.get(MONEY, headers=headers)
    assert "already used" in _problem(replay, 401)["detail"]
    stolen = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token=token, key=SigningKey.generate())
    response = await gw.http.get(MONEY, headers={"Authorization": f"DPoP {token}", "DPoP": stolen})
    assert "another key" in _problem(response, 401)["detail"]
    other_token = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token="something-else")
    response = await gw.http.get(MONEY, headers={"Authorization": f"DPoP {token}", "DPoP": other_token})
    assert "ath" in _problem(response, 401)["detail"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_stale_dpop_proof_is_401(gw, bank, clock):
    token = await gw.access_token(bank, dpop=True)
    proof = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token=token)
    clock.advance(timedelta(seconds=61))
    response = await gw.http.get(MONEY, headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert "iat" in _problem(response, 401)["detail"]


@pytest.mark.rule("SG-SEC-1")
async def test_with_nonces_required_the_server_hands_out_a_nonce_and_accepts_it(make_gateway):
    gw = await make_gateway(services=("payments",), dpop_nonce_required=True)
    bank = await gw.register("first-bank", ClientKind.fsp, roles=["fsp"], scopes=["payments"])
    first = await gw.token(bank, dpop=True)
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    proof = bank.dpop_proof("POST", PUBLIC_URL + "/oauth2/token", nonce=nonce)
    issued = await gw.http.post("/oauth2/token", data=bank.token_form(), headers={"DPoP": proof})
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    headers = {"Authorization": f"DPoP {token}"}
    without = await gw.http.get(MONEY, headers={**headers, "DPoP": bank.dpop_proof("GET", PUBLIC_URL + MONEY,
                                                                                   access_token=token)})  # fmt: skip
    assert _problem(without, 401)["code"] == "gateway.use_dpop_nonce"
    assert 'error="use_dpop_nonce"' in without.headers["www-authenticate"]
    nonce = without.headers["dpop-nonce"]
    proof = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token=token, nonce=nonce)
    assert (await gw.http.get(MONEY, headers={**headers, "DPoP": proof})).status_code == 200
    forged = bank.dpop_proof("GET", PUBLIC_URL + MONEY, access_token=token, nonce="0.forged")
    assert _problem(await gw.http.get(MONEY, headers={**headers, "DPoP": forged}), 401)["code"] == (
        "gateway.use_dpop_nonce"
    )


@pytest.mark.rule("SG-SEC-1")
async def test_a_suspended_clients_live_token_is_refused_with_sg_sec_1(make_gateway):
    gw = await make_gateway(services=("payments",), client_cache_seconds=0)
    oversight = await gw.register("data-authority", ClientKind.oversight, roles=["oversight"], scopes=["clients"])
    agency = await gw.register("social-agency", scopes=["identity"])
    token = await gw.access_token(agency)
    assert (await gw.call(agency, "GET", "/payments/v1/caller", token)).status_code == 200
    authority = await gw.access_token(oversight)
    suspended = await gw.call(oversight, "POST", "/clients/social-agency/suspend", authority, json={"reason": "audit"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    body = _problem(await gw.call(agency, "GET", "/payments/v1/caller", token), 403)
    assert body["rule_id"] == "SG-SEC-1"


@pytest.mark.rule("SG-SEC-1")
async def test_a_missing_role_is_403_sg_sec_1(gw):
    agency = await gw.register("social-agency", scopes=["identity"])
    token = await gw.access_token(agency)
    body = _problem(await gw.call(agency, "GET", PROTECTED, token), 403)
    assert body["rule_id"] == "SG-SEC-1" and "oversight" in body["detail"]


@pytest.mark.rule("SG-SEC-1")
async def test_requests_over_the_per_client_limit_get_429_with_retry_after(make_gateway, clock):
    gw = await make_gateway(services=("payments",), rate_limit_per_client=3, rate_limit_routes={})
    agency = await gw.register("social-agency")
    token = await gw.access_token(agency)  # the token request counts too
    statuses = [(await gw.call(agency, "GET", MONEY, token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = await gw.call(agency, "GET", MONEY, token)
    body = _problem(limited, 429)
    assert body["code"] == "gateway.rate_limited" and int(limited.headers["retry-after"]) > 0
    clock.advance(timedelta(seconds=int(limited.headers["retry-after"])))
    assert (await gw.call(agency, "GET", MONEY, token)).status_code == 200, "a new window, a new budget"
