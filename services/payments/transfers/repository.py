"""Selects and conditional state changes of quotes and transfers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from services.common.db import UTCDateTime, insert_unless_conflict, table_of
from services.common.idempotency import ANSWER_BINDS, answer_insert
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


# --- the hot path on PostgreSQL: each step of a transfer as one autocommitted statement -------------------------
# Each statement does what the general path's several do, and stores the Idempotency-Key's answer with it
# (services.common.idempotency.answer_insert), or commits nothing at all: its writes hang off one another's RETURNING
# (or off rows it locked first), so either every one applies or none does. A conditional write that does not apply
# (a limit, a state, a party the statement does not cover) leaves all the rest undone; an id or a key already taken
# fails the whole statement with a unique violation (the INSERTs have no ON CONFLICT, and wait for a concurrent one
# to commit or roll back). Either way the caller lets the general path run, which explains or replays. Data-modifying
# CTEs are PostgreSQL's; SQLite runs the general path only. Amounts are cast explicitly: parameters that only feed a
# SELECT list would otherwise be text.

_NOW = bindparam("now", type_=UTCDateTime())
_EVENT_AND_RECORDS = """
event AS (
    INSERT INTO outbox (id, subject, payload, created_at, published_at, attempts)
    SELECT :event_id, :subject, CAST(:payload AS JSONB), :now, NULL, 0 FROM @DONE
    RETURNING id
), records AS (
    INSERT INTO signed_records (id, transaction_id, kind, step, record, jws, created_at)
    SELECT step.id, :transfer_id, 'transfer', step.step, step.record, step.jws, :now
    FROM @DONE, json_to_recordset(CAST(:steps AS JSON)) AS step(id TEXT, step TEXT, record JSON, jws TEXT)
    RETURNING id
), answer AS (@ANSWER)"""


def _one_statement(sql: str, done: str) -> str:
    """`sql` with the step's event, its signed records and the key's answer, written for the one row of `done`."""
    tail = _EVENT_AND_RECORDS.replace("@DONE", done).replace("@ANSWER", answer_insert(done))
    return sql.replace("@EVENT_AND_RECORDS", tail)


_STEP_BINDS: tuple[BindParameter[Any], ...] = (
    _NOW, bindparam("payload", type_=JSON()), bindparam("steps", type_=JSON()), *ANSWER_BINDS,
)  # fmt: skip

# Prepare: reserve on the payer's account, record the transfer, its pending posting, the event, the initiation and
# reservation records and the answer. The reservation comes first and every INSERT takes its row from it, so nothing
# is written unless the funds are held; the reservation's UPDATE holds the payer's row until the commit, so a
# concurrent duplicate (the same transfer id or key) waits for it and then fails on the id or the key.
PREPARE = (
    text(
        _one_statement(
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
    RETURNING id, payer_account_id, payee_account_id
), posting AS (
    INSERT INTO postings (id, debit_account_id, credit_account_id, amount, currency, state, code, reference,
                          created_at, resolved_at)
    SELECT transfer.id, transfer.payer_account_id, transfer.payee_account_id, CAST(:amount AS BIGINT), :currency,
           'pending', 'transfer', transfer.id, :now, NULL
    FROM transfer
    RETURNING id
), @EVENT_AND_RECORDS
SELECT (SELECT count(*) FROM posting) AS done, (SELECT count(*) FROM records) AS records,
       (SELECT count(*) FROM answer) AS stored
""",
            "posting",
        )
    )
    .bindparams(*_STEP_BINDS, bindparam("expires_at", type_=UTCDateTime()))
    .columns(column("done", Integer), column("records", Integer), column("stored", Integer))
)

# The transfer a fulfil is about, as it is now (what its signed record and its answer are made from).
TRANSFER = select(transfers).where(transfers.c.id == bindparam("transfer_id"))

# Fulfil: commit a reserved, unexpired transfer whose condition the fulfilment meets, for the payee FSP's client,
# when there is no fee leg and the payee's account still takes credits: the transfer, its posting and both accounts
# are locked first (in that order, as the general path takes them; the accounts in id order, so crossing transfers
# cannot deadlock), and only if all four are as they must be does anything change: the state, the posting, the
# payer's reservation posted, the payee credited, the event, the commit record and the answer. On rows it holds
# locked, each UPDATE applies.
FULFIL = (
    text(
        _one_statement(
            """
WITH transfer AS (
    SELECT transfers.id, transfers.payer_account_id, transfers.payee_account_id, transfers.amount
    FROM transfers JOIN participants ON participants.id = transfers.payee_fsp
    WHERE transfers.id = :transfer_id AND transfers.state = 'reserved' AND transfers.expires_at > :now
      AND transfers.condition = :condition AND transfers.fee = 0 AND participants.client_id = :client_id
    FOR UPDATE OF transfers
), posting AS (
    SELECT postings.id FROM postings JOIN transfer ON postings.id = transfer.id
    WHERE postings.state = 'pending' AND postings.amount = transfer.amount
    FOR UPDATE OF postings
), parties AS (
    SELECT accounts.id FROM accounts JOIN transfer
        ON accounts.id = transfer.payer_account_id OR accounts.id = transfer.payee_account_id
    WHERE accounts.id = transfer.payer_account_id OR accounts.status = 'active'
    ORDER BY accounts.id
    FOR UPDATE OF accounts
), ready AS (
    SELECT transfer.* FROM transfer JOIN posting ON posting.id = transfer.id
    WHERE (SELECT count(*) FROM parties) = 2
), committed AS (
    UPDATE transfers SET state = 'committed', completed_at = :now, fulfilment = :fulfilment
    FROM ready WHERE transfers.id = ready.id
    RETURNING transfers.id
), posted AS (
    UPDATE postings SET state = 'posted', resolved_at = :now
    FROM ready WHERE postings.id = ready.id
    RETURNING postings.id
), moved AS (
    UPDATE accounts
    SET balance = accounts.balance
                  + CASE WHEN accounts.id = ready.payee_account_id THEN ready.amount ELSE -ready.amount END,
        pending_debits = accounts.pending_debits
                         - CASE WHEN accounts.id = ready.payer_account_id THEN ready.amount ELSE 0 END
    FROM ready WHERE accounts.id = ready.payer_account_id OR accounts.id = ready.payee_account_id
    RETURNING accounts.id
), @EVENT_AND_RECORDS
SELECT (SELECT count(*) FROM committed) AS done, (SELECT count(*) FROM posted) AS posted,
       (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM answer) AS stored
""",
            "ready",
        )
    )
    .bindparams(*_STEP_BINDS)
    .columns(column("done", Integer), column("posted", Integer), column("moved", Integer), column("stored", Integer))
)
