"""Public governance routes (SG-TRANSP-1) and the dry run ("why would this be denied?")."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.auth.deps import CurrentCaller
from gateway.governance.schemas import DecideRequest, DecideResponse, RouteList
from gateway.governance.service import governance as governance_service
from gateway.rules.catalogue import Catalogue
from services.common.problems import InvalidInput, ServiceUnavailable, Unauthenticated, problem_responses

router = APIRouter(prefix="/governance", tags=["governance"])


@router.get(
    "/rules",
    summary="The safeguard rule catalogue (public)",
    description="Every rule the sandbox enforces: id, title, requirement, framework references, severity, who "
    "enforces it and the status of a denial. A denial's `rule_id` points here (SG-TRANSP-1).",
    response_model=Catalogue,
)
async def rules(request: Request) -> Catalogue:
    catalogue: Catalogue = request.app.state.proxy.catalogue
    return catalogue


@router.get(
    "/routes",
    summary="Every operation the gateway forwards, with its roles and rules (public)",
    description="The route declarations the gateway enforces: an operation not listed is refused (SG-SEC-1). The "
    "authorisation matrix on the governance page is rendered from the same table.",
    response_model=RouteList,
)
async def routes(request: Request) -> RouteList:
    return governance_service.routes(request.app.state.proxy)


@router.post(
    "/decide",
    summary="Dry run: would this request be allowed, and if not, by which rules and why",
    description="Evaluates every rule that guards the operation for the calling client (not only the first that "
    "fails), calls no provider, and records its own audit event marked as a dry run. The consent service is asked "
    "as for a real request, so the answer reflects the consents in force now.",
    response_model=DecideResponse,
    responses=problem_responses(Unauthenticated, InvalidInput, ServiceUnavailable),
)
async def decide(body: DecideRequest, request: Request, caller: CurrentCaller) -> DecideResponse:
    return await governance_service.decide(
        request.app.state.proxy, caller, body, request_id=getattr(request.state, "request_id", None)
    )
