"""POST /v1/fetch: the one way personal data leaves a provider through the exchange."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response

from services.common.assertion import Caller
from services.common.edge import ShortWayRoute, first_use_confirmed, validated_body
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import CONSUMER_ROLES, ConsumerDep, Runtime, RuntimeDep
from services.exchange.errors import ProviderRefused, ProviderUnavailable
from services.exchange.fetch.policy import LegallyUnavailable
from services.exchange.fetch.schemas import FetchRequest, FetchResult
from services.exchange.fetch.service import fetch as fetch_service
from services.exchange.members.cache import DirectoryUnavailable
from services.exchange.members.errors import ServiceNotFound
from services.exchange.registries.errors import RecordNotFound


async def _answer(
    body: FetchRequest, caller: Caller, rt: Runtime, confirmed: Callable[[], Awaitable[None]] | None = None
) -> Response:
    fetched = await fetch_service.fetch(caller, body, rt=rt, confirmed=confirmed)
    # The bytes themselves: the message log holds their hash, so they are not serialised a second time.
    return Response(fetched.content, headers=fetched.headers)


class FetchRoute(ShortWayRoute):
    """Every fetch through the exchange comes this way, so the usual one takes the kit's short way: a consumer's
    request, validated once from its bytes, answered by the endpoint's own code. Every check of the fetch itself
    (directory, access right, legal basis, jurisdiction, provider, message log) is the service's, the same either
    way. The assertion's replay check stays in flight while the directory is read (the two round trips overlap);
    the provider is called only once it passed."""

    short_way_roles = CONSUMER_ROLES
    edge_claims_in_flight = True

    async def short_way(self, request: Request, caller: Caller) -> Response | None:
        body = await validated_body(request, FetchRequest)
        if body is None:
            return None
        return await _answer(body, caller, request.app.state.exchange, lambda: first_use_confirmed(request))


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
        PolicyDenied,
        LegallyUnavailable,
        ServiceNotFound,
        RecordNotFound,
        ProviderRefused,
        ProviderUnavailable,
        DirectoryUnavailable,
    ),
)
async def fetch(body: FetchRequest, caller: ConsumerDep, rt: RuntimeDep) -> Response:
    return await _answer(body, caller, rt)
