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
_PAID = f"{_RANGE} AND batch_items.status = 'paid'"


def _sql(statement: str) -> Any:
    """A chunk statement: @RANGE / @PENDING / @PAID stand for the chunk's items (all bound parameters, no values)."""
    statement = statement.replace("@PENDING", _PENDING).replace("@PAID", _PAID).replace("@RANGE", _RANGE)
    clause = text(statement)
    return clause.bindparams(bindparam("now", type_=UTCDateTime())) if ":now" in statement else clause


# On PostgreSQL, for the chunk's transaction only: a chunk is a few thousand items against accounts and links of
# millions, so each of its joins is an index lookup per item. Left to itself, the planner (underestimating a chunk's
# rows) hashes the whole links or accounts table for every chunk, which makes a batch's time grow with the registry's
# size times the batch's: measured at 100,000 beneficiaries, a sequential scan of every link and every account in
# each chunk, more than half the chunk's database time.
# JIT is off for the same transaction: at 20,000 items three of a chunk's statements are costed above its threshold,
# and compiling each took 11 to 15 ms, every chunk again, for statements that run once and briefly.
PG_CHUNK_PLANNER = text(
    "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), "
    "set_config('jit', 'off', true)"
)
# Every item whose person's default link names an account that takes the credit (active, in the batch's currency)
# gets that account and is marked paid, in one pass: the chunk's items are written once on the way to being paid.
# The rest of the transaction (the programme's debit within its limit, the postings, the credits) either happens
# for exactly these items or the whole chunk rolls back; if the programme cannot cover them, they turn failed.
_PAYABLE = _sql("""
    UPDATE batch_items SET account_id = accounts.id, status = 'paid', completed_at = :now
    FROM links, accounts
    WHERE links.ref_type = 'sub' AND links.person_ref = batch_items.person_ref AND links.is_default
      AND accounts.id = links.account_id AND accounts.status = 'active' AND accounts.currency = :cur
      AND @PENDING
""")
# What is left pending is unpayable: its link (if any) is kept on the item, with the reason.
_LINK_REST = _sql("""
    UPDATE batch_items SET account_id = links.account_id FROM links
    WHERE links.ref_type = 'sub' AND links.person_ref = batch_items.person_ref AND links.is_default
      AND @PENDING
""")
_FAIL_REST = _sql("""
    UPDATE batch_items
    SET status = 'failed', completed_at = :now,
        reason = CASE WHEN batch_items.account_id IS NULL THEN 'unresolved'
                      WHEN (SELECT accounts.status FROM accounts WHERE accounts.id = batch_items.account_id) <> 'active'
                      THEN 'account_closed'
                      ELSE 'currency_mismatch' END
    WHERE @PENDING
""")
_UNFUNDED = _sql("UPDATE batch_items SET status = 'failed', reason = :reason WHERE @PAID")
_TOTAL = _sql("""
    SELECT COUNT(*), COALESCE(SUM(batch_items.amount), 0), COUNT(DISTINCT batch_items.account_id)
    FROM batch_items WHERE @PAID
""")
_POST = _sql("""
    INSERT INTO postings (id, debit_account_id, credit_account_id, amount, currency, state, code, reference,
                          created_at, resolved_at)
    SELECT :b || ':' || CAST(batch_items.seq AS VARCHAR(12)), :src, batch_items.account_id, batch_items.amount, :cur,
           'posted', 'disbursement', :b, :now, :now
    FROM batch_items WHERE @PAID
""")
_CREDIT = _sql("""
    UPDATE accounts SET balance = accounts.balance + due.total
    FROM (SELECT batch_items.account_id AS account_id, SUM(batch_items.amount) AS total
          FROM batch_items WHERE @PAID GROUP BY batch_items.account_id) AS due
    WHERE accounts.id = due.account_id AND accounts.status = 'active'
""")
# What a chunk's signed record digests of each item, in this order.
DIGESTED = ("seq", "end_to_end_id", "person_ref", "amount", "status", "reason", "account_id")
_CHUNK = (
    select(*(items.c[name] for name in DIGESTED))
    .where(items.c.batch_id == bindparam("b"), items.c.seq >= bindparam("lo"), items.c.seq < bindparam("hi"))
    .order_by(items.c.seq)
)
# On PostgreSQL the database writes the chunk's RFC 8785 form itself and hashes it, so the 20,000 rows are not sent
# back to be hashed in Python (measured at 100,000 items: the read-back and the hashing were all of the job's own CPU,
# about 0.013 ms an item, spent while the database waited). The same bytes as `items_digest` over `_CHUNK`'s rows:
# keys in RFC 8785's order (all ASCII, so sorted by code unit), integers as digits, and each string as `to_json`
# writes it: the escapes for the quote, the backslash and the five short control characters, other control
# characters as lowercase \u00xx, everything else as it is, the same escapes Python's JSON and the JCS writers use.
# `safe` is false if an amount lies beyond 2**53, where RFC 8785 writes another number form: Python then answers.
_PG_CHUNK_DIGEST = _sql("""
    SELECT encode(sha256(convert_to('[' || COALESCE(string_agg(
               '{"account_id":' || COALESCE(to_json(batch_items.account_id)::text, 'null')
               || ',"amount":' || batch_items.amount::text
               || ',"end_to_end_id":' || to_json(batch_items.end_to_end_id)::text
               || ',"person_ref":' || to_json(batch_items.person_ref)::text
               || ',"reason":' || COALESCE(to_json(batch_items.reason)::text, 'null')
               || ',"seq":' || batch_items.seq::text
               || ',"status":' || to_json(batch_items.status)::text || '}',
               ',' ORDER BY batch_items.seq), '') || ']', 'UTF8')), 'hex') AS digest,
           COALESCE(bool_and(batch_items.amount BETWEEN -9007199254740991 AND 9007199254740991), true) AS safe
    FROM batch_items WHERE @RANGE
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
            if status is ItemStatus.failed:  # the same items (a failed item has a reason), by their partial index
                statement = statement.where(BatchItem.reason.is_not(None))
        return (await self.session.scalars(statement.order_by(BatchItem.seq).limit(limit))).all()

    async def all_items(self, batch_id: str) -> Sequence[Any]:
        statement = (
            select(items.c.seq, items.c.end_to_end_id, items.c.amount, items.c.status, items.c.reason)
            .where(items.c.batch_id == batch_id)
            .order_by(items.c.seq)
        )
        return (await self.session.execute(statement)).all()

    # --- one chunk, set-based ------------------------------------------------------------------------------------
    def default_chunk_size(self) -> int:
        """Items per chunk when the settings name none: fewer, shorter transactions on PostgreSQL (each chunk costs
        about fifteen round trips whatever its size), short ones on SQLite, where a chunk blocks every other write."""
        return 20_000 if self.session.get_bind().dialect.name == "postgresql" else 5_000

    async def plan_for_chunk(self) -> None:
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(PG_CHUNK_PLANNER)

    async def mark_payable(self, p: dict[str, Any]) -> int:
        """Resolve the chunk's items through the mapper; those with a creditable account are marked paid (how many)."""
        return _rowcount(await self.session.execute(_PAYABLE, p))

    async def fail_rest(self, p: dict[str, Any]) -> int:
        """Fail the chunk's items still pending (no link, or an account that takes no credit), with their reason."""
        await self.session.execute(_LINK_REST, p)
        return _rowcount(await self.session.execute(_FAIL_REST, p))

    async def paid_total(self, p: dict[str, Any]) -> tuple[int, int, int]:
        """(items, amount, distinct payee accounts) marked paid in the chunk."""
        count, total, payees = (await self.session.execute(_TOTAL, p)).one()
        return int(count), int(total), int(payees)

    async def unfund(self, p: dict[str, Any], reason: str) -> int:
        """The programme could not cover the chunk: its items marked paid fail instead."""
        return _rowcount(await self.session.execute(_UNFUNDED, {**p, "reason": reason}))

    async def post_and_credit(self, p: dict[str, Any], payees: int) -> bool:
        """One posting per paid item, every payee account credited by its total; False if an account refused."""
        await self.session.execute(_POST, p)
        return _rowcount(await self.session.execute(_CREDIT, p)) == payees

    async def chunk_items(self, p: dict[str, Any]) -> Sequence[Any]:
        return (await self.session.execute(_CHUNK, p)).all()

    async def chunk_digest(self, p: dict[str, Any]) -> str | None:
        """SHA-256 of the chunk's items in RFC 8785 form, written and hashed by PostgreSQL; None where the caller
        must hash `chunk_items` itself (SQLite, or an amount beyond JSON's safe integers)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        digest, safe = (await self.session.execute(_PG_CHUNK_DIGEST, p)).one()
        return str(digest) if safe else None

    async def failed_in(self, p: dict[str, Any]) -> Sequence[Any]:
        return (await self.session.execute(_FAILED, p)).all()

    async def advance(self, batch_id: str, values: dict[str, Any], at: datetime) -> None:
        await self.session.execute(update(batches).where(batches.c.id == batch_id).values(**values))


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
