"""Adjudication of suspected duplicate enrolments (SG-ID-1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.assertion import Caller
from services.common.auth import SessionDep, require_roles
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.adjudication.errors import CaseAlreadyDecided, CaseNotFound
from services.identity.adjudication.models import CaseStatus
from services.identity.adjudication.schemas import AdjudicationCasePage, AdjudicationCaseRead, AdjudicationDecision
from services.identity.adjudication.service import adjudication as adjudication_service
from services.identity.deps import AdjudicatorDep, RuntimeDep

router = APIRouter(prefix="/v1/adjudication-cases", tags=["adjudication"])

# The registrar whose enrolment was held follows the case; only an adjudicator decides it.
CaseReaderDep = Annotated[Caller, Depends(require_roles("adjudicator", "registrar"))]


@router.get(
    "",
    summary="The adjudication queue (adjudicator)",
    description="Cases oldest first, paged by cursor; `status=open` is the work still to do. Ids and match "
    "signals only, as for one case.",
    response_model=AdjudicationCasePage,
    responses=problem_responses(PolicyDenied),
)
async def list_cases(
    *,
    session: SessionDep,
    caller: AdjudicatorDep,
    paging: PageParams,
    status: Annotated[CaseStatus | None, Query()] = None,
) -> AdjudicationCasePage:
    return await adjudication_service.list(session, caller, status=status, paging=paging)


@router.get(
    "/{case_id}",
    summary="Read an adjudication case (adjudicator or registrar)",
    response_model=AdjudicationCaseRead,
    responses=problem_responses(PolicyDenied, CaseNotFound),
)
async def get_case(case_id: str, session: SessionDep, caller: CaseReaderDep) -> AdjudicationCaseRead:
    return await adjudication_service.get(session, caller, case_id)


@router.post(
    "/{case_id}/decision",
    summary="Decide a case: distinct person or duplicate (adjudicator)",
    description="`distinct` issues the held enrolment's UIN; `duplicate` refuses it and links it to the existing "
    "person. A case is decided once.",
    response_model=AdjudicationCaseRead,
    responses=problem_responses(PolicyDenied, CaseNotFound, CaseAlreadyDecided),
)
async def decide_case(
    case_id: str, body: AdjudicationDecision, session: SessionDep, caller: AdjudicatorDep, rt: RuntimeDep
) -> AdjudicationCaseRead:
    return await adjudication_service.decide(session, caller, case_id, body, rt=rt)
