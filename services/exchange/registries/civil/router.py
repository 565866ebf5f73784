"""The civil registry's information system: what the exchange forwards to it, and nothing else reaches it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.problems import Unauthenticated, problem_responses
from services.exchange.registries.civil.service import civil as civil_service
from services.exchange.registries.deps import ExchangeRequestDep, ReadSessionDep, RegistryRuntimeDep, WriteSessionDep
from services.exchange.registries.errors import InvalidRegistration, RecordNotFound, RegistrationConflict
from services.exchange.registries.schemas import (
    MAX_FIELDS,
    SUBJECT_PATTERN,
    BirthCreate,
    BirthRead,
    DeathCreate,
    DeathRead,
    MarriageCreate,
    MarriageRead,
    ProviderRecord,
)

router = APIRouter(prefix="/civil/v1", tags=["civil registry"])
SubjectPath = Annotated[str, Path(pattern=SUBJECT_PATTERN)]
FieldsQuery = Annotated[list[str], Query(max_length=MAX_FIELDS, description="The fields wanted; none means all.")]


@router.get(
    "/persons/{subject}",
    summary="A person's civil record (the fields asked for)",
    response_model=ProviderRecord,
    responses=problem_responses(Unauthenticated, RecordNotFound),
)
async def person_record(
    subject: SubjectPath,
    session: ReadSessionDep,
    request: ExchangeRequestDep,
    fields: FieldsQuery = [],  # noqa: B006
) -> ProviderRecord:
    return await civil_service.record(session, request, subject, fields)


@router.post(
    "/births",
    status_code=201,
    summary="Register a birth",
    description="Records the child and the parent links; publishes `civil.birth_registered`.",
    response_model=BirthRead,
    responses=problem_responses(Unauthenticated, RegistrationConflict, InvalidRegistration),
)
async def register_birth(
    body: BirthCreate, session: WriteSessionDep, request: ExchangeRequestDep, rt: RegistryRuntimeDep
) -> BirthRead:
    return await civil_service.register_birth(session, request, body, rt=rt)


@router.post(
    "/deaths",
    status_code=201,
    summary="Register a death",
    description="Marks the person deceased; publishes `civil.death_registered`.",
    response_model=DeathRead,
    responses=problem_responses(Unauthenticated, RecordNotFound, RegistrationConflict, InvalidRegistration),
)
async def register_death(
    body: DeathCreate, session: WriteSessionDep, request: ExchangeRequestDep, rt: RegistryRuntimeDep
) -> DeathRead:
    return await civil_service.register_death(session, request, body, rt=rt)


@router.post(
    "/marriages",
    status_code=201,
    summary="Register a marriage",
    response_model=MarriageRead,
    responses=problem_responses(Unauthenticated, RecordNotFound, RegistrationConflict, InvalidRegistration),
)
async def register_marriage(
    body: MarriageCreate, session: WriteSessionDep, request: ExchangeRequestDep, rt: RegistryRuntimeDep
) -> MarriageRead:
    return await civil_service.register_marriage(session, request, body, rt=rt)
