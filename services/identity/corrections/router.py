"""Corrections of identity data (SG-GRIEV-3): subjects ask, registrars decide, overdue cases escalate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.assertion import Caller
from services.common.auth import SessionDep, require_roles
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.corrections.errors import (
    CorrectionAlreadyDecided,
    CorrectionMatchesAnotherPerson,
    CorrectionNotFound,
)
from services.identity.corrections.models import CorrectionStatus
from services.identity.corrections.schemas import (
    CorrectionCaseRead,
    CorrectionCreate,
    CorrectionDecision,
    CorrectionPage,
    CorrectionRead,
    EscalationResult,
    MyCorrectionPage,
)
from services.identity.corrections.service import correction as correction_service
from services.identity.deps import RegistrarDep, RuntimeDep, SubjectDep
from services.identity.persons.errors import InvalidPersonalData, SubjectNotFound

router = APIRouter(prefix="/v1", tags=["corrections"])

EscalatorDep = Annotated[Caller, Depends(require_roles("registrar", "oversight", "gateway_internal"))]


@router.post(
    "/me/corrections",
    status_code=201,
    summary="Ask for a correction of my identity data (subject)",
    description="Opens a tracked case due within the configured SLA (default 30 days, a sandbox number).",
    response_model=CorrectionRead,
    responses=problem_responses(PolicyDenied, SubjectNotFound, InvalidPersonalData),
)
async def request_correction(
    body: CorrectionCreate, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> CorrectionRead:
    return await correction_service.request(session, caller, body, rt=rt)


@router.get(
    "/me/corrections",
    summary="My correction cases (subject)",
    description="Cursor-paginated, oldest first, like every list a person reads about themselves.",
    response_model=MyCorrectionPage,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def list_my_corrections(
    session: SessionDep, caller: SubjectDep, rt: RuntimeDep, paging: PageParams
) -> MyCorrectionPage:
    return await correction_service.list_mine(session, caller, paging=paging, rt=rt)


@router.get(
    "/corrections",
    summary="List correction cases (registrar)",
    description="Cursor-paginated in creation order. `overdue=true` keeps undecided cases past their due date.",
    response_model=CorrectionPage,
    responses=problem_responses(PolicyDenied),
)
async def list_corrections(
    *,
    session: SessionDep,
    caller: RegistrarDep,
    rt: RuntimeDep,
    overdue: Annotated[bool, Query(description="Only undecided cases past their due date.")] = False,
    paging: PageParams,
    status: Annotated[CorrectionStatus | None, Query()] = None,
) -> CorrectionPage:
    return await correction_service.list(session, caller, overdue=overdue, status=status, paging=paging, rt=rt)


@router.post(
    "/corrections/escalate-overdue",
    summary="Escalate every overdue correction case (registrar, oversight or the scheduler)",
    description="Open cases past their due date become `escalated`, each with an `identity.correction.escalated` "
    "event for the oversight queue (SG-GRIEV-3, escalating like SG-GRIEV-2).",
    response_model=EscalationResult,
    responses=problem_responses(PolicyDenied),
)
async def escalate_overdue(session: SessionDep, caller: EscalatorDep, rt: RuntimeDep) -> EscalationResult:
    return await correction_service.escalate_overdue(session, rt=rt)


@router.get(
    "/corrections/{case_id}",
    summary="Read a correction case (registrar)",
    response_model=CorrectionCaseRead,
    responses=problem_responses(PolicyDenied, CorrectionNotFound),
)
async def get_correction(case_id: str, session: SessionDep, caller: RegistrarDep, rt: RuntimeDep) -> CorrectionCaseRead:
    return await correction_service.get(session, caller, case_id, rt=rt)


@router.post(
    "/corrections/{case_id}/decision",
    summary="Approve or reject a correction (registrar)",
    description="Approval updates the record and emits `identity.person.updated` (ids only); pairwise tokens and "
    "VIDs stay the same because they derive from the UIN, which never changes.",
    response_model=CorrectionCaseRead,
    responses=problem_responses(
        PolicyDenied, CorrectionNotFound, CorrectionAlreadyDecided, CorrectionMatchesAnotherPerson, InvalidPersonalData
    ),
)
async def decide_correction(
    case_id: str, body: CorrectionDecision, session: SessionDep, caller: RegistrarDep, rt: RuntimeDep
) -> CorrectionCaseRead:
    return await correction_service.decide(session, caller, case_id, body, rt=rt)
