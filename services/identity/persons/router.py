"""Enrolment and the registrar's view of a person (the only endpoints that ever return a UIN), and a person's view of
their own record (without it)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.common.auth import IdempotencyKeyHeader, SessionDep
from services.common.problems import PolicyDenied, problem_response, problem_responses
from services.identity.deps import RegistrarDep, RuntimeDep, SubjectDep
from services.identity.persons.errors import (
    DuplicateSuspected,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidPersonalData,
    PersonNotFound,
    SubjectNotFound,
)
from services.identity.persons.schemas import EnrolmentCreate, EnrolmentResult, MyRecord, PersonRead
from services.identity.persons.service import Held
from services.identity.persons.service import person as person_service

router = APIRouter(prefix="/v1", tags=["persons"])


@router.post(
    "/enrolments",
    status_code=201,
    summary="Enrol a person (registrar)",
    description="Runs deduplication (normalised name and date of birth; a biometric hash only with consent). A "
    "suspected duplicate is held for adjudication and answered 409 with the case id (SG-ID-1); otherwise the "
    "person gets a UIN at once. Nationality and sex are optional and any residency status is accepted.",
    response_model=EnrolmentResult,
    responses=problem_responses(
        PolicyDenied, DuplicateSuspected, IdempotencyInProgress, IdempotencyKeyReused, InvalidPersonalData
    ),
)
async def enrol(
    body: EnrolmentCreate,
    *,
    request: Request,
    session: SessionDep,
    caller: RegistrarDep,
    rt: RuntimeDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> EnrolmentResult | JSONResponse:
    outcome = await person_service.enrol(session, caller, body, rt=rt, idempotency_key=idempotency_key)
    if isinstance(outcome, Held):
        return _held_response(request, outcome)
    return outcome


@router.get(
    "/persons/{person_id}",
    summary="Read a person's record (registrar)",
    description="Decrypted demographics and the UIN. Registrar only; every other endpoint is UIN-free.",
    response_model=PersonRead,
    responses=problem_responses(PolicyDenied, PersonNotFound),
)
async def get_person(person_id: str, session: SessionDep, caller: RegistrarDep, rt: RuntimeDep) -> PersonRead:
    return await person_service.get(session, caller, person_id, rt=rt)


@router.get(
    "/me/record",
    summary="Read my own record (subject)",
    description="What the registry holds about me, decrypted: demographics, consents, whether a biometric is "
    "stored, and when my UIN was issued. Not the UIN itself, which only registrar endpoints return. A wrong value "
    "can be corrected through POST /v1/me/corrections.",
    response_model=MyRecord,
    responses=problem_responses(PolicyDenied, SubjectNotFound),
)
async def my_record(session: SessionDep, caller: SubjectDep, rt: RuntimeDep) -> MyRecord:
    return await person_service.my_record(session, caller, rt=rt)


def _held_response(request: Request, held: Held) -> JSONResponse:
    # Returned rather than raised: raising would roll back the held enrolment and its case, which must be kept.
    error = DuplicateSuspected(person_id=held.person_id, adjudication_case_id=held.adjudication_case_id)
    body = error.to_problem(instance=request.url.path, request_id=getattr(request.state, "request_id", None))
    return problem_response(request, error.status, body)
