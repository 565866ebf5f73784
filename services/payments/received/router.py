"""A person's received payments over HTTP (`/me/payments` at the gateway)."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.paging import InvalidCursor, PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import SubjectDep
from services.payments.received.schemas import ReceivedPage
from services.payments.received.service import received as received_service

router = APIRouter(prefix="/v1/me/payments", tags=["received"])


@router.get(
    "",
    summary="Payments I received (the person)",
    description="Single transfers into an account I hold or have linked, and bulk G2P items paid to me: amount, "
    "payer FSP or programme, state, time, and the signed record a dispute links to (SG-GRIEV-4). Newest first.",
    response_model=ReceivedPage,
    responses=problem_responses(PolicyDenied, InvalidCursor),
)
async def my_payments(session: SessionDep, caller: SubjectDep, paging: PageParams) -> ReceivedPage:
    return await received_service.mine(session, caller, paging)
