"""Selects of the identity-exception domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.exceptions.models import ExceptionStatus, IdentityExceptionCase


class ExceptionCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ExceptionCaseRepository:
        return cls(session)

    async def get(self, case_id: str, *, for_update: bool = False) -> IdentityExceptionCase | None:
        return await self.session.get(IdentityExceptionCase, case_id, with_for_update=for_update)

    async def page(
        self, *, status: ExceptionStatus | None, overdue_at: datetime | None, after: str | None, limit: int
    ) -> Sequence[IdentityExceptionCase]:
        """Up to `limit` cases in id (= creation) order after the cursor; `overdue_at` keeps pending ones past due."""
        statement = select(IdentityExceptionCase).order_by(IdentityExceptionCase.id).limit(limit)
        if status is not None:
            statement = statement.where(IdentityExceptionCase.status == status)
        if overdue_at is not None:
            statement = statement.where(
                IdentityExceptionCase.status == ExceptionStatus.pending, IdentityExceptionCase.sla_due_at < overdue_at
            )
        if after is not None:
            statement = statement.where(IdentityExceptionCase.id > after)
        return (await self.session.scalars(statement)).all()
