"""Selects of the adjudication domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.adjudication.models import AdjudicationCase, CaseStatus
from services.identity.persons.models import Person


class AdjudicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AdjudicationRepository:
        return cls(session)

    async def get(self, case_id: str, *, for_update: bool = False) -> AdjudicationCase | None:
        return await self.session.get(AdjudicationCase, case_id, with_for_update=for_update)

    async def page(
        self, *, status: CaseStatus | None, after: str | None, limit: int
    ) -> Sequence[tuple[AdjudicationCase, Person]]:
        """Up to `limit` cases in id (= creation) order after the cursor, each with its held enrolment."""
        statement = (
            select(AdjudicationCase, Person)
            .join(Person, Person.id == AdjudicationCase.person_id)
            .order_by(AdjudicationCase.id)
            .limit(limit)
        )
        if status is not None:
            statement = statement.where(AdjudicationCase.status == status)
        if after is not None:
            statement = statement.where(AdjudicationCase.id > after)
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]
