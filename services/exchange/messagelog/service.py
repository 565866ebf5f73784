"""Appending to the message log: each side's chain advances under a lock on its head row, so concurrent fetches
(several processes, several replicas) still form one unbroken chain per side.

PostgreSQL: the heads are read `FOR UPDATE` in a fixed order (no deadlock between two fetches). SQLite: write
transactions begin IMMEDIATE and run one at a time already. A fetch that stores a payload, and every fetch on
SQLite, moves both chains in the request's own transaction, so the entries exist exactly when that transaction
committed. Other fetches on PostgreSQL go through `GroupAppender` (group commit): their entries are committed, in
one transaction with the other fetches waiting at the time, before the answer leaves; if that fails the fetch fails.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Integer, String, Text, bindparam, cast, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from services.common.clock import Clock
from services.common.db import HeldConnection, UTCDateTime, insert_unless_conflict, table_of
from services.common.keys import SigningKey
from services.common.paging import InvalidCursor, PageRequest
from services.common.problems import ServiceUnavailable
from services.exchange.deps import Runtime
from services.exchange.messagelog.models import LogEntry, LogHead
from services.exchange.messagelog.schemas import LogEntryPage, LogEntryRead
from services.exchange.messagelog.signing import HEAD_TYPE, canonical, sign, sign_entry

log = structlog.get_logger(__name__)

CHAINS = ("consumer", "provider")
GENESIS = "0" * 64

_HEADS = table_of(LogHead)
_ENTRIES = table_of(LogEntry)
# Both heads, locked in a fixed order (no deadlock between two appenders), found through the primary key: every
# append leaves a dead version of each head behind, and where nothing has vacuumed them yet a scan of the table
# would wade through all of them.
_LOCK_HEADS = (
    select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.entry_hash)
    .where(or_(*(_HEADS.c.chain == chain for chain in CHAINS)))
    .order_by(_HEADS.c.chain)
    .with_for_update()
)
_INSERT_ENTRY = insert(_ENTRIES)
_UPDATE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("b_chain"))
    .values(seq=bindparam("b_seq"), entry_hash=bindparam("b_hash"), signature=bindparam("b_signature"))
)


def _unnested(prefix: str, columns: Mapping[str, TypeEngine[Any]]) -> TableValuedAlias:
    """Rows from one array parameter per column (`<prefix>_<column>`), unnested side by side."""
    arrays = (bindparam(f"{prefix}_{name}", type_=ARRAY(kind)) for name, kind in columns.items())
    return func.unnest(*arrays).table_valued(*columns).render_derived()


_ENTRY_ARRAYS: dict[str, TypeEngine[Any]] = {
    "chain": String(),
    "seq": Integer(),
    "message_id": String(),
    "record": Text(),  # the canonical JSON, cast to jsonb where it is inserted
    "entry_hash": String(),
    "signature": Text(),
}
_HEAD_ARRAYS: dict[str, TypeEngine[Any]] = {
    "chain": String(),
    "seq": Integer(),
    "entry_hash": String(),
    "signature": Text(),
}


def _appended_entries(entries: TableValuedAlias) -> Any:
    return select(
        entries.c.chain,
        entries.c.seq,
        entries.c.message_id,
        bindparam("logged_at", type_=UTCDateTime()),
        cast(entries.c.record, JSONB),
        entries.c.entry_hash,
        entries.c.signature,
    )


_ENTRY_COLUMNS = ["chain", "seq", "message_id", "logged_at", "record", "entry_hash", "signature"]


def _append_batch() -> Any:
    """PostgreSQL, under the heads' lock: a whole batch's entries and the heads they move in one statement, whatever
    the batch's size (columns as arrays, unnested), so that it is compiled once and runs as one prepared statement:
    one round trip while the heads are locked, which is what every concurrent fetch queues for."""
    entries = _unnested("e", _ENTRY_ARRAYS)
    moved = _unnested("h", _HEAD_ARRAYS)
    appended = insert(_ENTRIES).from_select(_ENTRY_COLUMNS, _appended_entries(entries))
    return (
        update(_HEADS)
        .where(_HEADS.c.chain == moved.c.chain)
        .values(seq=moved.c.seq, entry_hash=moved.c.entry_hash, signature=moved.c.signature)
        .add_cte(appended.cte("appended"))
    )


def _append_if_unmoved() -> Any:
    """PostgreSQL, without the lock: the same append as one autocommitted statement, which moves each head only if
    it is still where this process last left it (`h_from_seq`, `h_from_hash`) and appends the entries only if every
    head moved. A concurrent writer's uncommitted move is waited for and then seen (PostgreSQL re-reads the row it
    waited for), so the answer is exact: `moved` is the number of heads moved (0: another writer got there first,
    nothing was written). A partial move cannot happen, since every append moves both heads; should it ever, the
    statement fails on a division by zero and nothing of it stays. It takes the heads' row locks in the same order as
    a locked batch, so the two never deadlock."""
    entries = _unnested("e", _ENTRY_ARRAYS)
    moved = _unnested("h", {**_HEAD_ARRAYS, "from_seq": Integer(), "from_hash": String()})
    # Both heads locked first, in the locked path's order (an uncorrelated subquery: evaluated once, before the
    # update touches a row), so that this statement and a locked batch never wait for each other crosswise.
    locked = select(func.count()).select_from(_LOCK_HEADS.subquery("locked")).scalar_subquery()
    moving = (
        update(_HEADS)
        .where(
            locked == len(CHAINS),
            _HEADS.c.chain == moved.c.chain,
            _HEADS.c.seq == moved.c.from_seq,
            _HEADS.c.entry_hash == moved.c.from_hash,
        )
        .values(seq=moved.c.seq, entry_hash=moved.c.entry_hash, signature=moved.c.signature)
        .returning(_HEADS.c.chain)
        .cte("moving")
    )
    count = select(func.count()).select_from(moving).scalar_subquery()
    heads = bindparam("heads", type_=Integer())
    appended = insert(_ENTRIES).from_select(_ENTRY_COLUMNS, _appended_entries(entries).where(count == heads))
    whole = cast(or_(count == 0, count == heads), Integer)
    return select(count.label("moved"), (literal(1) / whole).label("whole")).add_cte(appended.cte("appended"))


_APPEND_BATCH = _append_batch()
_APPEND_IF_UNMOVED = _append_if_unmoved()


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def ensure_heads(session: AsyncSession) -> None:
    for chain in CHAINS:
        await insert_unless_conflict(
            session, _HEADS, {"chain": chain, "seq": 0, "entry_hash": GENESIS, "signature": None}
        )


Entries = Mapping[str, Mapping[str, Any]]  # chain -> what one fetch records on it
Tips = dict[str, tuple[int, str]]  # chain -> (seq, entry hash) of its head


@dataclass(frozen=True)
class Chained:
    """A batch's entries, chained on from the heads and signed, and the heads they leave (each signed once)."""

    rows: list[dict[str, Any]]
    heads: list[dict[str, Any]]
    tips: Tips  # every chain's head afterwards

    def parameters(self, now: datetime) -> dict[str, Any]:
        """The appending statements' parameters: one array per column."""
        return {
            "logged_at": now,
            **{f"e_{name}": [row[name] for row in self.rows] for name in _ENTRY_ARRAYS if name != "record"},
            "e_record": [row["payload"].decode() for row in self.rows],
            **{f"h_{name}": [head[name] for head in self.heads] for name in _HEAD_ARRAYS},
        }


def _chained(batch: Sequence[Entries], tips: Tips, key: SigningKey, now: datetime) -> Chained:
    """Each fetch's entries of `batch`, in order, chained on from `tips` (the heads) and signed."""
    tips = dict(tips)
    moved: set[str] = set()
    rows: list[dict[str, Any]] = []
    at = now.isoformat()
    for entries in batch:
        for chain in sorted(entries):
            seq, previous = tips[chain]
            record = {**entries[chain], "chain": chain, "seq": seq + 1, "prev_hash": previous, "logged_at": at}
            payload = canonical(record)  # hashed, signed and stored (the signature without it): computed once
            entry_hash = hashlib.sha256(payload).hexdigest()
            rows.append(
                {
                    "chain": chain,
                    "seq": seq + 1,
                    "message_id": record["message_id"],
                    "logged_at": now,
                    "record": record,
                    "payload": payload,
                    "entry_hash": entry_hash,
                    "signature": sign_entry(key, payload),
                }
            )
            tips[chain] = (seq + 1, entry_hash)
            moved.add(chain)
    heads = [
        {
            "chain": chain,
            "seq": seq,
            "entry_hash": entry_hash,
            "signature": sign(key, {"chain": chain, "seq": seq, "entry_hash": entry_hash, "at": at}, typ=HEAD_TYPE),
        }
        for chain, (seq, entry_hash) in sorted(tips.items())
        if chain in moved
    ]
    return Chained(rows, heads, tips)


async def _write(session: AsyncSession, batch: Sequence[Entries], key: SigningKey, now: datetime) -> None:
    """Append `batch` in `session`'s transaction, under the heads' lock (SQLite; a fetch that stores a payload)."""
    heads = (await session.execute(_LOCK_HEADS)).all()
    chained = _chained(batch, {row.chain: (row.seq, row.entry_hash) for row in heads}, key, now)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_APPEND_BATCH, chained.parameters(now))
        return
    await session.execute(_INSERT_ENTRY, [{k: v for k, v in row.items() if k != "payload"} for row in chained.rows])
    await session.execute(
        _UPDATE_HEAD,
        [
            {"b_chain": h["chain"], "b_seq": h["seq"], "b_hash": h["entry_hash"], "b_signature": h["signature"]}
            for h in chained.heads
        ],
    )


async def _write_batch(
    connection: HeldConnection,
    batch: Sequence[Entries],
    key: SigningKey,
    now: datetime,
    *,
    left: Tips | None = None,
    unlocked: bool = False,
) -> tuple[Tips, bool]:
    """PostgreSQL's group commit: append `batch`; the heads it leaves, and whether this process found them where it
    had `left` them (no other writer meanwhile).

    With `unlocked` (the last batch found no other writer) the batch is first chained on from `left` and written by
    one autocommitted statement that applies only if the heads are still there: one round trip instead of four.
    Otherwise, or if another writer moved them meanwhile, it is written in a transaction of its own on the driver's
    connection: the heads locked and read, the batch chained on from them and appended (two prepared statements
    between BEGIN and COMMIT, none of a session's work around them). Either way on the writer's own connection, held
    between batches (`HeldConnection`)."""
    if unlocked and left is not None:
        chained = _chained(batch, left, key, now)
        parameters = chained.parameters(now) | {
            "h_from_seq": [left[head["chain"]][0] for head in chained.heads],
            "h_from_hash": [left[head["chain"]][1] for head in chained.heads],
            "heads": len(chained.heads),
        }
        (outcome,) = await connection.fetch(_APPEND_IF_UNMOVED, parameters)
        if outcome.moved:
            return chained.tips, True
    async with connection.transaction() as transaction:
        tips = {row.chain: (row.seq, row.entry_hash) for row in await transaction.fetch(_LOCK_HEADS, {})}
        chained = _chained(batch, tips, key, now)
        await transaction.fetch(_APPEND_BATCH, chained.parameters(now))
    return chained.tips, tips == left


class LogUnavailable(ServiceUnavailable):
    title = "The message log could not be written"


class GroupAppender:
    """PostgreSQL: the message log written for many fetches in one transaction (group commit).

    A fetch that writes nothing else (no stored payload) hands its entries here and waits until they are committed,
    before its answer leaves. The fetches waiting while a batch is being written form the next batch: one lock of
    the heads and one statement appending the entries and moving the heads for all of them (both prepared, on the
    driver's connection), and each chain's head signed once per batch instead of once per fetch. Every entry is
    still signed and chained on its own, so the verifier names an altered, deleted or swapped entry as before; the
    signed head names the last entry of the last batch. While this process is the only writer (its last batch found
    the heads where the one before had left them), a batch is written by one statement that applies only if the heads
    have not moved since, without the lock (see `_write_batch`). Several processes stay correct as before: each
    locked batch takes the heads' row lock, and an unlocked one writes nothing if another writer moved them. If a
    batch fails, each of its fetches fails (503) and none of their entries exists.
    """

    MAX_BATCH = 200

    def __init__(self, engine: AsyncEngine, key: SigningKey, clock: Clock) -> None:
        self._connection = HeldConnection(engine)
        self._key = key
        self._clock = clock
        self._waiting: list[tuple[Entries, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._left: Tips | None = None  # the heads as this process's last batch left them
        self._alone = False  # whether that batch found them where the one before had left them

    async def append(self, entries: Entries) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            # A writer of another event loop (an app reused after its loop ended) serves nobody here.
            self._waiting = [(waiting, f) for waiting, f in self._waiting if f.get_loop() is loop]
            self._writer = loop.create_task(self._write_batches())
        self._waiting.append((entries, future))
        # Shielded: a fetch cancelled while it waits does not cancel the batch the others are in.
        await asyncio.shield(future)

    async def drain(self) -> None:
        """Wait for the batch being written, then give the writer's connection back to the pool (at shutdown, before
        the engine is disposed)."""
        loop = asyncio.get_running_loop()
        # An append may start another writer meanwhile; a writer of another (ended) event loop serves nobody here.
        while self._writer is not None and not self._writer.done() and self._writer.get_loop() is loop:
            await asyncio.wait([self._writer])
        await self._connection.release()

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH :]
            left, unlocked = self._left, self._alone
            self._left, self._alone = None, False  # unknown until this batch is written
            try:
                self._left, self._alone = await _write_batch(
                    self._connection,
                    [entries for entries, _ in batch],
                    self._key,
                    self._clock.now(),
                    left=left,
                    unlocked=unlocked,
                )
            except Exception as error:  # every waiter is told; the error is logged once
                log.warning("exchange.message_log_failed", error_type=type(error).__name__, fetches=len(batch))
                _fail(batch)
                continue
            except BaseException:  # cancelled (shutdown): nobody may wait for a batch that will not be written
                _fail(batch + self._waiting)
                self._waiting = []
                raise
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


def _fail(batch: Sequence[tuple[Entries, asyncio.Future[None]]]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(LogUnavailable("The message log could not be written; try again."))


class MessageLog:
    async def append(self, session: AsyncSession, entries: Entries, *, rt: Runtime) -> None:
        """Append one entry to each chain named in `entries` (chain -> what to record), in `session`'s transaction."""
        await _write(session, [entries], rt.signing_key, rt.clock.now())

    async def page(self, session: AsyncSession, paging: PageRequest, *, message_id: str | None = None) -> LogEntryPage:
        """One page of entries in the log's order (chain, then sequence), after the cursor's (chain, seq)."""
        statement = select(LogEntry)
        if message_id is not None:
            statement = statement.where(LogEntry.message_id == message_id)
        if paging.after is not None:
            chain, _, seq = paging.after.partition("|")
            if not seq.isdigit() or len(seq) > 18:
                raise InvalidCursor()
            statement = statement.where(
                tuple_(LogEntry.chain, LogEntry.seq) > tuple_(literal(chain), literal(int(seq)))
            )
        statement = statement.order_by(LogEntry.chain, LogEntry.seq).limit(paging.limit + 1)
        rows = (await session.scalars(statement)).all()
        return LogEntryPage.of(rows, paging, position=lambda e: f"{e.chain}|{e.seq}", item=LogEntryRead.model_validate)

    async def heads(self, session: AsyncSession) -> Sequence[LogHead]:
        return (await session.scalars(select(LogHead).order_by(LogHead.chain))).all()


message_log = MessageLog()
