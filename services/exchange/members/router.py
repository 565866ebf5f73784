"""The directory over HTTP: the exchange operator registers; anyone may read (SG-TRANSP-1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from services.common.auth import SessionDep
from services.common.problems import PolicyDenied, problem_responses
from services.exchange.deps import AdminDep, RuntimeDep
from services.exchange.members.cache import DirectoryUnavailable
from services.exchange.members.errors import (
    AccessRightNotFound,
    AlreadyRegistered,
    InvalidDirectoryEntry,
    MemberNotFound,
    ServiceNotFound,
    SubsystemNotFound,
)
from services.exchange.members.schemas import (
    AccessRightCreate,
    AccessRightRead,
    AgreementCreate,
    AgreementRead,
    MemberCreate,
    MemberRead,
    ServiceCreate,
    ServiceRead,
    SubsystemCreate,
    SubsystemRead,
)
from services.exchange.members.service import directory as directory_service
from services.exchange.members.service import service_read
from services.exchange.paths import DirectoryId, RowId
from services.exchange.registries.client import service_openapi

router = APIRouter(prefix="/v1", tags=["directory"])
public_router = APIRouter(prefix="/v1", tags=["directory"])


@router.post(
    "/members",
    status_code=201,
    summary="Register a member (exchange operator)",
    description="An organisation joins the exchange. Its id is `SBX:<class>:<code>`, as X-Road names members.",
    response_model=MemberRead,
    responses=problem_responses(PolicyDenied, AlreadyRegistered, DirectoryUnavailable),
)
async def register_member(body: MemberCreate, session: SessionDep, caller: AdminDep, rt: RuntimeDep) -> MemberRead:
    return await directory_service.register_member(session, caller, body, rt=rt)


@router.post(
    "/members/{member_id}/subsystems",
    status_code=201,
    summary="Register a subsystem of a member (exchange operator)",
    description="One information system of the member. A consumer subsystem names the gateway client it acts "
    "through and where it processes data (SG-XBORDER-1).",
    response_model=SubsystemRead,
    responses=problem_responses(PolicyDenied, MemberNotFound, AlreadyRegistered, DirectoryUnavailable),
)
async def register_subsystem(
    member_id: DirectoryId, body: SubsystemCreate, session: SessionDep, caller: AdminDep, rt: RuntimeDep
) -> SubsystemRead:
    return await directory_service.register_subsystem(session, caller, member_id, body, rt=rt)


@router.post(
    "/subsystems/{subsystem_id}/services",
    status_code=201,
    summary="Register a service a subsystem provides (exchange operator)",
    description="The fields it can release, its protected attributes and the laws that require them "
    "(SG-NONDISC-1), the purposes a statute provides for without consent, the events it publishes and how long a "
    "consumer may keep what it stores.",
    response_model=ServiceRead,
    responses=problem_responses(
        PolicyDenied, SubsystemNotFound, AlreadyRegistered, InvalidDirectoryEntry, DirectoryUnavailable
    ),
)
async def register_service(
    subsystem_id: DirectoryId, body: ServiceCreate, session: SessionDep, caller: AdminDep, rt: RuntimeDep
) -> ServiceRead:
    return await directory_service.register_service(session, caller, subsystem_id, body, rt=rt)


@router.put(
    "/services/{service_id}/access-rights",
    summary="Grant a consumer subsystem access to a service (exchange operator, for the provider)",
    description="Deny by default: without a live access right no consumer reaches the service. The right names "
    "the fields the consumer may receive and the purposes it may use them for; granting again replaces it.",
    response_model=AccessRightRead,
    responses=problem_responses(
        PolicyDenied, ServiceNotFound, SubsystemNotFound, InvalidDirectoryEntry, DirectoryUnavailable
    ),
)
async def grant_access(
    service_id: DirectoryId, body: AccessRightCreate, session: SessionDep, caller: AdminDep, rt: RuntimeDep
) -> AccessRightRead:
    return await directory_service.grant(session, caller, service_id, body, rt=rt)


@router.delete(
    "/services/{service_id}/access-rights/{right_id}",
    summary="Revoke an access right (exchange operator)",
    description="Effective at once: the next fetch by that consumer is denied and the provider is not called.",
    response_model=AccessRightRead,
    responses=problem_responses(PolicyDenied, AccessRightNotFound, DirectoryUnavailable),
)
async def revoke_access(
    service_id: DirectoryId, right_id: RowId, session: SessionDep, caller: AdminDep, rt: RuntimeDep
) -> AccessRightRead:
    return await directory_service.revoke(session, caller, service_id, right_id, rt=rt)


@router.post(
    "/agreements",
    status_code=201,
    summary="Record a data-sharing agreement between two members (exchange operator)",
    description="Agreements are public as soon as they are recorded (SG-TRANSP-1).",
    response_model=AgreementRead,
    responses=problem_responses(PolicyDenied, InvalidDirectoryEntry),
)
async def record_agreement(
    body: AgreementCreate, session: SessionDep, caller: AdminDep, rt: RuntimeDep
) -> AgreementRead:
    return await directory_service.record_agreement(session, caller, body, rt=rt)


@public_router.get(
    "/members",
    summary="List members and their subsystems (public)",
    description="Who is on the exchange (SG-TRANSP-1). No token needed.",
    response_model=list[MemberRead],
)
async def list_members(session: SessionDep) -> list[MemberRead]:
    return await directory_service.members(session)


@public_router.get(
    "/members/{member_id}",
    summary="Read one member (public)",
    response_model=MemberRead,
    responses=problem_responses(MemberNotFound),
)
async def get_member(member_id: DirectoryId, session: SessionDep) -> MemberRead:
    return await directory_service.member(session, member_id)


@public_router.get(
    "/services",
    summary="The service catalogue (public)",
    description="Every service on the exchange with its fields, protected attributes, statutory purposes and "
    "events (SG-TRANSP-1).",
    response_model=list[ServiceRead],
)
async def list_services(session: SessionDep) -> list[ServiceRead]:
    return await directory_service.services(session)


@public_router.get(
    "/services/{service_id}",
    summary="Read one service (public)",
    response_model=ServiceRead,
    responses=problem_responses(ServiceNotFound),
)
async def get_service(service_id: DirectoryId, session: SessionDep) -> ServiceRead:
    return service_read(await directory_service.service(session, service_id))


@public_router.get(
    "/services/{service_id}/openapi.json",
    summary="A service's own OpenAPI document (public)",
    description="The provider's description of this one service, taken from its information system's OpenAPI.",
    responses=problem_responses(ServiceNotFound),
)
async def get_service_openapi(service_id: DirectoryId, session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    service = await directory_service.service(session, service_id)
    return await service_openapi(rt.providers, service.id, service.title, service.version, service.provider_path)


@public_router.get(
    "/access-rights",
    summary="Who may receive what from which service (public)",
    description="Every access right, live or revoked, optionally for one service or one consumer subsystem.",
    response_model=list[AccessRightRead],
)
async def list_access_rights(
    session: SessionDep,
    service: str | None = Query(default=None, max_length=240),
    client_subsystem: str | None = Query(default=None, max_length=180),
) -> list[AccessRightRead]:
    return await directory_service.access_rights(session, service_id=service, client_subsystem_id=client_subsystem)


@public_router.get(
    "/agreements",
    summary="Data-sharing agreements between members (public)",
    description="SG-TRANSP-1: every agreement, with its services, purposes and legal reference.",
    response_model=list[AgreementRead],
)
async def list_agreements(session: SessionDep) -> list[AgreementRead]:
    return list(await directory_service.agreements(session))
