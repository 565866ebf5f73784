"""The social registry's rules: a person belongs to one household; eligibility inputs are computed on read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.exchange.registries.credential import ExchangeRequest
from services.exchange.registries.deps import RegistryRuntime
from services.exchange.registries.errors import RecordNotFound, RegistrationConflict
from services.exchange.registries.schemas import (
    HouseholdMemberIn,
    HouseholdPut,
    HouseholdRead,
    HouseholdRecord,
    ProviderRecord,
)
from services.exchange.registries.social.models import Household, HouseholdMember
from services.exchange.registries.social.repository import SocialRepository

SOCIAL_FIELDS = tuple(HouseholdRecord.model_fields)
HOUSEHOLD_UPDATED = "exchange.social.household_updated"


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class SocialService:
    async def record(
        self, session: AsyncSession, request: ExchangeRequest, sub: str, fields: Sequence[str], *, rt: RegistryRuntime
    ) -> ProviderRecord:
        repo = SocialRepository.from_session(session)
        member = await repo.member(sub)
        if member is None:
            raise RecordNotFound("The social registry has no household for this subject.")
        household, members = await repo.household_with_members(member.household_id)
        assert household is not None  # the foreign key guarantees it
        today = rt.clock.now().date()
        ages = [age_on(m.date_of_birth, today) for m in members]
        values: dict[str, object] = {
            "household_id": household.id,
            "household_size": len(members),
            "head_of_household": member.relationship == "head",
            "income_band": household.income_band,
            "disability_flag": member.disability_flag,
            "district": household.district,
            "region": household.region,
            "children_under_5": sum(1 for age in ages if age < 5),
            "members_over_65": sum(1 for age in ages if age >= 65),
        }
        wanted = [f for f in fields if f in SOCIAL_FIELDS] if fields else list(SOCIAL_FIELDS)
        return ProviderRecord(subject=sub, record={name: values[name] for name in wanted})

    async def put_household(
        self,
        session: AsyncSession,
        request: ExchangeRequest,
        household_id: str,
        body: HouseholdPut,
        *,
        rt: RegistryRuntime,
    ) -> HouseholdRead:
        """Create or replace a household; publishes `social.household_updated`."""
        repo = SocialRepository.from_session(session)
        subs = [m.subject for m in body.members]
        if len(set(subs)) != len(subs):
            raise RegistrationConflict("A person is listed twice in the household.")
        if await repo.members_elsewhere(subs, household_id):
            raise RegistrationConflict("A listed person already belongs to another household.")
        now = rt.clock.now()
        household = await repo.household(household_id)
        if household is None:
            household = Household(
                id=household_id,
                income_band=body.income_band,
                district=body.district,
                region=body.region,
                updated_at=now,
            )
            session.add(household)
        else:
            household.income_band, household.district, household.region = body.income_band, body.district, body.region
            household.updated_at = now
            await repo.remove_members(household_id)
        await session.flush()
        session.add_all(
            HouseholdMember(
                sub=m.subject,
                household_id=household_id,
                relationship=m.relationship,
                date_of_birth=m.date_of_birth,
                disability_flag=m.disability_flag,
            )
            for m in body.members
        )
        await session.flush()
        await rt.outbox.add(
            session,
            HOUSEHOLD_UPDATED,
            {
                "household_id": household_id,
                "subjects": subs,
                "household_size": len(subs),
                "income_band": body.income_band,
                "district": body.district,
                "region": body.region,
                "updated_at": now.isoformat(),
            },
        )
        return HouseholdRead(
            id=household_id,
            income_band=body.income_band,
            district=body.district,
            region=body.region,
            members=list(body.members),
            updated_at=now,
        )

    async def get_household(self, session: AsyncSession, household_id: str) -> HouseholdRead:
        household, members = await SocialRepository.from_session(session).household_with_members(household_id)
        if household is None:
            raise RecordNotFound(f"The social registry has no household {household_id}.")
        return HouseholdRead(
            id=household.id,
            income_band=household.income_band,
            district=household.district,
            region=household.region,
            members=[
                HouseholdMemberIn(
                    subject=m.sub,
                    relationship=m.relationship,
                    date_of_birth=m.date_of_birth,
                    disability_flag=m.disability_flag,
                )
                for m in members
            ],
            updated_at=household.updated_at,
        )


social = SocialService()
