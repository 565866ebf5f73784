"""Every statement of the client registry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.clients.models import Client


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str) -> Client | None:
        return await self.session.get(Client, client_id)

    async def get_for_update(self, client_id: str) -> Client | None:
        statement = select(Client).where(Client.client_id == client_id).with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def list(self, status: str | None = None) -> list[Client]:
        statement = select(Client).order_by(Client.client_id)
        if status is not None:
            statement = statement.where(Client.status == status)
        return list(await self.session.scalars(statement))

    async def add(self, client: Client) -> None:
        self.session.add(client)
        await self.session.flush()
