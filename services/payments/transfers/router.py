"""Party lookup, quotes and two-phase transfers over HTTP (Mojaloop FSPIOP's resources, answered synchronously)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from services.common.auth import SessionDep
from services.common.http import FIELDS_RETURNED_HEADER
from services.common.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import FspDep, ResolverDep, RuntimeDep
from services.payments.ledger.errors import AccountClosed, AccountNotFound, CurrencyMismatch, InsufficientFunds
from services.payments.money import InvalidAmount
from services.payments.transfers import prepared as prepared_path
from services.payments.transfers.errors import (
    DuplicateWithOtherValues,
    InvalidFulfilment,
    PartyNotFound,
    QuoteExpired,
    QuoteMismatch,
    QuoteNotFound,
    SameAccount,
    TransferExpired,
    TransferNotFound,
    TransferNotReserved,
)
from services.payments.transfers.schemas import (
    Party,
    PartyIdType,
    QuoteRead,
    QuoteRequest,
    TransferAbort,
    TransferFulfil,
    TransferPrepare,
    TransferRead,
)
from services.payments.transfers.service import transfer as transfer_service

PARTY_FIELDS = "fsp_id,address,account_kind"  # what a lookup releases of a person (SG-NOTIFY-1)

router = APIRouter(prefix="/v1", tags=["transfers"])


@router.get(
    "/parties/{party_id_type}/{party_identifier}",
    summary="Look up a payee",
    description="Which FSP and address a wallet number, a person (`sub`) or a payments-sector token resolves to. "
    "`X-DPI-Fields-Returned` names them to the gateway, which tells a person looked up by `sub` (SG-NOTIFY-1).",
    response_model=Party,
    responses=problem_responses(PolicyDenied, PartyNotFound),
)
async def lookup_party(
    party_id_type: PartyIdType, party_identifier: str, session: SessionDep, caller: ResolverDep, response: Response
) -> Party:
    party = await transfer_service.lookup_party(session, party_id_type, party_identifier)
    response.headers[FIELDS_RETURNED_HEADER] = PARTY_FIELDS
    return party


@router.post(
    "/quotes",
    status_code=201,
    summary="Ask for a quote (payer FSP)",
    description="The payer FSP's fee, what the payer pays in total, the payee FSP's condition and the expiry.",
    response_model=QuoteRead,
    responses=problem_responses(
        PolicyDenied,
        AccountNotFound,
        PartyNotFound,
        SameAccount,
        CurrencyMismatch,
        AccountClosed,
        DuplicateWithOtherValues,
        InvalidAmount,
    ),
)
async def create_quote(body: QuoteRequest, session: SessionDep, caller: FspDep, rt: RuntimeDep) -> QuoteRead:
    return await transfer_service.quote(session, caller, body, rt=rt)


@router.get(
    "/quotes/{quote_id}",
    summary="Read a quote",
    response_model=QuoteRead,
    responses=problem_responses(PolicyDenied, QuoteNotFound),
)
async def get_quote(quote_id: str, session: SessionDep, caller: FspDep) -> QuoteRead:
    return await transfer_service.get_quote(session, caller, quote_id)


@router.post(
    "/transfers",
    status_code=201,
    summary="Prepare a transfer: reserve the funds (payer FSP)",
    description="The amount (and the quoted fee) is held back on the payer's account until the payee FSP fulfils, "
    "someone aborts, or it expires. The same transfer id with the same body answers 200 with the transfer as it "
    "is now and moves nothing; with another body, 409.",
    response_model=TransferRead,
    responses={
        200: {"description": "A replay: the transfer as it is now."},
        **problem_responses(
            *IDEMPOTENCY_ERRORS,
            PolicyDenied,
            AccountNotFound,
            PartyNotFound,
            SameAccount,
            CurrencyMismatch,
            AccountClosed,
            InsufficientFunds,
            QuoteNotFound,
            QuoteExpired,
            QuoteMismatch,
            DuplicateWithOtherValues,
            InvalidAmount,
        ),
    },
)
async def prepare_transfer(
    body: TransferPrepare, session: SessionDep, caller: FspDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    async def work() -> Response:
        transfer, created = await transfer_service.prepare(session, caller, body, rt=rt)
        return JSONResponse(transfer.model_dump(mode="json"), status_code=201 if created else 200)

    return await idempotency.run(
        session, work, one_statement=lambda answer: prepared_path.prepare(caller, body, rt=rt, answer=answer)
    )


@router.get(
    "/transfers/{transfer_id}",
    summary="Read a transfer",
    response_model=TransferRead,
    responses=problem_responses(PolicyDenied, TransferNotFound),
)
async def get_transfer(transfer_id: str, session: SessionDep, caller: FspDep) -> TransferRead:
    return await transfer_service.get(session, caller, transfer_id)


@router.post(
    "/transfers/{transfer_id}/fulfil",
    summary="Fulfil a transfer: commit it (payee FSP)",
    description="Commits when SHA-256 of the fulfilment is the condition and the transfer has not expired: the "
    "payer is debited, the payee credited. Fulfilling again with the same fulfilment answers the committed transfer.",
    response_model=TransferRead,
    responses=problem_responses(
        *IDEMPOTENCY_ERRORS,
        PolicyDenied,
        TransferNotFound,
        InvalidFulfilment,
        TransferNotReserved,
        TransferExpired,
        AccountClosed,
    ),
)
async def fulfil_transfer(
    transfer_id: str,
    body: TransferFulfil,
    session: SessionDep,
    *,
    caller: FspDep,
    rt: RuntimeDep,
    idempotency: Idempotent,
) -> Response:
    return await idempotency.run(
        session,
        lambda: transfer_service.fulfil(session, caller, transfer_id, body, rt=rt),
        one_statement=lambda answer: prepared_path.fulfil(caller, transfer_id, body, rt=rt, answer=answer),
    )


@router.post(
    "/transfers/{transfer_id}/abort",
    summary="Abort a reserved transfer (payee or payer FSP)",
    description="The reservation is released. Aborting again answers the aborted transfer.",
    response_model=TransferRead,
    responses=problem_responses(*IDEMPOTENCY_ERRORS, PolicyDenied, TransferNotFound, TransferNotReserved),
)
async def abort_transfer(
    transfer_id: str,
    body: TransferAbort,
    session: SessionDep,
    *,
    caller: FspDep,
    rt: RuntimeDep,
    idempotency: Idempotent,
) -> Response:
    return await idempotency.run(session, lambda: transfer_service.abort(session, caller, transfer_id, body, rt=rt))
