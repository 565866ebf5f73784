"""SIMULATED beneficiaries at registry scale, made by the database itself: accounts spread over the simulated
FSPs (bank-a, bank-b, and momo wallets), each linked as its holder's default in the mapper, and batches paying them.

For load tests and the crash test only; every row is inserted by one INSERT ... SELECT over a number series.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import UTCDateTime

_PG_SERIES = "(SELECT generate_series(CAST(:first AS INTEGER), CAST(:last AS INTEGER)) AS n) AS g"
_SQLITE_SERIES = (
    "(WITH RECURSIVE s(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM s WHERE n < :last) SELECT n FROM s) AS g"
)
_FRAGMENTS = {
    "@FSP": "(CASE g.n % 3 WHEN 0 THEN 'bank-a' WHEN 1 THEN 'bank-b' ELSE 'momo' END)",
    "@KIND": "(CASE g.n % 3 WHEN 2 THEN 'wallet' ELSE 'customer' END)",
    "@ADDRESS": "(:prefix || CAST(g.n AS VARCHAR(12)))",
    "@PERSON": "(:prefix || '-' || CAST(g.n AS VARCHAR(12)))",
}
_ACCOUNTS = """
    INSERT INTO accounts (id, participant_id, kind, address, currency, owner_ref, status, balance, pending_debits,
                          debit_limit, created_at)
    SELECT @FSP || ':' || @KIND || ':' || @ADDRESS, @FSP, @KIND, @ADDRESS, :cur, @PERSON, 'active', 0, 0, 0, :now
    FROM @SERIES
"""
_LINKS = """
    INSERT INTO links (id, ref_type, person_ref, account_id, is_default, created_by, created_at, updated_at)
    SELECT 'lnk_' || @PERSON, 'sub', @PERSON, @FSP || ':' || @KIND || ':' || @ADDRESS, TRUE, 'synthetic', :now, :now
    FROM @SERIES
"""
_BATCH = """
    INSERT INTO batches (id, programme, message_id, source_account_id, currency, format, state, item_count,
                         control_sum, processed_through, paid_count, paid_sum, failed_count, created_at)
    VALUES (:id, :programme, :id, :src, :cur, 'json', 'received', :count, :total, 0, 0, 0, 0, :now)
"""
_ITEMS = """
    INSERT INTO batch_items (batch_id, seq, end_to_end_id, person_ref, amount, status)
    SELECT :id, g.n, CAST(g.n AS VARCHAR(12)), @PERSON, :amount, 'pending'
    FROM @SERIES
"""


def _statement(session: AsyncSession, sql: str) -> Any:
    series = _PG_SERIES if session.get_bind().dialect.name == "postgresql" else _SQLITE_SERIES
    for token, fragment in {**_FRAGMENTS, "@SERIES": series}.items():
        sql = sql.replace(token, fragment)
    clause = text(sql)
    return clause.bindparams(bindparam("now", type_=UTCDateTime())) if ":now" in sql else clause


async def load_beneficiaries(session: AsyncSession, *, prefix: str, first: int, last: int, currency: str,
                             now: datetime) -> None:  # fmt: skip
    """People `{prefix}-{n}` for n in [first, last], each with an account or wallet and a default link to it."""
    params = {"first": first, "last": last, "now": now, "cur": currency, "prefix": prefix}
    await session.execute(_statement(session, _ACCOUNTS), params)
    await session.execute(_statement(session, _LINKS), params)


async def create_batch(session: AsyncSession, *, batch_id: str, programme: str, source_account_id: str,
                       prefix: str, count: int, amount: int, currency: str, now: datetime) -> None:  # fmt: skip
    """A received batch paying `amount` to each of `{prefix}-0` ... `{prefix}-{count-1}`."""
    await session.execute(_statement(session, _BATCH), {
        "id": batch_id, "programme": programme, "src": source_account_id, "cur": currency, "count": count,
        "total": count * amount, "now": now,
    })  # fmt: skip
    items = {"id": batch_id, "prefix": prefix, "amount": amount, "first": 0, "last": count - 1}
    await session.execute(_statement(session, _ITEMS), items)
