"""Selects of the corrections domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.corrections.models import UNDECIDED, CorrectionCase, CorrectionStatus


class CorrectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> CorrectionRepository:
        return cls(session)

    async def get(self, case_id: str, *, for_update: bool = False) -> CorrectionCase | None:
        return await self.session.get(CorrectionCase, case_id, with_for_update=for_update)

    async def list_for_person(self, person_id: str) -> Sequence[CorrectionCase]:
        statement = select(CorrectionCase).where(CorrectionCase.person_id == person_id).order_by(CorrectionCase.id)
        return (await self.session.scalars(statement)).all()

    async def page(
        self,
        *,
        overdue_at: datetime | None,
        status: CorrectionStatus | None,
        after: str | None,
        limit: int,
    ) -> Sequence[CorrectionCase]:
        """Up to `limit` cases in id (= creation) order after the cursor; `overdue_at` keeps undecided ones past due."""
        statement = select(CorrectionCase).order_by(CorrectionCase.id).limit(limit)
        if overdue_at is not None:
            statement = statement.where(CorrectionCase.status.in_(list(UNDECIDED)), CorrectionCase.due_at < overdue_at)
        if status is not None:
            statement = statement.where(CorrectionCase.status == status)
        if after is not None:
            statement = statement.where(CorrectionCase.id > after)
        return (await self.session.scalars(statement)).all()

    async def open_and_overdue(self, now: datetime) -> Sequence[CorrectionCase]:
        statement = (
            select(CorrectionCase)
            .where(CorrectionCase.status == CorrectionStatus.open, CorrectionCase.due_at < now)
            .order_by(CorrectionCase.id)
            .with_for_update(skip_locked=True)  # concurrent escalation runs take disjoint cases
        )
        return (await self.session.scalars(statement)).all()
