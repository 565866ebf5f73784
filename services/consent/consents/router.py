"""Consent artefacts: requesters ask, subjects grant, deny and revoke (revoking exactly as easy as granting)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from services.common.auth import SessionDep
from services.common.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from services.common.paging import InvalidCursor, PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.consent.consents.errors import (
    ArtefactInvalid,
    AssistedWithoutOperator,
    ConsentNotFound,
    ConsentTransitionRefused,
)
from services.consent.consents.schemas import ConsentPage, ConsentRead, ConsentRequestCreate, ConsentStatus
from services.consent.consents.service import Action
from services.consent.consents.service import consent as consent_service
from services.consent.deps import ExpiryDep, RequesterDep, RuntimeDep, SubjectDep
from services.consent.purposes.notices import requested_language

router = APIRouter(prefix="/v1", tags=["consents"])

ConsentIdPath = Annotated[str, Path(max_length=64, pattern=r"^cns_[0-9a-f]{32}$")]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language", max_length=500)]
ACTION_RESPONSES = problem_responses(PolicyDenied, ConsentNotFound, ConsentTransitionRefused, AssistedWithoutOperator)


@router.post(
    "/consents",
    status_code=201,
    summary="Ask a subject for consent (relying party)",
    description="Creates a `requested` artefact naming the caller as requester; the subject then grants or denies "
    "it. Refused with 422 naming the rule and the field: a required field missing (SG-CONSENT-2), a wildcard or "
    "several purposes (SG-CONSENT-3), an optional use bundled with an essential one (SG-CONSENT-6), an unknown or "
    "inactive purpose or an item it does not allow (SG-PURPOSE-1), validity beyond the purpose's maximum "
    "(SG-CONSENT-5), data life beyond its maximum (SG-RETAIN-1), an unapproved jurisdiction without a transfer basis "
    "(SG-XBORDER-1).",
    response_model=ConsentRead,
    responses=problem_responses(PolicyDenied, ArtefactInvalid, *IDEMPOTENCY_ERRORS),
)
async def request_consent(
    *,
    body: ConsentRequestCreate,
    session: SessionDep,
    caller: RequesterDep,
    rt: RuntimeDep,
    idempotency: Idempotent,
    accept_language: AcceptLanguage = None,
) -> Response:
    requested, preferences = requested_language(None, accept_language)
    return await idempotency.run(
        session,
        lambda: consent_service.request(session, caller, body, requested=requested, preferences=preferences, rt=rt),
        status_code=201,
    )


@router.get(
    "/consents/{consent_id}",
    summary="Read a consent I requested (relying party)",
    response_model=ConsentRead,
    responses=problem_responses(PolicyDenied, ConsentNotFound),
)
async def get_requested_consent(consent_id: ConsentIdPath, session: SessionDep, caller: RequesterDep) -> ConsentRead:
    return await consent_service.get_as_requester(session, caller, consent_id)


@router.post(
    "/consents/expire-due",
    summary="Expire every artefact past its end of validity (oversight or the scheduler)",
    description="Each process also does this on a timer. Granted artefacts that expire announce `consent.expired`.",
    response_model=list[str],
    responses=problem_responses(PolicyDenied),
)
async def expire_due(session: SessionDep, caller: ExpiryDep, rt: RuntimeDep) -> list[str]:
    return await consent_service.expire_due(session, rt=rt)


@router.get(
    "/me/consents",
    summary="My consents (subject)",
    description="Newest first, with each artefact's history: who changed it, when and through which channel.",
    response_model=ConsentPage,
    responses=problem_responses(PolicyDenied, InvalidCursor),
)
async def list_my_consents(
    session: SessionDep,
    caller: SubjectDep,
    paging: PageParams,
    status: Annotated[ConsentStatus | None, Query()] = None,
) -> ConsentPage:
    return await consent_service.list_mine(session, caller, status=status, paging=paging)


@router.get(
    "/me/consents/{consent_id}",
    summary="One of my consents (subject)",
    response_model=ConsentRead,
    responses=problem_responses(PolicyDenied, ConsentNotFound),
)
async def get_my_consent(consent_id: ConsentIdPath, session: SessionDep, caller: SubjectDep) -> ConsentRead:
    return await consent_service.get_mine(session, caller, consent_id)


async def _act(action: Action, consent_id: str, session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> ConsentRead:
    return await consent_service.act(session, caller, consent_id, action, rt=rt)


@router.post(
    "/me/consents/{consent_id}/grant",
    summary="Grant a consent asked of me (subject)",
    description="requested → granted, on any channel; on the assisted channel the operator is recorded beside the "
    "subject's own confirmation. Signed receipt; `consent.granted` event.",
    response_model=ConsentRead,
    responses=ACTION_RESPONSES,
)
async def grant_consent(
    consent_id: ConsentIdPath, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> ConsentRead:
    return await _act("grant", consent_id, session, caller, rt)


@router.post(
    "/me/consents/{consent_id}/deny",
    summary="Refuse a consent asked of me (subject)",
    description="requested → denied. The refusal is recorded and receipted like a grant.",
    response_model=ConsentRead,
    responses=ACTION_RESPONSES,
)
async def deny_consent(
    consent_id: ConsentIdPath, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> ConsentRead:
    return await _act("deny", consent_id, session, caller, rt)


@router.post(
    "/me/consents/{consent_id}/revoke",
    summary="Revoke a consent I granted (subject)",
    description="granted → revoked, exactly as granting: the same route shape, no body, one step (SG-CONSENT-4). "
    "The very next decision denies with SG-CONSENT-4. Signed receipt; `consent.revoked` event.",
    response_model=ConsentRead,
    responses=ACTION_RESPONSES,
)
async def revoke_consent(
    consent_id: ConsentIdPath, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> ConsentRead:
    return await _act("revoke", consent_id, session, caller, rt)


@router.delete(
    "/me/consents/{consent_id}",
    summary="Revoke a consent I granted (subject; the same as POST .../revoke)",
    response_model=ConsentRead,
    responses=ACTION_RESPONSES,
)
async def delete_consent(
    consent_id: ConsentIdPath, session: SessionDep, caller: SubjectDep, rt: RuntimeDep
) -> ConsentRead:
    return await _act("revoke", consent_id, session, caller, rt)
