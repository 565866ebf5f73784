"""Identity exception cases (SG-INCL-1): no foundational ID is answered 202 with a case, never 401/403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.common.assertion import Caller
from services.common.auth import SessionDep, require_roles
from services.common.idempotency import Idempotent
from services.common.paging import PageParams
from services.common.problems import PolicyDenied, problem_responses
from services.identity.deps import RegistrarDep, RuntimeDep
from services.identity.exceptions.errors import ExceptionCaseAlreadyDecided, ExceptionCaseNotFound
from services.identity.exceptions.models import ExceptionStatus
from services.identity.exceptions.schemas import (
    ExceptionCaseAccepted,
    ExceptionCaseCreate,
    ExceptionCasePage,
    ExceptionCaseRead,
    ExceptionDecision,
)
from services.identity.exceptions.service import identity_exception as identity_exception_service
from services.identity.persons.errors import IdempotencyInProgress, IdempotencyKeyReused, InvalidPersonalData

router = APIRouter(prefix="/v1/identity-exceptions", tags=["identity-exceptions"])

RequesterDep = Annotated[Caller, Depends(require_roles("relying_party", "assisted_operator"))]
ReaderDep = Annotated[Caller, Depends(require_roles("relying_party", "assisted_operator", "registrar"))]


@router.post(
    "",
    status_code=202,
    summary="Ask to identify a person by alternative evidence (relying party or assisted operator)",
    description="For a person who cannot present a UIN or VID (not enrolled, lost credentials, biometric failure "
    "and no phone). The answer is 202 with an exception case an officer verifies within the SLA (default 5 days, "
    "a sandbox number), never 401/403 for the missing ID (SG-INCL-1). The evidence, claims and contact are "
    "encrypted at rest and never returned. An assisted request must name the operator (SG-INCL-3).",
    response_model=ExceptionCaseAccepted,
    responses=problem_responses(PolicyDenied, IdempotencyInProgress, IdempotencyKeyReused, InvalidPersonalData),
)
async def open_exception_case(
    body: ExceptionCaseCreate, *, session: SessionDep, caller: RequesterDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    return await idempotency.run(
        session,
        lambda: identity_exception_service.open(session, caller, body, rt=rt),
        status_code=202,
        headers=lambda accepted: {"Location": accepted.status_href},
    )


@router.get(
    "",
    summary="The exception queue (registrar)",
    description="Cursor-paginated in creation order. `overdue=true` keeps pending cases past their SLA.",
    response_model=ExceptionCasePage,
    responses=problem_responses(PolicyDenied),
)
async def list_exception_cases(
    *,
    session: SessionDep,
    caller: RegistrarDep,
    rt: RuntimeDep,
    paging: PageParams,
    status: Annotated[ExceptionStatus | None, Query()] = None,
    overdue: Annotated[bool, Query(description="Only pending cases past their SLA.")] = False,
) -> ExceptionCasePage:
    return await identity_exception_service.list(session, caller, status=status, overdue=overdue, paging=paging, rt=rt)


@router.get(
    "/{case_id}",
    summary="Follow an exception case (the client that opened it, or a registrar)",
    description="Status, purpose, evidence type, timestamps and outcome; never the evidence. Once verified and "
    "linked, the opening client sees its own pairwise token for the person; a registrar sees the person id.",
    response_model=ExceptionCaseRead,
    responses=problem_responses(PolicyDenied, ExceptionCaseNotFound),
)
async def get_exception_case(case_id: str, session: SessionDep, caller: ReaderDep, rt: RuntimeDep) -> ExceptionCaseRead:
    return await identity_exception_service.get(session, caller, case_id, rt=rt)


@router.post(
    "/{case_id}/decision",
    summary="Verify or reject the alternative evidence (registrar)",
    description="`verified` may link an enrolled person the officer found (`person_id`), who is then sent an access "
    "notice (SG-NOTIFY-1); without a link the person is identified for this purpose by the evidence alone. Emits "
    "`identity.exception.decided`.",
    response_model=ExceptionCaseRead,
    responses=problem_responses(PolicyDenied, ExceptionCaseNotFound, ExceptionCaseAlreadyDecided, InvalidPersonalData),
)
async def decide_exception_case(
    case_id: str, body: ExceptionDecision, session: SessionDep, caller: RegistrarDep, rt: RuntimeDep
) -> ExceptionCaseRead:
    return await identity_exception_service.decide(session, caller, case_id, body, rt=rt)
