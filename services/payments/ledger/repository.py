"""The ledger's statements. Every balance change is one conditional UPDATE that says whether it applied.

`balance - pending_debits - :amount + debit_limit >= 0` sits in the WHERE clause of the debit and reserve
statements: on PostgreSQL a concurrent UPDATE of the same row waits for the first to commit and then re-evaluates
the condition against the new row, on SQLite the single writer serialises them, so no interleaving of requests can
take an account below its limit. The CHECK constraint on the table is the second wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

from services.common.db import insert_unless_conflict, table_of
from services.payments.ledger.models import Account, AccountStatus, Participant, Posting, PostingState

accounts = table_of(Account)
postings = table_of(Posting)
participants = table_of(Participant)

_AMOUNT: BindParameter[int] = bindparam("amount")
_ID: BindParameter[str] = bindparam("account_id")
_WITHIN_LIMIT = or_(
    accounts.c.debit_limit.is_(None),
    accounts.c.balance - accounts.c.pending_debits - _AMOUNT + accounts.c.debit_limit >= 0,
)
_ACTIVE = accounts.c.status == AccountStatus.active.value
_DEBIT = (
    update(accounts)
    .where(accounts.c.id == _ID, _ACTIVE, _WITHIN_LIMIT)
    .values(balance=accounts.c.balance - _AMOUNT)
    .returning(accounts.c.id)
)
_RESERVE = (
    update(accounts)
    .where(accounts.c.id == _ID, _ACTIVE, _WITHIN_LIMIT)
    .values(pending_debits=accounts.c.pending_debits + _AMOUNT)
    .returning(accounts.c.id)
)
_CREDIT = (
    update(accounts)
    .where(accounts.c.id == _ID, _ACTIVE)
    .values(balance=accounts.c.balance + _AMOUNT)
    .returning(accounts.c.id)
)
# Posting a reservation: the money was already held back, so no limit check (balance - pending is unchanged).
_POST_RESERVED = (
    update(accounts)
    .where(accounts.c.id == _ID)
    .values(balance=accounts.c.balance - _AMOUNT, pending_debits=accounts.c.pending_debits - _AMOUNT)
    .returning(accounts.c.id)
)
_RELEASE = (
    update(accounts)
    .where(accounts.c.id == _ID)
    .values(pending_debits=accounts.c.pending_debits - _AMOUNT)
    .returning(accounts.c.id)
)


# A transfer's two accounts by (participant, address), each with the gateway client its participant acts as: one
# statement on the transfer path instead of three (who acts for the payer, the payer, the payee).
_PARTY = (accounts.c.participant_id == bindparam("payer_fsp")) & (accounts.c.address == bindparam("payer_address"))
_COUNTERPARTY = (accounts.c.participant_id == bindparam("payee_fsp")) & (
    accounts.c.address == bindparam("payee_address")
)
_TWO_ACCOUNTS = (
    select(*accounts.c, participants.c.client_id)
    .join(participants, participants.c.id == accounts.c.participant_id)
    .where(or_(_PARTY, _COUNTERPARTY))
)


@dataclass(frozen=True)
class CurrencyCheck:
    currency: str
    accounts: int
    balance_sum: int
    pending_debits: int
    pending_postings: int
    journal_mismatches: int


class LedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> LedgerRepository:
        return cls(session)

    async def debit(self, account_id: str, amount: int) -> bool:
        """Take `amount` from the account if it stays within its limit; False (nothing changed) otherwise."""
        return await self._applied(_DEBIT, account_id, amount)

    async def reserve(self, account_id: str, amount: int) -> bool:
        """Hold back `amount` as a pending debit if the account stays within its limit."""
        return await self._applied(_RESERVE, account_id, amount)

    async def credit(self, account_id: str, amount: int) -> bool:
        """Add `amount`; False if the account is closed (the credit fails, to be reported or reversed)."""
        return await self._applied(_CREDIT, account_id, amount)

    async def post_reserved(self, account_id: str, amount: int) -> bool:
        return await self._applied(_POST_RESERVED, account_id, amount)

    async def release(self, account_id: str, amount: int) -> bool:
        return await self._applied(_RELEASE, account_id, amount)

    async def _applied(self, statement: Any, account_id: str, amount: int) -> bool:
        result = await self.session.execute(statement, {"account_id": account_id, "amount": amount})
        return result.first() is not None

    async def insert_posting(self, values: dict[str, Any]) -> bool:
        """Record a posting unless one with its id exists (True if this call recorded it)."""
        return await insert_unless_conflict(self.session, postings, values)

    async def resolve_pending(self, posting_id: str, state: PostingState, at: datetime) -> Posting | None:
        """Move a pending posting to posted or voided; None if it was not pending (already resolved, or absent)."""
        statement = (
            update(Posting)
            .where(Posting.id == posting_id, Posting.state == PostingState.pending.value)
            .values(state=state.value, resolved_at=at)
            .returning(Posting)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def get_posting(self, posting_id: str) -> Posting | None:
        return await self.session.get(Posting, posting_id, populate_existing=True)

    async def get_account(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id, populate_existing=True)

    async def accounts_of(self, account_ids: Sequence[str]) -> dict[str, Account]:
        rows = (await self.session.scalars(select(Account).where(Account.id.in_(account_ids)))).all()
        return {row.id: row for row in rows}

    async def account_by_address(self, participant_id: str, address: str) -> Account | None:
        statement = select(Account).where(Account.participant_id == participant_id, Account.address == address)
        return (await self.session.scalars(statement)).one_or_none()

    async def two_accounts(self, payer: tuple[str, str], payee: tuple[str, str]) -> dict[tuple[str, str], Any]:
        """The accounts at (participant, address) `payer` and `payee` that exist, keyed so, each row with the
        `client_id` of its participant."""
        params = {"payer_fsp": payer[0], "payer_address": payer[1], "payee_fsp": payee[0], "payee_address": payee[1]}
        rows = (await self.session.execute(_TWO_ACCOUNTS, params)).all()
        return {(row.participant_id, row.address): row for row in rows}

    async def accounts_of_participant(self, participant_id: str) -> Sequence[Account]:
        statement = select(Account).where(Account.participant_id == participant_id).order_by(Account.id)
        return (await self.session.scalars(statement)).all()

    async def get_participant(self, participant_id: str) -> Participant | None:
        return await self.session.get(Participant, participant_id)

    async def participant_of_client(self, client_id: str) -> Participant | None:
        return (await self.session.scalars(select(Participant).where(Participant.client_id == client_id))).first()

    async def list_participants(self) -> Sequence[Participant]:
        return (await self.session.scalars(select(Participant).order_by(Participant.id))).all()

    async def check(self) -> list[CurrencyCheck]:
        """Per currency: the sum of balances, pending totals, and accounts whose balance the journal contradicts."""
        posted = postings.c.state == PostingState.posted.value
        pending = postings.c.state == PostingState.pending.value
        credits = select(postings.c.credit_account_id.label("account_id"), postings.c.amount.label("signed")).where(
            posted
        )
        debits = select(postings.c.debit_account_id, -postings.c.amount).where(posted)
        journal = credits.union_all(debits).subquery()
        by_account = (
            select(journal.c.account_id, func.sum(journal.c.signed).label("total")).group_by(journal.c.account_id)
        ).subquery()
        held = (
            select(postings.c.debit_account_id.label("account_id"), func.sum(postings.c.amount).label("total"))
            .where(pending)
            .group_by(postings.c.debit_account_id)
        ).subquery()
        mismatch = case(
            (
                or_(
                    accounts.c.balance != func.coalesce(by_account.c.total, 0),
                    accounts.c.pending_debits != func.coalesce(held.c.total, 0),
                ),
                1,
            ),
            else_=0,
        )
        statement = (
            select(
                accounts.c.currency,
                func.count().label("accounts"),
                func.sum(accounts.c.balance).label("balance_sum"),
                func.sum(accounts.c.pending_debits).label("pending_debits"),
                func.sum(func.coalesce(held.c.total, 0)).label("pending_postings"),
                func.sum(mismatch).label("journal_mismatches"),
            )
            .select_from(
                accounts.outerjoin(by_account, by_account.c.account_id == accounts.c.id).outerjoin(
                    held, held.c.account_id == accounts.c.id
                )
            )
            .group_by(accounts.c.currency)
            .order_by(accounts.c.currency)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            CurrencyCheck(
                currency=row.currency,
                accounts=int(row.accounts),
                balance_sum=int(row.balance_sum or 0),
                pending_debits=int(row.pending_debits or 0),
                pending_postings=int(row.pending_postings or 0),
                journal_mismatches=int(row.journal_mismatches or 0),
            )
            for row in rows
        ]
