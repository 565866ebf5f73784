"""Grievance routes at the gateway: the person's own (`/me/grievances`), the officers' queue (`/grievances`), and the
published service standard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request

from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import CurrentCaller, require_roles
from gateway.oversight.grievances.errors import GrievanceNotFound, GrievanceTransitionRefused
from gateway.oversight.grievances.models import GrievanceStatus
from gateway.oversight.grievances.schemas import (
    EscalationRun,
    GrievanceCreate,
    GrievancePage,
    GrievanceRead,
    GrievanceTransition,
    ServiceStandard,
)
from gateway.oversight.grievances.service import GrievanceRuntime
from gateway.oversight.grievances.service import grievance as grievance_service
from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, Unauthenticated, problem_responses

me_router = APIRouter(prefix="/me/grievances", tags=["me"])
officer_router = APIRouter(prefix="/grievances", tags=["grievances"])
public_router = APIRouter(prefix="/governance", tags=["governance"])

GrievanceId = Annotated[str, Path(pattern=r"^grv_[0-9a-f]{32}$", description="The grievance's id.")]
Officer = Annotated[AuthenticatedCaller, Depends(require_roles("grievance_officer", "oversight"))]
Reader = Annotated[AuthenticatedCaller, Depends(require_roles("grievance_officer", "oversight", "auditor"))]
Overseer = Annotated[AuthenticatedCaller, Depends(require_roles("oversight"))]
# A person, signed in (alone or helped by an operator): refused before the body is read.
Person = Annotated[AuthenticatedCaller, Depends(require_roles("subject"))]


def runtime(request: Request) -> GrievanceRuntime:
    rt: GrievanceRuntime = request.app.state.grievances
    return rt


RuntimeDep = Annotated[GrievanceRuntime, Depends(runtime)]


@me_router.post(
    "",
    status_code=201,
    summary="File a grievance about how I was treated (any channel)",
    description="SG-GRIEV-1: a complaint about a denial, an access to my data, a payment, an exclusion or anything "
    "else. The answer carries the published time limits; a ticket not met in time escalates to oversight by itself "
    "(SG-GRIEV-2). A payment dispute names the payment's signed record (SG-GRIEV-4). With `channel: assisted`, "
    "`X-Assisted-By` names the operator who helped (SG-INCL-3).",
    response_model=GrievanceRead,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def file_grievance(
    caller: Person,
    body: GrievanceCreate,
    session: SessionDep,
    rt: RuntimeDep,
    assisted_by: Annotated[str | None, Header(alias="X-Assisted-By", max_length=128)] = None,
) -> GrievanceRead:
    return await grievance_service.file(session, caller, body, assisted_by=assisted_by, rt=rt)


@me_router.get(
    "",
    summary="My grievances, oldest first",
    response_model=GrievancePage,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def my_grievances(
    session: SessionDep, caller: CurrentCaller, rt: RuntimeDep, paging: PageParams
) -> GrievancePage:
    return await grievance_service.mine(session, caller, paging=paging, rt=rt)


@me_router.get(
    "/{grievance_id}",
    summary="One of my grievances, with its history and time limits",
    response_model=GrievanceRead,
    responses=problem_responses(Unauthenticated, PolicyDenied, GrievanceNotFound),
)
async def my_grievance(
    grievance_id: GrievanceId, session: SessionDep, caller: CurrentCaller, rt: RuntimeDep
) -> GrievanceRead:
    return await grievance_service.one_of_mine(session, caller, grievance_id, rt=rt)


@officer_router.get(
    "",
    summary="The grievance queue (grievance officers, oversight, auditors)",
    response_model=GrievancePage,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def grievance_queue(
    *,
    session: SessionDep,
    caller: Reader,
    rt: RuntimeDep,
    status: Annotated[GrievanceStatus | None, Query(description="Only tickets in this state.")] = None,
    paging: PageParams,
    overdue: Annotated[bool, Query(description="Only open tickets past a time limit.")] = False,
) -> GrievancePage:
    return await grievance_service.queue(session, status=status, overdue=overdue, paging=paging, rt=rt)


@officer_router.get(
    "/{grievance_id}",
    summary="One grievance (grievance officers, oversight, auditors)",
    response_model=GrievanceRead,
    responses=problem_responses(Unauthenticated, PolicyDenied, GrievanceNotFound),
)
async def read_grievance(
    grievance_id: GrievanceId, session: SessionDep, caller: Reader, rt: RuntimeDep
) -> GrievanceRead:
    return await grievance_service.get(session, grievance_id, rt=rt)


@officer_router.post(
    "/{grievance_id}/transitions",
    summary="Acknowledge, review or resolve a grievance (grievance officers; escalated ones: oversight)",
    response_model=GrievanceRead,
    responses=problem_responses(Unauthenticated, PolicyDenied, GrievanceNotFound, GrievanceTransitionRefused),
)
async def move_grievance(
    grievance_id: GrievanceId, body: GrievanceTransition, session: SessionDep, caller: Officer, rt: RuntimeDep
) -> GrievanceRead:
    return await grievance_service.transition(session, caller, grievance_id, body, rt=rt)


@officer_router.post(
    "/escalations",
    summary="Escalate every overdue grievance to oversight now (oversight; a timer does it too)",
    response_model=EscalationRun,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def escalate_now(session: SessionDep, caller: Overseer, rt: RuntimeDep) -> EscalationRun:
    return EscalationRun(escalated=await grievance_service.escalate_overdue(session, rt=rt))


@public_router.get(
    "/grievance-standard",
    summary="The published time limits grievances are handled within (public)",
    response_model=ServiceStandard,
)
async def grievance_standard(rt: RuntimeDep) -> ServiceStandard:
    return rt.standard
