"""A subject's signed receipts: listed, read and downloaded; each verifies offline with the service's JWKS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from services.common.auth import SessionDep
from services.common.paging import InvalidCursor, PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.consent.deps import SubjectDep
from services.consent.receipts.schemas import ReceiptPage, ReceiptRead
from services.consent.receipts.service import ReceiptNotFound
from services.consent.receipts.service import receipt as receipt_service

router = APIRouter(prefix="/v1/me/receipts", tags=["receipts"])

ReceiptIdPath = Annotated[str, Path(max_length=64, pattern=r"^rct_[0-9a-f]{32}$")]


@router.get(
    "",
    summary="My consent receipts (subject)",
    description="Newest first; `consent_id` keeps one artefact's receipts (a chain: each names its predecessor).",
    response_model=ReceiptPage,
    responses=problem_responses(PolicyDenied, InvalidCursor),
)
async def list_my_receipts(
    session: SessionDep,
    caller: SubjectDep,
    paging: PageParams,
    consent_id: Annotated[str | None, Query(max_length=64, pattern=r"^cns_[0-9a-f]{32}$")] = None,
) -> ReceiptPage:
    return await receipt_service.list_mine(session, caller, consent_id=consent_id, paging=paging)


@router.get(
    "/{receipt_id}",
    summary="One of my receipts (subject)",
    response_model=ReceiptRead,
    responses=problem_responses(PolicyDenied, ReceiptNotFound),
)
async def get_my_receipt(receipt_id: ReceiptIdPath, session: SessionDep, caller: SubjectDep) -> ReceiptRead:
    return await receipt_service.get_mine(session, caller, receipt_id)


@router.get(
    "/{receipt_id}/jws",
    summary="Download one of my receipts as a compact JWS (subject)",
    description="`application/jose`: verify it with the consent service's /.well-known/jwks.json, no network else.",
    response_class=Response,
    responses={
        200: {"content": {"application/jose": {"schema": {"type": "string"}}}, "description": "The compact JWS."},
        **problem_responses(PolicyDenied, ReceiptNotFound),
    },
)
async def download_my_receipt(receipt_id: ReceiptIdPath, session: SessionDep, caller: SubjectDep) -> Response:
    found = await receipt_service.get_mine(session, caller, receipt_id)
    return Response(
        found.jws,
        media_type="application/jose",
        headers={"Content-Disposition": f'attachment; filename="{found.id}.jws"'},
    )
