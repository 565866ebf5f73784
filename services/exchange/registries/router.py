"""Registry officers' own writes, through the exchange: a civil registrar registers births, deaths and marriages, a
social registry officer keeps households. The exchange forwards each to the registry under its signature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import CivilRegistrarDep, RuntimeDep, SocialOfficerDep
from services.exchange.errors import ProviderRefused, ProviderUnavailable
from services.exchange.registries.errors import InvalidRegistration, RecordNotFound, RegistrationConflict
from services.exchange.registries.schemas import (
    BirthCreate,
    BirthRead,
    DeathCreate,
    DeathRead,
    HouseholdPut,
    HouseholdRead,
    MarriageCreate,
    MarriageRead,
)

router = APIRouter(prefix="/v1/registries", tags=["registries"])
HouseholdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ERRORS = problem_responses(
    PolicyDenied, RecordNotFound, RegistrationConflict, InvalidRegistration, ProviderRefused, ProviderUnavailable
)


def officer(client_id: str) -> str:
    return f"officer:{client_id}"


@router.post(
    "/civil/births",
    status_code=201,
    summary="Register a birth (civil registrar)",
    description="Publishes `exchange.civil.birth_registered` to subscribers within their access rights.",
    response_model=BirthRead,
    responses=ERRORS,
)
async def register_birth(body: BirthCreate, caller: CivilRegistrarDep, rt: RuntimeDep) -> BirthRead:
    return await rt.providers.write("POST", "/civil/v1/births", body, officer(caller.client_id), BirthRead)


@router.post(
    "/civil/deaths",
    status_code=201,
    summary="Register a death (civil registrar)",
    description="Publishes `exchange.civil.death_registered` to subscribers within their access rights.",
    response_model=DeathRead,
    responses=ERRORS,
)
async def register_death(body: DeathCreate, caller: CivilRegistrarDep, rt: RuntimeDep) -> DeathRead:
    return await rt.providers.write("POST", "/civil/v1/deaths", body, officer(caller.client_id), DeathRead)


@router.post(
    "/civil/marriages",
    status_code=201,
    summary="Register a marriage (civil registrar)",
    response_model=MarriageRead,
    responses=ERRORS,
)
async def register_marriage(body: MarriageCreate, caller: CivilRegistrarDep, rt: RuntimeDep) -> MarriageRead:
    return await rt.providers.write("POST", "/civil/v1/marriages", body, officer(caller.client_id), MarriageRead)


@router.put(
    "/social/households/{household_id}",
    summary="Create or replace a household (social registry officer)",
    description="Publishes `exchange.social.household_updated` to subscribers within their access rights.",
    response_model=HouseholdRead,
    responses=ERRORS,
)
async def put_household(
    household_id: HouseholdPath, body: HouseholdPut, caller: SocialOfficerDep, rt: RuntimeDep
) -> HouseholdRead:
    path = f"/social/v1/households/{household_id}"
    return await rt.providers.write("PUT", path, body, officer(caller.client_id), HouseholdRead)


@router.get(
    "/social/households/{household_id}",
    summary="Read a household (social registry officer)",
    response_model=HouseholdRead,
    responses=ERRORS,
)
async def get_household(household_id: HouseholdPath, caller: SocialOfficerDep, rt: RuntimeDep) -> HouseholdRead:
    return await rt.providers.read(f"/social/v1/households/{household_id}", officer(caller.client_id), HouseholdRead)
