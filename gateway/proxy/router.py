from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.config import UPSTREAM_NAMES
from gateway.proxy.service import UnknownService, UpstreamUnavailable
from services.common.problems import Unauthenticated, problem_responses

router = APIRouter(tags=["proxy"])

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@router.api_route(
    "/{service}/{path:path}",
    methods=METHODS,
    summary="Reach a service through the gateway",
    description=(
        f"Forwards to one of {', '.join(UPSTREAM_NAMES)}. `healthz`, `readyz`, `openapi.json`, "
        "`.well-known/jwks.json`, `.well-known/openid-configuration` and identity's "
        "`v1/credentials/status-lists/1` are public; every other path needs an "
        "authenticated caller, and the service "
        "receives a 60-second gateway assertion naming it."
    ),
    responses=problem_responses(Unauthenticated, UnknownService, UpstreamUnavailable),
)
async def forward(service: str, path: str, request: Request) -> Response:
    response: Response = await request.app.state.proxy.forward(request, service, path)
    return response
