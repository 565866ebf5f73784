"""The bulk domain's statements: intake in multi-row inserts, and payment a chunk at a time, set-based.

Every statement of a chunk touches all its items at once (UPDATE ... FROM, INSERT ... SELECT): resolving through
the mapper's table, refusing what cannot be credited, posting one ledger row per item, crediting every payee
account by its total, marking the items. The same SQL runs on SQLite (3.33+) and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import UTCDateTime, insert_unless_conflict, table_of
from services.payments.bulk.models import Batch, BatchItem, ItemStatus

batches = table_of(Batch)
items = table_of(BatchItem)

_RANGE = "batch_items.batch_id = :b AND batch_items.seq >= :lo AND batch_items.seq < :hi"
_PENDING = f"{_RANGE} AND batch_items.status = 'pending'"


def _sql(statement: str) -> Any:
    """A chunk statement: @RANGE / @PENDING stand for the chunk's items (all bound parameters, no values)."""
    statement = statement.replace("@PENDING", _PENDING).replace("@RANGE", _RANGE)
    clause = text(statement)
    return clause.bindparams(bindparam("now", type_=UTCDateTime())) if ":now" in statement else clause


_RESOLVE = _sql("""
    UPDATE batch_items SET account_id = links.account_id FROM links
    WHERE links.ref_type = 'sub' AND links.person_ref = batch_items.person_ref AND links.is_default
      AND @PENDING
""")
_FAIL_UNRESOLVED = _sql("""
    UPDATE batch_items SET status = 'failed', reason = 'unresolved', completed_at = :now
    WHERE @PENDING AND batch_items.account_id IS NULL
""")
_FAIL_UNCREDITABLE = _sql("""
    UPDATE batch_items
    SET status = 'failed', completed_at = :now,
        reason = CASE WHEN accounts.status <> 'active' THEN 'account_closed' ELSE 'currency_mismatch' END
    FROM accounts
    WHERE accounts.id = batch_items.account_id AND (accounts.status <> 'active' OR accounts.currency <> :cur)
      AND @PENDING
""")
_FAIL_ALL = _sql("UPDATE batch_items SET status = 'failed', reason = :reason, completed_at = :now WHERE @PENDING")
_TOTAL = _sql("SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM batch_items WHERE @PENDING")
_POST = _sql("""
    INSERT INTO postings (id, debit_account_id, credit_account_id, amount, currency, state, code, reference,
                          created_at, resolved_at)
    SELECT :b || ':' || CAST(batch_items.seq AS VARCHAR(12)), :src, batch_items.account_id, batch_items.amount, :cur,
           'posted', 'disbursement', :b, :now, :now
    FROM batch_items WHERE @PENDING
""")
_CREDIT = _sql("""
    UPDATE accounts SET balance = accounts.balance + due.total
    FROM (SELECT batch_items.account_id AS account_id, SUM(batch_items.amount) AS total
          FROM batch_items WHERE @PENDING GROUP BY batch_items.account_id) AS due
    WHERE accounts.id = due.account_id AND accounts.status = 'active'
""")
_CREDITED_ACCOUNTS = _sql("SELECT COUNT(DISTINCT batch_items.account_id) FROM batch_items WHERE @PENDING")
_MARK_PAID = _sql("UPDATE batch_items SET status = 'paid', completed_at = :now WHERE @PENDING")
_COUNTS = _sql("""
    SELECT batch_items.status, COUNT(*), COALESCE(SUM(batch_items.amount), 0) FROM batch_items
    WHERE @RANGE GROUP BY batch_items.status
""")
_CHUNK = _sql("""
    SELECT seq, end_to_end_id, person_ref, amount, status, reason, account_id FROM batch_items
    WHERE @RANGE ORDER BY seq
""")
_FAILED = _sql("""
    SELECT batch_items.seq, batch_items.person_ref, batch_items.reason FROM batch_items
    WHERE @RANGE AND batch_items.status = 'failed' ORDER BY batch_items.seq
""")


class BulkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> BulkRepository:
        return cls(session)

    async def insert_batch(self, values: dict[str, Any]) -> bool:
        return await insert_unless_conflict(self.session, batches, values)

    async def insert_items(self, rows: Sequence[dict[str, Any]], *, page: int = 10_000) -> None:
        statement = insert(items)
        for start in range(0, len(rows), page):
            await self.session.execute(statement, list(rows[start : start + page]))

    async def get(self, batch_id: str, *, lock: bool = False) -> Batch | None:
        statement = select(Batch).where(Batch.id == batch_id).execution_options(populate_existing=True)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def by_message_id(self, programme: str, message_id: str) -> Batch | None:
        statement = select(Batch).where(Batch.programme == programme, Batch.message_id == message_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def runnable(self, limit: int = 10) -> Sequence[str]:
        statement = (
            select(batches.c.id)
            .where(batches.c.state.in_(("received", "running")))
            .order_by(batches.c.created_at, batches.c.id)
            .limit(limit)
        )
        return (await self.session.scalars(statement)).all()

    async def items_page(
        self, batch_id: str, *, after: int, limit: int, status: ItemStatus | None
    ) -> Sequence[BatchItem]:
        statement = select(BatchItem).where(BatchItem.batch_id == batch_id, BatchItem.seq > after)
        if status is not None:
            statement = statement.where(BatchItem.status == status.value)
        return (await self.session.scalars(statement.order_by(BatchItem.seq).limit(limit))).all()

    async def all_items(self, batch_id: str) -> Sequence[Any]:
        statement = (
            select(items.c.seq, items.c.end_to_end_id, items.c.amount, items.c.status, items.c.reason)
            .where(items.c.batch_id == batch_id)
            .order_by(items.c.seq)
        )
        return (await self.session.execute(statement)).all()

    # --- one chunk, set-based ------------------------------------------------------------------------------------
    async def resolve(self, p: dict[str, Any]) -> None:
        await self.session.execute(_RESOLVE, p)
        await self.session.execute(_FAIL_UNRESOLVED, p)
        await self.session.execute(_FAIL_UNCREDITABLE, p)

    async def pending_total(self, p: dict[str, Any]) -> tuple[int, int]:
        count, total = (await self.session.execute(_TOTAL, p)).one()
        return int(count), int(total)

    async def fail_pending(self, p: dict[str, Any], reason: str) -> None:
        await self.session.execute(_FAIL_ALL, {**p, "reason": reason})

    async def pay_pending(self, p: dict[str, Any]) -> bool:
        """Post and credit every pending item of the chunk; False if an account refused (nothing is kept then)."""
        await self.session.execute(_POST, p)
        expected = int((await self.session.execute(_CREDITED_ACCOUNTS, p)).scalar_one())
        credited = (await self.session.execute(_CREDIT, p)).rowcount  # type: ignore[attr-defined]
        if credited != expected:
            return False
        await self.session.execute(_MARK_PAID, p)
        return True

    async def counts(self, p: dict[str, Any]) -> dict[str, tuple[int, int]]:
        return {row[0]: (int(row[1]), int(row[2])) for row in (await self.session.execute(_COUNTS, p)).all()}

    async def chunk_items(self, p: dict[str, Any]) -> Sequence[Any]:
        return (await self.session.execute(_CHUNK, p)).all()

    async def failed_in(self, p: dict[str, Any]) -> Sequence[Any]:
        return (await self.session.execute(_FAILED, p)).all()

    async def advance(self, batch_id: str, values: dict[str, Any], at: datetime) -> None:
        await self.session.execute(update(batches).where(batches.c.id == batch_id).values(**values))
