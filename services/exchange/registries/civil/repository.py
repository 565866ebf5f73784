"""Every select of the civil registry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.exchange.registries.civil.models import CivilPerson, Death, ParentLink

_PERSON = select(CivilPerson).where(CivilPerson.sub == bindparam("sub"))
_DEATH = select(Death).where(Death.sub == bindparam("sub"))
_PARENTS = select(ParentLink).where(ParentLink.child_sub == bindparam("sub")).order_by(ParentLink.parent_sub)


class CivilRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> CivilRepository:
        return cls(session)

    async def person(self, sub: str) -> CivilPerson | None:
        return (await self.session.scalars(_PERSON, {"sub": sub})).one_or_none()

    async def persons(self, subs: Sequence[str]) -> Sequence[CivilPerson]:
        return (await self.session.scalars(select(CivilPerson).where(CivilPerson.sub.in_(list(subs))))).all()

    async def death(self, sub: str) -> Death | None:
        return (await self.session.scalars(_DEATH, {"sub": sub})).one_or_none()

    async def parents(self, sub: str) -> Sequence[ParentLink]:
        return (await self.session.scalars(_PARENTS, {"sub": sub})).all()
