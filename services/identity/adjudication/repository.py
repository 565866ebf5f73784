"""Selects of the adjudication domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.adjudication.models import AdjudicationCase, CaseStatus
from services.identity.persons.models import Person


class AdjudicationRepository(Repository[AdjudicationCase]):
    model = AdjudicationCase

    async def queue_page(
        self, paging: PageRequest, *, status: CaseStatus | None
    ) -> Sequence[tuple[AdjudicationCase, Person]]:
        """A page of cases in id (= creation) order, each with its held enrolment."""
        statement = select(AdjudicationCase, Person).join(Person, Person.id == AdjudicationCase.person_id)
        if status is not None:
            statement = statement.where(AdjudicationCase.status == status)
        return [(row[0], row[1]) for row in await self.page(statement, paging)]
