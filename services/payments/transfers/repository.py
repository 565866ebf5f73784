"""Selects and conditional state changes of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import UTCDateTime, insert_unless_conflict, table_of
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


# --- the hot path on PostgreSQL: a transfer's steps as prepared statements (services.common.db.fetch_prepared) ----
# Each statement does what the general path's several do, or nothing at all: when it finds anything unusual (a
# replay, a quote, an operator, an account missing, closed or short of funds, a transfer not reserved) the caller
# rolls back and the general path runs and explains. Data-modifying CTEs are PostgreSQL's; SQLite runs the general
# path only. Amounts are cast explicitly: parameters that only feed a SELECT list would otherwise be text.

_NOW = bindparam("now", type_=UTCDateTime())

# Reserve on the payer's account and record the transfer and its pending posting. The reservation comes first and
# the transfer's INSERT takes its row from it, so a transfer is only written with its funds held; an id already
# taken (a replay, or a concurrent duplicate, which waits for the first to commit) inserts nothing, and the caller
# rolls the reservation back; so does a posting id already taken (the general path then names the conflict).
PREPARE = (
    text(
        """
WITH payer AS (
    SELECT accounts.id FROM accounts JOIN participants ON participants.id = accounts.participant_id
    WHERE accounts.participant_id = :payer_fsp AND accounts.address = :payer_address
      AND accounts.currency = :currency AND accounts.status = 'active' AND participants.client_id = :client_id
), payee AS (
    SELECT accounts.id FROM accounts
    WHERE accounts.participant_id = :payee_fsp AND accounts.address = :payee_address
      AND accounts.currency = :currency AND accounts.status = 'active'
), reserved AS (
    UPDATE accounts SET pending_debits = accounts.pending_debits + CAST(:amount AS BIGINT)
    FROM payer, payee
    WHERE accounts.id = payer.id AND payer.id <> payee.id AND accounts.status = 'active'
      AND (accounts.debit_limit IS NULL
           OR accounts.balance - accounts.pending_debits - CAST(:amount AS BIGINT) + accounts.debit_limit >= 0)
    RETURNING accounts.id AS payer_id, payee.id AS payee_id
), transfer AS (
    INSERT INTO transfers (id, quote_id, payer_account_id, payee_account_id, payer_fsp, payee_fsp, payer_address,
                           payee_address, amount, fee, currency, condition, fulfilment, state, abort_reason,
                           request_hash, created_by, created_at, expires_at, completed_at, window_id)
    SELECT :transfer_id, NULL, reserved.payer_id, reserved.payee_id, :payer_fsp, :payee_fsp, :payer_address,
           :payee_address, CAST(:amount AS BIGINT), 0, :currency, :condition, NULL, 'reserved', NULL, :request_hash,
           :client_id, :now, :expires_at, NULL, NULL
    FROM reserved
    ON CONFLICT (id) DO NOTHING
    RETURNING id, payer_account_id, payee_account_id
), posting AS (
    INSERT INTO postings (id, debit_account_id, credit_account_id, amount, currency, state, code, reference,
                          created_at, resolved_at)
    SELECT transfer.id, transfer.payer_account_id, transfer.payee_account_id, CAST(:amount AS BIGINT), :currency,
           'pending', 'transfer', transfer.id, :now, NULL
    FROM transfer
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM reserved) AS reserved, (SELECT count(*) FROM transfer) AS created,
       (SELECT count(*) FROM posting) AS posted
"""
    )
    .bindparams(_NOW, bindparam("expires_at", type_=UTCDateTime()))
    .columns(column("reserved", Integer), column("created", Integer), column("posted", Integer))
)

# Commit a reserved, unexpired transfer whose condition the fulfilment meets, for the payee FSP's client, if the
# payee's account still takes credits and there is no fee leg; and its posting. The accounts change next, each in
# its own statement in account-id order (as the general path's, so crossing transfers cannot deadlock).
_TRANSFER_COLUMNS = ", ".join(f"transfers.{column.name}" for column in transfers.c)
FULFIL = (
    text(
        """
WITH transfer AS (
    UPDATE transfers SET state = 'committed', completed_at = :now, fulfilment = :fulfilment
    FROM participants, accounts
    WHERE transfers.id = :transfer_id AND transfers.state = 'reserved' AND transfers.expires_at > :now
      AND transfers.condition = :condition AND transfers.fee = 0
      AND participants.id = transfers.payee_fsp AND participants.client_id = :client_id
      AND accounts.id = transfers.payee_account_id AND accounts.status = 'active'
    RETURNING @TRANSFER_COLUMNS
), posting AS (
    UPDATE postings SET state = 'posted', resolved_at = :now FROM transfer
    WHERE postings.id = transfer.id AND postings.state = 'pending' AND postings.amount = transfer.amount
    RETURNING postings.id
)
SELECT transfer.*, (SELECT count(*) FROM posting) AS posted FROM transfer
""".replace("@TRANSFER_COLUMNS", _TRANSFER_COLUMNS)
    )
    .bindparams(_NOW)
    .columns(*transfers.c, column("posted", Integer))
)

# The step's event and its signed records, with the transfer's own row (written before, in the same transaction).
EVENT_AND_RECORDS = (
    text(
        """
WITH event AS (
    INSERT INTO outbox (id, subject, payload, created_at, published_at, attempts)
    VALUES (:event_id, :subject, CAST(:payload AS JSONB), :now, NULL, 0)
    RETURNING id
), records AS (
    INSERT INTO signed_records (id, transaction_id, kind, step, record, jws, created_at)
    SELECT step.id, :transfer_id, 'transfer', step.step, step.record, step.jws, :now
    FROM json_to_recordset(CAST(:steps AS JSON)) AS step(id TEXT, step TEXT, record JSON, jws TEXT)
    RETURNING id
)
SELECT (SELECT count(*) FROM event) AS events, (SELECT count(*) FROM records) AS records
"""
    )
    .bindparams(_NOW, bindparam("payload", type_=JSON()), bindparam("steps", type_=JSON()))
    .columns(column("events", Integer), column("records", Integer))
)
