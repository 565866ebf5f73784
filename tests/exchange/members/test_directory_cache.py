"""The directory kept between fetches (members/cache.py): used while its token is unchanged, and never after a
change was answered, in this process or another one (a replica on the same database and Redis)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from services.common.settings import ReplayStore
from services.exchange.members import cache
from services.exchange.members.cache import DirectoryUnavailable
from services.exchange.members.models import AccessRight
from tests.exchange.exchange_helpers import (
    ADMIN,
    BENEFIT_CHECK,
    CIVIL,
    REDIS_URL,
    ExchangeApi,
    require_redis,
    second_replica,
)

pytestmark = pytest.mark.rule("SG-SEC-1")

AMARA = "sub_amara"
RP_ID = "rp-benefits"
REDIS = {"replay_store": ReplayStore.redis, "redis_url": REDIS_URL}


@pytest.fixture
def directory_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every read of the directory from the database, by (client, service)."""
    reads: list[tuple[str, str]] = []
    real = cache.fetch_directory

    async def counted(engine: Any, client_id: str, service_id: str) -> Any:
        reads.append((client_id, service_id))
        return await real(engine, client_id, service_id)

    monkeypatch.setattr(cache, "fetch_directory", counted)
    return reads


async def _exchange(service_factory: Any, gateway: Any, **settings: Any) -> ExchangeApi:
    return ExchangeApi(await service_factory("exchange", **settings), gateway)


async def _world(api: ExchangeApi, fields: tuple[str, ...] = ("given_name", "date_of_birth")) -> str:
    """Amara's birth record and a consumer granted `fields`; the right's id."""
    await api.birth(AMARA)
    subsystem = await api.consumer(RP_ID)
    right = await api.grant(CIVIL, subsystem, list(fields), [BENEFIT_CHECK])
    api.provider_calls.calls.clear()
    return str(right["id"])


async def _fetch(api: ExchangeApi, fields: list[str] | None = None) -> Any:
    items = fields or ["given_name", "date_of_birth"]
    return await api.consented(CIVIL, items, client_id=RP_ID, sub=AMARA, fields=items)


def _denied(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["rule_id"] == "SG-SEC-1"


async def _revoke(api: ExchangeApi, right: str) -> None:
    await api.ok("DELETE", f"/v1/services/{CIVIL}/access-rights/{right}", roles=ADMIN)


async def test_a_grant_is_read_once_and_a_revocation_denies_the_next_fetch(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    api = await _exchange(service_factory, gateway, replay_store=ReplayStore.memory)
    right = await _world(api)
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    assert directory_reads == [(RP_ID, CIVIL)]  # read once, then kept
    await _revoke(api, right)
    _denied(await _fetch(api))
    assert api.provider_calls.reads == 3
    assert len(directory_reads) == 2  # read again after the change, and the refusal is not kept
    _denied(await _fetch(api))
    assert len(directory_reads) == 3


async def test_a_narrowed_grant_releases_only_its_fields_at_the_next_fetch(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    api = await _exchange(service_factory, gateway, replay_store=ReplayStore.memory)
    await _world(api)
    first = await _fetch(api)
    assert first.json()["fields_returned"] == ["given_name", "date_of_birth"]
    subsystem = f"SBX:GOV:AGENCY:{RP_ID}"
    await api.grant(CIVIL, subsystem, ["given_name"], [BENEFIT_CHECK])
    narrowed = await _fetch(api)
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["fields_returned"] == ["given_name"]
    assert "date_of_birth" not in narrowed.json()["record"]


async def test_replicas_without_redis_read_the_directory_on_every_fetch(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    api = await _exchange(service_factory, gateway, replay_store=ReplayStore.database)
    await _world(api)
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    assert len(directory_reads) == 3


async def test_a_revocation_answered_by_one_replica_denies_the_next_fetch_at_another(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    await require_redis()
    first = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(first)
    replica = await second_replica(first, service_factory, **REDIS)
    for _ in range(3):
        assert (await _fetch(replica)).status_code == 200
    kept = len(directory_reads)
    assert kept <= 2  # the replica read it once it had a token to keep it under, then kept it
    await _revoke(first, right)
    _denied(await _fetch(replica))
    assert replica.provider_calls.reads == 3
    subsystem = f"SBX:GOV:AGENCY:{RP_ID}"
    await first.grant(CIVIL, subsystem, ["given_name"], [BENEFIT_CHECK])  # granted again, narrower
    again = await _fetch(replica, ["given_name"])
    assert again.status_code == 200 and again.json()["fields_returned"] == ["given_name"]


async def test_fetches_racing_a_revocation_at_another_replica_are_all_denied_once_it_is_answered(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    """An attacker's client keeps 32 fetches in flight at a replica while the operator revokes its right at another:
    those that started before the revocation was answered may still be served; none started after it is."""
    await require_redis()
    first = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(first)
    replica = await second_replica(first, service_factory, **REDIS)
    assert (await _fetch(replica)).status_code == 200  # the grant is kept at the replica
    before = asyncio.gather(*(_fetch(replica) for _ in range(32)))
    await _revoke(first, right)
    assert {r.status_code for r in await before} <= {200, 403}  # under way as it was answered: either
    served = replica.provider_calls.reads
    after = await asyncio.gather(*(_fetch(replica) for _ in range(32)))
    for response in after:
        _denied(response)
    assert replica.provider_calls.reads == served  # nothing started after the answer reached the provider


async def test_a_lost_token_keeps_nothing_and_starts_a_new_one(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    """Redis keeps nothing on disk: after a restart the token is gone, and what was kept under it is not used."""
    await require_redis()
    api = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(api)
    tokens = api.svc.app.state.exchange.directory._tokens
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    reads = len(directory_reads)
    await api.svc.app.state.redis.delete(await tokens.key())  # what a restart of Redis does to it
    # Behind the exchange's back, as a restart would lose the announcement of a change made meanwhile.
    async with api.svc.app.state.sessionmaker() as session, session.begin():
        revoked = update(AccessRight).where(AccessRight.id == right).values(revoked_at=datetime.now(UTC))
        await session.execute(revoked)
    _denied(await _fetch(api))
    assert len(directory_reads) == reads + 1


async def test_a_revocation_that_cannot_be_announced_is_503_and_announced_when_repeated(  # type: ignore[no-untyped-def]
    service_factory, gateway, monkeypatch
) -> None:
    await require_redis()
    first = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(first)
    replica = await second_replica(first, service_factory, **REDIS)
    assert (await _fetch(replica)).status_code == 200
    tokens = first.svc.app.state.exchange.directory._tokens
    real_replace = tokens.replace

    async def unreachable() -> None:
        raise DirectoryUnavailable("The change is saved, but the exchange's other processes could not be told of it.")

    monkeypatch.setattr(tokens, "replace", unreachable)
    refused = await first.call("DELETE", f"/v1/services/{CIVIL}/access-rights/{right}", roles=ADMIN)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    rights = (await first.public(f"/v1/access-rights?service={CIVIL}")).json()
    assert [r["revoked_at"] is not None for r in rights if r["id"] == right] == [True]  # saved all the same
    monkeypatch.setattr(tokens, "replace", real_replace)
    await _revoke(first, right)  # repeated: announced this time
    _denied(await _fetch(replica))


async def test_what_was_kept_is_read_again_after_its_maximum_age(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads, monkeypatch
) -> None:
    api = await _exchange(service_factory, gateway, replay_store=ReplayStore.memory)
    await _world(api)
    now = [1000.0]
    monkeypatch.setattr(cache, "_monotonic", lambda: now[0])
    assert (await _fetch(api)).status_code == 200
    now[0] += cache.MAX_AGE_SECONDS - 0.1
    assert (await _fetch(api)).status_code == 200
    assert len(directory_reads) == 1
    now[0] += 0.2
    assert (await _fetch(api)).status_code == 200
    assert len(directory_reads) == 2


async def test_a_grant_narrowed_at_one_replica_releases_only_its_fields_at_another(service_factory, gateway) -> None:  # type: ignore[no-untyped-def]
    """The replica kept the wide grant; the next fetch after another replica narrowed it releases the narrow one."""
    await require_redis()
    first = await _exchange(service_factory, gateway, **REDIS)
    await _world(first)
    replica = await second_replica(first, service_factory, **REDIS)
    for _ in range(2):
        wide = await _fetch(replica)
        assert wide.json()["fields_returned"] == ["given_name", "date_of_birth"]
    await first.grant(CIVIL, f"SBX:GOV:AGENCY:{RP_ID}", ["given_name"], [BENEFIT_CHECK])
    narrowed = await _fetch(replica)
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["fields_returned"] == ["given_name"]
    assert "date_of_birth" not in narrowed.json()["record"]
    assert narrowed.json()["withheld"]  # the field asked for and no longer granted is listed, not released
