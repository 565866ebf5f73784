"""Settlement windows over HTTP (operator)."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import OperatorDep, ReaderDep, RuntimeDep
from services.payments.ledger.errors import InsufficientFunds
from services.payments.settlement.errors import WindowNotClosed, WindowNotFound
from services.payments.settlement.schemas import WindowRead
from services.payments.settlement.service import settlement as settlement_service

router = APIRouter(prefix="/v1/settlement", tags=["settlement"])


@router.post(
    "/windows/close",
    summary="Close the open settlement window (operator)",
    description="Its committed transfers get their net positions per FSP, computed from the ledger; a new window "
    "opens.",
    response_model=WindowRead,
    responses=problem_responses(PolicyDenied),
)
async def close_window(session: SessionDep, caller: OperatorDep, rt: RuntimeDep) -> WindowRead:
    return await settlement_service.close(session, rt=rt)


@router.post(
    "/windows/{window_id}/settle",
    summary="Settle a closed window (operator)",
    description="Each FSP's net is posted between its settlement account and the settlement bank's clearing "
    "account; a debtor without the reserve refuses the whole settlement (409), which stays closed to retry.",
    response_model=WindowRead,
    responses=problem_responses(PolicyDenied, WindowNotFound, WindowNotClosed, InsufficientFunds),
)
async def settle_window(window_id: str, session: SessionDep, caller: OperatorDep, rt: RuntimeDep) -> WindowRead:
    return await settlement_service.settle(session, window_id, rt=rt)


@router.get(
    "/windows/{window_id}",
    summary="A settlement window and its net positions",
    response_model=WindowRead,
    responses=problem_responses(PolicyDenied, WindowNotFound),
)
async def get_window(window_id: str, session: SessionDep, caller: ReaderDep) -> WindowRead:
    return await settlement_service.get(session, window_id)
