"""Every select of the social registry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.exchange.registries.social.models import Household, HouseholdMember

_MEMBER = select(HouseholdMember).where(HouseholdMember.sub == bindparam("sub"))
_HOUSEHOLD_AND_MEMBERS = (
    select(Household, HouseholdMember)
    .join(HouseholdMember, HouseholdMember.household_id == Household.id)
    .where(Household.id == bindparam("household_id"))
    .order_by(HouseholdMember.sub)
)


class SocialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> SocialRepository:
        return cls(session)

    async def member(self, sub: str) -> HouseholdMember | None:
        return (await self.session.scalars(_MEMBER, {"sub": sub})).one_or_none()

    async def household_with_members(self, household_id: str) -> tuple[Household | None, Sequence[HouseholdMember]]:
        rows = (await self.session.execute(_HOUSEHOLD_AND_MEMBERS, {"household_id": household_id})).all()
        if not rows:
            return await self.session.get(Household, household_id), []
        return rows[0][0], [row[1] for row in rows]

    async def household(self, household_id: str) -> Household | None:
        return await self.session.get(Household, household_id)

    async def members_elsewhere(self, subs: Sequence[str], household_id: str) -> Sequence[HouseholdMember]:
        statement = select(HouseholdMember).where(
            HouseholdMember.sub.in_(list(subs)), HouseholdMember.household_id != household_id
        )
        return (await self.session.scalars(statement)).all()

    async def remove_members(self, household_id: str) -> None:
        await self.session.execute(delete(HouseholdMember).where(HouseholdMember.household_id == household_id))
