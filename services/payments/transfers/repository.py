"""Selects and conditional state changes of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.payments.ledger.models import Account, AccountKind
from services.payments.transfers.models import Quote, Transfer, TransferState

transfers = table_of(Transfer)


class TransferRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> TransferRepository:
        return cls(session)

    async def insert_quote(self, values: dict[str, Any]) -> bool:
        return await insert_unless_conflict(self.session, table_of(Quote), values)

    async def get_quote(self, quote_id: str) -> Quote | None:
        return await self.session.get(Quote, quote_id, populate_existing=True)

    async def insert_transfer(self, values: dict[str, Any]) -> bool:
        return await insert_unless_conflict(self.session, transfers, values)

    async def get_transfer(self, transfer_id: str) -> Transfer | None:
        return await self.session.get(Transfer, transfer_id, populate_existing=True)

    async def leave_reserved(
        self, transfer_id: str, to: TransferState, at: datetime, *, unexpired: bool, **values: Any
    ) -> bool:
        """Move a reserved transfer on; False if it was not reserved (or, with `unexpired`, had expired by `at`)."""
        condition = [transfers.c.id == transfer_id, transfers.c.state == TransferState.reserved.value]
        if unexpired:
            condition.append(transfers.c.expires_at > at)
        statement = (
            update(transfers)
            .where(*condition)
            .values(state=to.value, completed_at=at, **values)
            .returning(transfers.c.id)
        )
        return (await self.session.execute(statement)).first() is not None

    async def due_for_expiry(self, at: datetime, limit: int) -> Sequence[str]:
        """Reserved transfers past their expiry, locked; a concurrent timer (another process) takes others."""
        statement = (
            select(transfers.c.id)
            .where(transfers.c.state == TransferState.reserved.value, transfers.c.expires_at <= at)
            .order_by(transfers.c.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).all()

    async def wallet(self, msisdn: str) -> Account | None:
        statement = select(Account).where(Account.kind == AccountKind.wallet.value, Account.address == msisdn)
        return (await self.session.scalars(statement.order_by(Account.id))).first()
