"""A fetch's gateway assertion is good for one request. Its replay check runs while the directory is read (the edge's
`FirstUse`), and the provider is called, the message log written and an answer given only once it passed: a replay
gets 401 whatever else is wrong with it, and never reaches the provider."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from services.common.problems import ServiceUnavailable
from services.common.settings import ReplayStore
from tests.exchange.exchange_helpers import (
    BENEFIT_CHECK,
    CIVIL,
    REDIS_URL,
    ExchangeApi,
    require_redis,
    second_replica,
    table_rows,
)

pytestmark = pytest.mark.rule("SG-SEC-1")

AMARA = "sub_amara"
RP_ID = "rp-benefits"
BODY = {"service": CIVIL, "fields": ["given_name"]}


async def _world(api: ExchangeApi) -> ExchangeApi:
    await api.birth(AMARA)
    await api.consumer(RP_ID, grants={CIVIL: (["given_name", "date_of_birth"], [BENEFIT_CHECK])})
    api.provider_calls.calls.clear()
    return api


@pytest.fixture
async def world(api: ExchangeApi) -> ExchangeApi:
    return await _world(api)


def consented(api: ExchangeApi, **overrides: Any) -> dict[str, str]:
    context: dict[str, Any] = {
        "client_id": RP_ID,
        "roles": ("relying_party",),
        "subject_ref": AMARA,
        "purpose": BENEFIT_CHECK,
        "legal_basis": "consent",
        "consent_id": "cns_1",
        "consented_items": ("given_name",),
        **overrides,
    }
    headers: dict[str, str] = api.gateway.headers("exchange", **context)
    return headers


async def log_size(api: ExchangeApi) -> int:
    return len(await table_rows(api.svc, "message_log"))


def assert_replay(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "already used" in response.json()["detail"]


async def test_a_replayed_fetch_is_401_and_reaches_no_provider(world: ExchangeApi) -> None:
    headers = consented(world)
    first = await world.svc.client.post("/v1/fetch", json=BODY, headers=headers)
    assert first.status_code == 200, first.text
    logged = await log_size(world)
    replay = await world.svc.client.post("/v1/fetch", json=BODY, headers=headers)
    assert_replay(replay)
    assert world.provider_calls.reads == 1
    assert await log_size(world) == logged == 2  # the first fetch's two entries, nothing of the replay


@pytest.mark.parametrize(
    ("body", "overrides", "fresh_status"),
    [
        (b"not json", {}, 422),
        (b'{"service": "SBX:GOV:NONE:nothing:v1"}', {}, 404),
        (BODY, {"roles": ("subject",)}, 403),  # no consumer role: FastAPI's handler, after the check
        (BODY, {"legal_basis": None}, 403),  # SG-CONSENT-1 from the service's own checks
        (BODY, {"subject_ref": "sub_nobody"}, 404),  # the provider's answer
    ],
)
async def test_a_replay_is_401_whatever_else_is_wrong(
    world: ExchangeApi, body: Any, overrides: dict[str, Any], fresh_status: int
) -> None:
    headers = consented(world, **overrides)
    send = (
        {"content": body, "headers": {**headers, "content-type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body, "headers": headers}
    )
    fresh = await world.svc.client.post("/v1/fetch", **send)
    assert fresh.status_code == fresh_status, fresh.text
    reads = world.provider_calls.reads
    assert_replay(await world.svc.client.post("/v1/fetch", **send))
    assert world.provider_calls.reads == reads


async def _race(api: ExchangeApi, copies: int, *, replica: ExchangeApi | None = None) -> None:
    """`copies` requests with one assertion at once, taking turns between `api` and `replica` where there is one:
    one record released, across both."""
    headers = consented(api)
    apis = [api] if replica is None else [api, replica]
    answers = await asyncio.gather(
        *(apis[n % len(apis)].svc.client.post("/v1/fetch", json=BODY, headers=headers) for n in range(copies))
    )
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [401] * (copies - 1), statuses
    assert sum(one.provider_calls.reads for one in apis) == 1
    assert await log_size(api) == 2


async def test_thirty_copies_of_one_assertion_sent_at_once_release_one_record(world: ExchangeApi) -> None:
    await _race(world, 30)


async def test_with_the_redis_replay_store_too(service_factory, gateway) -> None:  # type: ignore[no-untyped-def]
    await require_redis()
    svc = await service_factory("exchange", replay_store=ReplayStore.redis, redis_url=REDIS_URL)
    await _race(await _world(ExchangeApi(svc, gateway)), 30)


async def test_thirty_copies_sent_to_two_replicas_at_once_release_one_record(
    world: ExchangeApi, service_factory
) -> None:
    """The attacker's retry loop spread over the replicas: each replica checks the assertion against the database
    replay store they share, so only one of them answers it."""
    await _race(world, 32, replica=await second_replica(world, service_factory))


async def test_two_replicas_sharing_the_redis_replay_store_release_one_record(service_factory, gateway) -> None:  # type: ignore[no-untyped-def]
    await require_redis()
    first = await _world(
        ExchangeApi(await service_factory("exchange", replay_store=ReplayStore.redis, redis_url=REDIS_URL), gateway)
    )
    replica = await second_replica(first, service_factory, replay_store=ReplayStore.redis, redis_url=REDIS_URL)
    await _race(first, 32, replica=replica)


class SlowGuard:
    """The service's replay store, answering only after `delay` seconds, or failing then: a replay check still in
    flight when the directory read has long finished."""

    def __init__(self, inner: Any, delay: float, *, failing: bool = False) -> None:
        self.inner, self.delay, self.failing = inner, delay, failing

    async def first_use(self, jti: str, expires_at: datetime) -> bool:
        await asyncio.sleep(self.delay)
        if self.failing:
            raise ServiceUnavailable("The replay store cannot be reached right now; try again shortly.")
        return bool(await self.inner.first_use(jti, expires_at))


def slow_replay_store(api: ExchangeApi, *, failing: bool = False) -> None:
    verifier = api.svc.app.state.verifier._real  # under the tests' trusted callers, the service's own verifier
    verifier._replay_guard = SlowGuard(verifier._replay_guard, 0.2, failing=failing)


async def test_the_provider_is_called_only_once_the_replay_check_passed(world: ExchangeApi) -> None:
    headers = consented(world)
    assert (await world.svc.client.post("/v1/fetch", json=BODY, headers=headers)).status_code == 200
    slow_replay_store(world)
    assert_replay(await world.svc.client.post("/v1/fetch", json=BODY, headers=headers))
    assert world.provider_calls.reads == 1  # the replay's directory read finished 0.2 s before its check did
    assert await log_size(world) == 2
    fresh = await world.svc.client.post("/v1/fetch", json=BODY, headers=consented(world))
    assert fresh.status_code == 200, fresh.text  # and a fresh assertion waits for its check, then is answered
    assert world.provider_calls.reads == 2


async def test_a_replay_store_that_cannot_answer_is_503_and_nothing_is_released(world: ExchangeApi) -> None:
    slow_replay_store(world, failing=True)
    response = await world.svc.client.post("/v1/fetch", json=BODY, headers=consented(world))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert world.provider_calls.reads == 0
    assert await log_size(world) == 0
