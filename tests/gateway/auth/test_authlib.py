"""A real OAuth 2.0 client library (authlib) against the gateway: client credentials with private_key_jwt, then a
protected route; and a second client whose DPoP-bound token reaches a money-moving route. No payment route is on
main yet, so the money-moving route is the payments service's caller echo behind the gateway,
`/payments/v1/caller`."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # AuthlibDeprecationWarning: authlib prefers httpx2; it works with httpx
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey

from gateway.auth.clients.models import ClientKind
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.auth.clients.service import registry
from tests.gateway.auth.auth_helpers import ASSESSED, PUBLIC_URL, TOKEN_URL, Organisation


async def _register(gw, client_id: str, kind: ClientKind, **spec: object) -> ECKey:  # type: ignore[no-untyped-def]
    key = ECKey.generate_key("P-256")
    public = {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": "ES256", "use": "sig"}
    body = ClientCreate(client_id=client_id, name=client_id, kind=kind, jwks=Jwks(keys=[public]), **spec)  # type: ignore[arg-type]
    async with gw.app.state.sessionmaker() as session, session.begin():
        await registry.register(session, body, registered_by="test", now=gw.clock.now(), jwks_uri_allowlist=[])
        await registry.approve(session, client_id, approved_by="test", now=gw.clock.now())
    return key


def _oauth_client(gw, client_id: str, key: ECKey) -> AsyncOAuth2Client:  # type: ignore[no-untyped-def]
    client = AsyncOAuth2Client(
        client_id=client_id,
        client_secret=key,
        token_endpoint_auth_method="private_key_jwt",
        transport=httpx.ASGITransport(app=gw.app),
        base_url=PUBLIC_URL,
    )
    client.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg="ES256", headers={"kid": key.thumbprint()}))
    return client


@pytest.mark.rule("SG-SEC-1")
async def test_authlib_gets_a_client_credentials_token_with_private_key_jwt_and_calls_a_protected_route(
    make_gateway, clock
):
    clock.set(datetime.now(UTC))  # authlib stamps its assertions with the wall clock
    gw = await make_gateway(services=("payments",))
    key = await _register(gw, "data-authority", ClientKind.oversight, roles=["oversight"], scopes=["clients"])
    async with _oauth_client(gw, "data-authority", key) as client:
        token = await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and token["scope"] == "clients"
        response = await client.get("/clients")
        assert response.status_code == 200, response.text
        assert [c["client_id"] for c in response.json()["items"]] == ["data-authority"]
        # authlib makes a fresh assertion each time; the same one again would be refused
        assert (await client.fetch_token(TOKEN_URL, grant_type="client_credentials"))["access_token"]


@pytest.mark.rule("SG-SEC-1")
async def test_authlib_gets_a_dpop_bound_token_and_calls_a_money_moving_route(make_gateway, clock):
    clock.set(datetime.now(UTC))
    gw = await make_gateway(services=("payments",))
    key = await _register(gw, "first-bank", ClientKind.fsp, roles=["fsp"], scopes=["payments"], **ASSESSED)
    prover = Organisation("first-bank", key=None, clock=clock)  # type: ignore[arg-type]  # only its DPoP key is used
    async with _oauth_client(gw, "first-bank", key) as client:
        with pytest.raises(Exception, match="invalid_dpop_proof"):  # an FSP's token must be DPoP-bound
            await client.fetch_token(TOKEN_URL, grant_type="client_credentials")
        token = await client.fetch_token(
            TOKEN_URL, grant_type="client_credentials", headers={"DPoP": prover.dpop_proof("POST", TOKEN_URL)}
        )
        assert token["token_type"] == "DPoP"
        access = token["access_token"]
        url = PUBLIC_URL + "/payments/v1/caller"
        headers = {"Authorization": f"DPoP {access}", "DPoP": prover.dpop_proof("GET", url, access_token=access)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gw.app), base_url=PUBLIC_URL) as http:
        response = await http.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["client_id"] == "first-bank"
        bearer = await http.get(url, headers={"Authorization": f"Bearer {access}"})
        assert bearer.status_code == 401, "a DPoP-bound token is useless without the key that proves it"
