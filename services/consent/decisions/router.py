"""The gateway asks before any provider is called: is this use covered by consent (or a statute)?"""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.common.problems import PolicyDenied, problem_responses
from services.consent.decisions.schemas import Decision, DecisionRequest
from services.consent.decisions.service import DecisionTimeRefused
from services.consent.decisions.service import decision as decision_service
from services.consent.deps import GatewayDep, RuntimeDep

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


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
    decision = await decision_service.decide(rt.engine, body, rt=rt)
    # Serialised once, by the model's own serializer: the gateway asks this for every call it forwards, and the
    # response_model path would validate the finished Decision again and encode it twice. Same JSON either way.
    return Response(decision.model_dump_json(), media_type="application/json")
