"""Selects of the messaging simulator."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.notifications.models import MessageKind, SimulatedMessage


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> MessageRepository:
        return cls(session)

    async def page(
        self, person_id: str, *, kind: MessageKind | None, before: str | None, limit: int
    ) -> Sequence[SimulatedMessage]:
        """Newest first (ids are time-ordered); `before` is the last id of the previous page."""
        statement = select(SimulatedMessage).where(SimulatedMessage.person_id == person_id)
        if kind is not None:
            statement = statement.where(SimulatedMessage.kind == kind)
        if before is not None:
            statement = statement.where(SimulatedMessage.id < before)
        return (await self.session.scalars(statement.order_by(SimulatedMessage.id.desc()).limit(limit))).all()
