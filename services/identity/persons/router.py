"""Enrolment and the registrar's view of a person (the only endpoints that ever return a UIN), and a person's view of
their own record (without it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from services.common.auth import SessionDep
from services.common.idempotency import Idempotent
from services.common.problems import PolicyDenied, problem_responses
from services.identity import enrolment
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
from services.identity.persons.service import person as person_service
from services.identity.vids.service import vid as vid_service

router = APIRouter(prefix="/v1", tags=["persons"])


@router.post(
    "/enrolments",
    status_code=201,
    summary="Enrol a person (registrar)",
    description="Runs deduplication (normalised name and date of birth; a biometric hash only with consent). A "
    "suspected duplicate is held for adjudication and answered 409 with the case id (SG-ID-1); otherwise the "
    "person gets a UIN at once. Nationality and sex are optional and any residency status is accepted. With "
    "`issue_vid` the person also gets a first VID, printed on their enrolment slip: what they sign in and are named "
    "with instead of the UIN.",
    response_model=EnrolmentResult,
    responses=problem_responses(
        PolicyDenied, DuplicateSuspected, IdempotencyInProgress, IdempotencyKeyReused, InvalidPersonalData
    ),
)
async def enrol(
    body: EnrolmentCreate, *, session: SessionDep, caller: RegistrarDep, rt: RuntimeDep, idempotency: Idempotent
) -> Response:
    async def enrol_person() -> EnrolmentResult:
        result = await enrolment.enrol(session, caller, body, rt=rt)
        return await vid_service.for_enrolment(session, result, rt=rt) if body.issue_vid else result

    return await idempotency.run(session, enrol_person, status_code=201)


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
