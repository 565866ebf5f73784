"""The court-order registry over HTTP: oversight records and revokes; oversight and auditors read."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import InvalidInput, PolicyDenied, problem_responses
from services.exchange.deps import OrderReaderDep, OversightDep, RuntimeDep
from services.exchange.orders.errors import CourtOrderNotFound, DeferralTooLong, InvalidCourtOrder
from services.exchange.orders.schemas import CourtOrderCreate, CourtOrderPage, CourtOrderRead
from services.exchange.orders.service import court_orders as order_service
from services.exchange.paths import RowId

router = APIRouter(prefix="/v1/court-orders", tags=["court orders"])


@router.post(
    "",
    status_code=201,
    summary="Record a court order (oversight)",
    description="A judicial authorisation scoped to one subject, named services and fields, one law-enforcement "
    "member and a time limit (SG-LAWFUL-1), with an optional deferral of the subject's view, bounded by policy "
    "(SG-ACCESS-2).",
    response_model=CourtOrderRead,
    responses=problem_responses(PolicyDenied, InvalidCourtOrder, DeferralTooLong),
)
async def record_order(
    body: CourtOrderCreate, session: SessionDep, caller: OversightDep, rt: RuntimeDep
) -> CourtOrderRead:
    return await order_service.record(session, caller, body, rt=rt)


@router.get(
    "",
    summary="List court orders (oversight, auditor)",
    response_model=CourtOrderPage,
    responses=problem_responses(PolicyDenied, InvalidInput),
)
async def list_orders(session: SessionDep, caller: OrderReaderDep, paging: PageParams) -> CourtOrderPage:
    return await order_service.page(session, paging)


@router.get(
    "/{order_id}",
    summary="Read a court order (oversight, auditor)",
    response_model=CourtOrderRead,
    responses=problem_responses(PolicyDenied, CourtOrderNotFound),
)
async def get_order(order_id: RowId, session: SessionDep, caller: OrderReaderDep) -> CourtOrderRead:
    return await order_service.get(session, order_id)


@router.delete(
    "/{order_id}",
    summary="Revoke a court order (oversight)",
    description="Effective at once: the next fetch under it is denied (SG-LAWFUL-1).",
    response_model=CourtOrderRead,
    responses=problem_responses(PolicyDenied, CourtOrderNotFound),
)
async def revoke_order(order_id: RowId, session: SessionDep, caller: OversightDep, rt: RuntimeDep) -> CourtOrderRead:
    return await order_service.revoke(session, caller, order_id, rt=rt)
