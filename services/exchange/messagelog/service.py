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
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Case, Update, bindparam, case, insert, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.clock import Clock
from services.common.db import insert_unless_conflict, table_of
from services.common.keys import SigningKey
from services.common.paging import InvalidCursor, PageRequest
from services.common.problems import ServiceUnavailable
from services.exchange.deps import Runtime
from services.exchange.messagelog.models import LogEntry, LogHead
from services.exchange.messagelog.schemas import LogEntryPage, LogEntryRead
from services.exchange.messagelog.signing import ENTRY_TYPE, HEAD_TYPE, digest, sign

log = structlog.get_logger(__name__)

CHAINS = ("consumer", "provider")
GENESIS = "0" * 64

_HEADS = table_of(LogHead)
_LOCK_HEADS = (
    select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.entry_hash)
    .where(_HEADS.c.chain.in_(bindparam("chains", expanding=True)))
    .order_by(_HEADS.c.chain)
    .with_for_update()
)
_INSERT_ENTRY = insert(table_of(LogEntry))
_UPDATE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("b_chain"))
    .values(seq=bindparam("b_seq"), entry_hash=bindparam("b_hash"), signature=bindparam("b_signature"))
)

_ENTRIES = table_of(LogEntry)
_ENTRY_COLUMNS = ("chain", "seq", "message_id", "logged_at", "record", "entry_hash", "signature")
_HEAD_COLUMNS = ("seq", "entry_hash", "signature")


def _append_both() -> Update:
    """PostgreSQL, both chains at once (every fetch): the two entries and the two heads in one statement, one round
    trip fewer while the heads are locked, which is what every concurrent fetch queues for.

    Built from single-row INSERTs and CASE expressions only, so that SQLAlchemy caches its compiled form: a multi-row
    VALUES (as `insert().values([...])` or `values()`) has no cache key and was compiled anew for every fetch."""
    chain = _HEADS.c.chain

    def moved(name: str) -> Case[Any]:
        return case(
            *(
                (
                    chain == bindparam(f"h{n}_chain", type_=chain.type),
                    bindparam(f"h{n}_{name}", type_=_HEADS.c[name].type),
                )
                for n in range(len(CHAINS))
            )
        )

    statement = (
        update(_HEADS)
        .where(chain.in_([bindparam(f"h{n}_chain", type_=chain.type) for n in range(len(CHAINS))]))
        .values({name: moved(name) for name in _HEAD_COLUMNS})
    )
    for n in range(len(CHAINS)):
        entry = {name: bindparam(f"e{n}_{name}", type_=_ENTRIES.c[name].type) for name in _ENTRY_COLUMNS}
        statement = statement.add_cte(insert(_ENTRIES).values(entry).cte(f"appended_{n}"))
    return statement


_APPEND_BOTH = _append_both()


def body_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def ensure_heads(session: AsyncSession) -> None:
    for chain in CHAINS:
        await insert_unless_conflict(
            session, _HEADS, {"chain": chain, "seq": 0, "entry_hash": GENESIS, "signature": None}
        )


Entries = Mapping[str, Mapping[str, Any]]  # chain -> what one fetch records on it


async def _write(session: AsyncSession, batch: Sequence[Entries], key: SigningKey, now: datetime) -> None:
    """Append each fetch's entries of `batch`, in order, under the heads' lock; each chain's head is signed once."""
    chains = sorted({chain for entries in batch for chain in entries})
    heads = {row.chain: row for row in await session.execute(_LOCK_HEADS, {"chains": chains})}
    tips = {chain: (heads[chain].seq, heads[chain].entry_hash) for chain in chains}
    rows: list[dict[str, Any]] = []
    for entries in batch:
        for chain in sorted(entries):
            seq, previous = tips[chain]
            record = {
                **entries[chain],
                "chain": chain,
                "seq": seq + 1,
                "prev_hash": previous,
                "logged_at": now.isoformat(),
            }
            entry_hash = digest(record)
            rows.append(
                {
                    "chain": chain,
                    "seq": seq + 1,
                    "message_id": record["message_id"],
                    "logged_at": now,
                    "record": record,
                    "entry_hash": entry_hash,
                    "signature": sign(key, record, typ=ENTRY_TYPE),
                }
            )
            tips[chain] = (seq + 1, entry_hash)
    head_updates = [
        {
            "b_chain": chain,
            "b_seq": seq,
            "b_hash": entry_hash,
            "b_signature": sign(
                key, {"chain": chain, "seq": seq, "entry_hash": entry_hash, "at": now.isoformat()}, typ=HEAD_TYPE
            ),
        }
        for chain, (seq, entry_hash) in sorted(tips.items())
    ]
    if len(rows) == len(CHAINS) == len(head_updates) and session.get_bind().dialect.name == "postgresql":
        parameters = {f"e{n}_{name}": row[name] for n, row in enumerate(rows) for name in _ENTRY_COLUMNS}
        for n, moved in enumerate(head_updates):
            parameters |= {
                f"h{n}_chain": moved["b_chain"],
                f"h{n}_seq": moved["b_seq"],
                f"h{n}_entry_hash": moved["b_hash"],
                f"h{n}_signature": moved["b_signature"],
            }
        await session.execute(_APPEND_BOTH, parameters)
        return
    await session.execute(_INSERT_ENTRY, rows)
    await session.execute(_UPDATE_HEAD, head_updates)


class LogUnavailable(ServiceUnavailable):
    title = "The message log could not be written"


class GroupAppender:
    """PostgreSQL: the message log written for many fetches in one transaction (group commit).

    A fetch that writes nothing else (no stored payload) hands its entries here and waits until they are committed,
    before its answer leaves. The fetches waiting while a batch is being written form the next batch: one lock of
    the heads, one insert of the entries and one update of the heads for all of them, and each chain's head signed
    once per batch instead of once per fetch. Every entry is still signed and chained on its own, so the verifier
    names an altered, deleted or swapped entry as before; the signed head names the last entry of the last batch.
    Several processes stay correct as before: each batch takes the heads' row lock. If a batch fails, each of its
    fetches fails (503) and none of their entries exists.
    """

    MAX_BATCH = 200

    def __init__(self, sessions: async_sessionmaker[AsyncSession], key: SigningKey, clock: Clock) -> None:
        self._sessions = sessions
        self._key = key
        self._clock = clock
        self._waiting: list[tuple[Entries, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

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
        """Wait for the batch being written (at shutdown)."""
        if self._writer is not None:
            await asyncio.wait([self._writer])

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH :]
            try:
                async with self._sessions() as session, session.begin():
                    await _write(session, [entries for entries, _ in batch], self._key, self._clock.now())
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

    async def entries(self, session: AsyncSession, *, message_id: str | None = None) -> Sequence[LogEntry]:
        statement = select(LogEntry).order_by(LogEntry.chain, LogEntry.seq)
        if message_id is not None:
            statement = statement.where(LogEntry.message_id == message_id)
        return (await session.scalars(statement)).all()

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
