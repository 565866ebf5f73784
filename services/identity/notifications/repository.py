"""Selects of the messaging simulator."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.notifications.models import MessageKind, SimulatedMessage


class MessageRepository(Repository[SimulatedMessage]):
    model = SimulatedMessage

    async def messages_page(
        self, person_id: str, paging: PageRequest, *, kind: MessageKind | None
    ) -> Sequence[SimulatedMessage]:
        """A page of a person's messages, newest first (ids are time-ordered)."""
        statement = select(SimulatedMessage).where(SimulatedMessage.person_id == person_id)
        if kind is not None:
            statement = statement.where(SimulatedMessage.kind == kind)
        return await self.page(statement, paging, descending=True)
