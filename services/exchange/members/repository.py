"""Every select of the directory."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.exchange.members.models import AccessRight, Agreement, ExchangeService, Member, Subsystem

# The fetch path's one look-up, built once: the consumer's subsystem, the service and the consumer's live access
# right to it, in one round trip (an outer join, so that a missing right is told apart from a missing service).
_FETCH_DIRECTORY = (
    select(Subsystem, ExchangeService, AccessRight)
    .select_from(Subsystem)
    .join(ExchangeService, ExchangeService.id == bindparam("service_id"))
    .outerjoin(
        AccessRight,
        (AccessRight.service_id == ExchangeService.id)
        & (AccessRight.client_subsystem_id == Subsystem.id)
        & AccessRight.revoked_at.is_(None),
    )
    .where(Subsystem.client_id == bindparam("client_id"))
)


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> DirectoryRepository:
        return cls(session)

    async def member(self, member_id: str) -> Member | None:
        return await self.session.get(Member, member_id)

    async def members(self) -> Sequence[Member]:
        return (await self.session.scalars(select(Member).order_by(Member.id))).all()

    async def subsystems_of(self, member_ids: Sequence[str]) -> Sequence[Subsystem]:
        statement = select(Subsystem).where(Subsystem.member_id.in_(list(member_ids))).order_by(Subsystem.id)
        return (await self.session.scalars(statement)).all()

    async def subsystem(self, subsystem_id: str) -> Subsystem | None:
        return await self.session.get(Subsystem, subsystem_id)

    async def subsystem_by_client(self, client_id: str) -> Subsystem | None:
        return (await self.session.scalars(select(Subsystem).where(Subsystem.client_id == client_id))).one_or_none()

    async def service(self, service_id: str) -> ExchangeService | None:
        return await self.session.get(ExchangeService, service_id)

    async def services(self) -> Sequence[ExchangeService]:
        return (await self.session.scalars(select(ExchangeService).order_by(ExchangeService.id))).all()

    async def access_right(self, right_id: str) -> AccessRight | None:
        return await self.session.get(AccessRight, right_id)

    async def access_right_for(self, service_id: str, client_subsystem_id: str) -> AccessRight | None:
        statement = select(AccessRight).where(
            AccessRight.service_id == service_id, AccessRight.client_subsystem_id == client_subsystem_id
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def access_rights(
        self, *, service_id: str | None = None, client_subsystem_id: str | None = None
    ) -> Sequence[AccessRight]:
        statement = select(AccessRight).order_by(AccessRight.id)
        if service_id is not None:
            statement = statement.where(AccessRight.service_id == service_id)
        if client_subsystem_id is not None:
            statement = statement.where(AccessRight.client_subsystem_id == client_subsystem_id)
        return (await self.session.scalars(statement)).all()

    async def agreements(self) -> Sequence[Agreement]:
        return (await self.session.scalars(select(Agreement).order_by(Agreement.id))).all()

    async def fetch_directory(
        self, client_id: str, service_id: str
    ) -> tuple[Subsystem | None, ExchangeService | None, AccessRight | None]:
        """The consumer's subsystem, the service and the live access right linking them (each None if missing)."""
        row = (await self.session.execute(_FETCH_DIRECTORY, {"client_id": client_id, "service_id": service_id})).first()
        if row is not None:
            return row[0], row[1], row[2]
        subsystem = await self.subsystem_by_client(client_id)
        return subsystem, None if subsystem is None else await self.service(service_id), None
