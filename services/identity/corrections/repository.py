"""Selects of the corrections domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.corrections.models import UNDECIDED, CorrectionCase, CorrectionStatus


class CorrectionRepository(Repository[CorrectionCase]):
    model = CorrectionCase

    async def page_for_person(self, person_id: str, paging: PageRequest) -> Sequence[CorrectionCase]:
        """A page of one person's cases in id (= creation) order."""
        return await self.page(select(CorrectionCase).where(CorrectionCase.person_id == person_id), paging)

    async def cases_page(
        self, paging: PageRequest, *, overdue_at: datetime | None, status: CorrectionStatus | None
    ) -> Sequence[CorrectionCase]:
        """A page of cases in id (= creation) order; `overdue_at` keeps undecided ones past due."""
        statement = select(CorrectionCase)
        if overdue_at is not None:
            statement = statement.where(CorrectionCase.status.in_(list(UNDECIDED)), CorrectionCase.due_at < overdue_at)
        if status is not None:
            statement = statement.where(CorrectionCase.status == status)
        return await self.page(statement, paging)

    async def open_and_overdue(self, now: datetime) -> Sequence[CorrectionCase]:
        statement = (
            select(CorrectionCase)
            .where(CorrectionCase.status == CorrectionStatus.open, CorrectionCase.due_at < now)
            .order_by(CorrectionCase.id)
            .with_for_update(skip_locked=True)  # concurrent escalation runs take disjoint cases
        )
        return (await self.session.scalars(statement)).all()
