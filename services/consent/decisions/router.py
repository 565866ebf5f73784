"""The gateway asks before any provider is called: is this use covered by consent (or a statute)?"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.common.assertion import Caller
from services.common.edge import ShortWayRoute, validated_body
from services.common.problems import PolicyDenied, problem_responses
from services.consent.decisions.schemas import Decision, DecisionRequest
from services.consent.decisions.service import DecisionTimeRefused
from services.consent.decisions.service import decision as decision_service
from services.consent.deps import GATEWAY_ROLE, GatewayDep, Runtime, RuntimeDep


async def _answer(question: DecisionRequest, rt: Runtime) -> Response:
    decision = await decision_service.decide(rt.engine, question, rt=rt)
    # Serialised once, by the model's own serializer: the response_model path would validate the finished Decision
    # again and encode it twice. Same JSON either way.
    return Response(decision.model_dump_json(), media_type="application/json")


class DecisionRoute(ShortWayRoute):
    """The gateway asks this before every call it forwards, so the usual question takes the kit's short way: the
    gateway's question, validated once from its bytes, answered by the endpoint's own code (half the server's own
    CPU for a decision above the protected no-op went to FastAPI's handler, measured in process)."""

    short_way_roles = (GATEWAY_ROLE,)

    async def short_way(self, request: Request, caller: Caller) -> Response | None:
        question = await validated_body(request, DecisionRequest)
        return None if question is None else await _answer(question, request.app.state.consent)


router = APIRouter(prefix="/v1/decisions", tags=["decisions"], route_class=DecisionRoute)


@router.post(
    "",
    summary="Decide whether a use is covered (gateway)",
    description="Permit with the covered items, the artefact's version and until when the data may be kept; or deny "
    "naming the rule: SG-PURPOSE-1 (purpose not active), SG-CONSENT-1 (no usable consent, uses spent), SG-CONSENT-3 "
    "(none of the items covered), SG-CONSENT-4 (revoked), SG-CONSENT-5 (expired), SG-XBORDER-1 (jurisdiction). A "
    "permit takes one use of the artefact atomically; with `dry_run` it takes none and writes nothing. A deny is "
    "an answer (200), not an error. Nothing is cached: a change is seen by the very next decision.",
    response_model=Decision,
    responses=problem_responses(PolicyDenied, DecisionTimeRefused),
)
async def decide(body: DecisionRequest, caller: GatewayDep, rt: RuntimeDep) -> Response:
    return await _answer(body, rt)
