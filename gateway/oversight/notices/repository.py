"""Reads and writes of the notices the gateway owes people, and of its place in the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit.models import AUDIT_TABLES
from gateway.audit.repository import AuditRepository, StoredEntry
from gateway.oversight.notices.models import NoticeCursor, NoticeStatus, SubjectNotice
from services.common.db import insert_unless_conflict, table_of

CURSOR_ID = 1


class NoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> NoticeRepository:
        return cls(session)

    async def audit_size(self) -> int:
        events = AUDIT_TABLES.events
        return int(await self.session.scalar(select(func.coalesce(func.max(events.c.idx) + 1, 0))) or 0)

    async def read_position(self) -> int:
        cursor = await self.session.get(NoticeCursor, CURSOR_ID)
        return 0 if cursor is None else cursor.next_index

    async def lock_position(self) -> NoticeCursor:
        """The cursor row, locked until the transaction ends (one notice writer at a time across processes)."""
        await insert_unless_conflict(self.session, table_of(NoticeCursor), {"id": CURSOR_ID, "next_index": 0})
        statement = select(NoticeCursor).where(NoticeCursor.id == CURSOR_ID).with_for_update()
        return (await self.session.scalars(statement)).one()

    async def audit_entries(self, start: int, limit: int) -> list[StoredEntry]:
        repository = AuditRepository(await self.session.connection(), AUDIT_TABLES)
        return await repository.entry_chunk(start, start + limit, limit)

    async def add(self, values: dict[str, Any]) -> bool:
        """Insert a notice unless one for the same audit event exists already."""
        return await insert_unless_conflict(self.session, table_of(SubjectNotice), values)

    async def claim_due(self, now: datetime, *, until: datetime, limit: int) -> Sequence[SubjectNotice]:
        """Pending notices that may go now and no sender holds, taken until `until`."""
        statement = (
            select(SubjectNotice)
            .where(
                SubjectNotice.status == NoticeStatus.pending,
                SubjectNotice.due_at <= now,
                or_(SubjectNotice.claimed_until.is_(None), SubjectNotice.claimed_until <= now),
            )
            .order_by(SubjectNotice.due_at, SubjectNotice.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        notices = (await self.session.scalars(statement)).all()
        for notice in notices:
            notice.claimed_until = until
            notice.attempts += 1
        return notices

    async def get(self, notice_id: str) -> SubjectNotice | None:
        return await self.session.get(SubjectNotice, notice_id)

    async def of_incidents(self, incident_ids: Sequence[str]) -> Sequence[SubjectNotice]:
        statement = select(SubjectNotice).where(SubjectNotice.incident_id.in_(incident_ids)).order_by(SubjectNotice.id)
        return (await self.session.scalars(statement)).all()
