"""POST /v1/fetch: the one way personal data leaves a provider through the exchange."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from services.common.assertion import Caller
from services.common.edge import EdgeRoute
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import CONSUMER_ROLES, ConsumerDep, Runtime, RuntimeDep
from services.exchange.errors import ProviderRefused, ProviderUnavailable
from services.exchange.fetch.policy import LegallyUnavailable
from services.exchange.fetch.schemas import FetchRequest, FetchResult
from services.exchange.fetch.service import fetch as fetch_service
from services.exchange.members.errors import ServiceNotFound
from services.exchange.registries.errors import RecordNotFound


async def _answer(body: FetchRequest, caller: Caller, rt: Runtime) -> Response:
    fetched = await fetch_service.fetch(caller, body, rt=rt)
    # The bytes themselves: the message log holds their hash, so they are not serialised a second time.
    return Response(fetched.content, headers=fetched.headers)


class FetchRoute(EdgeRoute):
    """Every fetch through the exchange comes this way, so the usual one takes a short way.

    The edge has verified the gateway assertion by the time this runs (`request.state.caller`). A caller with a
    consumer's role whose body the model accepts, validated once from its bytes, is answered straight away by the
    same code as the endpoint, without FastAPI solving the endpoint's dependencies (the role gate over the caller,
    the runtime) and parsing and validating the body again. Anything else, a caller without the role or a body the
    model refuses, goes to FastAPI's handler, which answers exactly as it always has (SG-SEC-1, or 422 with every
    issue). Every check of the fetch itself (directory, access right, legal basis, jurisdiction, provider, message
    log) is the service's, the same either way. The OpenAPI document comes from the declaration as usual.
    """

    def endpoint_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        standard = super().endpoint_handler()

        async def fetch_directly(request: Request) -> Response:
            caller = getattr(request.state, "caller", None)
            if not (isinstance(caller, Caller) and caller.has_role(*CONSUMER_ROLES)):
                return await standard(request)
            try:
                body = FetchRequest.model_validate_json(await request.body())
            except ValidationError:
                return await standard(request)
            runtime: Runtime = request.app.state.exchange
            return await _answer(body, caller, runtime)

        return fetch_directly


router = APIRouter(prefix="/v1", tags=["fetch"], route_class=FetchRoute)


@router.post(
    "/fetch",
    summary="Fetch a subject's data from a provider's service (relying party, law enforcement)",
    description="The gateway authenticated the caller, took the consent decision and signed the context. The "
    "exchange then checks the consumer subsystem's access right (deny by default, SG-SEC-1), the legal basis "
    "(consent with its items, SG-CONSENT-1; a statute registered for the purpose; a court order in the registry, "
    "SG-LAWFUL-1), the processing location (451, SG-XBORDER-1), and asks the provider only for the fields "
    "permitted ∩ covered ∩ offered, less protected attributes no law requires (SG-MIN-1, SG-NONDISC-1). On any "
    "denial the provider is never called. The answer carries `X-DPI-Fields-Returned` and, under a court order, "
    "`X-DPI-Disclose-After` (SG-ACCESS-2) for the gateway's audit event.",
    response_model=FetchResult,
    responses=problem_responses(
        PolicyDenied, LegallyUnavailable, ServiceNotFound, RecordNotFound, ProviderRefused, ProviderUnavailable
    ),
)
async def fetch(body: FetchRequest, caller: ConsumerDep, rt: RuntimeDep) -> Response:
    return await _answer(body, caller, rt)
