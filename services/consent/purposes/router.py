"""The public purpose registry (SG-PURPOSE-1): read by anyone the gateway lets through, written by the registry's
administrators as drafts, activated only by oversight's approval of the impact assessments (SG-HRIA-1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from services.common.auth import CallerDep, SessionDep
from services.common.idempotency import IDEMPOTENCY_ERRORS, Idempotent
from services.common.problems import PolicyDenied, problem_responses
from services.consent.deps import OversightDep, PurposeAdminDep, RuntimeDep
from services.consent.purposes.errors import PurposeExists, PurposeInvalid, PurposeNotFound, PurposeTransitionRefused
from services.consent.purposes.notices import requested_language
from services.consent.purposes.schemas import (
    PurposeApproval,
    PurposeCreate,
    PurposeList,
    PurposeRead,
    PurposeStatusChange,
)
from services.consent.purposes.service import purpose as purpose_service
from services.consent.vocabulary import Language

router = APIRouter(prefix="/v1/purposes", tags=["purposes"])

LanguageQuery = Annotated[
    Language | None,
    Query(description="The notice language; overrides Accept-Language. Missing texts fall back visibly."),
]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language", max_length=500)]
CodePath = Annotated[str, Path(max_length=64, pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]


@router.get(
    "",
    summary="The purpose registry",
    description="Every registered purpose with its status, legal basis (W3C DPV), allowed items, limits, statutes and "
    "assessments. Only `active` purposes serve decisions and new consents.",
    response_model=PurposeList,
)
async def list_purposes(
    session: SessionDep, caller: CallerDep, language: LanguageQuery = None, accept_language: AcceptLanguage = None
) -> PurposeList:
    requested, preferences = requested_language(language, accept_language)
    return await purpose_service.registry(session, requested=requested, preferences=preferences)


@router.get(
    "/{code}",
    summary="One purpose",
    response_model=PurposeRead,
    responses=problem_responses(PurposeNotFound),
)
async def get_purpose(
    code: CodePath,
    session: SessionDep,
    caller: CallerDep,
    language: LanguageQuery = None,
    accept_language: AcceptLanguage = None,
) -> PurposeRead:
    requested, preferences = requested_language(language, accept_language)
    return await purpose_service.read(session, code, requested=requested, preferences=preferences)


@router.post(
    "",
    status_code=201,
    summary="Register a purpose as a draft (purpose_admin)",
    description="Needs `dpia_ref` and `hria_ref` (422 SG-HRIA-1); a protected attribute among the allowed items needs "
    "its legal reference (422 SG-NONDISC-1). The purpose stays `draft` until oversight approves it.",
    response_model=PurposeRead,
    responses=problem_responses(PolicyDenied, PurposeExists, PurposeInvalid, *IDEMPOTENCY_ERRORS),
)
async def create_purpose(
    body: PurposeCreate, session: SessionDep, caller: PurposeAdminDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    async def create() -> PurposeRead:
        created = await purpose_service.create(session, caller, body, rt=rt)
        return purpose_service.view(created, requested=Language.en.value, preferences=[])

    return await idempotency.run(session, create, status_code=201)


@router.post(
    "/{code}/approval",
    summary="Approve a draft purpose's impact assessments (oversight)",
    description="The draft becomes `active` (SG-HRIA-1). The approval names the assessments it approves; they must "
    "be the purpose's.",
    response_model=PurposeRead,
    responses=problem_responses(PolicyDenied, PurposeNotFound, PurposeTransitionRefused, PurposeInvalid),
)
async def approve_purpose(
    code: CodePath, body: PurposeApproval, session: SessionDep, caller: OversightDep, rt: RuntimeDep
) -> PurposeRead:
    approved = await purpose_service.approve(session, caller, code, body, rt=rt)
    return purpose_service.view(approved, requested=Language.en.value, preferences=[])


@router.post(
    "/{code}/status",
    summary="Suspend, resume or retire a purpose (oversight)",
    description="A suspended or retired purpose serves no decision (SG-PURPOSE-1); its artefacts stay as they are.",
    response_model=PurposeRead,
    responses=problem_responses(PolicyDenied, PurposeNotFound, PurposeTransitionRefused, PurposeInvalid),
)
async def change_purpose_status(
    code: CodePath, body: PurposeStatusChange, session: SessionDep, caller: OversightDep, rt: RuntimeDep
) -> PurposeRead:
    changed = await purpose_service.change_status(session, caller, code, body, rt=rt)
    return purpose_service.view(changed, requested=Language.en.value, preferences=[])
