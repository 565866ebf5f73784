"""Stored payloads: the consumer reads back what it stored, for the purpose it stored it for, until it is purged."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import AdminDep, ConsumerDep, RuntimeDep
from services.exchange.paths import RowId
from services.exchange.retention.errors import PayloadPurged, StoredPayloadNotFound
from services.exchange.retention.schedule import purge_all
from services.exchange.retention.schemas import PurgeResult, StoredPayloadRead
from services.exchange.retention.service import retention as retention_service

router = APIRouter(prefix="/v1/stored-payloads", tags=["retention"])


@router.get(
    "/{payload_id}",
    summary="Read a payload stored through the exchange (the consumer that stored it)",
    description="Only for the purpose it was obtained for (403 SG-PURPOSE-2). After its retain_until it is purged "
    "and answers 410 (SG-RETAIN-1).",
    response_model=StoredPayloadRead,
    responses=problem_responses(PolicyDenied, StoredPayloadNotFound, PayloadPurged),
)
async def read_payload(
    payload_id: RowId, session: SessionDep, caller: ConsumerDep, rt: RuntimeDep
) -> StoredPayloadRead:
    return await retention_service.read(session, caller, payload_id, rt=rt)


@router.post(
    "/purge",
    summary="Purge every payload past its retain_until now (exchange operator)",
    description="The purge also runs on a timer and after consent revocation or expiry events; each purged payload "
    "leaves a disposition record and an `exchange.payload.purged` event.",
    response_model=PurgeResult,
    responses=problem_responses(PolicyDenied),
)
async def purge(request: Request, caller: AdminDep) -> PurgeResult:
    return PurgeResult(purged=await purge_all(request.app))
