"""Transactional outbox: a service writes its events in the same transaction as its state change; a relay
publishes committed rows to the bus and marks them. A rolled-back transaction leaves no row, so no event is
invented; a committed row stays until published, so none is lost; the bus de-duplicates by the row id, so a relay
that dies between publish and mark does not deliver twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, delete, insert, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.bus import Bus, Event
from services.common.clock import Clock
from services.common.db import UTCDateTime
from services.common.ids import new_id
from services.common.tasks import RepeatingTask

log = structlog.get_logger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", String(64), primary_key=True),  # UUIDv7: sorts by creation
        Column("subject", String(200), nullable=False),
        Column("payload", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("published_at", UTCDateTime(), nullable=True, index=True),
        Column("attempts", Integer(), nullable=False, default=0),
    )


class Outbox:
    def __init__(self, table: Table, clock: Clock) -> None:
        self.table = table
        self._clock = clock
        # Built once and given its values at execution: a statement rebuilt per call with .values() costs more to
        # construct and cache-key than to run (measured on the authentication path).
        self._insert = insert(table)

    async def add(self, session: AsyncSession, subject: str, payload: dict[str, Any]) -> str:
        """Queue an event inside the caller's transaction; it is published only if that transaction commits."""
        event_id = new_id("evt")
        row = {"id": event_id, "subject": subject, "payload": payload, "created_at": self._clock.now(), "attempts": 0}
        await session.execute(self._insert, row)
        return event_id


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: Table,
        bus: Bus,
        clock: Clock,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.2,
        retention: timedelta = timedelta(days=7),
        prune_interval: float = 600,
        prune_batch_size: int = 1000,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._table = table
        self._bus = bus
        self._clock = clock
        self._batch_size = batch_size
        self._retention = retention
        self._prune_batch_size = prune_batch_size
        self._loop = RepeatingTask(
            self.drain, interval=poll_interval, name="outbox-relay", failure_event="outbox.relay_failed"
        )
        # Published rows would otherwise pile up for ever: one per event the service ever raised.
        self._pruner = RepeatingTask(
            self.prune,
            interval=prune_interval,
            name="outbox-pruner",
            failure_event="outbox.prune_failed",
            wait_first=True,
        )

    def notify(self) -> None:
        """Ask the relay to look now rather than at its next poll."""
        self._loop.wake()

    async def relay_once(self) -> int:
        """Publish one batch of committed, unpublished events; returns how many were published."""
        table = self._table
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    select(table.c.id, table.c.subject, table.c.payload)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)  # concurrent relays (replicas) take disjoint rows
                )
            ).all()
            published: list[str] = []
            for row in rows:
                try:
                    await self._bus.publish(Event(subject=row.subject, msg_id=row.id, payload=row.payload))
                except Exception:
                    log.exception("outbox.publish_failed", event_id=row.id)
                    await session.execute(
                        update(table).where(table.c.id == row.id).values(attempts=table.c.attempts + 1)
                    )
                    break  # keep order: later events wait for this one
                published.append(row.id)
            if published:
                # One statement for the batch, not one per event: under load a batch holds dozens.
                await session.execute(
                    update(table)
                    .where(table.c.id.in_(published))
                    .values(published_at=self._clock.now(), attempts=table.c.attempts + 1)
                )
            return len(published)

    async def drain(self) -> int:
        total = 0
        while count := await self.relay_once():
            total += count
        return total

    async def prune(self) -> int:
        """Delete events published more than `retention` ago, a batch per transaction; returns how many."""
        table = self._table
        cutoff = self._clock.now() - self._retention
        expired = (
            select(table.c.id)
            .where(table.c.published_at < cutoff)
            .order_by(table.c.id)
            .limit(self._prune_batch_size)
            .scalar_subquery()
        )
        total = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                statement = delete(table).where(table.c.id.in_(expired)).returning(table.c.id)
                deleted = len((await session.execute(statement)).all())
            total += deleted
            if deleted < self._prune_batch_size:
                break
        if total:
            log.info("outbox.pruned", events=total, published_before=cutoff.isoformat())
        return total

    def start(self) -> None:
        self._loop.start()
        self._pruner.start()

    async def stop(self) -> None:
        """Let the current batch finish, then stop."""
        await self._pruner.stop()
        await self._loop.stop()
