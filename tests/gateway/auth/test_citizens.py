"""Citizens present an ID token from identity's OIDC provider; the gateway admits them as role `subject` with the
internal `sub` identity resolves for the token's pairwise `sub` (which the ID token names, never the `sub`)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import select

from gateway.audit.models import AUDIT_TABLES
from services.common import jws
from services.common.keys import SigningKey
from tests.conftest import Gateway
from tests.gateway.auth.auth_helpers import PUBLIC_URL
from tests.identity.access_helpers import call, enrolled
from tests.identity.identity_helpers import IdentityApi
from tests.kit.callers import trust_test_callers

ISSUER = "http://127.0.0.1:8000/identity"
APP = "dpi-citizen-app"


@pytest.fixture
async def citizen(make_gateway, clock):  # type: ignore[no-untyped-def]
    gw = await make_gateway(services=("identity",))
    identity_app = gw.upstream_apps["identity"]
    trust_test_callers(identity_app)  # the identity helpers name their callers with the test kit's header
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=identity_app), base_url="http://identity") as http:
        api = IdentityApi(SimpleNamespace(app=identity_app, client=http), Gateway(gw.app.state.signing_key, clock))
        person = await enrolled(api)
        issued = await call(
            api,
            "POST",
            f"/v1/subjects/{person.sub}/pairwise-token",
            roles=("gateway_internal",),
            json={"relying_party_id": APP},
        )
        assert issued.status_code == 200, issued.text
        yield SimpleNamespace(gw=gw, person=person, pairwise=issued.json()["token"], key=identity_app.state.signing_key)


def id_token(key: SigningKey, sub: str, now: int, **overrides: object) -> str:
    claims: dict[str, object] = {"iss": ISSUER, "aud": APP, "sub": sub, "iat": now, "exp": now + 600, "acr": "otp"}
    claims.update(overrides)
    return jws.sign_claims(key, claims)


@pytest.mark.rule("SG-SEC-1")
async def test_a_citizens_id_token_reaches_a_service_as_subject_with_the_internal_sub(citizen, clock):
    token = id_token(citizen.key, citizen.pairwise, int(clock.now().timestamp()))
    headers = {"Authorization": f"Bearer {token}"}
    response = await citizen.gw.http.get("/identity/v1/caller", headers=headers)
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["roles"] == ["subject"] and seen["client_id"] == APP
    # The service saw the internal sub; the citizen's app, on the way back, sees only its own pairwise token
    # (the gateway rewrites every sub in an answer, SG-TOKEN-1), and the decision names the sub.
    assert seen["subject_ref"] == citizen.pairwise != citizen.person.sub
    events = AUDIT_TABLES.events
    async with citizen.gw.app.state.engine.connect() as conn:
        leaf = (await conn.execute(select(events.c.leaf).order_by(events.c.idx.desc()).limit(1))).scalar_one()
    assert json.loads(leaf)["record"]["sub"] == citizen.person.sub
    vids = await citizen.gw.http.get("/identity/v1/me/vids", headers=headers)
    assert vids.status_code == 200, vids.text
    assert citizen.person.vid in vids.text, "identity found the person by the sub the gateway resolved"


@pytest.mark.rule("SG-SEC-1")
async def test_expired_foreign_audience_and_forged_id_tokens_are_401(citizen, clock):
    now = int(clock.now().timestamp())
    for token in (
        id_token(citizen.key, citizen.pairwise, now - 700),
        id_token(citizen.key, citizen.pairwise, now, aud="some-relying-party"),
        id_token(SigningKey.generate(), citizen.pairwise, now),
        id_token(citizen.key, citizen.pairwise, now, iss=PUBLIC_URL + "/elsewhere"),
        id_token(citizen.key, "unknown-pairwise-token", now),
    ):
        response = await citizen.gw.http.get("/identity/v1/caller", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
