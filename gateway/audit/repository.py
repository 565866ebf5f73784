"""Every read of the audit tables: interior nodes for proofs, entries by range, search, checkpoints, witnesses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.audit.merkle import HASH_SIZE, NodeId
from gateway.audit.models import AuditTables


@dataclass(frozen=True)
class StoredEntry:
    index: int
    event_id: str
    leaf: bytes
    leaf_hash: bytes


@dataclass(frozen=True)
class SearchFilter:
    sub: str | None = None
    actor: str | None = None
    action: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class MissingNode(LookupError):
    """A node the proof needs is not stored (the tree is smaller than asked, or rows were removed)."""


class AuditRepository:
    def __init__(self, conn: AsyncConnection, tables: AuditTables) -> None:
        self.conn = conn
        self.t = tables

    async def nodes(self, wanted: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """The stored hashes of perfect subtrees `(level, index)`, in one query."""
        wanted = set(wanted)
        rows_for = {node: ((node[1] + 1) << node[0]) - 1 for node in wanted}
        if not rows_for:
            return {}
        events = self.t.events
        result = await self.conn.execute(
            select(events.c.idx, events.c.leaf_hash, events.c.nodes).where(events.c.idx.in_(set(rows_for.values())))
        )
        rows = {row.idx: row for row in result}
        found: dict[NodeId, bytes] = {}
        for node, idx in rows_for.items():
            row = rows.get(idx)
            level = node[0]
            if row is None:
                raise MissingNode(f"leaf {idx} is not stored")
            value = row.leaf_hash if level == 0 else row.nodes[(level - 1) * HASH_SIZE : level * HASH_SIZE]
            if len(value) != HASH_SIZE:
                raise MissingNode(f"node {node} is not stored at leaf {idx}")
            found[node] = value
        return found

    async def entry_chunk(self, start: int, end: int, limit: int) -> list[StoredEntry]:
        """Up to `limit` stored entries with start <= index < end, in index order."""
        events = self.t.events
        result = await self.conn.execute(
            select(events.c.idx, events.c.event_id, events.c.leaf, events.c.leaf_hash)
            .where(events.c.idx >= start, events.c.idx < end)
            .order_by(events.c.idx)
            .limit(limit)
        )
        return [StoredEntry(row.idx, row.event_id, row.leaf, row.leaf_hash) for row in result]

    async def entry(self, *, index: int | None = None, event_id: str | None = None) -> StoredEntry | None:
        events = self.t.events
        condition = events.c.idx == index if index is not None else events.c.event_id == event_id
        row = (
            await self.conn.execute(
                select(events.c.idx, events.c.event_id, events.c.leaf, events.c.leaf_hash).where(condition)
            )
        ).first()
        return None if row is None else StoredEntry(row.idx, row.event_id, row.leaf, row.leaf_hash)

    def _search(self, where: SearchFilter) -> Select[Any]:
        events = self.t.events
        statement = select(events.c.idx, events.c.event_id, events.c.leaf, events.c.leaf_hash)
        conditions = []
        if where.sub is not None:
            conditions.append(events.c.sub == where.sub)
        if where.actor is not None:
            conditions.append(events.c.actor == where.actor)
        if where.action is not None:
            conditions.append(events.c.action == where.action)
        if where.since is not None:
            conditions.append(events.c.time >= where.since)
        if where.until is not None:
            conditions.append(events.c.time < where.until)
        if where.rule is not None:
            rules = self.t.rules
            statement = statement.join(rules, and_(rules.c.idx == events.c.idx, rules.c.rule_id == where.rule))
        return statement.where(*conditions)

    async def search(self, where: SearchFilter, *, before: int | None, limit: int) -> list[StoredEntry]:
        """Matching entries, newest first, with index < `before` (the cursor)."""
        events = self.t.events
        statement = self._search(where)
        if before is not None:
            statement = statement.where(events.c.idx < before)
        result = await self.conn.execute(statement.order_by(events.c.idx.desc()).limit(limit))
        return [StoredEntry(r.idx, r.event_id, r.leaf, r.leaf_hash) for r in result]

    async def subject_entries(self, sub: str) -> list[tuple[StoredEntry, datetime | None]]:
        events = self.t.events
        result = await self.conn.execute(
            select(events.c.idx, events.c.event_id, events.c.leaf, events.c.leaf_hash, events.c.disclose_after)
            .where(events.c.sub == sub)
            .order_by(events.c.idx.desc())
        )
        return [(StoredEntry(r.idx, r.event_id, r.leaf, r.leaf_hash), r.disclose_after) for r in result]

    # ---- checkpoints and witnesses ------------------------------------------------------------------------------

    async def latest_checkpoint(self) -> tuple[int, str] | None:
        c = self.t.checkpoints
        row = (await self.conn.execute(select(c.c.size, c.c.note).order_by(c.c.size.desc()).limit(1))).first()
        return None if row is None else (row.size, row.note)

    async def checkpoint_at_least(self, size: int) -> tuple[int, str] | None:
        c = self.t.checkpoints
        row = (
            await self.conn.execute(select(c.c.size, c.c.note).where(c.c.size >= size).order_by(c.c.size).limit(1))
        ).first()
        return None if row is None else (row.size, row.note)

    async def checkpoints_between(self, low: int, high: int) -> list[tuple[int, str]]:
        c = self.t.checkpoints
        result = await self.conn.execute(
            select(c.c.size, c.c.note).where(c.c.size >= low, c.c.size <= high).order_by(c.c.size)
        )
        return [(row.size, row.note) for row in result]

    async def cosignatures(self, sizes: Iterable[int]) -> dict[int, list[str]]:
        c = self.t.cosignatures
        found: dict[int, list[str]] = {}
        sizes = list(sizes)
        if not sizes:
            return found
        result = await self.conn.execute(
            select(c.c.size, c.c.signature).where(c.c.size.in_(sizes)).order_by(c.c.size, c.c.witness)
        )
        for row in result:
            found.setdefault(row.size, []).append(row.signature)
        return found

    async def refusals(self, *, limit: int = 100) -> list[dict[str, Any]]:
        r = self.t.refusals
        result = await self.conn.execute(select(r).order_by(r.c.refused_at.desc(), r.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in result]
