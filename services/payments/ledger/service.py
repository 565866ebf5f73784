"""The ledger: participants and accounts, balanced postings (one- or two-phase), and the zero-sum proof."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.clock import Clock
from services.common.db import insert_unless_conflict, table_of
from services.common.problems import PolicyDenied
from services.payments.ledger.errors import (
    AccountClosed,
    AccountExists,
    AccountNotFound,
    CurrencyMismatch,
    InsufficientFunds,
    ParticipantExists,
    ParticipantNotFound,
    PostingConflict,
    PostingNotFound,
    PostingNotPending,
)
from services.payments.ledger.models import (
    Account,
    AccountKind,
    AccountStatus,
    Participant,
    ParticipantKind,
    Posting,
    PostingState,
)
from services.payments.ledger.repository import LedgerRepository
from services.payments.ledger.schemas import (
    AccountCreate,
    AccountRead,
    CurrencyTotals,
    LedgerCheck,
    ParticipantCreate,
    ParticipantRead,
    PostingCreate,
    PostingRead,
)
from services.payments.money import SignedMoney, to_minor, to_text

log = structlog.get_logger(__name__)

SETTLEMENT_BANK = "central-bank"


@dataclass(frozen=True)
class Leg:
    """One balanced movement: `amount` from `debit` to `credit`, recorded under `id` (unique, chosen by the caller)."""

    id: str
    debit: str
    credit: str
    amount: int
    code: str
    reference: str | None = None


def account_id_for(participant_id: str, kind: AccountKind, currency: str, address: str | None = None) -> str:
    """The id of an account: readable, and the same in every installation (the simulated network relies on it)."""
    return f"{participant_id}:{kind.value}:{address or currency}"


class LedgerService:
    # --- participants and accounts -------------------------------------------------------------------------------
    async def create_participant(
        self, session: AsyncSession, body: ParticipantCreate, *, clock: Clock
    ) -> ParticipantRead:
        values = {**body.model_dump(), "kind": body.kind.value, "created_at": clock.now()}
        if not await insert_unless_conflict(session, table_of(Participant), values):
            raise ParticipantExists(f"Participant {body.id} exists.")
        log.info("payments.participant.created", participant_id=body.id, kind=body.kind.value)
        return ParticipantRead(**values)

    async def list_participants(self, session: AsyncSession) -> list[ParticipantRead]:
        rows = await LedgerRepository.from_session(session).list_participants()
        return [ParticipantRead(id=p.id, name=p.name, kind=ParticipantKind(p.kind), client_id=p.client_id,
                                created_at=p.created_at) for p in rows]  # fmt: skip

    async def open_account(
        self, session: AsyncSession, caller: Caller, body: AccountCreate, *, clock: Clock
    ) -> AccountRead:
        repository = LedgerRepository.from_session(session)
        participant = await repository.get_participant(body.participant_id)
        if participant is None:
            raise ParticipantNotFound(f"No participant {body.participant_id}.")
        await self.ensure_acts_for(session, caller, participant.id)
        kind = body.kind
        values = {
            "id": account_id_for(participant.id, kind, body.currency, body.address),
            "participant_id": participant.id,
            "kind": kind.value,
            "address": body.address,
            "currency": body.currency,
            "owner_ref": body.owner_ref,
            "status": AccountStatus.active.value,
            "balance": 0,
            "pending_debits": 0,
            "debit_limit": 0 if body.debit_limit in ("0", "0.0") else to_minor(body.debit_limit, body.currency),
            "created_at": clock.now(),
        }
        if not await insert_unless_conflict(session, table_of(Account), values):
            raise AccountExists(f"{participant.id} already has an account with address {body.address}.")
        account = await repository.get_account(str(values["id"]))
        assert account is not None
        return account_read(account)

    async def acts_for(self, session: AsyncSession, caller: Caller, participant_id: str) -> bool:
        """The operator acts for everyone; an FSP only for itself (its gateway client is the participant's)."""
        if caller.has_role("payments_operator"):
            return True
        participant = await LedgerRepository.from_session(session).participant_of_client(caller.client_id)
        return participant is not None and participant.id == participant_id

    async def ensure_acts_for(self, session: AsyncSession, caller: Caller, participant_id: str) -> None:
        if not await self.acts_for(session, caller, participant_id):
            raise PolicyDenied("SG-SEC-1", f"Client {caller.client_id} does not act for participant {participant_id}.")

    async def get_account(self, session: AsyncSession, caller: Caller, account_id: str) -> AccountRead:
        account = await LedgerRepository.from_session(session).get_account(account_id)
        if account is None:
            raise AccountNotFound(f"No account {account_id}.")
        if not caller.has_role("payments_operator", "auditor"):
            if caller.has_role("subject") and caller.subject_ref and account.owner_ref == caller.subject_ref:
                return account_read(account)
            if not await self.acts_for(session, caller, account.participant_id):
                raise AccountNotFound(f"No account {account_id}.")  # not 403: another FSP's accounts stay unseen
        return account_read(account)

    # --- postings ------------------------------------------------------------------------------------------------
    async def post_by_operator(self, session: AsyncSession, body: PostingCreate, *, clock: Clock) -> PostingRead:
        repository = LedgerRepository.from_session(session)
        found = await repository.accounts_of([body.debit_account_id, body.credit_account_id])
        for account_id in (body.debit_account_id, body.credit_account_id):
            if account_id not in found:
                raise AccountNotFound(f"No account {account_id}.")
            if found[account_id].currency != body.currency:
                raise CurrencyMismatch(f"Account {account_id} holds {found[account_id].currency}, not {body.currency}.")
        leg = Leg(
            body.id, body.debit_account_id, body.credit_account_id, to_minor(body.amount, body.currency), body.code
        )
        await self.post(session, [leg], currency=body.currency, clock=clock)
        posting = await repository.get_posting(leg.id)
        assert posting is not None
        return posting_read(posting)

    async def post(
        self,
        session: AsyncSession,
        legs: Sequence[Leg],
        *,
        currency: str,
        clock: Clock,
        pending: bool = False,
        credits_checked: bool = False,
    ) -> None:
        """Record `legs` atomically (all or none: the caller's transaction rolls back on a refusal).

        A leg whose id exists with the same values is a replay and changes nothing; with other values, a conflict.
        Pending legs only hold the debit back (TigerBeetle's pending transfer); `post_pending` or `void_pending`
        resolves them.
        """
        repository = LedgerRepository.from_session(session)
        now = clock.now()
        state = PostingState.pending if pending else PostingState.posted
        fresh: list[Leg] = []
        for leg in legs:
            values = {
                "id": leg.id, "debit_account_id": leg.debit, "credit_account_id": leg.credit, "amount": leg.amount,
                "currency": currency, "state": state.value, "code": leg.code, "reference": leg.reference,
                "created_at": now, "resolved_at": None if pending else now,
            }  # fmt: skip
            if await repository.insert_posting(values):
                fresh.append(leg)
            else:
                existing = await repository.get_posting(leg.id)
                if existing is None or (existing.debit_account_id, existing.credit_account_id, existing.amount,
                                        existing.currency, existing.code) != (leg.debit, leg.credit, leg.amount,
                                                                              currency, leg.code):  # fmt: skip
                    raise PostingConflict(f"Posting {leg.id} exists with other values.")
        # Balance changes in account-id order, so two postings crossing the same accounts cannot deadlock.
        changes = sorted(
            [(leg.debit, "debit", leg) for leg in fresh] + [(leg.credit, "credit", leg) for leg in fresh],
            key=lambda change: (change[0], change[1]),
        )
        for account_id, side, leg in changes:
            if side == "debit":
                applied = await (repository.reserve if pending else repository.debit)(account_id, leg.amount)
            else:
                applied = True if pending else await repository.credit(account_id, leg.amount)
            if not applied:
                await self._refuse(repository, account_id, side, leg)
        if pending and not credits_checked:
            # A pending credit to a closed account would only fail at posting; refuse it now.
            for leg in fresh:
                credit = await repository.get_account(leg.credit)
                if credit is None or credit.status != AccountStatus.active.value:
                    raise AccountClosed(f"Account {leg.credit} accepts no credits.")

    async def _refuse(self, repository: LedgerRepository, account_id: str, side: str, leg: Leg) -> None:
        account = await repository.get_account(account_id)
        if account is None:
            raise AccountNotFound(f"No account {account_id}.")
        if account.status != AccountStatus.active.value:
            raise AccountClosed(f"Account {account_id} is closed.")
        raise InsufficientFunds(
            f"Account {account_id} cannot be debited {to_text(leg.amount, account.currency)} {account.currency} "
            "without going below its limit."
        )

    async def post_pending(self, session: AsyncSession, posting_ids: Sequence[str], *, clock: Clock) -> list[Posting]:
        """Commit reservations: each held debit becomes a posted one and its credit lands. Idempotent."""
        return await self._resolve(session, posting_ids, PostingState.posted, clock=clock)

    async def void_pending(self, session: AsyncSession, posting_ids: Sequence[str], *, clock: Clock) -> list[Posting]:
        """Release reservations: the held amounts are available again. Idempotent."""
        return await self._resolve(session, posting_ids, PostingState.voided, clock=clock)

    async def _resolve(
        self, session: AsyncSession, posting_ids: Sequence[str], state: PostingState, *, clock: Clock
    ) -> list[Posting]:
        repository = LedgerRepository.from_session(session)
        resolved: list[Posting] = []
        changes: list[tuple[str, str, int]] = []
        for posting_id in sorted(posting_ids):
            posting = await repository.resolve_pending(posting_id, state, clock.now())
            if posting is None:
                existing = await repository.get_posting(posting_id)
                if existing is None:
                    raise PostingNotFound(f"No posting {posting_id}.")
                if existing.state != state.value:
                    raise PostingNotPending(f"Posting {posting_id} is {existing.state}.")
                resolved.append(existing)
                continue
            resolved.append(posting)
            if state is PostingState.posted:
                changes.append((posting.debit_account_id, "post", posting.amount))
                changes.append((posting.credit_account_id, "credit", posting.amount))
            else:
                changes.append((posting.debit_account_id, "release", posting.amount))
        # All account rows in one global order, whatever the legs: crossing transfers cannot deadlock.
        for account_id, action, amount in sorted(changes):
            if action == "post":
                await repository.post_reserved(account_id, amount)
            elif action == "release":
                await repository.release(account_id, amount)
            elif not await repository.credit(account_id, amount):
                raise AccountClosed(f"Account {account_id} accepts no credits.")
        return resolved

    async def get_posting(self, session: AsyncSession, posting_id: str) -> PostingRead:
        posting = await LedgerRepository.from_session(session).get_posting(posting_id)
        if posting is None:
            raise PostingNotFound(f"No posting {posting_id}.")
        return posting_read(posting)

    async def check(self, session: AsyncSession) -> LedgerCheck:
        """Prove the books: per currency the balances sum to zero, pending holds match pending postings, and every
        account's balance equals what its postings say."""
        totals = []
        for row in await LedgerRepository.from_session(session).check():
            balanced = (
                row.balance_sum == 0 and row.pending_debits == row.pending_postings and not row.journal_mismatches
            )
            totals.append(
                CurrencyTotals(
                    currency=row.currency,
                    accounts=row.accounts,
                    balance_sum=to_text(row.balance_sum, row.currency),
                    pending_debits=to_text(row.pending_debits, row.currency),
                    pending_postings=to_text(row.pending_postings, row.currency),
                    journal_mismatches=row.journal_mismatches,
                    balanced=balanced,
                )
            )
        return LedgerCheck(balanced=all(t.balanced for t in totals), currencies=totals)


def account_read(account: Account) -> AccountRead:
    currency = account.currency
    limit = account.debit_limit
    available = account.balance - account.pending_debits + (limit or 0)
    return AccountRead(
        id=account.id,
        participant_id=account.participant_id,
        kind=AccountKind(account.kind),
        address=account.address,
        currency=currency,
        status=AccountStatus(account.status),
        balance=SignedMoney.of(account.balance, currency),
        available=SignedMoney.of(available, currency),
        pending_debits=SignedMoney.of(account.pending_debits, currency),
        debit_limit=None if limit is None else SignedMoney.of(limit, currency),
        created_at=account.created_at,
    )


def posting_read(posting: Posting) -> PostingRead:
    return PostingRead(
        id=posting.id,
        debit_account_id=posting.debit_account_id,
        credit_account_id=posting.credit_account_id,
        amount=to_text(posting.amount, posting.currency),
        currency=posting.currency,
        state=PostingState(posting.state),
        code=posting.code,
        reference=posting.reference,
        created_at=posting.created_at,
        resolved_at=posting.resolved_at,
    )


ledger = LedgerService()
