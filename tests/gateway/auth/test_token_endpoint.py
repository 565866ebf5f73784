"""POST /oauth2/token: client credentials with private_key_jwt (RFC 7523), as an OAuth client sees it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from jose import jwt

from gateway.auth.clients.models import ClientKind
from services.common.keys import SigningKey
from tests.gateway.auth.auth_helpers import PUBLIC_URL, TOKEN_URL


@pytest.fixture
async def gw(make_gateway):  # type: ignore[no-untyped-def]
    return await make_gateway()


async def test_an_approved_client_gets_a_short_lived_es256_token_signed_by_the_published_key(gw):
    org = await gw.register("social-agency", scopes=["identity", "consent"])
    response = await gw.token(org)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "identity consent"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
    jwks = (await gw.http.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        body["access_token"], key, algorithms=["ES256"], audience=PUBLIC_URL, options={"verify_exp": False}
    )
    assert claims["iss"] == PUBLIC_URL and claims["client_id"] == claims["sub"] == "social-agency"
    assert claims["exp"] - claims["iat"] == 300 and "cnf" not in claims


async def test_a_requested_scope_narrows_the_token_and_an_ungranted_one_is_invalid_scope(gw):
    org = await gw.register("social-agency", scopes=["identity", "consent"])
    narrowed = await gw.token(org, scope="consent")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "consent"
    refused = await gw.token(org, scope="consent payments")
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_scope",
        "error_description": "scopes not granted to this client: payments",
    }


@pytest.mark.rule("SG-SEC-1")
async def test_a_replayed_client_assertion_is_invalid_client(gw):
    org = await gw.register("social-agency")
    assertion = org.assertion()
    assert (await gw.token(org, assertion=assertion)).status_code == 200
    replay = await gw.token(org, assertion=assertion)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert "replay" in replay.json()["error_description"]


@pytest.mark.rule("SG-SEC-1")
async def test_a_client_assertion_replayed_in_parallel_is_accepted_exactly_once(gw):
    org = await gw.register("social-agency")
    assertion = org.assertion()
    responses = await asyncio.gather(*(gw.token(org, assertion=assertion) for _ in range(30)))
    assert sorted(r.status_code for r in responses) == [200] + [401] * 29


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": PUBLIC_URL + "/identity/v1/oidc/token"}, "aud"),
        ({"aud": None}, "aud"),
        ({"exp": None}, "exp"),
        ({"jti": None}, "jti"),
        ({"sub": "someone-else"}, "iss = sub"),
    ],
)
async def test_an_assertion_with_wrong_claims_is_invalid_client(gw, overrides, reason):
    org = await gw.register("social-agency")
    response = await gw.token(org, assertion=org.assertion(**overrides))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client" and reason in response.json()["error_description"]


async def test_the_issuer_is_accepted_as_audience_as_fapi_2_asks(gw):
    org = await gw.register("social-agency")
    assert (await gw.token(org, assertion=org.assertion(aud=PUBLIC_URL))).status_code == 200


@pytest.mark.rule("SG-SEC-1")
async def test_an_expired_assertion_or_one_from_another_key_is_invalid_client(gw, clock):
    org = await gw.register("social-agency")
    old = org.assertion()
    clock.advance(timedelta(minutes=2))
    assert (await gw.token(org, assertion=old)).json()["error_description"] == "client_assertion has expired"
    org.key = SigningKey.generate()
    forged = await gw.token(org)
    assert forged.status_code == 401 and "not signed by a key registered" in forged.json()["error_description"]


@pytest.mark.rule("SG-SEC-1")
async def test_algorithm_confusion_is_refused_before_any_key_is_used(gw):
    org = await gw.register("social-agency")
    claims = jwt.get_unverified_claims(org.assertion())
    for token in (jwt.encode(claims, "secret", algorithm="HS256"), _unsigned(claims)):
        response = await gw.token(org, assertion=token)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def _unsigned(claims: dict) -> str:  # type: ignore[type-arg]
    import base64
    import json

    def part(value: dict) -> str:  # type: ignore[type-arg]
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.rule("SG-SEC-1")
async def test_unknown_pending_and_suspended_clients_get_no_token(gw):
    pending = await gw.register("new-agency", approve=False)
    response = await gw.token(pending)
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("the client is pending")
    stranger = await gw.register("other-agency")
    stranger.client_id = "never-registered"
    assert (await gw.token(stranger)).json() == {"error": "invalid_client", "error_description": "unknown client"}


async def test_malformed_requests_get_rfc_6749_errors_never_a_5xx(gw):
    org = await gw.register("social-agency")
    cases = [
        ({"content": b"{}", "headers": {"content-type": "application/json"}}, 400, "invalid_request"),
        (
            {"content": b"grant_type=a&grant_type=b", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            400,
            "invalid_request",
        ),
        ({"data": {"grant_type": "client_credentials"}}, 401, "invalid_client"),
        ({"data": {**org.token_form(), "grant_type": "password"}}, 400, "unsupported_grant_type"),
        ({"data": {**org.token_form(), "client_id": "someone-else"}}, 401, "invalid_client"),
        ({"data": {**org.token_form(), "client_assertion": "not.a.jwt"}}, 401, "invalid_client"),
        ({"data": {**org.token_form(), "scope": "x\x00"}}, 400, "invalid_request"),
        (
            {"content": b"a=" + b"x" * 20_000, "headers": {"content-type": "application/x-www-form-urlencoded"}},
            400,
            "invalid_request",
        ),
    ]
    for kwargs, status, error in cases:
        response = await gw.http.post("/oauth2/token", **kwargs)
        assert (response.status_code, response.json()["error"]) == (status, error), kwargs


async def test_authorization_server_metadata_names_the_token_endpoint_and_methods(gw):
    metadata = (await gw.http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == PUBLIC_URL
    assert metadata["token_endpoint"] == TOKEN_URL
    assert metadata["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "ES256" in metadata["dpop_signing_alg_values_supported"]
    assert (await gw.http.get("/.well-known/jwks.json")).status_code == 200


@pytest.mark.rule("SG-SEC-1")
async def test_the_token_endpoint_is_rate_limited_per_client_with_retry_after(make_gateway):
    gw = await make_gateway(rate_limit_routes={"/oauth2/token": 2})
    org = await gw.register("social-agency")
    other = await gw.register("other-agency")
    assert [(await gw.token(org)).status_code for _ in range(3)] == [200, 200, 429]
    limited = await gw.token(org)
    assert limited.json()["error"] == "temporarily_unavailable" and int(limited.headers["retry-after"]) > 0
    assert (await gw.token(other)).status_code == 200, "each client has its own budget"


async def test_money_moving_clients_are_always_dpop_bound(gw):
    bank = await gw.register("first-bank", ClientKind.fsp, roles=["fsp"], scopes=["payments"])
    without = await gw.token(bank)
    assert without.status_code == 400 and without.json()["error"] == "invalid_dpop_proof"
    bound = await gw.token(bank, dpop=True)
    assert bound.status_code == 200 and bound.json()["token_type"] == "DPoP"
    claims = jwt.get_unverified_claims(bound.json()["access_token"])
    from services.common.keys import jwk_thumbprint

    assert claims["cnf"]["jkt"] == jwk_thumbprint(bank.dpop_key.public_jwk())
