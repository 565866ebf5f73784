"""Reading the whole log for an auditor (the export, the verification): a page of rows at a time, in one snapshot.

The log grows by two entries a fetch, so neither reads it whole into memory: rows come in pages of `PAGE` in the
log's order (chain, then position), the verifier takes them one by one (`LogVerifier`), and the export is written
out as it is read. Both read in one snapshot (PostgreSQL: a REPEATABLE READ transaction; SQLite: its transaction),
so while fetches go on appending, the entries and the signed heads they see are those of one moment: a head never
names an entry the export does not hold, nor one it already passed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common.db import table_of
from services.exchange.messagelog.models import LogEntry, LogHead
from services.exchange.messagelog.schemas import LogEntryRead, LogHeadRead
from services.exchange.messagelog.verify import LogVerifier, Report

PAGE = 1_000
_entries = table_of(LogEntry)
_heads = table_of(LogHead)
_IN_ORDER = (_entries.c.chain, _entries.c.seq)


async def in_one_snapshot(session: AsyncSession) -> None:
    """Make the session's transaction, which must not have started, one snapshot for all its reads."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


async def entry_pages(session: AsyncSession) -> AsyncIterator[Sequence[RowMapping]]:
    """Every entry, in the log's order, `PAGE` rows at a time (keyset: after the last chain and position)."""
    page = PAGE
    statement = select(_entries).order_by(*_IN_ORDER).limit(page)
    after: tuple[str, int] | None = None
    while True:
        step = statement if after is None else statement.where(tuple_(*_IN_ORDER) > tuple_(*after))
        rows = [row._mapping for row in await session.execute(step)]
        if rows:
            yield rows
        if len(rows) < page:
            return
        after = (rows[-1]["chain"], rows[-1]["seq"])


async def heads(session: AsyncSession) -> Sequence[RowMapping]:
    return [row._mapping for row in await session.execute(select(_heads).order_by(_heads.c.chain))]


async def verify(session: AsyncSession, jwks: Mapping[str, Any]) -> Report:
    """The log's verification, read in one snapshot a page at a time."""
    await in_one_snapshot(session)
    verifier = LogVerifier(await heads(session), jwks)
    async for rows in entry_pages(session):
        for row in rows:
            verifier.feed(row)
    return verifier.finish()


async def export(sessionmaker: async_sessionmaker[AsyncSession], jwks: Mapping[str, Any]) -> AsyncIterator[bytes]:
    """The export document (`LogExport`'s shape) as it is read: its entries, its heads and the public keys. The
    response streams it, so a log of any length is exported in the memory of a page."""
    async with sessionmaker() as session, session.begin():
        await in_one_snapshot(session)
        signed_heads = await heads(session)  # in the snapshot, like the entries
        yield b'{"entries":['
        first = True
        async for rows in entry_pages(session):
            chunk = b",".join(LogEntryRead.model_validate(row).model_dump_json().encode() for row in rows)
            yield chunk if first else b"," + chunk
            first = False
        listed = b",".join(LogHeadRead.model_validate(head).model_dump_json().encode() for head in signed_heads)
        yield b'],"heads":[' + listed + b'],"jwks":' + json.dumps(jwks, separators=(",", ":")).encode() + b"}"
