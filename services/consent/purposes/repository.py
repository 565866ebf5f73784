"""Selects of the purpose registry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.consent.purposes.models import Purpose


class PurposeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> PurposeRepository:
        return cls(session)

    async def get(self, code: str, *, for_update: bool = False) -> Purpose | None:
        return await self.session.get(Purpose, code, with_for_update=for_update)

    async def list_all(self) -> Sequence[Purpose]:
        return (await self.session.scalars(select(Purpose).order_by(Purpose.code))).all()
