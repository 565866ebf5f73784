"""Selects of the VID domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.vids.models import Vid, VidStatus


class VidRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> VidRepository:
        return cls(session)

    async def get_for_person(self, vid_id: str, person_id: str) -> Vid | None:
        statement = select(Vid).where(Vid.id == vid_id, Vid.person_id == person_id)
        return (await self.session.scalars(statement)).one_or_none()

    async def get_by_index(self, vid_index: str) -> Vid | None:
        return (await self.session.scalars(select(Vid).where(Vid.vid_index == vid_index))).one_or_none()

    async def list_for_person(self, person_id: str) -> Sequence[Vid]:
        return (await self.session.scalars(select(Vid).where(Vid.person_id == person_id).order_by(Vid.id))).all()

    async def count_active(self, person_id: str, now: datetime) -> int:
        statement = select(func.count()).where(
            Vid.person_id == person_id,
            Vid.status == VidStatus.active,
            or_(Vid.expires_at.is_(None), Vid.expires_at > now),
        )
        return int(await self.session.scalar(statement) or 0)

    async def index_taken(self, vid_index: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Vid.vid_index == vid_index))))
