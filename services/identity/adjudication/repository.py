"""Selects of the adjudication domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.adjudication.models import AdjudicationCase


class AdjudicationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> AdjudicationRepository:
        return cls(session)

    async def get(self, case_id: str, *, for_update: bool = False) -> AdjudicationCase | None:
        return await self.session.get(AdjudicationCase, case_id, with_for_update=for_update)
