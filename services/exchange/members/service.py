"""The directory's rules: X-Road-style identifiers, access rights only to fields a service has, deny by default."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.db import after_commit
from services.common.ids import new_id
from services.exchange.deps import Runtime
from services.exchange.members.errors import (
    AccessRightNotFound,
    AlreadyRegistered,
    InvalidDirectoryEntry,
    MemberNotFound,
    ServiceNotFound,
    SubsystemNotFound,
)
from services.exchange.members.models import AccessRight, Agreement, ExchangeService, Member, Subsystem
from services.exchange.members.repository import DirectoryRepository
from services.exchange.members.schemas import (
    INSTANCE,
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


def service_read(service: ExchangeService) -> ServiceRead:
    values = {name: getattr(service, name) for name in ServiceRead.model_fields if name != "openapi"}
    return ServiceRead.model_validate({**values, "openapi": f"/v1/services/{service.id}/openapi.json"})


class DirectoryService:
    async def register_member(
        self, session: AsyncSession, caller: Caller, body: MemberCreate, *, rt: Runtime
    ) -> MemberRead:
        repo = DirectoryRepository.from_session(session)
        member_id = f"{INSTANCE}:{body.member_class}:{body.code}"
        if await repo.member(member_id) is not None:
            raise AlreadyRegistered(f"Member {member_id} is already registered.")
        member = Member(
            id=member_id, member_class=body.member_class, code=body.code, name=body.name, created_at=rt.clock.now()
        )
        session.add(member)
        await session.flush()
        after_commit(session, rt.directory.changed)
        return MemberRead(
            id=member.id,
            member_class=member.member_class,
            code=member.code,
            name=member.name,
            created_at=member.created_at,
            subsystems=[],
        )

    async def members(self, session: AsyncSession) -> list[MemberRead]:
        repo = DirectoryRepository.from_session(session)
        members = await repo.members()
        subsystems = await repo.subsystems_of([m.id for m in members])
        by_member: dict[str, list[SubsystemRead]] = {}
        for subsystem in subsystems:
            by_member.setdefault(subsystem.member_id, []).append(SubsystemRead.model_validate(subsystem))
        return [
            MemberRead(
                id=m.id,
                member_class=m.member_class,
                code=m.code,
                name=m.name,
                created_at=m.created_at,
                subsystems=by_member.get(m.id, []),
            )
            for m in members
        ]

    async def member(self, session: AsyncSession, member_id: str) -> MemberRead:
        for member in await self.members(session):
            if member.id == member_id:
                return member
        raise MemberNotFound(f"There is no member {member_id}.")

    async def register_subsystem(
        self, session: AsyncSession, caller: Caller, member_id: str, body: SubsystemCreate, *, rt: Runtime
    ) -> SubsystemRead:
        repo = DirectoryRepository.from_session(session)
        if await repo.member(member_id) is None:
            raise MemberNotFound(f"There is no member {member_id}.")
        subsystem_id = f"{member_id}:{body.code}"
        if await repo.subsystem(subsystem_id) is not None:
            raise AlreadyRegistered(f"Subsystem {subsystem_id} is already registered.")
        if body.client_id is not None and await repo.subsystem_by_client(body.client_id) is not None:
            raise AlreadyRegistered(f"The client {body.client_id} already acts as another subsystem.")
        subsystem = Subsystem(
            id=subsystem_id,
            member_id=member_id,
            code=body.code,
            client_id=body.client_id,
            processing_location=body.processing_location,
            created_at=rt.clock.now(),
        )
        session.add(subsystem)
        await session.flush()
        after_commit(session, rt.directory.changed)
        return SubsystemRead.model_validate(subsystem)

    async def register_service(
        self, session: AsyncSession, caller: Caller, subsystem_id: str, body: ServiceCreate, *, rt: Runtime
    ) -> ServiceRead:
        repo = DirectoryRepository.from_session(session)
        if await repo.subsystem(subsystem_id) is None:
            raise SubsystemNotFound(f"There is no subsystem {subsystem_id}.")
        service_id = f"{subsystem_id}:{body.code}:{body.version}"
        if await repo.service(service_id) is not None:
            raise AlreadyRegistered(f"Service {service_id} is already registered.")
        unknown = sorted(set(body.protected_fields) - set(body.fields))
        if unknown:
            raise InvalidDirectoryEntry(f"Protected fields {', '.join(unknown)} are not among the service's fields.")
        service = ExchangeService(
            id=service_id,
            provider_subsystem_id=subsystem_id,
            code=body.code,
            version=body.version,
            title=body.title,
            description=body.description,
            provider_path=body.provider_path,
            fields=list(dict.fromkeys(body.fields)),
            protected_fields={k: [r.model_dump() for r in v] for k, v in body.protected_fields.items()},
            statutes=[r.model_dump() for r in body.statutes],
            event_types=list(body.event_types),
            max_retention_days=body.max_retention_days,
            status="active",
            created_at=rt.clock.now(),
        )
        session.add(service)
        await session.flush()
        after_commit(session, rt.directory.changed)
        return service_read(service)

    async def services(self, session: AsyncSession) -> list[ServiceRead]:
        return [service_read(s) for s in await DirectoryRepository.from_session(session).services()]

    async def service(self, session: AsyncSession, service_id: str) -> ExchangeService:
        service = await DirectoryRepository.from_session(session).service(service_id)
        if service is None:
            raise ServiceNotFound(f"There is no service {service_id}.")
        return service

    async def grant(
        self, session: AsyncSession, caller: Caller, service_id: str, body: AccessRightCreate, *, rt: Runtime
    ) -> AccessRightRead:
        """Grant (or replace) a consumer subsystem's access right to a service."""
        repo = DirectoryRepository.from_session(session)
        service = await self.service(session, service_id)
        if await repo.subsystem(body.client_subsystem_id) is None:
            raise SubsystemNotFound(f"There is no subsystem {body.client_subsystem_id}.")
        unknown = sorted(set(body.fields) - set(service.fields))
        if unknown:
            raise InvalidDirectoryEntry(f"The service {service_id} has no field(s) {', '.join(unknown)}.")
        right = await repo.access_right_for(service_id, body.client_subsystem_id)
        now = rt.clock.now()
        if right is None:
            right = AccessRight(
                id=new_id("acr"),
                service_id=service_id,
                client_subsystem_id=body.client_subsystem_id,
                fields=[],
                purposes=[],
                granted_by=caller.client_id,
                granted_at=now,
            )
            session.add(right)
        right.fields = list(dict.fromkeys(body.fields))
        right.purposes = list(dict.fromkeys(body.purposes))
        right.granted_by, right.granted_at, right.revoked_at = caller.client_id, now, None
        await session.flush()
        after_commit(session, rt.directory.changed)
        return AccessRightRead.model_validate(right)

    async def revoke(
        self, session: AsyncSession, caller: Caller, service_id: str, right_id: str, *, rt: Runtime
    ) -> AccessRightRead:
        right = await DirectoryRepository.from_session(session).access_right(right_id)
        if right is None or right.service_id != service_id:
            raise AccessRightNotFound(f"The service {service_id} has no access right {right_id}.")
        if right.revoked_at is None:
            right.revoked_at = rt.clock.now()
            await session.flush()
        # Also when it was revoked already: a revocation repeated because its announcement failed is announced now.
        after_commit(session, rt.directory.changed)
        return AccessRightRead.model_validate(right)

    async def access_rights(
        self, session: AsyncSession, *, service_id: str | None, client_subsystem_id: str | None
    ) -> list[AccessRightRead]:
        rights = await DirectoryRepository.from_session(session).access_rights(
            service_id=service_id, client_subsystem_id=client_subsystem_id
        )
        return [AccessRightRead.model_validate(r) for r in rights]

    async def record_agreement(
        self, session: AsyncSession, caller: Caller, body: AgreementCreate, *, rt: Runtime
    ) -> AgreementRead:
        repo = DirectoryRepository.from_session(session)
        for member_id in (body.provider_member_id, body.consumer_member_id):
            if await repo.member(member_id) is None:
                raise InvalidDirectoryEntry(f"There is no member {member_id}.")
        for service_id in body.services:
            if await repo.service(service_id) is None:
                raise InvalidDirectoryEntry(f"There is no service {service_id}.")
        agreement = Agreement(id=new_id("agr"), created_at=rt.clock.now(), **body.model_dump())
        session.add(agreement)
        await session.flush()
        return AgreementRead.model_validate(agreement)

    async def agreements(self, session: AsyncSession) -> Sequence[AgreementRead]:
        return [AgreementRead.model_validate(a) for a in await DirectoryRepository.from_session(session).agreements()]


directory = DirectoryService()
