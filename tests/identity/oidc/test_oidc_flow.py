"""The OIDC provider driven end to end by a real OAuth client library (authlib): authorize with PKCE S256, OTP
sign-in, 303 with the code, token with private_key_jwt, ID token checked against the published JWKS, userinfo."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.identity.access_helpers import enrolled, latest_otp
from tests.identity.identity_helpers import SUBJECT, events
from tests.identity.oidc_helpers import LOCAL, discovery, gateway_hook, local, register, via_gateway


async def test_a_citizen_signs_in_to_a_relying_party_with_authlib(api, clock) -> None:
    clock.set(datetime.now(UTC))  # authlib stamps its client assertion with the wall clock
    person = await enrolled(api)
    config = await discovery(api)
    issuer = config["issuer"]
    rp = await register(api, "rp-bank")

    relying_party = AsyncOAuth2Client(
        client_id=rp.client_id,
        client_secret=rp.key,
        token_endpoint_auth_method="private_key_jwt",
        scope="openid profile birthdate",
        redirect_uri=rp.redirect_uri,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=api.svc.app),
        base_url=LOCAL,
        event_hooks={"request": [gateway_hook(api, client_id=rp.client_id, roles=("relying_party",))]},
    )
    relying_party.register_client_auth_method(
        PrivateKeyJWT(config["token_endpoint"], alg="ES256", headers={"kid": rp.kid})
    )
    async with relying_party, via_gateway(api, client_id="citizen-app", roles=SUBJECT) as browser:
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(12)
        url, state = relying_party.create_authorization_url(
            config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )

        # The citizen's app: the login transaction, an OTP to their VID, completion with the code from their phone.
        transaction = await browser.get(local(url, issuer))
        assert transaction.status_code == 200, transaction.text
        login = transaction.json()
        assert login["client_name"] == "Sandbox rp-bank"
        assert [s["scope"] for s in login["scopes"]] == ["openid", "profile", "birthdate"]
        assert login["otp_endpoint"].startswith(issuer + "/v1/oidc/transactions/")
        assert (await browser.post(login["otp_endpoint"], json={"login_hint": person.vid})).status_code == 202
        done = await browser.post(login["complete_endpoint"], json={"otp": await latest_otp(api, person.sub)})
        assert done.status_code == 303, done.text
        location = done.headers["location"]
        assert location.startswith(rp.redirect_uri + "?")
        returned = parse_qs(urlsplit(location).query)
        assert returned["state"] == [state] and returned["iss"] == [issuer]

        # The relying party's back end: the code for tokens, authenticated with private_key_jwt.
        token = await relying_party.fetch_token(
            local(config["token_endpoint"], issuer), authorization_response=location, code_verifier=verifier
        )
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 600
        assert token["scope"] == "openid profile birthdate"

        # The ID token verifies with the JWKS the service publishes, and names the person only pairwise.
        jwks = KeySet.import_key_set((await api.svc.client.get(local(config["jwks_uri"], issuer))).json())
        id_token = jwt.decode(token["id_token"], jwks, algorithms=["ES256"])
        claims = id_token.claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": rp.client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
            auth_time={"essential": True},
        ).validate(claims)
        assert id_token.header["alg"] == "ES256"
        assert claims["sub"].startswith("tok_")
        assert claims["sub"] not in (person.uin, person.sub, person.vid)
        assert claims["acr"] == "urn:dpi-sandbox:acr:otp" and claims["amr"] == ["otp"]
        assert state not in token["id_token"]

        # userinfo with the access token as a Bearer token; the gateway assertion travels in its own header.
        userinfo = await relying_party.get("/v1/oidc/userinfo")
        assert userinfo.status_code == 200, userinfo.text
        record = await api.person(person.person_id)
        assert userinfo.json() == {
            "sub": claims["sub"],
            "name": f"{record['given_name']} {record['family_name']}",
            "birthdate": record["date_of_birth"],
        }

    history = await api.as_subject(person.sub, "GET", "/v1/me/auth-history")
    operations = [(e["operation"], e["factor"], e["relying_party"]) for e in history.json()["items"]]
    assert operations == [("userinfo", "access_token", "rp-bank"), ("oidc_login", "otp", "rp-bank")]
    assert [e["payload"]["operation"] for e in await events(api.svc, "identity.authn.succeeded")] == ["oidc_login"]
