"""The exchange's listener on the bus: every event its providers publish (`exchange.*`) is fanned out to the
subscriptions, in one transaction per event.

JetStream: the fan-out runs in the handler, so an event is acknowledged only once its deliveries are committed; a
failure is redelivered, and one delivery row per (subscription, event) makes that, and several replicas listening,
harmless. In-process bus: it calls handlers inside the publisher's outbox transaction, which on SQLite holds the
service's one connection, so events are handed to a worker task of this process instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

import structlog
from fastapi import FastAPI

from services.common.bus import Event, InProcessBus
from services.exchange.deps import Runtime
from services.exchange.pubsub.service import pubsub

log = structlog.get_logger(__name__)
PROVIDER_EVENTS = "exchange.>"


def delivery_handler(app: FastAPI) -> Callable[[Event], Awaitable[None]]:
    async def handle(event: Event) -> None:
        rt: Runtime = app.state.exchange
        async with app.state.sessionmaker() as session, session.begin():
            await pubsub.deliver(session, event, rt=rt)

    return handle


class FanOutWorker:
    """Events queued by the in-process bus, fanned out one by one."""

    def __init__(self, handle: Callable[[Event], Awaitable[None]]) -> None:
        self._handle = handle
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def enqueue(self, event: Event) -> None:
        self._queue.put_nowait(event)

    async def drained(self) -> None:
        """Wait until every queued event is fanned out (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            except Exception:
                log.exception("exchange.fan_out_failed", subject=event.subject, msg_id=event.msg_id)
            finally:
                self._queue.task_done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="exchange-fan-out")

    async def stop(self) -> None:
        if self._task is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=10)
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


@asynccontextmanager
async def pubsub_lifespan(app: FastAPI) -> AsyncIterator[None]:
    handle = delivery_handler(app)
    worker = FanOutWorker(handle)
    app.state.fan_out = worker
    if isinstance(app.state.bus, InProcessBus):
        worker.start()
        await app.state.bus.subscribe(PROVIDER_EVENTS, worker.enqueue)
    else:
        await app.state.bus.subscribe(PROVIDER_EVENTS, handle)
    try:
        yield
    finally:
        await worker.stop()
