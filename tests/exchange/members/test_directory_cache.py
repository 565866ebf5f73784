"""The directory kept between fetches (members/cache.py): used while its token in Redis is unchanged, and never after
a change was answered, in this process or another one (a replica on the same database and Redis); without Redis,
nothing is kept."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import update

from services.common.settings import ReplayStore
from services.exchange.members import cache
from services.exchange.members.models import AccessRight
from tests.exchange.exchange_helpers import (
    ADMIN,
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
SUBSYSTEM = f"SBX:GOV:AGENCY:{RP_ID}"
REDIS = {"replay_store": ReplayStore.redis, "redis_url": REDIS_URL}
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The cache's clock, still unless a test moves it: a slow run cannot age what was kept."""
    moment = [1000.0]
    monkeypatch.setattr(cache, "_monotonic", lambda: moment[0])
    return moment


@pytest.fixture
def directory_reads(monkeypatch: pytest.MonkeyPatch, now: list[float]) -> list[Any]:
    """Every read of the directory from the database, in order. A test may put a pair of Events (reached, release) in
    the list before a read: that read sets the first once it has the rows, then waits for the second (a read
    overtaken by a change)."""
    reads: list[Any] = []
    real = cache.fetch_directory

    async def counted(engine: Any, client_id: str, service_id: str) -> Any:
        held = next((n for n, entry in enumerate(reads) if isinstance(entry, tuple)), None)
        reads.append("read")
        directory = await real(engine, client_id, service_id)
        if held is not None:
            reached, release = reads[held]
            reads[held] = "held"
            reached.set()
            await release.wait()
        return directory

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


async def _redis_world(service_factory: Any, gateway: Any) -> tuple[ExchangeApi, ExchangeApi, str]:
    """Two replicas on one database and one Redis, the consumer granted; (first, replica, right id)."""
    await require_redis()
    first = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(first)
    replica = await second_replica(first, service_factory, **REDIS)
    return first, replica, right


async def _fetched_once(service_factory: Any, gateway: Any) -> ExchangeApi:
    """An exchange on Redis, the consumer granted, and its grant kept by one fetch."""
    await require_redis()
    api = await _exchange(service_factory, gateway, **REDIS)
    await _world(api)
    assert (await _fetch(api)).status_code == 200
    return api


async def _fetch(api: ExchangeApi, fields: list[str] | None = None) -> Any:
    items = fields or ["given_name", "date_of_birth"]
    return await api.consented(CIVIL, items, client_id=RP_ID, sub=AMARA, fields=items)


def _denied(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["rule_id"] == "SG-SEC-1"


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "exchange.directory_unavailable"


async def _revoke(api: ExchangeApi, right: str) -> Any:
    return await api.call("DELETE", f"/v1/services/{CIVIL}/access-rights/{right}", roles=ADMIN)


def _tokens(api: ExchangeApi) -> Any:
    return api.svc.app.state.exchange.directory._tokens


async def test_a_grant_is_read_once_and_a_revocation_denies_the_next_fetch(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    await require_redis()
    api = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(api)
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    assert directory_reads.count("read") == 1  # read once, then kept
    assert (await _revoke(api, right)).status_code == 200
    _denied(await _fetch(api))
    assert api.provider_calls.reads == 3
    assert directory_reads.count("read") == 2  # read again after the change, and the refusal is not kept
    _denied(await _fetch(api))
    assert directory_reads.count("read") == 3


@pytest.mark.parametrize("store", [ReplayStore.memory, ReplayStore.database])
async def test_without_redis_the_directory_is_read_on_every_fetch(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads, store
) -> None:
    """Other processes on the same database (a served demo and a playbook run beside it) could not be told of a
    change: nothing is kept."""
    api = await _exchange(service_factory, gateway, replay_store=store)
    right = await _world(api)
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    assert directory_reads.count("read") == 3
    assert (await _revoke(api, right)).status_code == 200
    _denied(await _fetch(api))


async def test_a_revocation_answered_by_one_replica_denies_the_next_fetch_at_another(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    first, replica, right = await _redis_world(service_factory, gateway)
    for _ in range(3):
        assert (await _fetch(replica)).status_code == 200
    assert directory_reads.count("read") == 1  # the replica read it once, then kept it
    assert (await _revoke(first, right)).status_code == 200
    _denied(await _fetch(replica))
    assert replica.provider_calls.reads == 3
    await first.grant(CIVIL, SUBSYSTEM, ["given_name"], [BENEFIT_CHECK])  # granted again, narrower
    again = await _fetch(replica, ["given_name"])
    assert again.status_code == 200 and again.json()["fields_returned"] == ["given_name"]


async def test_a_grant_narrowed_at_one_replica_releases_only_its_fields_at_another(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    first, replica, _ = await _redis_world(service_factory, gateway)
    for _ in range(2):
        wide = await _fetch(replica)
        assert wide.json()["fields_returned"] == ["given_name", "date_of_birth"]
    assert directory_reads.count("read") == 1  # the wide grant is kept at the replica
    await first.grant(CIVIL, SUBSYSTEM, ["given_name"], [BENEFIT_CHECK])
    narrowed = await _fetch(replica)
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["fields_returned"] == ["given_name"]
    assert "date_of_birth" not in narrowed.json()["record"]
    assert [w["field"] for w in narrowed.json()["withheld"]] == ["date_of_birth"]


async def test_a_read_overtaken_by_a_revocation_is_not_used_after_it(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    """The replica reads the grant, and the revocation is committed and answered at another replica before the read
    is kept: that fetch, under way before the answer, may finish; the next one is denied. (Were the token read after
    the rows, this read would be kept under the new token and the next fetch served.)"""
    first, replica, right = await _redis_world(service_factory, gateway)
    reached, overtaken = asyncio.Event(), asyncio.Event()
    directory_reads.append((reached, overtaken))
    under_way = asyncio.ensure_future(_fetch(replica))
    await asyncio.wait_for(reached.wait(), timeout=10)  # the replica's read has the rows, and waits
    assert (await _revoke(first, right)).status_code == 200
    overtaken.set()
    assert (await under_way).status_code == 200
    _denied(await _fetch(replica))
    assert replica.provider_calls.reads == 1


async def test_fetches_racing_a_revocation_at_another_replica_are_all_denied_once_it_is_answered(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    """An attacker's client keeps 32 fetches in flight at a replica while the operator revokes its right at another,
    and sends 32 more as soon as the revocation is answered: those under way before it may be served either way;
    none sent after it reaches the provider."""
    first, replica, right = await _redis_world(service_factory, gateway)
    assert (await _fetch(replica)).status_code == 200  # the grant is kept at the replica
    before = [asyncio.ensure_future(_fetch(replica)) for _ in range(32)]
    await asyncio.sleep(0)
    assert (await _revoke(first, right)).status_code == 200
    served = replica.provider_calls.reads
    after = [asyncio.ensure_future(_fetch(replica)) for _ in range(32)]
    answered_before = await asyncio.gather(*before)
    answered_after = await asyncio.gather(*after)
    assert {r.status_code for r in answered_before} <= {200, 403}
    for response in answered_after:
        _denied(response)
    # Every one sent after the answer was refused before its provider call: at most the ones under way got one.
    assert replica.provider_calls.reads - served <= sum(1 for r in answered_before if r.status_code == 200)


async def test_a_lost_token_keeps_nothing_and_starts_a_new_one(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads
) -> None:
    """Redis keeps nothing on disk: after a restart the token is gone, and what was kept under it is not used, even
    where the change it would have announced was lost too (here made behind the exchange's back)."""
    await require_redis()
    api = await _exchange(service_factory, gateway, **REDIS)
    right = await _world(api)
    for _ in range(3):
        assert (await _fetch(api)).status_code == 200
    assert directory_reads.count("read") == 1
    await api.svc.app.state.redis.delete(_tokens(api).key)  # what a restart of Redis does to it
    async with api.svc.app.state.sessionmaker() as session, session.begin():
        revoked = update(AccessRight).where(AccessRight.id == right).values(revoked_at=datetime.now(UTC))
        await session.execute(revoked)
    _denied(await _fetch(api))
    assert directory_reads.count("read") == 2


async def test_a_fetch_whose_token_cannot_be_read_is_503_and_reaches_no_provider(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    api = await _fetched_once(service_factory, gateway)
    logged = len(await table_rows(api.svc, "message_log"))
    unreachable = aioredis.Redis.from_url(UNREACHABLE_REDIS)
    _tokens(api)._client = unreachable
    try:
        _unavailable(await _fetch(api))
    finally:
        await unreachable.aclose()
    assert api.provider_calls.reads == 1
    assert len(await table_rows(api.svc, "message_log")) == logged


async def test_a_revocation_that_cannot_be_announced_is_503_saved_and_announced_when_repeated(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    first, replica, right = await _redis_world(service_factory, gateway)
    assert (await _fetch(replica)).status_code == 200
    tokens = _tokens(first)
    reachable = tokens._client
    unreachable = aioredis.Redis.from_url(UNREACHABLE_REDIS)
    tokens._client = unreachable
    try:
        _unavailable(await _revoke(first, right))
    finally:
        tokens._client = reachable
        await unreachable.aclose()
    rights = (await first.public(f"/v1/access-rights?service={CIVIL}")).json()
    assert [r["revoked_at"] is not None for r in rights if r["id"] == right] == [True]  # saved all the same
    assert (await _revoke(first, right)).status_code == 200  # repeated: announced this time
    _denied(await _fetch(replica))


async def test_a_redis_out_of_memory_that_refuses_the_new_token_drops_the_old_one(  # type: ignore[no-untyped-def]
    service_factory, gateway, monkeypatch
) -> None:
    """Under `maxmemory` with `noeviction`, Redis refuses a SET but not a DEL: the token is dropped, so no replica
    uses what it kept, and the revocation is answered."""
    from redis.exceptions import ResponseError

    first, replica, right = await _redis_world(service_factory, gateway)
    assert (await _fetch(replica)).status_code == 200
    tokens = _tokens(first)

    class OutOfMemory:
        """The tokens' Redis, refusing writes but deletions as `noeviction` does (the replay store's is left)."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def set(self, *args: Any, **kwargs: Any) -> Any:
            raise ResponseError("OOM command not allowed when used memory > 'maxmemory'.")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(tokens, "_client", OutOfMemory(tokens._client))
    assert (await _revoke(first, right)).status_code == 200
    monkeypatch.undo()
    _denied(await _fetch(replica))


@pytest.mark.parametrize(
    ("config", "keeps"),
    [({"save": "", "appendonly": "no"}, True), ({"save": "3600 1", "appendonly": "no"}, False),
     ({"save": "", "appendonly": "yes"}, False), (None, False)],
)  # fmt: skip
async def test_nothing_is_kept_where_redis_could_bring_back_an_old_token(  # type: ignore[no-untyped-def]
    service_factory, gateway, monkeypatch, config, keeps
) -> None:
    """A Redis that saves to disk could restart with a token already replaced: then, or where it does not say (a
    managed Redis without CONFIG), every fetch reads the directory."""
    from redis.exceptions import ResponseError

    await require_redis()
    svc = await service_factory("exchange", **REDIS)
    directory = svc.app.state.exchange.directory

    async def config_get(name: str) -> dict[str, str]:
        if config is None:
            raise ResponseError("unknown command 'CONFIG'")
        return {name: config[name]}

    monkeypatch.setattr(svc.app.state.redis, "config_get", config_get)
    fresh = cache.DirectoryCache(svc.app.state.engine, svc.app.state.redis)
    await fresh.open()
    assert fresh.keeps is keeps
    assert directory.keeps  # the app's own, opened at its start against the real Redis, which saves nothing


async def test_what_was_kept_is_read_again_after_its_maximum_age(  # type: ignore[no-untyped-def]
    service_factory, gateway, directory_reads, now
) -> None:
    api = await _fetched_once(service_factory, gateway)
    now[0] += cache.MAX_AGE_SECONDS - 0.1
    assert (await _fetch(api)).status_code == 200
    assert directory_reads.count("read") == 1
    now[0] += 0.2
    assert (await _fetch(api)).status_code == 200
    assert directory_reads.count("read") == 2


async def test_what_is_kept_cannot_be_changed_by_the_fetch_it_serves(  # type: ignore[no-untyped-def]
    service_factory, gateway
) -> None:
    """One read serves many fetches: nothing of it can be changed in place, so no fetch can widen the next one's."""
    api = await _fetched_once(service_factory, gateway)
    (kept,) = api.svc.app.state.exchange.directory._kept.values()
    service, right = kept.directory.service, kept.directory.right
    for change in (
        lambda: right.fields.append("ethnicity"),
        lambda: right.purposes.append("MARKETING"),
        lambda: service.fields.append("ethnicity"),
        lambda: service.protected_fields.pop("ethnicity"),
        lambda: service.protected_fields.__setitem__("ethnicity", ()),
    ):
        with pytest.raises((AttributeError, TypeError)):
            change()
    assert service.protected_fields["ethnicity"] == ()  # the civil registry's: no purpose may receive it
