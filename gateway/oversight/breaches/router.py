"""Breach incidents at the gateway: oversight records them and has identifiers reissued; auditors read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import require_roles
from gateway.oversight.breaches.errors import BreachNotFound
from gateway.oversight.breaches.schemas import BreachCreate, BreachPage, BreachRead, ReissueRun
from gateway.oversight.breaches.service import BreachRuntime
from gateway.oversight.breaches.service import breach as breach_service
from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import InvalidInput, PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(prefix="/oversight/breaches", tags=["oversight"])

IncidentId = Annotated[str, Path(pattern=r"^brc_[0-9a-f]{32}$", description="The incident's id.")]
Overseer = Annotated[AuthenticatedCaller, Depends(require_roles("oversight"))]
Reader = Annotated[AuthenticatedCaller, Depends(require_roles("oversight", "auditor"))]


def runtime(request: Request) -> BreachRuntime:
    rt: BreachRuntime = request.app.state.breaches
    return rt


RuntimeDep = Annotated[BreachRuntime, Depends(runtime)]


@router.post(
    "",
    status_code=201,
    summary="Record a breach incident; every affected person is told within the deadline (oversight)",
    description="SG-BREACH-1: where it happened, what data was exposed, when it was found, and who was affected (by "
    "`sub`, as the audit log names people, or by VID). Each affected person is sent a notice in their language by "
    "SMS or e-mail whatever their notice preferences, and in their app inbox, by `notify_by` (found_at plus the "
    "configured deadline); the incident and each notice are audit events.",
    response_model=BreachRead,
    responses=problem_responses(Unauthenticated, PolicyDenied, InvalidInput),
)
async def record_breach(body: BreachCreate, session: SessionDep, caller: Overseer, rt: RuntimeDep) -> BreachRead:
    return await breach_service.record(session, caller, body, rt=rt)


@router.get(
    "",
    summary="Breach incidents, oldest first (oversight, auditors)",
    response_model=BreachPage,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def breaches(session: SessionDep, caller: Reader, paging: PageParams) -> BreachPage:
    return await breach_service.listing(session, paging)


@router.get(
    "/{incident_id}",
    summary="One breach incident and the state of every affected person's notice (oversight, auditors)",
    response_model=BreachRead,
    responses=problem_responses(Unauthenticated, PolicyDenied, BreachNotFound),
)
async def breach(incident_id: IncidentId, session: SessionDep, caller: Reader) -> BreachRead:
    return await breach_service.get(session, incident_id)


@router.post(
    "/{incident_id}/reissue",
    summary="Withdraw the affected people's VIDs and offline credentials and issue new VIDs (oversight)",
    description="SG-BREACH-1's remedy: identity revokes every active VID and valid offline credential of each "
    "affected person and issues as many new VIDs; the person reads them in their app and signs a new offline "
    "credential there. Each person is reissued once, however often this is called; each reissue is an audit event.",
    response_model=ReissueRun,
    responses=problem_responses(Unauthenticated, PolicyDenied, BreachNotFound),
)
async def reissue(incident_id: IncidentId, caller: Overseer, rt: RuntimeDep) -> ReissueRun:
    return await breach_service.reissue(caller, incident_id, rt=rt)
