"""Every select of the directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.common.db import fetch_prepared_pooled, table_of
from services.exchange.members.models import AccessRight, Agreement, ExchangeService, Member, Subsystem


@dataclass(frozen=True)
class ConsumerSubsystem:
    """What a fetch needs of the consumer's subsystem."""

    id: str
    member_id: str
    processing_location: str


@dataclass(frozen=True)
class OfferedService:
    """What a fetch needs of the service asked for. Read-only all the way down: one read may serve many fetches
    (members/cache.py), so none of them can change what the next one sees."""

    id: str
    status: str
    provider_subsystem_id: str
    provider_path: str
    fields: tuple[str, ...]
    protected_fields: Mapping[str, tuple[Mapping[str, Any], ...]]
    statutes: tuple[Mapping[str, Any], ...]
    event_types: tuple[str, ...]
    max_retention_days: int


@dataclass(frozen=True)
class GrantedRight:
    """The consumer's live access right to the service: the fields and purposes it grants."""

    fields: tuple[str, ...]
    purposes: tuple[str, ...]


@dataclass(frozen=True)
class FetchDirectory:
    """The directory as one fetch sees it; None where the subsystem, the service or a live right is missing."""

    subsystem: ConsumerSubsystem | None
    service: OfferedService | None
    right: GrantedRight | None


_SUBSYSTEMS, _SERVICES, _RIGHTS = table_of(Subsystem), table_of(ExchangeService), table_of(AccessRight)
# A fetch's (and a subscription's) whole directory read as one prepared statement (fetch_prepared_pooled): the
# consumer's subsystem, the service and the live access right, outer-joined so that one row (or none: no such
# subsystem) tells every case apart. A fetch reads it through `members/cache.py`, which keeps a grant only while the
# directory's token is unchanged: a right revoked is still seen by the very next request, in every process.
_FETCH_DIRECTORY_ROW = (
    select(
        _SUBSYSTEMS.c.id.label("subsystem_id"),
        _SUBSYSTEMS.c.member_id,
        _SUBSYSTEMS.c.processing_location,
        _SERVICES.c.id.label("service_id"),
        _SERVICES.c.status,
        _SERVICES.c.provider_subsystem_id,
        _SERVICES.c.provider_path,
        _SERVICES.c.fields,
        _SERVICES.c.protected_fields,
        _SERVICES.c.statutes,
        _SERVICES.c.event_types,
        _SERVICES.c.max_retention_days,
        _RIGHTS.c.id.label("right_id"),
        _RIGHTS.c.fields.label("right_fields"),
        _RIGHTS.c.purposes.label("right_purposes"),
    )
    .select_from(_SUBSYSTEMS)
    .outerjoin(_SERVICES, _SERVICES.c.id == bindparam("service_id"))
    .outerjoin(
        _RIGHTS,
        (_RIGHTS.c.service_id == _SERVICES.c.id)
        & (_RIGHTS.c.client_subsystem_id == _SUBSYSTEMS.c.id)
        & _RIGHTS.c.revoked_at.is_(None),
    )
    .where(_SUBSYSTEMS.c.client_id == bindparam("client_id"))
)


async def fetch_directory(engine: AsyncEngine, client_id: str, service_id: str) -> FetchDirectory:
    """The directory as a fetch or a subscription needs it: one prepared statement on a pooled connection,
    autocommitted (one round trip, no session, no BEGIN or COMMIT)."""
    rows = await fetch_prepared_pooled(engine, _FETCH_DIRECTORY_ROW, {"client_id": client_id, "service_id": service_id})
    if not rows:
        return FetchDirectory(None, None, None)
    row = rows[0]
    subsystem = ConsumerSubsystem(row.subsystem_id, row.member_id, row.processing_location)
    if row.service_id is None:
        return FetchDirectory(subsystem, None, None)
    service = OfferedService(
        id=row.service_id,
        status=row.status,
        provider_subsystem_id=row.provider_subsystem_id,
        provider_path=row.provider_path,
        fields=tuple(row.fields),
        protected_fields=MappingProxyType(
            {name: tuple(MappingProxyType(dict(law)) for law in laws) for name, laws in row.protected_fields.items()}
        ),
        statutes=tuple(MappingProxyType(dict(statute)) for statute in row.statutes),
        event_types=tuple(row.event_types),
        max_retention_days=row.max_retention_days,
    )
    right = None if row.right_id is None else GrantedRight(tuple(row.right_fields), tuple(row.right_purposes))
    return FetchDirectory(subsystem, service, right)


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
