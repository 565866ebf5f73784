"""The Redis replay store: what lets several worker processes or replicas of a service share replay protection
without a database write per request."""

from __future__ import annotations

import os

import httpx
import pytest
import redis.asyncio as aioredis
from jose import jwt

from services.common.assertion import ASSERTION_HEADER, StaticJwks
from services.common.settings import ReplayStore
from services.identity.app import create_app
from tests.plugin import backend_unavailable

pytestmark = pytest.mark.rule("SG-SEC-1")

REDIS_URL = os.environ.get("DPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_client():
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        await client.aclose()
        backend_unavailable(f"Redis at {REDIS_URL} is not reachable: {error!r}")
    yield client
    await client.aclose()


async def test_an_assertion_is_accepted_once_and_its_replay_refused(service_factory, gateway, redis_client):
    svc = await service_factory("identity", replay_store=ReplayStore.redis, redis_url=REDIS_URL)
    headers = gateway.headers("identity")
    assert (await svc.client.get("/v1/caller", headers=headers)).status_code == 200
    replay = await svc.client.get("/v1/caller", headers=headers)
    assert replay.status_code == 401, replay.text
    assert replay.headers["content-type"].startswith("application/problem+json")
    assert "replay" in replay.json()["detail"]


async def test_a_replay_at_another_replica_is_refused(service_factory, gateway, redis_client):
    first = await service_factory("identity", replay_store=ReplayStore.redis, redis_url=REDIS_URL)
    second = create_app(first.settings.model_copy(), clock=gateway.clock, gateway_jwks=StaticJwks(gateway.jwks))
    headers = gateway.headers("identity")
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://replica") as client,
    ):
        assert (await client.get("/v1/caller", headers=headers)).status_code == 200
        replay = await first.client.get("/v1/caller", headers=headers)
    assert replay.status_code == 401, replay.text
    assert "replay" in replay.json()["detail"]


async def test_the_remembered_id_expires_with_its_assertion(service_factory, gateway, redis_client):
    svc = await service_factory("identity", replay_store=ReplayStore.redis, redis_url=REDIS_URL)
    headers = gateway.headers("identity")
    response = await svc.client.get("/v1/caller", headers=headers)
    assert response.status_code == 200, response.text
    jti = jwt.get_unverified_claims(headers[ASSERTION_HEADER])["jti"]
    key = f"dpi:seen-assertion:identity:{jti}"
    assert await redis_client.exists(key) == 1
    # Kept for the rest of the assertion's life (60 s) plus the verifier's leeway (5 s), counted on the
    # service's clock: here a frozen one, so exactly 65 s from now, less the moments this test has taken.
    kept_ms = await redis_client.pttl(key)
    assert 60_000 < kept_ms <= 65_000


async def test_an_unreachable_replay_store_refuses_with_503_instead_of_skipping_the_check(service_factory, gateway):
    svc = await service_factory("identity", replay_store=ReplayStore.redis, redis_url="redis://127.0.0.1:1/0")
    response = await svc.client.get("/v1/caller", headers=gateway.headers("identity"))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "common.unavailable"
