"""Signed payment records and disputes over HTTP."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.payments.deps import DisputantDep, RecordReaderDep, RuntimeDep
from services.payments.records.errors import DisputeNotFound, TransactionNotFound
from services.payments.records.schemas import DisputeCreate, DisputeRead, TransactionRecords
from services.payments.records.service import record as record_service

router = APIRouter(prefix="/v1/payments", tags=["records"])


@router.get(
    "/{transaction_id}/records",
    summary="The signed records of a transaction (SG-AUDIT-2)",
    description="Every step (initiation, reservation, commit, abort, reversal, settlement) with its JWS; verify "
    "with the keys at /.well-known/jwks.json, or offline with `dpi-sandbox payments verify`.",
    response_model=TransactionRecords,
    responses=problem_responses(PolicyDenied, TransactionNotFound),
)
async def transaction_records(transaction_id: str, session: SessionDep, caller: RecordReaderDep) -> TransactionRecords:
    return await record_service.of_transaction(session, transaction_id)


@router.post(
    "/{transaction_id}/disputes",
    status_code=201,
    summary="Dispute a payment (SG-GRIEV-4)",
    description="Opens a dispute linked to the transaction's latest signed record; the grievance office receives "
    "it (event `payments.dispute.filed`) with the record's JWS.",
    response_model=DisputeRead,
    responses=problem_responses(PolicyDenied, TransactionNotFound),
)
async def file_dispute(
    transaction_id: str, body: DisputeCreate, session: SessionDep, caller: DisputantDep, rt: RuntimeDep
) -> DisputeRead:
    return await record_service.dispute(session, caller, transaction_id, body, rt=rt)


@router.get(
    "/disputes/{dispute_id}",
    summary="Read a dispute",
    response_model=DisputeRead,
    responses=problem_responses(PolicyDenied, DisputeNotFound),
)
async def get_dispute(dispute_id: str, session: SessionDep, caller: DisputantDep) -> DisputeRead:
    return await record_service.get_dispute(session, caller, dispute_id)
