"""Rate limits are exact under parallel requests: in one process, and across replicas through Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from gateway.auth.errors import RateLimited
from gateway.auth.ratelimit import MemoryCounter, RateLimits, RedisCounter
from services.common.clock import FrozenClock

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _admitted(limits: RateLimits, client_id: str, path: str) -> bool:
    try:
        await limits.check(client_id, path)
    except RateLimited:
        return False
    return True


@pytest.fixture
async def redis_client():  # type: ignore[no-untyped-def]
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable ({type(error).__name__})")
    yield client
    await client.aclose()


@pytest.mark.rule("SG-SEC-1")
async def test_two_replicas_sharing_redis_admit_exactly_the_limit_under_40_parallel_requests(redis_client):
    clock = FrozenClock()
    namespace = f"dpi:test-rate:{uuid.uuid4().hex}"
    connections = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    replicas = [
        RateLimits(
            RedisCounter(connection),
            clock,
            window_seconds=60,
            per_client=1000,
            routes={"/payments": 17},
            namespace=namespace,
        )
        for connection in connections
    ]
    outcomes = await asyncio.gather(
        *(_admitted(replicas[i % 2], "first-bank", "/payments/v1/transfers") for i in range(40))
    )
    assert sum(outcomes) == 17
    assert await _admitted(replicas[0], "first-bank", "/identity/v1/caller"), "another route has its own budget"
    assert await _admitted(replicas[1], "other-bank", "/payments/v1/transfers"), "another client has its own budget"
    keys = [key async for key in redis_client.scan_iter(match=namespace + ":*")]
    ttls = [await redis_client.ttl(key) for key in keys]
    assert ttls and all(0 < ttl <= 120 for ttl in ttls), "counters expire with their window"
    for connection in connections:
        await connection.aclose()


@pytest.mark.rule("SG-SEC-1")
async def test_one_process_admits_exactly_the_limit_under_40_parallel_requests():
    clock = FrozenClock()
    limits = RateLimits(MemoryCounter(), clock, window_seconds=60, per_client=12, routes={})
    outcomes = await asyncio.gather(*(_admitted(limits, "first-bank", "/payments/v1/x") for _ in range(40)))
    assert sum(outcomes) == 12
    clock.advance(seconds=60)
    assert await _admitted(limits, "first-bank", "/payments/v1/x")


async def test_the_longest_route_prefix_applies():
    limits = RateLimits(
        MemoryCounter(),
        FrozenClock(),
        window_seconds=60,
        per_client=100,
        routes={"/payments": 5, "/payments/v1/bulk": 1},
    )
    assert limits.route_of("/payments/v1/bulk/123") == ("/payments/v1/bulk", 1)
    assert limits.route_of("/payments/v1/transfers") == ("/payments", 5)
    assert limits.route_of("/paymentsx") is None
