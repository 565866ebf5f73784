"""Internal endpoints for the gateway: resolve a presented reference to `sub`, issue a relying party's token."""

from __future__ import annotations

from fastapi import APIRouter

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.identity.deps import GatewayInternalDep, RuntimeDep
from services.identity.persons.errors import SubjectNotFound
from services.identity.tokens.errors import ReferenceNotResolved, VidExpired, VidRevoked
from services.identity.tokens.schemas import (
    PairwiseTokenRead,
    PairwiseTokenRequest,
    SubjectReference,
    SubjectResolution,
)
from services.identity.tokens.service import token as token_service

router = APIRouter(prefix="/v1/subjects", tags=["tokens"])


@router.post(
    "/resolve",
    summary="Resolve a VID or pairwise token to the internal subject reference (gateway)",
    description="A reference that identifies no one answers 401: unknown (`identity.reference_unknown`), revoked "
    "VID (`identity.vid_revoked`) or expired VID (`identity.vid_expired`), all under rule SG-TOKEN-1.",
    response_model=SubjectResolution,
    responses=problem_responses(PolicyDenied, ReferenceNotResolved, VidRevoked, VidExpired),
)
async def resolve_subject(
    body: SubjectReference, session: SessionDep, caller: GatewayInternalDep, rt: RuntimeDep
) -> SubjectResolution:
    return await token_service.resolve(session, caller, body, rt=rt)


@router.post(
    "/{sub}/pairwise-token",
    summary="A relying party's pairwise token for a subject (gateway)",
    description="HMAC of the UIN under a key derived for that relying party alone: stable for one party, "
    "unlinkable across parties, unchanged by corrections. The UIN itself never leaves the service.",
    response_model=PairwiseTokenRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def issue_pairwise_token(
    sub: str, body: PairwiseTokenRequest, session: SessionDep, caller: GatewayInternalDep, rt: RuntimeDep
) -> PairwiseTokenRead:
    return await token_service.pairwise_token(session, caller, sub, body, rt=rt)
