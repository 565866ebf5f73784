"""What the OIDC provider refuses, and how: RFC 6749 errors at authorize and token, invalid tokens at userinfo."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from services.common.keys import b64url
from tests.identity.access_helpers import enrolled, latest_otp
from tests.identity.oidc_helpers import (
    authorize_params,
    client_assertion,
    discovery,
    register,
    sign_in,
    token_request,
    via_gateway,
)


@pytest.fixture
async def setting(api, clock):
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return await discovery(api), await register(api, "rp-bank"), await enrolled(api)


async def _authorize(api, params):
    async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
        return await browser.get("/v1/oidc/authorize", params=params)


class TestAuthorize:
    async def test_an_unregistered_redirect_uri_is_a_problem_and_never_a_redirect(self, api, setting) -> None:
        _, rp, _ = setting
        params = authorize_params(rp, secrets.token_urlsafe(48), redirect_uri="https://evil.example/callback")
        response = await _authorize(api, params)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "identity.oidc.redirect_uri_not_registered"

    async def test_a_prefix_of_a_registered_redirect_uri_is_not_a_match(self, api, setting) -> None:
        _, rp, _ = setting
        params = authorize_params(rp, secrets.token_urlsafe(48), redirect_uri=rp.redirect_uri + "/../x")
        assert (await _authorize(api, params)).status_code == 400

    async def test_an_unknown_client_is_a_problem_and_never_a_redirect(self, api, setting) -> None:
        _, rp, _ = setting
        response = await _authorize(api, authorize_params(rp, secrets.token_urlsafe(48), client_id="rp-unknown"))
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.json()["code"] == "identity.oidc.unknown_client"

    @pytest.mark.parametrize(
        ("overrides", "error"),
        [
            ({"code_challenge_method": "plain"}, "invalid_request"),
            ({"code_challenge_method": None}, "invalid_request"),  # RFC 7636 would default to plain
            ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
            ({"code_challenge": "too-short"}, "invalid_request"),
            ({"scope": "profile"}, "invalid_scope"),
            ({"scope": "openid address religion"}, "invalid_scope"),
            ({"response_type": "token"}, "unsupported_response_type"),
        ],
    )
    async def test_other_errors_redirect_to_the_client(self, api, setting, overrides, error) -> None:
        config, rp, _ = setting
        params = authorize_params(rp, secrets.token_urlsafe(48), **overrides)
        response = await _authorize(api, params)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith(rp.redirect_uri + "?")
        query = parse_qs(urlsplit(location).query)
        assert query["error"] == [error]
        assert query["state"] == [params["state"]]
        assert query["iss"] == [config["issuer"]]
        assert "code" not in query

    async def test_a_scope_the_client_is_not_allowed_is_refused(self, api, setting) -> None:
        narrow = await register(api, "rp-narrow", scopes=("openid",))
        response = await _authorize(api, authorize_params(narrow, secrets.token_urlsafe(48), scope="openid profile"))
        assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["invalid_scope"]


class TestSignIn:
    async def test_a_wrong_otp_keeps_the_sign_in_open(self, api, setting) -> None:
        _, rp, person = setting
        params = authorize_params(rp, secrets.token_urlsafe(48))
        async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
            login = (await browser.get("/v1/oidc/authorize", params=params)).json()
            await browser.post(login["otp_endpoint"], json={"login_hint": person.vid})
            code = await latest_otp(api, person.sub)
            wrong = await browser.post(login["complete_endpoint"], json={"otp": f"{(int(code) + 1) % 10**6:06d}"})
            assert wrong.status_code == 401
            assert wrong.json()["authenticated"] is False
            right = await browser.post(login["complete_endpoint"], json={"otp": code})
            assert right.status_code == 303
            again = await browser.post(login["complete_endpoint"], json={"otp": code})
            assert again.status_code == 409  # the sign-in is finished

    async def test_a_pin_and_a_login_hint_sign_in(self, api, setting) -> None:
        _, rp, person = setting
        await api.as_subject(person.sub, "PUT", "/v1/me/pin", json={"pin": "2468"})
        async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
            login = (await browser.get("/v1/oidc/authorize", params=authorize_params(rp, "v" * 43))).json()
            done = await browser.post(login["complete_endpoint"], json={"pin": "2468", "login_hint": person.vid})
            assert done.status_code == 303, done.text
            assert "code=" in done.headers["location"]

    async def test_declining_returns_access_denied(self, api, setting) -> None:
        _, rp, _ = setting
        params = authorize_params(rp, secrets.token_urlsafe(48))
        async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
            login = (await browser.get("/v1/oidc/authorize", params=params)).json()
            response = await browser.post(login["cancel_endpoint"])
        assert response.status_code == 303
        assert parse_qs(urlsplit(response.headers["location"]).query)["error"] == ["access_denied"]

    async def test_a_sign_in_expires(self, api, setting, clock) -> None:
        _, rp, person = setting
        async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
            login = (await browser.get("/v1/oidc/authorize", params=authorize_params(rp, "v" * 43))).json()
            clock.advance(seconds=601)
            response = await browser.post(login["otp_endpoint"], json={"login_hint": person.vid})
        assert response.status_code == 409
        assert response.json()["code"] == "identity.oidc.transaction_closed"


class TestToken:
    async def test_a_wrong_code_verifier_is_invalid_grant(self, api, setting) -> None:
        config, rp, person = setting
        code, _, _ = await sign_in(api, rp, person)
        response = await token_request(api, rp, config, code=code, code_verifier=secrets.token_urlsafe(48))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"
        assert response.headers["cache-control"] == "no-store"

    async def test_a_reused_code_is_invalid_grant_and_revokes_its_tokens(self, api, setting) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        first = await token_request(api, rp, config, code=code, code_verifier=verifier)
        assert first.status_code == 200, first.text
        again = await token_request(api, rp, config, code=code, code_verifier=verifier)
        assert again.status_code == 400
        assert again.json() == {
            "error": "invalid_grant",
            "error_description": "the authorization code was already used",
        }
        async with via_gateway(api, client_id=rp.client_id, roles=("relying_party",)) as http:
            userinfo = await http.get(
                "/v1/oidc/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
            )
        assert userinfo.status_code == 401

    async def test_another_redirect_uri_is_invalid_grant(self, api, setting) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        response = await token_request(
            api, rp, config, code=code, code_verifier=verifier, redirect_uri="https://rp.example/other"
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    async def test_an_expired_code_is_invalid_grant(self, api, setting, clock) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        clock.advance(seconds=61)
        response = await token_request(
            api, rp, config, code=code, code_verifier=verifier, client_assertion=client_assertion(
                rp, config["token_endpoint"], iat=int(clock.now().timestamp()), exp=int(clock.now().timestamp()) + 60
            ),
        )  # fmt: skip
        assert response.json()["error"] == "invalid_grant"

    async def test_another_clients_code_is_invalid_grant(self, api, setting) -> None:
        config, rp, person = setting
        other = await register(api, "rp-other")
        code, verifier, _ = await sign_in(api, rp, person)
        response = await token_request(api, other, config, code=code, code_verifier=verifier)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"

    async def test_an_assertion_signed_by_another_key_is_invalid_client(self, api, setting) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        forged = client_assertion(rp, config["token_endpoint"], key=ECKey.generate_key("P-256"))
        response = await token_request(api, rp, config, code=code, code_verifier=verifier, client_assertion=forged)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert "invalid_client" in response.headers["www-authenticate"]
        # the code was not spent by the failed attempt
        assert (await token_request(api, rp, config, code=code, code_verifier=verifier)).status_code == 200

    @pytest.mark.parametrize(
        "problem",
        ["replayed_jti", "wrong_audience", "expired", "far_future", "other_subject", "alg_none", "alg_hs256", "none"],
    )
    async def test_bad_client_assertions_are_invalid_client(self, api, setting, clock, problem) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        now = int(clock.now().timestamp())
        endpoint = config["token_endpoint"]
        form: dict[str, str | None] = {"code": code, "code_verifier": verifier}
        if problem == "replayed_jti":
            assertion = client_assertion(rp, endpoint, jti="once-only")
            assert (await token_request(api, rp, config, client_assertion=assertion, **form)).status_code == 200
            code, verifier, _ = await sign_in(api, rp, person)
            form = {"code": code, "code_verifier": verifier, "client_assertion": assertion}
        elif problem == "wrong_audience":
            form["client_assertion"] = client_assertion(rp, "https://elsewhere.example/token")
        elif problem == "expired":
            form["client_assertion"] = client_assertion(rp, endpoint, iat=now - 600, exp=now - 300)
        elif problem == "far_future":
            form["client_assertion"] = client_assertion(rp, endpoint, iat=now, exp=now + 86_400)
        elif problem == "other_subject":
            form["client_assertion"] = client_assertion(rp, endpoint, sub="rp-someone-else")
        elif problem in ("alg_none", "alg_hs256"):
            header = {"alg": "none" if problem == "alg_none" else "HS256", "typ": "JWT"}
            claims = {"iss": rp.client_id, "sub": rp.client_id, "aud": endpoint, "exp": now + 60, "jti": "x"}
            unsigned = ".".join(b64url(json.dumps(part).encode()) for part in (header, claims))
            form["client_assertion"] = unsigned + "." + ("" if problem == "alg_none" else b64url(b"\x00" * 32))
        else:
            form["client_assertion"] = None
            form["client_assertion_type"] = None
        response = await token_request(api, rp, config, **form)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "invalid_client"

    async def test_a_form_is_required(self, api, setting) -> None:
        _, rp, _ = setting
        async with via_gateway(api, client_id=rp.client_id, roles=("relying_party",)) as http:
            response = await http.post("/v1/oidc/token", json={"grant_type": "authorization_code"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    async def test_other_grant_types_are_unsupported(self, api, setting) -> None:
        config, rp, _ = setting
        response = await token_request(api, rp, config, grant_type="client_credentials")
        assert response.json()["error"] == "unsupported_grant_type"

    async def test_an_rs256_client_signs_in_too(self, api, setting) -> None:
        config, _, person = setting
        rsa = await register(api, "rp-rsa", alg="RS256")
        code, verifier, _ = await sign_in(api, rsa, person)
        response = await token_request(api, rsa, config, code=code, code_verifier=verifier)
        assert response.status_code == 200, response.text


class TestPairwiseSubjects:
    async def test_two_clients_see_unlinkable_subjects_and_one_client_a_stable_one(self, api, setting) -> None:
        config, rp, person = setting
        other = await register(api, "rp-clinic")
        subjects = []
        for client in (rp, rp, other):
            code, verifier, _ = await sign_in(api, client, person)
            response = await token_request(api, client, config, code=code, code_verifier=verifier)
            subjects.append(jwt.decode(response.json()["id_token"], _jwks_of(api)).claims["sub"])
        assert subjects[0] == subjects[1] != subjects[2]

    async def test_userinfo_releases_only_accepted_scopes(self, api, setting) -> None:
        config, rp, person = setting
        verifier = secrets.token_urlsafe(48)
        params = authorize_params(rp, verifier, scope="openid profile birthdate address")
        async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
            login = (await browser.get("/v1/oidc/authorize", params=params)).json()
            await browser.post(login["otp_endpoint"], json={"login_hint": person.vid})
            code = await latest_otp(api, person.sub)
            done = await browser.post(login["complete_endpoint"], json={"otp": code, "accepted_scopes": ["address"]})
        grant = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
        token = (await token_request(api, rp, config, code=grant, code_verifier=verifier)).json()
        assert token["scope"] == "openid address"
        async with via_gateway(api, client_id=rp.client_id, roles=("relying_party",)) as http:
            userinfo = await http.get("/v1/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert set(userinfo.json()) == {"sub", "address"}
        assert person.uin not in userinfo.text

    async def test_userinfo_without_or_with_an_expired_token_is_401(self, api, setting, clock) -> None:
        config, rp, person = setting
        code, verifier, _ = await sign_in(api, rp, person)
        token = (await token_request(api, rp, config, code=code, code_verifier=verifier)).json()
        async with via_gateway(api, client_id=rp.client_id, roles=("relying_party",)) as http:
            missing = await http.get("/v1/oidc/userinfo")
            assert missing.status_code == 401
            assert missing.headers["www-authenticate"].startswith("Bearer")
            clock.advance(timedelta(seconds=601))
            expired = await http.get("/v1/oidc/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert expired.status_code == 401
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]


def _jwks_of(api):
    return KeySet.import_key_set(api.svc.app.state.signing_key.jwks())
