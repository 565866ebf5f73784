"""Bulk disbursement over HTTP: a programme submits a batch (JSON or pain.001) and follows it to its pain.002."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import SessionDep
from services.common.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from services.common.problems import PolicyDenied, ProblemError, problem_responses
from services.payments.bulk.errors import BatchNotFound, BatchTooLarge, DuplicateBatch, InvalidBatch, InvalidPain001
from services.payments.bulk.models import ItemStatus
from services.payments.bulk.schemas import BatchCreate, BatchRead, ItemPage
from services.payments.bulk.service import bulk as bulk_service
from services.payments.deps import BatchReaderDep, ProgrammeDep, RuntimeDep
from services.payments.ledger.errors import AccountNotFound, CurrencyMismatch
from services.payments.money import InvalidAmount

router = APIRouter(prefix="/v1/bulk", tags=["bulk"])

XML_TYPES = ("application/xml", "text/xml")


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Unsupported media type"
    type_slug = "payments/unsupported-media-type"
    code = "payments.unsupported_media_type"


_SUBMIT_ERRORS = (
    *IDEMPOTENCY_ERRORS, PolicyDenied, AccountNotFound, CurrencyMismatch, DuplicateBatch, InvalidBatch, InvalidAmount,
    BatchTooLarge,
)  # fmt: skip


@router.post(
    "/batches",
    status_code=202,
    summary="Submit a disbursement batch (programme, JSON)",
    description="Beneficiaries by person reference and amount, never account details: each is resolved through "
    "the mapper when the background job pays it. Duplicates (an end-to-end id or a beneficiary twice) reject the "
    "batch; a `message_id` is accepted once per programme.",
    response_model=BatchRead,
    responses=problem_responses(*_SUBMIT_ERRORS),
)
async def submit_batch(
    body: BatchCreate, session: SessionDep, caller: ProgrammeDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    return await idempotency.run(session, lambda: bulk_service.submit(session, caller, body, rt=rt), status_code=202)


@router.post(
    "/batches/pain001",
    status_code=202,
    summary="Submit a disbursement batch (programme, ISO 20022 pain.001)",
    description="A pain.001.001.03 or .09 customer credit transfer initiation, validated against the official "
    "schema. The creditor's private id (Cdtr/Id/PrvtId/Othr/Id) is the beneficiary's person reference.",
    response_model=BatchRead,
    responses=problem_responses(*_SUBMIT_ERRORS, InvalidPain001, UnsupportedMediaType),
    openapi_extra={
        "requestBody": {"required": True, "content": {t: {"schema": {"type": "string"}} for t in XML_TYPES}}
    },
)
async def submit_pain001(
    request: Request, session: SessionDep, caller: ProgrammeDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() not in XML_TYPES:
        raise UnsupportedMediaType("Send the pain.001 file as application/xml.")
    data = await request.body()
    return await idempotency.run(
        session, lambda: bulk_service.submit_pain001(session, caller, data, rt=rt), status_code=202
    )


@router.get(
    "/batches/{batch_id}",
    summary="A batch's status and progress",
    response_model=BatchRead,
    responses=problem_responses(PolicyDenied, BatchNotFound),
)
async def get_batch(batch_id: str, session: SessionDep, caller: BatchReaderDep) -> BatchRead:
    return await bulk_service.get(session, caller, batch_id)


@router.get(
    "/batches/{batch_id}/items",
    summary="A batch's items with their own status",
    description="Paid, failed (with the reason) or pending; `status=failed` lists what needs redress.",
    response_model=ItemPage,
    responses=problem_responses(PolicyDenied, BatchNotFound),
)
async def list_items(
    batch_id: str,
    session: SessionDep,
    *,
    caller: BatchReaderDep,
    status: ItemStatus | None = None,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ItemPage:
    return await bulk_service.items(session, caller, batch_id, after=after, limit=limit, status=status)


@router.get(
    "/batches/{batch_id}/pain002",
    summary="The batch's ISO 20022 pain.002 status report",
    description="Every item's status: ACSC (paid), RJCT with an ISO reason code, or PDNG while the batch runs.",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **problem_responses(PolicyDenied, BatchNotFound)},
)
async def status_report(batch_id: str, session: SessionDep, caller: BatchReaderDep, rt: RuntimeDep) -> Response:
    report = await bulk_service.status_report(session, caller, batch_id, rt=rt)
    return Response(report, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{batch_id}.pain002.xml"'})  # fmt: skip
