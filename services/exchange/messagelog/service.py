"""Appending to the message log: each side's chain advances under a lock on its head row, so concurrent fetches
(several processes, several replicas) still form one unbroken chain per side.

PostgreSQL: the heads are read `FOR UPDATE` in a fixed order (no deadlock between two fetches). SQLite: write
transactions begin IMMEDIATE and run one at a time already. Both chains move in the request's own transaction, so
an entry exists exactly when the exchange's answer was committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Case, Update, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.exchange.deps import Runtime
from services.exchange.messagelog.models import LogEntry, LogHead
from services.exchange.messagelog.signing import ENTRY_TYPE, HEAD_TYPE, digest, sign

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


class MessageLog:
    async def append(self, session: AsyncSession, entries: Mapping[str, Mapping[str, Any]], *, rt: Runtime) -> None:
        """Append one entry to each chain named in `entries` (chain -> what to record)."""
        chains = sorted(entries)
        heads = {row.chain: row for row in await session.execute(_LOCK_HEADS, {"chains": chains})}
        now = rt.clock.now()
        rows: list[dict[str, Any]] = []
        head_updates: list[dict[str, Any]] = []
        for chain in chains:
            head = heads[chain]
            record = {
                **entries[chain],
                "chain": chain,
                "seq": head.seq + 1,
                "prev_hash": head.entry_hash,
                "logged_at": now.isoformat(),
            }
            entry_hash = digest(record)
            rows.append(
                {
                    "chain": chain,
                    "seq": record["seq"],
                    "message_id": record["message_id"],
                    "logged_at": now,
                    "record": record,
                    "entry_hash": entry_hash,
                    "signature": sign(rt.signing_key, record, typ=ENTRY_TYPE),
                }
            )
            head_record = {"chain": chain, "seq": record["seq"], "entry_hash": entry_hash, "at": now.isoformat()}
            head_updates.append(
                {
                    "b_chain": chain,
                    "b_seq": record["seq"],
                    "b_hash": entry_hash,
                    "b_signature": sign(rt.signing_key, head_record, typ=HEAD_TYPE),
                }
            )
        if len(rows) == len(CHAINS) and session.get_bind().dialect.name == "postgresql":
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

    async def entries(self, session: AsyncSession, *, message_id: str | None = None) -> Sequence[LogEntry]:
        statement = select(LogEntry).order_by(LogEntry.chain, LogEntry.seq)
        if message_id is not None:
            statement = statement.where(LogEntry.message_id == message_id)
        return (await session.scalars(statement)).all()

    async def heads(self, session: AsyncSession) -> Sequence[LogHead]:
        return (await session.scalars(select(LogHead).order_by(LogHead.chain))).all()


message_log = MessageLog()
