"""POST /v1/fetch: the one way personal data leaves a provider through the exchange."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import ConsumerDep, RuntimeDep
from services.exchange.errors import ProviderRefused, ProviderUnavailable
from services.exchange.fetch.policy import LegallyUnavailable
from services.exchange.fetch.schemas import FetchRequest, FetchResult
from services.exchange.fetch.service import fetch as fetch_service
from services.exchange.members.errors import ServiceNotFound
from services.exchange.registries.errors import RecordNotFound

router = APIRouter(prefix="/v1", tags=["fetch"])


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
async def fetch(body: FetchRequest, session: SessionDep, caller: ConsumerDep, rt: RuntimeDep) -> Response:
    fetched = await fetch_service.fetch(session, caller, body, rt=rt)
    # The bytes themselves: the message log holds their hash, so they are not serialised a second time.
    return Response(fetched.content, headers=fetched.headers)
