"""The audit log's write side: group commit of appends into the Merkle tree kept in the gateway's database.

Every `append` joins the pending batch; one writer task per process takes the whole batch, locks the tree head row
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's single write lock, taken by BEGIN IMMEDIATE), numbers the events
from the head's size, inserts them with their leaf and interior hashes, moves the head and commits. Only then is
each caller answered. The lock on the head row is what makes indexes gap-free and unique across gateway processes
sharing one PostgreSQL database: a second process's batch waits for the first to commit and continues from its size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.events import AppendedEvent, AuditEvent, encode_leaf
from gateway.audit.merkle import EMPTY_ROOT, Frontier, leaf_hash
from gateway.audit.models import AuditTables
from services.common.clock import Clock
from services.common.ids import new_id

log = structlog.get_logger("gateway.audit")
HEAD_ID = 1


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass
class _Pending:
    event: AuditEvent
    future: asyncio.Future[AppendedEvent]


class AuditLog:
    """Append-only Merkle log. `append` is safe to call from any number of concurrent tasks and processes."""

    def __init__(
        self, engine: AsyncEngine, tables: AuditTables, clock: Clock, *, batched: bool = True, max_batch: int = 2000
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.clock = clock
        self.batched = batched
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    # ---- lifecycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._ensure_head()
        if self.batched:
            self._writer = asyncio.create_task(self._write_loop(), name="audit-writer")

    async def stop(self) -> None:
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
            self._writer = None

    # ---- appending -------------------------------------------------------------------------------------------

    async def append(self, event: AuditEvent) -> AppendedEvent:
        """Record `event`; returns once it is committed, with its id and leaf index."""
        if self._closed:
            raise RuntimeError("the audit log is stopped")
        if not self.batched or self._writer is None:
            (appended,) = await self._write_batch([event])
            return appended
        future: asyncio.Future[AppendedEvent] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(event, future))
        self._wake.set()
        return await future

    async def append_many(self, events: Sequence[AuditEvent]) -> list[AppendedEvent]:
        """Record several events in one transaction (imports, tests, the benchmark's baseline)."""
        return await self._write_batch(list(events))

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                try:
                    results = await self._write_batch([p.event for p in batch])
                except Exception as error:  # every caller of the batch learns that its event was not recorded
                    log.error("audit batch failed", size=len(batch), error=type(error).__name__)
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(error)
                    continue
                for pending, result in zip(batch, results, strict=True):
                    if not pending.future.done():
                        pending.future.set_result(result)
            if self._closed and not self._pending:
                return

    async def _write_batch(self, events: list[AuditEvent]) -> list[AppendedEvent]:
        now = self.clock.now()
        t = self.tables
        async with self.engine.begin() as conn:
            head = (
                await conn.execute(
                    select(t.head.c.size, t.head.c.frontier).where(t.head.c.id == HEAD_ID).with_for_update()
                )
            ).one()
            frontier = Frontier.from_bytes(head.size, head.frontier)
            rows: list[dict[str, Any]] = []
            rule_rows: list[dict[str, Any]] = []
            results: list[AppendedEvent] = []
            for event in events:
                index = frontier.size
                event_id = event.event_id or new_id("evt")
                leaf = encode_leaf(index, event.record(event_id, now))
                hashed = leaf_hash(leaf)
                nodes = frontier.append(hashed)
                rows.append(
                    {
                        "idx": index,
                        "event_id": event_id,
                        "leaf": leaf,
                        "leaf_hash": hashed,
                        "nodes": b"".join(nodes),
                        "time": event.time or now,
                        "sub": event.sub,
                        "actor": event.actor,
                        "action": event.action,
                        "decision": event.decision,
                        "disclose_after": event.disclose_after,
                    }
                )
                rule_rows.extend({"rule_id": rule, "idx": index} for rule in dict.fromkeys(event.rule_ids))
                results.append(AppendedEvent(event_id=event_id, index=index))
            await conn.execute(insert(t.events), rows)
            if rule_rows:
                await conn.execute(insert(t.rules), rule_rows)
            await conn.execute(
                update(t.head)
                .where(t.head.c.id == HEAD_ID)
                .values(size=frontier.size, root=frontier.root(), frontier=frontier.to_bytes())
            )
        return results

    # ---- reading the head -------------------------------------------------------------------------------------

    async def head(self) -> TreeHead:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(self.tables.head.c.size, self.tables.head.c.root))).one()
        return TreeHead(row.size, row.root)

    async def _ensure_head(self) -> None:
        values = {"id": HEAD_ID, "size": 0, "root": EMPTY_ROOT, "frontier": b""}
        async with self.engine.begin() as conn:
            await conn.execute(_insert_ignore(conn, self.tables).values(**values))


def _insert_ignore(conn: AsyncConnection, tables: AuditTables) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(tables.head).on_conflict_do_nothing()
    return sqlite.insert(tables.head).on_conflict_do_nothing()
