"""Transactional outbox: events from rolled-back transactions never leave; committed ones leave exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.common.bus import Event, InProcessBus, NatsJetStreamBus, subject_matches
from services.common.outbox import OutboxRelay
from tests.plugin import backend_unavailable

NATS_URL = "nats://127.0.0.1:4222"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


async def _write(app, subject: str, payload: dict, *, commit: bool) -> str:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        event_id = await app.state.outbox.add(session, subject, payload)
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return event_id


async def _unpublished(app) -> int:  # type: ignore[no-untyped-def]
    table = app.state.outbox.table
    async with app.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).where(table.c.published_at.is_(None)))  # type: ignore[no-any-return]


def _relay(app, bus) -> OutboxRelay:  # type: ignore[no-untyped-def]
    return OutboxRelay(app.state.sessionmaker, app.state.outbox.table, bus, app.state.clock)


async def test_rolled_back_event_is_never_published(service_factory):
    svc = await service_factory("consent")
    await svc.app.state.relay.stop()  # drive the relay by hand
    bus, seen = InProcessBus(), Recorder()
    await bus.subscribe("consent.>", seen)
    await _write(svc.app, "consent.granted", {"consent_id": "c-1"}, commit=False)
    assert await _relay(svc.app, bus).drain() == 0
    assert seen.events == []
    assert await _unpublished(svc.app) == 0


async def test_committed_event_is_published_exactly_once(service_factory):
    svc = await service_factory("consent")
    await svc.app.state.relay.stop()
    bus, seen = InProcessBus(), Recorder()
    await bus.subscribe("consent.*", seen)
    event_id = await _write(svc.app, "consent.granted", {"consent_id": "c-2"}, commit=True)
    relay = _relay(svc.app, bus)
    assert await relay.drain() == 1
    assert await relay.drain() == 0  # a second pass finds nothing left
    assert [(e.msg_id, e.payload) for e in seen.events] == [(event_id, {"consent_id": "c-2"})]
    assert await _unpublished(svc.app) == 0


async def test_concurrent_relays_publish_each_event_once(service_factory):
    """Two relays (two replicas) over one outbox: every event delivered once, none lost."""
    svc = await service_factory("payments")
    await svc.app.state.relay.stop()
    bus, seen = InProcessBus(), Recorder()
    await bus.subscribe(">", seen)
    ids = [await _write(svc.app, "payments.transfer.committed", {"n": n}, commit=True) for n in range(40)]
    await asyncio.gather(_relay(svc.app, bus).drain(), _relay(svc.app, bus).drain())
    assert sorted(e.msg_id for e in seen.events) == sorted(ids)


async def test_republished_row_after_a_crash_is_deduplicated(service_factory):
    """A relay that published but died before marking the row: the next relay publishes again, the bus drops it."""
    svc = await service_factory("exchange")
    await svc.app.state.relay.stop()
    bus, seen = InProcessBus(), Recorder()
    await bus.subscribe(">", seen)
    event_id = await _write(svc.app, "exchange.birth.registered", {"n": 1}, commit=True)
    assert await bus.publish(Event("exchange.birth.registered", event_id, {"n": 1}))  # the crashed relay's send
    assert await _relay(svc.app, bus).drain() == 1
    assert len(seen.events) == 1


async def test_running_relay_publishes_committed_events(service_factory):
    svc = await service_factory("identity")
    seen = Recorder()
    await svc.bus.subscribe("identity.>", seen)
    await _write(svc.app, "identity.person.enrolled", {"sub": "s-1"}, commit=True)
    await _write(svc.app, "identity.person.enrolled", {"sub": "s-2"}, commit=False)
    svc.app.state.relay.notify()
    for _ in range(100):
        if seen.events:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert [e.payload for e in seen.events] == [{"sub": "s-1"}]


async def _outbox_ids(app) -> set[str]:  # type: ignore[no-untyped-def]
    table = app.state.outbox.table
    async with app.state.sessionmaker() as session:
        return set((await session.scalars(select(table.c.id))).all())


async def test_published_events_go_after_the_retention_and_unpublished_ones_never(service_factory, clock):
    svc = await service_factory("consent", outbox_retention_seconds=3600)
    relay = svc.app.state.relay  # the app's own, with the retention from its settings
    await relay.stop()  # driven by hand
    delivered = await _write(svc.app, "consent.granted", {"n": 1}, commit=True)
    assert await relay.drain() == 1
    waiting = await _write(svc.app, "consent.granted", {"n": 2}, commit=True)  # not published yet
    clock.advance(hours=2)

    assert await relay.prune() == 1
    assert await _outbox_ids(svc.app) == {waiting}  # the undelivered one stays, however old
    assert delivered not in await _outbox_ids(svc.app)

    latest = await _write(svc.app, "consent.granted", {"n": 3}, commit=True)
    assert await relay.drain() == 2
    assert await relay.prune() == 0  # both just published
    clock.advance(minutes=59)
    assert await relay.prune() == 0
    clock.advance(minutes=2)
    assert await relay.prune() == 2
    assert not {waiting, latest} & await _outbox_ids(svc.app)


async def test_pruning_works_through_a_backlog_batch_by_batch(service_factory, clock):
    svc = await service_factory("payments")
    await svc.app.state.relay.stop()
    relay = OutboxRelay(
        svc.app.state.sessionmaker, svc.app.state.outbox.table, InProcessBus(), clock,
        retention=timedelta(minutes=5), prune_batch_size=7,
    )  # fmt: skip
    for n in range(30):
        await _write(svc.app, "payments.transfer.committed", {"n": n}, commit=True)
    assert await relay.drain() == 30
    clock.advance(minutes=6)
    assert await relay.prune() == 30
    assert await _outbox_ids(svc.app) == set()


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [("a.*", "a.b", True), ("a.*", "a.b.c", False), ("a.>", "a.b.c", True), ("a.>", "a", False), ("a.b", "a.b", True)],
)
def test_subject_wildcards_follow_nats(pattern, subject, expected):
    assert subject_matches(pattern, subject) is expected


@pytest.fixture
async def jetstream():
    prefix = f"t{uuid.uuid4().hex[:10]}"
    try:
        bus = await NatsJetStreamBus(NATS_URL, stream=prefix.upper(), prefix=prefix).connect()
    except Exception as error:
        backend_unavailable(f"NATS JetStream at {NATS_URL} is not reachable: {error!r}")
    yield bus
    await bus.delete_stream()
    await bus.close()


async def test_committed_event_reaches_jetstream_exactly_once(service_factory, jetstream):
    svc = await service_factory("consent")
    await svc.app.state.relay.stop()
    seen = Recorder()
    await jetstream.subscribe("consent.>", seen)
    event_id = await _write(svc.app, "consent.revoked", {"consent_id": "c-9"}, commit=True)
    await _write(svc.app, "consent.revoked", {"consent_id": "never"}, commit=False)
    assert await _relay(svc.app, jetstream).drain() == 1
    # The crash case: the same row id published again is dropped by JetStream's Nats-Msg-Id de-duplication.
    assert await jetstream.publish(Event("consent.revoked", event_id, {"consent_id": "c-9"})) is False
    for _ in range(100):
        if seen.events:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    assert [(e.msg_id, e.payload) for e in seen.events] == [(event_id, {"consent_id": "c-9"})]
