"""The gateway asks before any provider is called: is this use covered by consent (or a statute)?"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from services.common.assertion import Caller
from services.common.edge import EdgeRoute
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


class DecisionRoute(EdgeRoute):
    """The gateway asks this before every call it forwards, so the usual question takes a short way.

    The edge has verified the gateway assertion by the time this runs (`request.state.caller`). A caller with the
    gateway role whose body the model accepts, validated once from its bytes, is answered straight away by the same
    code as the endpoint, without FastAPI solving the endpoint's dependencies and parsing and validating the body
    again (half the server's own CPU for a decision above the protected no-op, measured in process). Anything else,
    a caller without the role or a body the model refuses, goes to FastAPI's handler, which answers exactly as it
    always has (SG-SEC-1, or 422 with every issue). The OpenAPI document comes from the declaration as usual.
    """

    def endpoint_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().endpoint_handler()

        async def decide_directly(request: Request) -> Response:
            caller = getattr(request.state, "caller", None)
            if not (isinstance(caller, Caller) and caller.has_role(GATEWAY_ROLE)):
                return await standard(request)
            try:
                question = DecisionRequest.model_validate_json(await request.body())
            except ValidationError:
                return await standard(request)
            runtime: Runtime = request.app.state.consent
            return await _answer(question, runtime)

        return decide_directly


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
