"""Every row of the authentication matrix (gateway/auth/matrix.py), sent over HTTP: the gateway answers each as the
table says, on the gateway's own client registry (`GET /clients`, oversight) or a money-moving service route behind
the proxy (`GET /payments/v1/caller`, the payments caller echo: no payment route declared yet) as the row needs; and
the docs page shows the table as it is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gateway.auth.clients.models import ClientKind
from gateway.auth.matrix import AUTH_CASES, DOCS_PAGE, AuthCase, render
from services.common import jws
from services.common.keys import SigningKey
from tests.gateway.auth.auth_helpers import PUBLIC_URL, GatewayUnderTest

GATEWAY_ROUTE = "/clients"
MONEY_ROUTE = "/payments/v1/caller"
Sender = Callable[[GatewayUnderTest], Awaitable[httpx.Response]]


async def _oversight(gw: GatewayUnderTest) -> Any:
    return await gw.register("data-authority", ClientKind.oversight, roles=["oversight"], scopes=["clients"])


async def _bank(gw: GatewayUnderTest) -> Any:
    return await gw.register("first-bank", ClientKind.fsp, roles=["fsp"], scopes=["payments"])


async def valid(gw: GatewayUnderTest) -> httpx.Response:
    org = await _oversight(gw)
    return await gw.call(org, "GET", GATEWAY_ROUTE, await gw.access_token(org))


async def no_token(gw: GatewayUnderTest) -> httpx.Response:
    assert (await gw.http.get(MONEY_ROUTE)).status_code == 401
    return await gw.http.get(GATEWAY_ROUTE)


async def expired(gw: GatewayUnderTest) -> httpx.Response:
    org = await _oversight(gw)
    token = await gw.access_token(org)
    gw.clock.advance(timedelta(seconds=gw.settings.access_token_ttl_seconds + 6))
    return await gw.call(org, "GET", GATEWAY_ROUTE, token)


async def other_audience(gw: GatewayUnderTest) -> httpx.Response:
    org = await _oversight(gw)
    now = int(gw.clock.now().timestamp())
    claims = {
        "iss": PUBLIC_URL,
        "aud": "https://elsewhere.example",
        "sub": org.client_id,
        "client_id": org.client_id,
        "iat": now,
        "exp": now + 60,
        "jti": "x",
        "scope": "clients",
    }
    return await gw.call(org, "GET", GATEWAY_ROUTE, jws.sign_claims(gw.app.state.signing_key, claims, typ="at+jwt"))


async def other_key(gw: GatewayUnderTest) -> httpx.Response:
    org = await _oversight(gw)
    from jose import jwt

    claims = jwt.get_unverified_claims(await gw.access_token(org))
    return await gw.call(org, "GET", GATEWAY_ROUTE, jws.sign_claims(SigningKey.generate(), claims, typ="at+jwt"))


async def replayed_assertion(gw: GatewayUnderTest) -> httpx.Response:
    org = await _oversight(gw)
    assertion = org.assertion()
    assert (await gw.token(org, assertion=assertion)).status_code == 200
    return await gw.token(org, assertion=assertion)


async def unapproved(gw: GatewayUnderTest) -> httpx.Response:
    org = await gw.register("new-authority", ClientKind.oversight, roles=["oversight"], approve=False)
    return await gw.token(org)


async def dpop_as_bearer(gw: GatewayUnderTest) -> httpx.Response:
    bank = await _bank(gw)
    return await gw.call(bank, "GET", MONEY_ROUTE, await gw.access_token(bank, dpop=True))


async def dpop_missing(gw: GatewayUnderTest) -> httpx.Response:
    bank = await _bank(gw)
    token = await gw.access_token(bank, dpop=True)
    return await gw.http.get(MONEY_ROUTE, headers={"Authorization": f"DPoP {token}"})


async def dpop_other_url(gw: GatewayUnderTest) -> httpx.Response:
    bank = await _bank(gw)
    token = await gw.access_token(bank, dpop=True)
    proof = bank.dpop_proof("GET", PUBLIC_URL + "/payments/v1/elsewhere", access_token=token)
    return await gw.http.get(MONEY_ROUTE, headers={"Authorization": f"DPoP {token}", "DPoP": proof})


async def dpop_replayed(gw: GatewayUnderTest) -> httpx.Response:
    bank = await _bank(gw)
    token = await gw.access_token(bank, dpop=True)
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": bank.dpop_proof("GET", PUBLIC_URL + MONEY_ROUTE, access_token=token),
    }
    assert (await gw.http.get(MONEY_ROUTE, headers=headers)).status_code == 200, "the first use is admitted"
    return await gw.http.get(MONEY_ROUTE, headers=headers)


async def suspended(gw: GatewayUnderTest) -> httpx.Response:
    authority = await _oversight(gw)
    agency = await gw.register("social-agency", scopes=["payments"])
    token = await gw.access_token(agency)
    assert (await gw.call(agency, "GET", MONEY_ROUTE, token)).status_code == 200
    change = await gw.call(
        authority, "POST", "/clients/social-agency/suspend", await gw.access_token(authority), json={}
    )
    assert change.status_code == 200, change.text
    return await gw.call(agency, "GET", MONEY_ROUTE, token)


async def missing_role(gw: GatewayUnderTest) -> httpx.Response:
    agency = await gw.register("social-agency", scopes=["clients"])
    return await gw.call(agency, "GET", GATEWAY_ROUTE, await gw.access_token(agency))


SENDERS: dict[str, Sender] = {
    "valid": valid,
    "no_token": no_token,
    "expired": expired,
    "other_audience": other_audience,
    "other_key": other_key,
    "replayed_assertion": replayed_assertion,
    "unapproved": unapproved,
    "dpop_as_bearer": dpop_as_bearer,
    "dpop_missing": dpop_missing,
    "dpop_other_url": dpop_other_url,
    "dpop_replayed": dpop_replayed,
    "suspended": suspended,
    "missing_role": missing_role,
}


def test_every_row_has_a_request_and_the_docs_page_shows_the_table():
    assert set(SENDERS) == {case.id for case in AUTH_CASES}
    page = DOCS_PAGE.read_text()
    assert render(page) == page, "docs/services/gateway.md is stale: run python -m gateway.auth.matrix --write"


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.parametrize("case", AUTH_CASES, ids=[case.id for case in AUTH_CASES])
async def test_the_gateway_answers_each_row_as_the_table_says(make_gateway, case: AuthCase):
    gw = await make_gateway(services=("payments",), client_cache_seconds=0)
    response = await SENDERS[case.id](gw)
    assert response.status_code == case.status, response.text
    if case.code == "-":
        return
    body = response.json()
    if case.where == "token":
        assert body["error"] == case.code and response.headers["cache-control"] == "no-store"
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert body["code"] == case.code and body["grievance"]["href"]
        if case.status == 401:
            assert response.headers["www-authenticate"]
        if case.status == 403:
            assert body["rule_id"] == "SG-SEC-1"
