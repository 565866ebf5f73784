"""The social registry's information system: what the exchange forwards to it, and nothing else reaches it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.common.problems import Unauthenticated, problem_responses
from services.exchange.registries.deps import ExchangeRequestDep, ReadSessionDep, RegistryRuntimeDep, WriteSessionDep
from services.exchange.registries.errors import RecordNotFound, RegistrationConflict
from services.exchange.registries.schemas import (
    MAX_FIELDS,
    SUBJECT_PATTERN,
    HouseholdPut,
    HouseholdRead,
    ProviderRecord,
)
from services.exchange.registries.social.service import social as social_service

router = APIRouter(prefix="/social/v1", tags=["social registry"])
SubjectPath = Annotated[str, Path(pattern=SUBJECT_PATTERN)]
HouseholdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
FieldsQuery = Annotated[list[str], Query(max_length=MAX_FIELDS, description="The fields wanted; none means all.")]


@router.get(
    "/persons/{subject}/household",
    summary="A person's household and the programme eligibility inputs (the fields asked for)",
    response_model=ProviderRecord,
    responses=problem_responses(Unauthenticated, RecordNotFound),
)
async def household_record(
    subject: SubjectPath,
    session: ReadSessionDep,
    request: ExchangeRequestDep,
    rt: RegistryRuntimeDep,
    fields: FieldsQuery = [],  # noqa: B006
) -> ProviderRecord:
    return await social_service.record(session, request, subject, fields, rt=rt)


@router.put(
    "/households/{household_id}",
    summary="Create or replace a household",
    description="A person belongs to one household at a time. Publishes `social.household_updated`.",
    response_model=HouseholdRead,
    responses=problem_responses(Unauthenticated, RegistrationConflict),
)
async def put_household(
    household_id: HouseholdPath,
    body: HouseholdPut,
    session: WriteSessionDep,
    request: ExchangeRequestDep,
    rt: RegistryRuntimeDep,
) -> HouseholdRead:
    return await social_service.put_household(session, request, household_id, body, rt=rt)


@router.get(
    "/households/{household_id}",
    summary="Read a household",
    response_model=HouseholdRead,
    responses=problem_responses(Unauthenticated, RecordNotFound),
)
async def get_household(
    household_id: HouseholdPath, session: ReadSessionDep, request: ExchangeRequestDep
) -> HouseholdRead:
    return await social_service.get_household(session, household_id)
