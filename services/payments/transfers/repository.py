"""Selects and conditional state changes of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.payments.ledger.models import Account, AccountKind, Participant
from services.payments.transfers.models import Quote, Transfer, TransferState

transfers = table_of(Transfer)
_payee_account = table_of(Account).alias("payee_account")
_payer_fsp = table_of(Participant).alias("payer_participant")
_payee_fsp = table_of(Participant).alias("payee_participant")
# A transfer with what the fulfil needs to know besides it: whether the payee's account still takes credits, and
# which gateway clients act for each side. One statement instead of four.
_WITH_PARTIES = (
    select(
        Transfer,
        _payee_account.c.status.label("payee_status"),
        _payer_fsp.c.client_id.label("payer_client"),
        _payee_fsp.c.client_id.label("payee_client"),
    )
    .outerjoin(_payee_account, _payee_account.c.id == Transfer.payee_account_id)
    .outerjoin(_payer_fsp, _payer_fsp.c.id == Transfer.payer_fsp)
    .outerjoin(_payee_fsp, _payee_fsp.c.id == Transfer.payee_fsp)
    .where(Transfer.id == bindparam("transfer_id"))
    .execution_options(populate_existing=True)
)


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

    async def with_parties(self, transfer_id: str) -> Any:
        """The transfer (`.Transfer`), `payee_status`, `payer_client` and `payee_client`; None if there is none."""
        return (await self.session.execute(_WITH_PARTIES, {"transfer_id": transfer_id})).first()

    async def leave_reserved(
        self, transfer_id: str, to: TransferState, at: datetime, *, unexpired: bool, **values: Any
    ) -> Transfer | None:
        """Move a reserved transfer on and return it as it now is; None if it was not reserved (or, with
        `unexpired`, had expired by `at`)."""
        condition = [Transfer.id == transfer_id, Transfer.state == TransferState.reserved.value]
        if unexpired:
            condition.append(Transfer.expires_at > at)
        statement = (
            update(Transfer)
            .where(*condition)
            .values(state=to.value, completed_at=at, **values)
            .returning(Transfer)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

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
