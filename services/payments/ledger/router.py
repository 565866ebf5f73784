"""The ledger over HTTP: participants, accounts, operator postings and the zero-sum check."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.common.auth import SessionDep
from services.common.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import AccountReaderDep, FspDep, OperatorDep, ReaderDep, RuntimeDep
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
)
from services.payments.ledger.schemas import (
    AccountCreate,
    AccountRead,
    LedgerCheck,
    ParticipantCreate,
    ParticipantRead,
    PostingCreate,
    PostingRead,
)
from services.payments.ledger.service import ledger as ledger_service
from services.payments.money import InvalidAmount

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.post(
    "/participants",
    status_code=201,
    summary="Register a participant (operator)",
    description="An FSP (bank, mobile-money operator) or the settlement bank.",
    response_model=ParticipantRead,
    responses=problem_responses(PolicyDenied, ParticipantExists),
)
async def create_participant(
    body: ParticipantCreate, session: SessionDep, caller: OperatorDep, rt: RuntimeDep
) -> ParticipantRead:
    return await ledger_service.create_participant(session, body, clock=rt.clock)


@router.get(
    "/participants",
    summary="List participants",
    response_model=list[ParticipantRead],
    responses=problem_responses(PolicyDenied),
)
async def list_participants(session: SessionDep, caller: FspDep) -> list[ParticipantRead]:
    return await ledger_service.list_participants(session)


@router.post(
    "/accounts",
    status_code=201,
    summary="Open an account (operator, or the FSP itself)",
    description="Balances start at zero; `debit_limit` is how far below zero the account may go.",
    response_model=AccountRead,
    responses=problem_responses(PolicyDenied, ParticipantNotFound, AccountExists, InvalidAmount),
)
async def open_account(body: AccountCreate, session: SessionDep, caller: FspDep, rt: RuntimeDep) -> AccountRead:
    return await ledger_service.open_account(session, caller, body, clock=rt.clock)


@router.get(
    "/accounts/{account_id}",
    summary="Read an account's balance",
    description="The operator and auditors see every account, an FSP its own, a person the accounts they hold.",
    response_model=AccountRead,
    responses=problem_responses(PolicyDenied, AccountNotFound),
)
async def get_account(account_id: str, session: SessionDep, caller: AccountReaderDep) -> AccountRead:
    return await ledger_service.get_account(session, caller, account_id)


@router.post(
    "/postings",
    status_code=201,
    summary="Post a balanced movement (operator)",
    description="Debits one account and credits another by the same amount, at once. Funding and adjustments; "
    "transfers and disbursements post their own. The same `id` again answers the first posting and moves nothing.",
    response_model=PostingRead,
    responses=problem_responses(
        *IDEMPOTENCY_ERRORS,
        PolicyDenied,
        AccountNotFound,
        AccountClosed,
        InsufficientFunds,
        PostingConflict,
        CurrencyMismatch,
        InvalidAmount,
    ),
)
async def create_posting(
    body: PostingCreate, session: SessionDep, caller: OperatorDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    return await idempotency.run(
        session, lambda: ledger_service.post_by_operator(session, body, clock=rt.clock), status_code=201
    )


@router.get(
    "/postings/{posting_id}",
    summary="Read a posting",
    response_model=PostingRead,
    responses=problem_responses(PolicyDenied, PostingNotFound),
)
async def get_posting(posting_id: str, session: SessionDep, caller: ReaderDep) -> PostingRead:
    return await ledger_service.get_posting(session, posting_id)


@router.get(
    "/check",
    summary="Prove the books balance",
    description="Per currency: the balances sum to zero, pending holds equal pending postings, and each account's "
    "balance equals the sum of its postings.",
    response_model=LedgerCheck,
    responses=problem_responses(PolicyDenied),
)
async def check(session: SessionDep, caller: ReaderDep) -> LedgerCheck:
    return await ledger_service.check(session)
