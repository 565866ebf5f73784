from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.config import UPSTREAM_NAMES
from gateway.proxy.errors import MethodNotAllowed, UnknownService, UpstreamUnavailable
from services.common.problems import PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(tags=["proxy"])

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


async def forward(service: str, path: str, request: Request) -> Response:
    response: Response = await request.app.state.proxy.forward(request, service, path)
    return response


FORWARD_DESCRIPTION = (
    f"Forwards to one of {', '.join(UPSTREAM_NAMES)}, but only operations declared in the gateway's route table "
    "(`GET /governance/routes`): anything else is refused with 403 SG-SEC-1. Health, readiness, OpenAPI, keys "
    "and discovery are public; every other operation needs an authenticated caller holding one of the roles it "
    "admits, and passes the safeguard rules that guard it before the service is called. The service receives a "
    "60-second gateway assertion naming the caller and the decision; every decision is in the audit log."
)

# One operation per method, each with its own operation id: a single api_route with several methods gives them all
# the same id, which OpenAPI forbids and client generators trip on.
for _method in METHODS:
    router.add_api_route(
        "/{service}/{path:path}",
        forward,
        methods=[_method],
        operation_id=f"forward_{_method.lower()}",
        summary="Reach a service through the gateway",
        description=FORWARD_DESCRIPTION,
        responses=problem_responses(
            Unauthenticated, PolicyDenied, UnknownService, MethodNotAllowed, UpstreamUnavailable
        ),
    )
