"""A subject's own virtual IDs (SG-TOKEN-1): create, list and revoke."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.identity.deps import GatewayInternalDep, RuntimeDep, SubjectDep
from services.identity.persons.errors import SubjectNotFound
from services.identity.vids.errors import VidLimitReached, VidNotFound, VidValidityTooLong
from services.identity.vids.reissue import reissue
from services.identity.vids.schemas import ReissueResult, VidCreate, VidRead
from services.identity.vids.service import vid as vid_service

router = APIRouter(prefix="/v1/me/vids", tags=["vids"])
internal_router = APIRouter(tags=["vids"])


@router.post(
    "",
    status_code=201,
    summary="Create a VID (subject)",
    description="A 16-digit virtual ID that resolves to the caller until revoked or expired. The UIN is never shown.",
    response_model=VidRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound, VidLimitReached, VidValidityTooLong),
)
async def create_vid(body: VidCreate, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> VidRead:
    return await vid_service.create(session, caller, body, rt=rt)


@router.get(
    "",
    summary="List my VIDs (subject)",
    response_model=list[VidRead],
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def list_vids(session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> Sequence[VidRead]:
    return await vid_service.list(session, caller, rt=rt)


@router.delete(
    "/{vid_id}",
    summary="Revoke a VID (subject)",
    description="The VID stops resolving at once (resolution answers 401 `identity.vid_revoked`). Idempotent.",
    response_model=VidRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound, VidNotFound),
)
async def revoke_vid(vid_id: str, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> VidRead:
    return await vid_service.revoke(session, caller, vid_id, rt=rt)


@internal_router.post(
    "/v1/subjects/{sub}/reissue",
    summary="Withdraw a person's VIDs and offline credentials after a breach and issue new VIDs (gateway)",
    description="SG-BREACH-1: oversight decides at the gateway that an incident exposed the person's identifiers; "
    "every active VID and valid offline credential is revoked at once and as many fresh VIDs are issued (at least "
    "one). The answer holds counts only: the person reads the new VIDs in their app and signs a new offline "
    "credential there.",
    response_model=ReissueResult,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def reissue_after_breach(
    sub: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    caller: GatewayInternalDep,
    rt: RuntimeDep,
) -> ReissueResult:
    return await reissue(session, sub, by=caller.client_id, rt=rt)
