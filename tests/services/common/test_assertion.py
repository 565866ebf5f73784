"""A service accepts only requests carrying a valid, unused gateway assertion for its own audience."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jose import jwt

from services.common import jws
from services.common.assertion import ASSERTION_HEADER, ASSERTION_TYPE, StaticJwks
from services.identity.app import create_app

pytestmark = pytest.mark.rule("SG-SEC-1")


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_401_problem(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 401
    assert body["code"] == "common.unauthenticated"
    assert body["grievance"]["href"]
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize("service", ["identity", "payments", "consent", "exchange"])
async def test_direct_call_without_assertion_is_refused(service_factory, service):
    svc = await service_factory(service)
    response = await svc.client.get("/v1/caller")
    _assert_401_problem(response)
    assert "only through the gateway" in response.json()["detail"]


async def test_valid_assertion_is_accepted_and_its_context_reaches_the_service(service_factory, gateway):
    svc = await service_factory("identity")
    headers = gateway.headers("identity", client_id="rp-bank-1", roles=("relying_party",), purpose="KYC_ACCOUNT")
    response = await svc.client.get("/v1/caller", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["client_id"] == "rp-bank-1"
    assert response.json()["roles"] == ["relying_party"]
    assert response.json()["purpose"] == "KYC_ACCOUNT"


async def test_assertion_for_another_audience_is_refused(service_factory, gateway):
    svc = await service_factory("identity")
    response = await svc.client.get("/v1/caller", headers=gateway.headers("payments"))
    _assert_401_problem(response)
    assert "audience" in response.json()["detail"].lower()


async def test_expired_assertion_is_refused(service_factory, gateway, clock):
    svc = await service_factory("identity")
    headers = gateway.headers("identity")
    clock.advance(timedelta(seconds=66))  # 60 s lifetime + 5 s leeway
    response = await svc.client.get("/v1/caller", headers=headers)
    _assert_401_problem(response)
    assert "expired" in response.json()["detail"]


async def test_assertion_just_inside_its_lifetime_is_accepted(service_factory, gateway, clock):
    svc = await service_factory("identity")
    headers = gateway.headers("identity")
    clock.advance(timedelta(seconds=59))
    assert (await svc.client.get("/v1/caller", headers=headers)).status_code == 200


async def test_replayed_assertion_is_refused(service_factory, gateway):
    svc = await service_factory("identity")
    headers = gateway.headers("identity")
    assert (await svc.client.get("/v1/caller", headers=headers)).status_code == 200
    replay = await svc.client.get("/v1/caller", headers=headers)
    _assert_401_problem(replay)
    assert "replay" in replay.json()["detail"]


async def test_replay_is_refused_across_two_instances_sharing_a_database(service_factory, gateway, db_backend):
    """Two replicas of a service share the replay table, so a jti used at one is refused at the other."""
    first = await service_factory("identity")
    second_app_settings = first.settings.model_copy()
    second = create_app(second_app_settings, clock=gateway.clock, gateway_jwks=StaticJwks(gateway.jwks))

    headers = gateway.headers("identity")
    assert (await first.client.get("/v1/caller", headers=headers)).status_code == 200
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://replica") as client,
    ):
        _assert_401_problem(await client.get("/v1/caller", headers=headers))


async def test_unsigned_alg_none_assertion_is_refused(service_factory, gateway):
    svc = await service_factory("identity")
    genuine = gateway.assertion("identity", roles=("registrar",))
    claims = jwt.get_unverified_claims(genuine)
    forged = f"{_b64({'alg': 'none', 'typ': ASSERTION_TYPE, 'kid': gateway.key.kid})}.{_b64(claims)}."
    response = await svc.client.get("/v1/caller", headers={ASSERTION_HEADER: forged})
    _assert_401_problem(response)
    assert "ES256" in response.json()["detail"]


async def test_hs256_assertion_keyed_with_the_public_key_is_refused(service_factory, gateway):
    """Algorithm confusion: an HMAC over the gateway's *public* key must not pass for an ES256 signature."""
    svc = await service_factory("identity")
    claims = jwt.get_unverified_claims(gateway.assertion("identity"))
    public_pem = gateway.key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "typ": ASSERTION_TYPE, "kid": gateway.key.kid})
    payload = _b64(claims)
    signature = (
        base64.urlsafe_b64encode(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    response = await svc.client.get("/v1/caller", headers={ASSERTION_HEADER: f"{header}.{payload}.{signature}"})
    _assert_401_problem(response)


async def test_assertion_signed_by_another_key_is_refused(service_factory, gateway):
    from services.common.assertion import AssertionMinter, CallContext
    from services.common.keys import SigningKey

    svc = await service_factory("identity")
    impostor = SigningKey.generate()
    token = AssertionMinter(impostor, gateway.clock).mint("identity", CallContext(client_id="x"))
    _assert_401_problem(await svc.client.get("/v1/caller", headers={ASSERTION_HEADER: token}))


async def test_assertion_with_a_tampered_payload_is_refused(service_factory, gateway):
    svc = await service_factory("identity")
    header, payload, signature = gateway.assertion("identity", roles=("subject",)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["registrar"]
    forged = f"{header}.{_b64(claims)}.{signature}"
    _assert_401_problem(await svc.client.get("/v1/caller", headers={ASSERTION_HEADER: forged}))


async def test_long_lived_assertion_is_refused(service_factory, gateway):
    """A token signed by the gateway key but living longer than 60 s is not a gateway assertion."""
    svc = await service_factory("identity")
    now = int(gateway.clock.now().timestamp())
    token = jws.sign_claims(
        gateway.key,
        {"iss": "dpi-gateway", "aud": "identity", "iat": now, "exp": now + 3600, "jti": "long", "client_id": "x"},
        typ=ASSERTION_TYPE,
    )
    response = await svc.client.get("/v1/caller", headers={ASSERTION_HEADER: token})
    _assert_401_problem(response)
    assert "longer than policy" in response.json()["detail"]


async def test_health_and_keys_are_public(service_factory):
    svc = await service_factory("identity")
    assert (await svc.client.get("/healthz")).json()["status"] == "ok"
    assert (await svc.client.get("/readyz")).json()["status"] == "ready"
    jwks = (await svc.client.get("/.well-known/jwks.json")).json()
    assert jwks["keys"][0]["alg"] == "ES256"
    assert "d" not in jwks["keys"][0]  # never the private part
