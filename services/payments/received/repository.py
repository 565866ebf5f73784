"""One statement for a person's received payments: transfers into accounts they hold or have linked, and bulk items
paid to them, each branch keyset-limited on its own index and merged newest first, with the signed record of each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, literal_column, null, or_, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import table_of
from services.payments.bulk.models import Batch, BatchItem
from services.payments.ledger.models import Account
from services.payments.mapper.models import Link
from services.payments.records.models import SignedRecord
from services.payments.transfers.models import Transfer

transfers = table_of(Transfer)
items = table_of(BatchItem)
batches = table_of(Batch)
accounts = table_of(Account)
links = table_of(Link)
records = table_of(SignedRecord)


def _latest_record(*conditions: Any) -> Any:
    return (
        select(records.c.id)
        .where(*conditions)
        .order_by(records.c.created_at.desc(), records.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _after(at: Any, key: Any, position: tuple[datetime, str] | None) -> Any:
    if position is None:
        return true()
    return or_(at < position[0], and_(at == position[0], key < position[1]))


class ReceivedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ReceivedRepository:
        return cls(session)

    async def page(self, sub: str, *, after: tuple[datetime, str] | None, limit: int) -> Sequence[Any]:
        """Up to `limit` rows after `after` (initiated_at, payment_id), newest first."""
        mine = union_all(
            select(accounts.c.id).where(accounts.c.owner_ref == sub),
            select(links.c.account_id).where(links.c.ref_type == "sub", links.c.person_ref == sub),
        )
        transfer = (
            select(
                transfers.c.id.label("payment_id"),
                literal_column("'transfer'", String).label("kind"),
                transfers.c.amount, transfers.c.currency, transfers.c.state,
                transfers.c.abort_reason.label("reason"),
                transfers.c.payer_fsp, cast(null(), String).label("programme"),
                transfers.c.payee_account_id.label("account_id"), transfers.c.payee_fsp.label("fsp_id"),
                transfers.c.payee_address.label("address"),
                transfers.c.created_at.label("initiated_at"), transfers.c.completed_at,
                transfers.c.id.label("transaction_id"),
                _latest_record(records.c.transaction_id == transfers.c.id, records.c.kind == "transfer").label(
                    "record_id"
                ),
            )
            .where(transfers.c.payee_account_id.in_(mine))
            .where(_after(transfers.c.created_at, transfers.c.id, after))
            .order_by(transfers.c.created_at.desc(), transfers.c.id.desc())
            .limit(limit)
            .subquery()
        )  # fmt: skip
        item_id = items.c.batch_id + ":" + cast(items.c.seq, String)
        in_chunk = and_(
            records.c.step == "commit",
            records.c.record["first_seq"].as_integer() <= items.c.seq,
            records.c.record["last_seq"].as_integer() >= items.c.seq,
        )
        item = (
            select(
                item_id.label("payment_id"),
                literal_column("'disbursement'", String).label("kind"),
                items.c.amount, batches.c.currency, items.c.status.label("state"), items.c.reason,
                cast(null(), String).label("payer_fsp"), batches.c.programme,
                items.c.account_id, accounts.c.participant_id.label("fsp_id"), accounts.c.address,
                batches.c.created_at.label("initiated_at"), items.c.completed_at,
                items.c.batch_id.label("transaction_id"),
                _latest_record(
                    records.c.transaction_id == items.c.batch_id, records.c.kind == "disbursement",
                    or_(records.c.step == "initiation", in_chunk),
                ).label("record_id"),
            )
            .select_from(
                items.join(batches, batches.c.id == items.c.batch_id).outerjoin(
                    accounts, accounts.c.id == items.c.account_id
                )
            )
            .where(items.c.person_ref == sub)
            .where(_after(batches.c.created_at, item_id, after))
            .order_by(batches.c.created_at.desc(), item_id.desc())
            .limit(limit)
            .subquery()
        )  # fmt: skip
        merged = union_all(select(transfer), select(item)).subquery()
        statement = select(merged).order_by(merged.c.initiated_at.desc(), merged.c.payment_id.desc()).limit(limit)
        return (await self.session.execute(statement)).all()
